// The stage engine over real sshd hosts on 127.0.0.1. The test playbooks touch only a
// temporary folder (the sshd runs on this machine as root: nothing may reach its /etc),
// and markers go to that folder too.
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { exitCodes } from '../../src/errors.js';
import { inventorySchema } from '../../src/inventory/schema.js';
import { RunLog } from '../../src/run/log.js';
import { RunContext } from '../../src/stages/context.js';
import { TemplateStore, aptScriptTemplate } from '../../src/stages/digest.js';
import { templatesDir } from '../../src/stages/paths.js';
import { StageEngine, StageFailedError } from '../../src/stages/engine.js';
import type { AfterStage } from '../../src/stages/engine.js';
import type { EngineEvent, TaskOutcome } from '../../src/stages/events.js';
import { readMarkers } from '../../src/stages/markers.js';
import { stageStatus } from '../../src/stages/planner.js';
import { parsePlaybook } from '../../src/stages/playbook.js';
import type { Stage } from '../../src/stages/playbook.js';
import type { CommandRecord, Host } from '../../src/transport/host.js';
import { connectAll } from '../../src/transport/ssh.js';
import { startSshd } from '../support/sshd.js';
import type { SshdFixture } from '../support/sshd.js';

const privateKey = '-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key-but-a-secret-all-the-same\n-----END OPENSSH PRIVATE KEY-----\n';
const keys = { publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKlabTestKey klab-cluster', privateKey };

let fixtures: SshdFixture[] = [];
let root: string;
let work: string;
let templates: string;
let markers: string;
let hosts: Map<string, Host>;
let records: CommandRecord[];
let context: RunContext;

beforeAll(async () => {
  fixtures = await Promise.all([startSshd(), startSshd()]);
  root = await mkdtemp(path.join(tmpdir(), 'klab-engine-'));
  records = [];
  const specs = [
    fixtures[0]!.hostSpec({ name: 'master', internalAddress: '10.10.0.10', role: 'control-plane' }),
    fixtures[1]!.hostSpec({ name: 'node1', internalAddress: '10.10.0.11', role: 'worker' }),
  ];
  const connected = await connectAll(specs, { knownHostsFile: path.join(root, 'known_hosts'), inventoryDir: root, logger: (r) => records.push(r) });
  hosts = new Map(connected.map((h) => [h.name, h]));
  context = new RunContext(inventorySchema.parse({ hosts: specs }), keys);
});

afterAll(async () => {
  await Promise.all([...(hosts?.values() ?? [])].map((h) => h.close()));
  await Promise.all(fixtures.map((f) => f.stop()));
  if (root) await rm(root, { recursive: true, force: true });
});

beforeEach(async () => {
  work = await mkdtemp(path.join(root, 'work-'));
  templates = path.join(work, 'templates');
  markers = path.join(work, 'markers');
  await mkdir(path.join(templates, 't'), { recursive: true });
  records.length = 0;
});

function playbook(name: string, body: string): Stage {
  return parsePlaybook(path.join(work, `${name}.yaml`), `name: ${name.slice(3)}\ndescription: test stage ${name}\n${body}`);
}

function engine(options: { dryRun?: boolean; force?: boolean; afterStage?: (stage: Stage, hosts: readonly string[], how: AfterStage) => Promise<void> } = {}) {
  const events: EngineEvent[] = [];
  const instance = new StageEngine({
    context,
    hosts,
    templates: new TemplateStore(templates),
    dryRun: options.dryRun ?? false,
    force: options.force ?? false,
    markerDirFor: (host) => path.join(markers, host),
    reporter: { event: (e) => void events.push(e) },
    ...(options.afterStage ? { afterStage: options.afterStage } : {}),
  });
  const outcomes = (): (TaskOutcome & { task: string })[] =>
    events.flatMap((e) => (e.type === 'task-result' ? [{ ...e.outcome, task: e.task }] : []));
  return { instance, events, outcomes };
}

const statusOf = (outcomes: (TaskOutcome & { task: string })[], task: string, host: string) => outcomes.find((o) => o.task === task && o.host === host)?.status;

describe('stage engine over real sshd hosts', () => {
  it('runs every task kind, then a second run changes nothing and the stage is skipped by its markers', async () => {
    await writeFile(path.join(templates, 't', 'app.conf'), 'name={{host.name}}\nrole={{host.role}}\ncp={{controlPlane.name}}\n');
    const stage = playbook(
      '01-sample',
      `tasks:
  - name: Render a file
    id: app-conf
    template: { src: t/app.conf, dest: "${work}/{{host.name}}/app.conf", mode: "0600" }
  - name: Name the hosts
    blockinfile:
      path: "${work}/{{host.name}}/hosts"
      id: cluster
      block: |
        {{#hosts}}
        {{internalAddress}} {{name}}
        {{/hosts}}
  - name: Create once
    command: { run: "date +%s%N > ${work}/{{host.name}}/created", creates: "${work}/{{host.name}}/created" }
  - name: Guarded command
    command: { run: "echo guarded >> ${work}/{{host.name}}/guarded", unless: "grep -q guarded ${work}/{{host.name}}/guarded" }
  - name: Restart after a change
    command: { run: "echo restart >> ${work}/{{host.name}}/restarts", onChange: [app-conf] }
  - name: Wait for the file
    wait: { command: "test -s ${work}/{{host.name}}/app.conf", timeoutSeconds: 10, intervalSeconds: 1 }
  - name: Read a value
    capture: { var: role, command: "sed -n 's/^role=//p' ${work}/{{host.name}}/app.conf" }
  - name: Read from the control plane
    hosts: control-plane
    capture: { var: token, command: "echo token-of-{{host.name}}" }
  - name: Workers use the control plane's value
    hosts: workers
    template: { src: t/app.conf, dest: "${work}/{{host.name}}/join-{{controlPlane.vars.token}}", mode: "0644" }
  - name: Check the value
    check: { assert: { var: host.vars.role, in: [control-plane, worker] }, message: "bad role {{host.vars.role}}" }
`,
    );
    let snapshots = 0;
    const first = engine({ afterStage: async (s, h) => void (snapshots += s.id === '01-sample' && h.length === 2 ? 1 : 0) });
    const summary = await first.instance.run([stage]);
    expect(summary).toEqual([expect.objectContaining({ stage: '01-sample', status: 'done' })]);
    expect(snapshots).toBe(1);
    const firstOutcomes = first.outcomes();
    for (const host of ['master', 'node1']) {
      for (const task of ['Render a file', 'Name the hosts', 'Create once', 'Guarded command', 'Restart after a change']) {
        expect(statusOf(firstOutcomes, task, host), `${task} on ${host}`).toBe('changed');
      }
      expect(statusOf(firstOutcomes, 'Wait for the file', host)).toBe('ok');
      expect(statusOf(firstOutcomes, 'Check the value', host)).toBe('ok');
    }
    expect(statusOf(firstOutcomes, 'Workers use the control plane\'s value', 'node1')).toBe('changed');
    expect(statusOf(firstOutcomes, 'Workers use the control plane\'s value', 'master')).toBeUndefined();

    expect(await readFile(path.join(work, 'node1', 'app.conf'), 'utf8')).toBe('name=node1\nrole=worker\ncp=master\n');
    expect((await stat(path.join(work, 'master', 'app.conf'))).mode & 0o777).toBe(0o600);
    expect(await readFile(path.join(work, 'master', 'hosts'), 'utf8')).toBe('# BEGIN klab cluster\n10.10.0.10 master\n10.10.0.11 node1\n# END klab cluster\n');
    await stat(path.join(work, 'node1', 'join-token-of-master'));
    expect(context.hostView('node1').vars.role).toBe('worker');

    const second = engine({ force: true });
    await second.instance.run([stage]);
    const again = second.outcomes();
    expect(again.filter((o) => o.status === 'changed' || o.status === 'failed')).toEqual([]);
    expect(again.length).toBe(firstOutcomes.length);
    expect(await readFile(path.join(work, 'master', 'restarts'), 'utf8')).toBe('restart\n');
    expect(await readFile(path.join(work, 'master', 'guarded'), 'utf8')).toBe('guarded\n');

    const third = engine();
    expect(await third.instance.run([stage])).toEqual([expect.objectContaining({ status: 'skipped', reason: 'already done on every host' })]);
    expect(third.outcomes()).toEqual([]);
  });

  it('keeps a block in an existing file, updates it in place, and keeps the file mode', async () => {
    await mkdir(path.join(work, 'master'));
    const file = path.join(work, 'master', 'hosts');
    await writeFile(file, '127.0.0.1 localhost\n# BEGIN klab cluster\nstale\n# END klab cluster\n::1 localhost\n', { mode: 0o640 });
    const stage = playbook('01-block', `tasks:\n  - name: Block\n    hosts: control-plane\n    blockinfile: { path: "${file}", id: cluster, block: "{{host.internalAddress}} {{host.name}}" }\n`);
    const run = engine();
    await run.instance.run([stage]);
    expect(statusOf(run.outcomes(), 'Block', 'master')).toBe('changed');
    expect(await readFile(file, 'utf8')).toBe('127.0.0.1 localhost\n# BEGIN klab cluster\n10.10.0.10 master\n# END klab cluster\n::1 localhost\n');
    expect((await stat(file)).mode & 0o777).toBe(0o640);
  });

  it('changes nothing in a dry run, says what it would do, and writes no marker', async () => {
    await writeFile(path.join(templates, 't', 'a.conf'), 'a={{host.name}}\n');
    await mkdir(path.join(templates, 'apt'));
    await copyFile(path.join(templatesDir(), aptScriptTemplate), path.join(templates, aptScriptTemplate));
    const stage = playbook(
      '02-dry',
      `tasks:
  - name: Render
    template: { src: t/a.conf, dest: "${work}/{{host.name}}/a.conf" }
  - name: Run
    command: { run: "touch ${work}/{{host.name}}/ran", creates: "${work}/{{host.name}}/ran" }
  - name: Read what the render would have written
    capture: { var: a, command: "cat ${work}/{{host.name}}/a.conf" }
  - name: Package present
    apt: { packages: [openssh-server] }
  - name: Package in another version
    apt: { packages: [openssh-server=0.0.*] }
  - name: One package present, one missing
    apt: { packages: [openssh-server, klab-test-absent-package] }
`,
    );
    // Dry run only: the apt tasks must never install anything on this machine.
    const run = engine({ dryRun: true });
    await run.instance.run([stage]);
    const outcomes = run.outcomes();
    expect(statusOf(outcomes, 'Render', 'master')).toBe('changed');
    expect(outcomes.find((o) => o.task === 'Render')?.detail).toMatch(/^would write .*a\.conf \(new, mode 644\)$/);
    expect(outcomes.find((o) => o.task === 'Run')?.detail).toMatch(/^would run touch /);
    // The capture fails because the file was never written: undecided, not failed.
    expect(statusOf(outcomes, 'Read what the render would have written', 'node1')).toBe('skipped');
    // The test sshd is this machine's openssh-server: installed, in some version other than 0.0.
    expect(outcomes.find((o) => o.task === 'Package present')).toMatchObject({ status: 'ok', detail: expect.stringMatching(/^installed: openssh-server \S+$/) });
    expect(outcomes.find((o) => o.task === 'Package in another version')).toMatchObject({
      status: 'changed',
      detail: 'would run apt-get install openssh-server=0.0.*',
    });
    // Only the missing one is named: apt-get install of an installed package would upgrade it.
    expect(outcomes.find((o) => o.task === 'One package present, one missing')).toMatchObject({
      status: 'changed',
      detail: 'would run apt-get install klab-test-absent-package',
    });
    await expect(stat(path.join(work, 'master'))).rejects.toThrow(/ENOENT/);
    expect((await readMarkers(hosts.get('master')!, path.join(markers, 'master'))).size).toBe(0);
  });

  it('stops at a failing task and names the task, the host, the exit code and the stderr', async () => {
    const stage = playbook(
      '03-fail',
      `tasks:
  - name: Works everywhere
    command: { run: "true" }
  - name: Breaks on the worker
    command: { run: "if [ {{host.name}} = node1 ]; then echo disk full >&2; exit 3; fi" }
    hint: Free some disk space.
  - name: Never reached
    command: { run: "touch ${work}/never" }
`,
    );
    const run = engine();
    const error = await run.instance.run([stage]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StageFailedError);
    const failed = error as StageFailedError;
    expect(failed.exitCode).toBe(exitCodes.stageFailed);
    expect(failed.failures).toEqual([expect.objectContaining({ host: 'node1', task: 'Breaks on the worker', exitCode: 3, output: 'disk full' })]);
    expect(failed.message).toContain('node1: task 2 "Breaks on the worker": exited with code 3\n      disk full');
    expect(failed.hint).toBe('Free some disk space.');
    expect(statusOf(run.outcomes(), 'Breaks on the worker', 'master')).toBe('changed');
    expect(run.outcomes().some((o) => o.task === 'Never reached')).toBe(false);
    await expect(stat(path.join(work, 'never'))).rejects.toThrow(/ENOENT/);
    expect((await readMarkers(hosts.get('master')!, path.join(markers, 'master'))).size).toBe(0);
  });

  it('fails a cross-host uniqueness check as unfit and passes the clock check on one clock', async () => {
    // Both test hosts are this machine, so they share /etc/machine-id: exactly the cloned-VM case.
    const stage = playbook(
      '00-cross',
      `tasks:
  - name: Clocks agree
    check: { clockSkew: { maxSeconds: 5 }, message: "{{host.name}}'s clock is off" }
  - name: Read the machine-id
    capture: { var: machineId, file: /etc/machine-id }
  - name: Machine-ids differ
    check: { unique: host.vars.machineId, message: "{{host.name}} shares its machine-id" }
`,
    );
    const run = engine();
    const error = (await run.instance.run([stage]).catch((e: unknown) => e)) as StageFailedError;
    expect(error).toBeInstanceOf(StageFailedError);
    expect(error.exitCode).toBe(exitCodes.preflightFailed);
    expect(error.failures.map((f) => f.host).sort()).toEqual(['master', 'node1']);
    expect(error.failures[0]?.message).toMatch(/shares its machine-id \(same host\.vars\.machineId as (node1|master)\)/);
    expect(statusOf(run.outcomes(), 'Clocks agree', 'master')).toBe('ok');
  });

  it('writes markers that status reads as done, and as outdated once the playbook changes', async () => {
    const body = `tasks:\n  - name: Nothing much\n    command: { run: "true", unless: "true" }\n`;
    const stage = playbook('04-marked', body);
    const run = engine();
    await run.instance.run([stage]);
    const digests = await run.instance.digests(stage, ['master', 'node1']);
    const found = await run.instance.readAllMarkers(['master', 'node1']);
    const marker = found.get('node1')?.get('04-marked');
    expect(marker).toMatchObject({ stage: '04-marked', digest: digests.get('node1') });
    expect(Date.parse(marker?.finishedAt ?? '')).not.toBeNaN();
    expect(stageStatus(stage, true, found.get('node1'), digests.get('node1'))).toBe('done');
    const edited = playbook('04-marked', `${body}  - name: One more\n    command: { run: "true", unless: "true" }\n`);
    const newDigests = await run.instance.digests(edited, ['node1']);
    expect(stageStatus(edited, true, found.get('node1'), newDigests.get('node1'))).toBe('outdated');
  });

  it('calls afterStage after a stage that ran and after one skipped as done, saying whether a later stage is done', async () => {
    const body = `tasks:\n  - name: Nothing much\n    command: { run: "true", unless: "true" }\n`;
    const [first, second] = [playbook('05-first', body), playbook('06-second', body)];
    const calls: string[] = [];
    const record = async (stage: Stage, _hosts: readonly string[], how: AfterStage) => void calls.push(`${stage.id} ${how.ran ? 'ran' : `skipped, later done: ${how.laterStageDone}`}`);
    await engine({ afterStage: record }).instance.run([first]);
    await engine({ afterStage: record }).instance.run([first, second]);
    await engine({ afterStage: record }).instance.run([first]);
    expect(calls).toEqual(['05-first ran', '05-first skipped, later done: false', '06-second ran', '05-first skipped, later done: true']);
  }, 180_000);

  it('never lets a secret template or a secret capture reach the command log', async () => {
    await writeFile(path.join(templates, 't', 'key'), '{{{klab.privateKey}}}');
    const log = RunLog.open(path.join(work, 'logs'), 'test');
    const logged: CommandRecord[] = [];
    const logHosts = await connectAll([context.inventory.hosts[0]!], {
      knownHostsFile: path.join(root, 'known_hosts'),
      inventoryDir: root,
      logger: (r) => {
        logged.push(r);
        log.commandLogger(r);
      },
    });
    const stage = playbook(
      '02-secret',
      `tasks:
  - name: Install the key
    template: { src: t/key, dest: "${work}/id_key", mode: "0600", secret: true }
  - name: Read it back
    capture: { var: key, command: "cat ${work}/id_key", secret: true }
  - name: Show it
    command: { run: "cat ${work}/id_key" }
`,
    );
    const secretContext = new RunContext(context.inventory, keys);
    const instance = new StageEngine({
      context: secretContext,
      hosts: new Map(logHosts.map((h) => [h.name, h])),
      templates: new TemplateStore(templates),
      dryRun: false,
      force: true,
      markerDirFor: (host) => path.join(markers, host),
      reporter: log,
    });
    await instance.runStage(stage, ['master'], new Set(), new Map([['master', 'd']]));
    await Promise.all(logHosts.map((h) => h.close()));
    log.close();
    expect(await readFile(path.join(work, 'id_key'), 'utf8')).toBe(privateKey);
    const logText = await readFile(log.path, 'utf8');
    expect(logText).toContain('cat ');
    expect(logText).toContain('***');
    expect(logText).not.toContain('not-a-real-key-but-a-secret-all-the-same');
    expect(JSON.stringify(logged)).not.toContain('not-a-real-key-but-a-secret-all-the-same');
    expect(secretContext.hostView('master').vars.key).toBe(privateKey.trim());
  });
});
