// `klab snapshot list|delete`, `klab rollback` and `klab up --snapshots` as a user runs them
// (in-process, through runMain), with a stand-in vmrun (VMware cannot run here) and real
// sshd hosts on 127.0.0.1: rollback restores through vmrun, waits for real SSH with pinned
// host keys and prints klab status read from those hosts. Listing works with hosts that
// cannot be reached at all.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { registerRunCommands } from '../../src/commands/run.js';
import { registerSnapshotCommands } from '../../src/commands/snapshot.js';
import { exitCodes } from '../../src/errors.js';
import { cliInProcess } from '../support/cli-in-process.js';
import { standIn, type StandIn } from '../support/hypervisor-stand-ins.js';
import { freePort, startSshd, type SshdFixture } from '../support/sshd.js';

let fixtures: SshdFixture[] = [];
let dir: string;
let vmrun: StandIn;
const vmx = (name: string) => path.join(vmrun.dir, 'Virtual Machines', name, `${name}.vmx`);

beforeAll(async () => {
  fixtures = await Promise.all([startSshd(), startSshd()]);
  dir = await mkdtemp(path.join(tmpdir(), 'klab-snapshot-cli-'));
  vmrun = await standIn('vmrun', {});
  await vmrun.write({
    vms: {
      [vmx('master')]: { snapshots: ['my own', 'klab-00-preflight', 'klab-01-hosts'], running: true },
      [vmx('node1')]: { snapshots: ['klab-00-preflight', 'klab-01-hosts'], running: true },
    },
    calls: [],
  });
});

afterAll(async () => {
  await Promise.all(fixtures.map((f) => f.stop()));
  if (dir) await rm(dir, { recursive: true, force: true });
  if (vmrun) await rm(vmrun.dir, { recursive: true, force: true });
});

async function inventory(name: string, options: { reachable: boolean; hypervisor: boolean }): Promise<string> {
  const hosts = await Promise.all(
    fixtures.map(async (f, i) => {
      const spec = f.hostSpec({ name: i === 0 ? 'master' : 'node1', role: i === 0 ? 'control-plane' : 'worker', internalAddress: `192.0.2.${i + 10}` });
      // A port nothing listens on: every SSH attempt is refused.
      return options.reachable ? spec : { ...spec, port: await freePort() };
    }),
  );
  const hypervisor = { kind: 'vmware', vmrun: vmrun.tool, vms: { master: vmx('master'), node1: vmx('node1') } };
  const file = path.join(dir, name, 'klab.yaml');
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, stringify({ hosts, ...(options.hypervisor ? { hypervisor } : {}) }));
  return file;
}

const klab = cliInProcess(registerRunCommands, registerSnapshotCommands);

describe('klab snapshot and rollback with a stand-in vmrun', () => {
  it('snapshot list shows klab\'s snapshots by VM while the hosts cannot be reached over SSH', async () => {
    const file = await inventory('unreachable', { reachable: false, hypervisor: true });
    const listed = await klab('snapshot', 'list', '-i', file);
    expect(listed.stderr).toBe('');
    expect(listed.code).toBe(exitCodes.ok);
    const lines = listed.stdout.split('\n');
    expect(lines[0]).toMatch(/^stage\s+master\s+node1$/);
    // Taken outside klab, so klab knows they exist but not when.
    expect(lines[1]?.split(/\s{2,}/)).toEqual(['00-preflight', 'yes', 'yes']);
    expect(lines[2]?.split(/\s{2,}/)).toEqual(['01-hosts', 'yes', 'yes']);
    expect(listed.stdout).not.toContain('my own');
    const json = await klab('snapshot', 'list', '--json', '-i', file);
    expect(JSON.parse(json.stdout)).toMatchObject({ hypervisor: 'vmware', vms: ['master', 'node1'], snapshots: [{ stage: '00-preflight' }, { stage: '01-hosts' }] });
  });

  it('rollback without --yes and without a terminal is a usage error naming --yes; nothing is restored', async () => {
    const file = await inventory('unasked', { reachable: false, hypervisor: true });
    const before = (await vmrun.read()).calls.length;
    const result = await klab('rollback', 'hosts', '-i', file);
    expect(result.code).toBe(exitCodes.usage);
    expect(result.stderr).toContain('klab rollback 01-hosts --yes');
    expect((await vmrun.read()).calls.slice(before).filter((c) => c[2] === 'revertToSnapshot')).toEqual([]);
  });

  it('rollback to a stage without a snapshot names the stages that have one', async () => {
    const file = await inventory('missing', { reachable: false, hypervisor: true });
    const result = await klab('rollback', '03', '--yes', '-i', file);
    expect(result.code).toBe(exitCodes.usage);
    expect(result.stderr).toContain('klab: there is no snapshot for stage 03-kernel (klab-03-kernel)');
    expect(result.stderr).toContain('hint: Snapshots on every VM: 00-preflight, 01-hosts.');
  });

  it('rollback --yes reverts and starts every VM through vmrun, waits for SSH and prints klab status', async () => {
    const file = await inventory('reachable', { reachable: true, hypervisor: true });
    const result = await klab('rollback', '01', '--yes', '-i', file);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(exitCodes.ok);
    const state = await vmrun.read();
    for (const name of ['master', 'node1']) expect(state.vms[vmx(name)]).toMatchObject({ restored: 'klab-01-hosts', running: true });
    expect(state.calls.filter((c) => c[2] === 'revertToSnapshot' || c[2] === 'start')).toEqual([
      ['-T', 'ws', 'revertToSnapshot', vmx('master'), 'klab-01-hosts'],
      ['-T', 'ws', 'revertToSnapshot', vmx('node1'), 'klab-01-hosts'],
      ['-T', 'ws', 'start', vmx('master'), 'nogui'],
      ['-T', 'ws', 'start', vmx('node1'), 'nogui'],
    ]);
    expect(result.stdout).toContain('waiting for SSH on every host');
    // klab status, read over SSH from the hosts (this machine has no klab markers: missing).
    expect(result.stdout).toMatch(/^stage\s+master\s+node1$/m);
    expect(result.stdout).toMatch(/^01-hosts\s+missing\s+missing$/m);
    expect(result.stdout).toContain('rolled back to klab-01-hosts: klab up goes on from the stage after 01-hosts');
  }, 180_000);

  it('snapshot delete removes one stage\'s snapshot from every VM and leaves other snapshots alone', async () => {
    const file = await inventory('delete', { reachable: false, hypervisor: true });
    const result = await klab('snapshot', 'delete', '00', '-i', file);
    expect(result.code, result.stderr).toBe(exitCodes.ok);
    expect(result.stdout).toBe('deleted klab-00-preflight on master, node1\n');
    const state = await vmrun.read();
    expect(state.vms[vmx('master')]?.snapshots).toEqual(['my own', 'klab-01-hosts']);
    expect(state.vms[vmx('node1')]?.snapshots).toEqual(['klab-01-hosts']);
    const both = await klab('snapshot', 'delete', '00', '--all', '-i', file);
    expect(both.code).toBe(exitCodes.usage);
  });

  it('up --snapshots without a hypervisor stops before contacting any host, with an inventory example', async () => {
    const file = await inventory('no-hypervisor', { reachable: false, hypervisor: false });
    const result = await klab('up', '--snapshots', '-i', file);
    expect(result.code).toBe(exitCodes.usage);
    expect(result.stderr).toContain(`klab: ${file} names no hypervisor, so klab cannot take or restore snapshots`);
    expect(result.stderr).toContain('kind: vmware');
  });
});
