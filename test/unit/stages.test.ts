import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exitCodes } from '../../src/errors.js';
import { inventorySchema } from '../../src/inventory/schema.js';
import { RunContext } from '../../src/stages/context.js';
import { TemplateStore, stageDigest } from '../../src/stages/digest.js';
import type { StageMarker } from '../../src/stages/markers.js';
import { decideStage, selectStages, stageStatus } from '../../src/stages/planner.js';
import { parsePlaybook } from '../../src/stages/playbook.js';
import type { Stage } from '../../src/stages/playbook.js';
import { MissingValueError, render } from '../../src/stages/render.js';
import { TaskFailure, evaluateCondition, installedVersions, withBlock } from '../../src/stages/tasks.js';

const inventory = (overrides: Record<string, unknown> = {}) =>
  inventorySchema.parse({
    hosts: [
      { name: 'master', address: '10.0.0.10', internalAddress: '192.168.56.10', role: 'control-plane', keyFile: 'k' },
      { name: 'node1', address: '10.0.0.11', internalAddress: '192.168.56.11', role: 'worker', keyFile: 'k' },
    ],
    ...overrides,
  });
const keys = { publicKey: 'ssh-ed25519 AAAAtest klab', privateKey: '-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n-----END OPENSSH PRIVATE KEY-----\n' };

const stage = (name: string, tasks: string): Stage => parsePlaybook(`/p/${name}.yaml`, `name: ${name.slice(3)}\ndescription: d\ntasks:\n${tasks}`);

describe('template rendering', () => {
  it('renders values without HTML escaping and lists in sections', () => {
    const view = { a: '<x> & "y"', hosts: [{ name: 'master' }, { name: 'node1' }] };
    expect(render('{{a}}\n{{#hosts}}\n{{name}}\n{{/hosts}}\n', view, 'w')).toBe('<x> & "y"\nmaster\nnode1\n');
  });

  it('fails on a top-level name that has no value, naming it', () => {
    expect(() => render('x {{cluster.podCidrr}}', { cluster: { podCidr: '10.244.0.0/16' } }, 'playbooks/x.yaml task 1')).toThrow(MissingValueError);
    expect(() => render('x {{cluster.podCidrr}}', { cluster: {} }, 'playbooks/x.yaml task 1')).toThrow(/playbooks\/x.yaml task 1: \{\{cluster.podCidrr\}\} has no value/);
  });

  it('reports broken mustache syntax', () => {
    expect(() => render('{{#a}} unclosed', {}, 'w')).toThrow(/not a valid mustache template/);
  });
});

describe('marked blocks', () => {
  it('appends a block to a file without one, adding a missing final newline', () => {
    expect(withBlock('127.0.0.1 localhost', 'hosts', '10.0.0.1 a\n')).toBe('127.0.0.1 localhost\n# BEGIN klab hosts\n10.0.0.1 a\n# END klab hosts\n');
    expect(withBlock('', 'k', 'key')).toBe('# BEGIN klab k\nkey\n# END klab k\n');
  });

  it('replaces its own block in place and leaves the rest alone', () => {
    const before = 'a\n# BEGIN klab hosts\nold\n# END klab hosts\nb\n# BEGIN klab other\nx\n# END klab other\n';
    expect(withBlock(before, 'hosts', 'new\n')).toBe('a\n# BEGIN klab hosts\nnew\n# END klab hosts\nb\n# BEGIN klab other\nx\n# END klab other\n');
  });

  it('is stable: applying the same block twice gives the same file', () => {
    const once = withBlock('x\n', 'k', 'line1\nline2\n');
    expect(withBlock(once, 'k', 'line1\nline2\n')).toBe(once);
  });
});

describe('conditions', () => {
  const view = { host: { vars: { n: '3', os: 'debian 12' } } };
  it('compares as strings or numbers', () => {
    expect(evaluateCondition({ var: 'host.vars.n', equals: '3' }, view, 'w')).toBe(true);
    expect(evaluateCondition({ var: 'host.vars.n', atLeast: 4 }, view, 'w')).toBe(false);
    expect(evaluateCondition({ var: 'host.vars.n', atMost: 3 }, view, 'w')).toBe(true);
    expect(evaluateCondition({ var: 'host.vars.os', in: ['ubuntu 22.04', 'debian 12'] }, view, 'w')).toBe(true);
    expect(evaluateCondition({ var: 'host.vars.os', matches: '^ubuntu' }, view, 'w')).toBe(false);
    expect(evaluateCondition({ var: 'host.vars.os', notEquals: 'debian 12' }, view, 'w')).toBe(false);
  });

  it('fails on a missing value or a non-number compared as a number', () => {
    expect(() => evaluateCondition({ var: 'host.vars.missing', equals: '1' }, view, 'w')).toThrow(MissingValueError);
    expect(() => evaluateCondition({ var: 'host.vars.os', atLeast: 1 }, view, 'w')).toThrow(TaskFailure);
  });
});

describe('installed packages, as dpkg-query reports them', () => {
  it('counts installed and held packages, not removed or half-configured ones', () => {
    const query = [
      'kubeadm hold ok installed 1.37.2-1.1',
      'curl install ok installed 7.88.1-10+deb12u15',
      'gpg deinstall ok config-files 2.2.40-1.1',
      'socat install ok half-configured 1.7.4.4-2',
      'apt-transport-https unknown ok not-installed ',
    ].join('\n');
    expect([...installedVersions(query)]).toEqual([
      ['kubeadm', '1.37.2-1.1'],
      ['curl', '7.88.1-10+deb12u15'],
    ]);
  });
});

