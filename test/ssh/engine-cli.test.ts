// `klab plan`, `klab status` and `klab up` as a user runs them (in-process, through
// runMain), against real sshd hosts on 127.0.0.1. These hosts are this machine, so only
// commands that change nothing (plan, status) run the shipped playbooks here; a real
// `klab up` of the shipped stages is proven on the qemu lab (test/lab).
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { registerRunCommands } from '../../src/commands/run.js';
import { exitCodes } from '../../src/errors.js';
import { cliInProcess } from '../support/cli-in-process.js';
import { startSshd } from '../support/sshd.js';
import type { SshdFixture } from '../support/sshd.js';

const execFileAsync = promisify(execFile);
let fixtures: SshdFixture[] = [];
let dir: string;

beforeAll(async () => {
  fixtures = await Promise.all([startSshd(), startSshd()]);
  dir = await mkdtemp(path.join(tmpdir(), 'klab-cli-'));
});

afterAll(async () => {
  await Promise.all(fixtures.map((f) => f.stop()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function inventoryFile(name: string, hostCount: number): Promise<string> {
  // Internal addresses must differ. master's is this machine's 127.0.0.1; node1's is in
  // TEST-NET-1 (192.0.2.0/24, documentation only), which no machine has: preflight finds
  // node1 unfit, so a test `up` can never reach a stage that changes this machine.
  const hosts = fixtures.slice(0, hostCount).map((f, i) =>
    f.hostSpec({ name: i === 0 ? 'master' : `node${i}`, role: i === 0 ? 'control-plane' : 'worker', internalAddress: i === 0 ? '127.0.0.1' : `192.0.2.${i + 10}` }),
  );
  const file = path.join(dir, name, 'klab.yaml');
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, stringify({ hosts }));
  return file;
}

const klab = cliInProcess(registerRunCommands);

// Every remote command starts root's shell on this machine, and its ~/.bashrc may be slow (on
// the machines here it runs `pyenv init`, about 2 s a command under load); a plan of stages
// 00-10 runs dozens of them in a row, so these tests get far more than the suite's 60 s.
describe('klab run commands against real sshd hosts', { timeout: 300_000 }, () => {
  it('plan runs the shipped playbooks read-only and says what each stage would change', async () => {
    const file = await inventoryFile('one', 1);
    const result = await klab('plan', '-i', file);
    // containerd is not installed on this machine, so stage 05 would install it.
    expect(result.stderr).toBe('');
    expect(result.code).toBe(exitCodes.ok);
    expect(result.stdout).toContain('plan 00-preflight:');
    expect(result.stdout).toMatch(
      /plan 05-containerd: .*\n(.*\n)*\s+master\s+(changed\s+Install containerd: would run apt-get install containerd|ok\s+Install containerd: installed: containerd)/,
    );
    expect(result.stdout).toMatch(/plan: planned 00-preflight, 01-hosts, 02-ssh, 03-kernel, 04-ipvs, 05-containerd, 06-kube-packages, 07-control-plane, 08-network, 09-workers, 10-storage\. Log: /);
    // The default inventory (Kubernetes 1.37, kube-proxy in IPVS mode) is told once that IPVS is deprecated.
    expect(result.stdout.match(/^warning: cluster\.proxyMode is ipvs: kube-proxy's IPVS mode is deprecated since Kubernetes 1\.35/gm)).toHaveLength(1);
    // A plan makes no cluster key and writes no marker.
    const state = await readdir(path.join(path.dirname(file), '.klab'));
    expect(state).not.toContain('id_ed25519');
    const logs = await readdir(path.join(path.dirname(file), '.klab', 'logs'));
    expect(logs.some((l) => l.endsWith('-plan.log'))).toBe(true);
  });

  it('stage runs one stage alone; preflight passes on this machine as a single host', async () => {
    const file = await inventoryFile('stage', 1);
    const result = await klab('stage', '00', '--dry-run', '--json', '-i', file);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(exitCodes.ok);
    const events = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; stage?: string; outcome?: { status: string } });
    expect(new Set(events.flatMap((e) => (e.stage ? [e.stage] : [])))).toEqual(new Set(['00-preflight']));
    expect(events.filter((e) => e.type === 'task-result').every((e) => e.outcome?.status === 'ok')).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'ok', stages: [{ stage: '00-preflight', status: 'done' }] });
  });

  it('status reads the markers on every host', async () => {
    const file = await inventoryFile('status', 2);
    const result = await klab('status', '--json', '-i', file);
    expect(result.code).toBe(exitCodes.ok);
    const report = JSON.parse(result.stdout) as { hosts: string[]; stages: { stage: string; hosts: Record<string, { status: string }> }[] };
    expect(report.hosts).toEqual(['master', 'node1']);
    expect(report.stages.map((s) => s.stage)).toEqual([
      '00-preflight', '01-hosts', '02-ssh', '03-kernel', '04-ipvs', '05-containerd',
      '06-kube-packages', '07-control-plane', '08-network', '09-workers', '10-storage',
    ]);
    // No stage ever ran on this machine (tests only plan here), so there are no markers.
    // Stages 07, 08 and 10 work on the control plane only: the worker has nothing to finish there.
    const controlPlaneOnly = new Set(['07-control-plane', '08-network', '10-storage']);
    for (const stage of report.stages) {
      for (const host of report.hosts) expect(stage.hosts[host]?.status).toBe(host === 'node1' && controlPlaneOnly.has(stage.stage) ? 'n/a' : 'missing');
    }
  });

  it('status on a screen: stages by hosts and a legend, every line within 80 columns', async () => {
    const file = await inventoryFile('status-text', 2);
    const result = await klab('status', '-i', file);
    expect(result.code).toBe(exitCodes.ok);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^stage +master +node1$/);
    expect(lines.find((line) => line.startsWith('00-preflight'))).toMatch(/^00-preflight +missing +missing$/);
    expect(lines.some((line) => line.startsWith('missing   not finished'))).toBe(true);
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(80);
  });

  it('up stops at preflight on an unfit host, with exit code, task, host, hint and log on the error screen', async () => {
    // node1's internalAddress is not an address of this machine: a typo in an inventory.
    const file = await inventoryFile('unfit', 2);
    const addresses = await execFileAsync('ip', ['-o', '-4', 'addr', 'show']);
    expect(addresses.stdout, 'this machine must not have the address the test relies on being absent').not.toContain('192.0.2.11/');
    const result = await klab('up', '--json', '-i', file);
    expect(result.code).toBe(exitCodes.preflightFailed);
    expect(result.stderr).toContain('klab: stage 00-preflight failed on node1:');
    expect(result.stderr).toContain('"The internal address belongs to the host": node1 has no interface with the address 192.0.2.11');
    expect(result.stderr).toContain('hint: Set internalAddress to an address of the host');
    const logPath = /Log: (.*)/.exec(result.stderr)?.[1] ?? '';
    const log = await readFile(logPath, 'utf8');
    expect(log).toContain("grep -qxF '192.0.2.11'");
    expect(log).toMatch(/\[node1\] task \d+ failed/);
    // JSON lines on stdout, one event each; nothing after preflight ran.
    const events = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; stage?: string });
    expect(events[0]).toMatchObject({ type: 'stage-start', stage: '00-preflight' });
    expect(events.some((e) => e.type === 'task-result')).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'failed', exitCode: exitCodes.preflightFailed, log: logPath });
    expect(events.slice(0, -1).every((e) => e.stage === '00-preflight')).toBe(true);
  });

  it('rejects an unknown stage before contacting any host', async () => {
    const result = await klab('up', '--only', 'kernal', '-i', path.join(dir, 'does-not-exist.yaml'));
    expect(result.code).toBe(exitCodes.usage);
    expect(result.stderr).toContain('unknown stage "kernal"');
    expect(result.stderr).toContain('03-kernel');
    // No run started, so no log is named (not even an earlier command's).
    expect(result.stderr).not.toContain('Log:');
  });
});