describe('stage selection', () => {
  const stages = ['00-preflight', '01-hosts', '02-ssh', '03-kernel'].map((id) => stage(id, `  - name: t\n    command: { run: x }\n`));
  const ids = (list: Stage[]) => list.map((s) => s.id);

  it('takes ranges by number or name, and single stages', () => {
    expect(ids(selectStages(stages, {}))).toEqual(['00-preflight', '01-hosts', '02-ssh', '03-kernel']);
    expect(ids(selectStages(stages, { from: 'hosts', to: '02' }))).toEqual(['01-hosts', '02-ssh']);
    expect(ids(selectStages(stages, { to: 'hosts' }))).toEqual(['00-preflight', '01-hosts']);
    expect(ids(selectStages(stages, { only: '03-kernel' }))).toEqual(['03-kernel']);
  });

  it('rejects --only with a range, and a backwards range', () => {
    expect(() => selectStages(stages, { only: '01', from: '00' })).toThrow(expect.objectContaining({ exitCode: exitCodes.usage }));
    expect(() => selectStages(stages, { from: '03', to: '01' })).toThrow(/comes after/);
    expect(() => selectStages(stages, { from: 'nope' })).toThrow(/unknown stage "nope"/);
  });
});

describe('skip decisions from markers', () => {
  const s = stage('03-kernel', `  - name: t\n    command: { run: x }\n`);
  const marker = (digest: string): StageMarker => ({ stage: '03-kernel', digest, klabVersion: '0.1.0', finishedAt: '2026-01-01T00:00:00Z' });
  const digests = new Map([
    ['master', 'd1'],
    ['node1', 'd2'],
  ]);

  it('skips a stage whose markers are current on every host', () => {
    const markers = new Map([
      ['master', new Map([['03-kernel', marker('d1')]])],
      ['node1', new Map([['03-kernel', marker('d2')]])],
    ]);
    expect(decideStage(s, ['master', 'node1'], markers, digests, false)).toMatchObject({ action: 'skip' });
    expect(decideStage(s, ['master', 'node1'], markers, digests, true)).toMatchObject({ action: 'run', reason: 'forced' });
  });

  it('runs a stage missing on one host or finished with another digest', () => {
    const missing = new Map([['master', new Map([['03-kernel', marker('d1')]])]]);
    const decision = decideStage(s, ['master', 'node1'], missing, digests, false);
    expect(decision.action).toBe('run');
    expect(decision.reason).toBe('not done on node1');
    expect([...decision.finishedOn]).toEqual(['master']);
    const outdated = new Map([
      ['master', new Map([['03-kernel', marker('d1')]])],
      ['node1', new Map([['03-kernel', marker('old')]])],
    ]);
    expect(decideStage(s, ['master', 'node1'], outdated, digests, false).reason).toBe('changed since last run on node1');
  });

  it('reports status cells', () => {
    const markers = new Map([['03-kernel', marker('d1')]]);
    expect(stageStatus(s, true, markers, 'd1')).toBe('done');
    expect(stageStatus(s, true, markers, 'd9')).toBe('outdated');
    expect(stageStatus(s, true, new Map(), 'd1')).toBe('missing');
    expect(stageStatus(s, false, markers, 'd1')).toBe('n/a');
  });
});

describe('stage digests', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  async function setup(templateText: string) {
    const dir = await mkdtemp(path.join(tmpdir(), 'klab-digest-'));
    dirs.push(dir);
    await mkdir(path.join(dir, 't'));
    await writeFile(path.join(dir, 't', 'file.conf'), templateText);
    return new TemplateStore(dir);
  }
  const s = stage('05-sample', `  - name: t\n    template: { src: t/file.conf, dest: /etc/file.conf }\n`);

  it('changes with the template and with the inventory values it uses, and only those', async () => {
    const store = await setup('image {{cluster.sandboxImage}} on {{host.name}}\n');
    const base = await stageDigest(s, new RunContext(inventory(), keys), 'master', store);
    expect(await stageDigest(s, new RunContext(inventory(), keys), 'master', store)).toBe(base);
    expect(await stageDigest(s, new RunContext(inventory(), keys), 'node1', store)).not.toBe(base);
    expect(await stageDigest(s, new RunContext(inventory({ cluster: { sandboxImage: 'other:1' } }), keys), 'master', store)).not.toBe(base);
    // The stage refers to no broker setting.
    expect(await stageDigest(s, new RunContext(inventory({ broker: { replicas: 1 } }), keys), 'master', store)).toBe(base);
    const changedTemplate = await setup('image {{cluster.sandboxImage}} on {{host.name}} # v2\n');
    expect(await stageDigest(s, new RunContext(inventory(), keys), 'master', changedTemplate)).not.toBe(base);
  });

  it('ignores captured facts and the private key, but follows the public key', async () => {
    const store = await setup('{{klab.publicKey}} {{host.vars.x}}\n');
    const context = new RunContext(inventory(), keys);
    const base = await stageDigest(s, context, 'master', store);
    context.setVar('master', 'x', 'captured', false);
    expect(await stageDigest(s, context, 'master', store)).toBe(base);
    expect(await stageDigest(s, new RunContext(inventory(), { ...keys, privateKey: 'other private key' }), 'master', store)).toBe(base);
    expect(await stageDigest(s, new RunContext(inventory(), { ...keys, publicKey: 'ssh-ed25519 BBBB klab' }), 'master', store)).not.toBe(base);
  });
});
