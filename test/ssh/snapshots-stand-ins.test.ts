// The vmrun and virsh drivers against stand-in executables (VMware and libvirt cannot run
// here): the stand-ins check the exact arguments klab passes and answer in the real tools'
// formats, errors included. StageSnapshots (take, replace, list, delete, restore) runs on
// top of the vmrun stand-in.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KlabError } from '../../src/errors.js';
import { SnapshotError } from '../../src/snapshots/driver.js';
import { snapshotAfterStage } from '../../src/snapshots/hook.js';
import { LibvirtDriver } from '../../src/snapshots/libvirt.js';
import { SnapshotRecordFile } from '../../src/snapshots/record.js';
import { StageSnapshots } from '../../src/snapshots/stage-snapshots.js';
import { VmwareDriver } from '../../src/snapshots/vmware.js';
import type { Stage } from '../../src/stages/playbook.js';
import { standIn as writeStandIn, type StandInVm } from '../support/hypervisor-stand-ins.js';

/** Every temp folder the tests make, removed at the end. */
const folders: string[] = [];
afterAll(async () => {
  await Promise.all(folders.map((f) => rm(f, { recursive: true, force: true })));
});

async function standIn(...args: Parameters<typeof writeStandIn>) {
  const made = await writeStandIn(...args);
  folders.push(made.dir);
  return made;
}

const fresh = (): StandInVm => ({ snapshots: [], running: true });

async function vmwareLab(vms: Record<string, StandInVm> = {}) {
  const tool = await standIn('vmrun', {});
  // The .vmx files live in folders with spaces, as Workstation's default "Virtual Machines" folder does.
  const vmx = new Map(['master', 'node1', 'node2'].map((name) => [name, path.join(tool.dir, 'Virtual Machines', `${name} vm`, `${name}.vmx`)]));
  await tool.write({ vms: Object.fromEntries([...vmx].map(([name, file]) => [file, vms[name] ?? fresh()])), calls: [] });
  const driver = new VmwareDriver({ vmrun: tool.tool, vmx, platform: 'linux' });
  return { tool, vmx, driver };
}

async function failure(promise: Promise<unknown>): Promise<KlabError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(KlabError);
  return error as KlabError;
}

describe('vmrun driver against a stand-in vmrun', () => {
  it('takes, lists, reverts, deletes and starts with exact arguments, a .vmx path with spaces as one argument', async () => {
    const { tool, vmx, driver } = await vmwareLab();
    const master = vmx.get('master') ?? '';
    await driver.take('master', 'klab-03-kernel');
    expect(await driver.list('master')).toEqual(['klab-03-kernel']);
    await driver.restore('master', 'klab-03-kernel');
    expect(await driver.isRunning('master')).toBe(false);
    await driver.start('master');
    expect(await driver.isRunning('master')).toBe(true);
    await driver.delete('master', 'klab-03-kernel');
    expect(await driver.list('master')).toEqual([]);
    const state = await tool.read();
    expect(state.vms[master]?.restored).toBe('klab-03-kernel');
    expect(state.calls).toEqual([
      ['-T', 'ws', 'snapshot', master, 'klab-03-kernel'],
      ['-T', 'ws', 'listSnapshots', master],
      ['-T', 'ws', 'revertToSnapshot', master, 'klab-03-kernel'],
      ['-T', 'ws', 'list'],
      ['-T', 'ws', 'start', master, 'nogui'],
      ['-T', 'ws', 'list'],
      ['-T', 'ws', 'deleteSnapshot', master, 'klab-03-kernel'],
      ['-T', 'ws', 'listSnapshots', master],
    ]);
    expect(master).toContain(' ');
  });

  it('a locked VM: vmrun\'s own words and what to do', async () => {
    const { driver } = await vmwareLab({ node1: { snapshots: [], running: true, locked: true } });
    const error = await failure(driver.take('node1', 'klab-00-preflight'));
    expect(error).toBeInstanceOf(SnapshotError);
    expect(error.message).toBe('vmrun snapshot for node1 failed: Error: The virtual machine is locked. It may be in use by another program');
    expect(error.hint).toMatch(/close the VM's tab or window in Workstation/);
  });

  it('an encrypted VM: says so and how to remove the encryption', async () => {
    const { driver } = await vmwareLab({ node2: { snapshots: [], running: true, encrypted: true } });
    const error = await failure(driver.list('node2'));
    expect(error.message).toBe('vmrun listSnapshots for node2 failed: Error: The virtual machine is encrypted and no password was provided');
    expect(error.hint).toMatch(/Remove the encryption/);
  });

  it('a wrong path: vmrun\'s "unknown file suffix" and a pointer to hypervisor.vms', async () => {
    const tool = await standIn('vmrun', {});
    const folder = path.join(tool.dir, 'Virtual Machines', 'master');
    const driver = new VmwareDriver({ vmrun: tool.tool, vmx: new Map([['master', folder]]), platform: 'linux' });
    const error = await failure(driver.take('master', 'klab-00-preflight'));
    expect(error.message).toBe(`vmrun snapshot for master failed: Error: Cannot open VM: ${folder}, unknown file suffix`);
    expect(error.hint).toMatch(/hypervisor\.vms/);
  });

  it('on Windows without hypervisor.vmrun it runs Workstation\'s vmrun.exe, and says where it looked when that is missing', async () => {
    const driver = new VmwareDriver({ vmx: new Map([['master', 'C:\\VMs\\master\\master.vmx']]), platform: 'win32' });
    const error = await failure(driver.list('master'));
    expect(error.message).toBe('cannot run vmrun at C:\\Program Files (x86)\\VMware\\VMware Workstation\\vmrun.exe: no such file');
    expect(error.hint).toMatch(/hypervisor\.vmrun/);
  });

  it('isRunning on Windows matches vmrun list\'s paths without regard to case or slashes', async () => {
    const tool = await standIn('vmrun', { 'C:\\VMs\\Master VM\\master.vmx': { snapshots: [], running: true } });
    const driver = new VmwareDriver({ vmrun: tool.tool, vmx: new Map([['master', 'c:/vms/master vm/MASTER.vmx']]), platform: 'win32' });
    expect(await driver.isRunning('master')).toBe(true);
  });
});

describe('virsh driver against a stand-in virsh', () => {
  async function virshLab() {
    const tool = await standIn('virsh', { 'k8s-master': fresh(), 'k8s-node1': { snapshots: [], running: false } });
    const driver = new LibvirtDriver({ uri: 'qemu:///system', virsh: tool.tool, domains: new Map([['master', 'k8s-master'], ['node1', 'k8s-node1']]) });
    return { tool, driver };
  }

  it('creates, lists, reverts, deletes, starts and reads the state with exact arguments', async () => {
    const { tool, driver } = await virshLab();
    await driver.take('master', 'klab-01-hosts');
    expect(await driver.list('master')).toEqual(['klab-01-hosts']);
    await driver.restore('master', 'klab-01-hosts');
    await driver.delete('master', 'klab-01-hosts');
    expect(await driver.isRunning('node1')).toBe(false);
    await driver.start('node1');
    expect(await driver.isRunning('node1')).toBe(true);
    const c = ['-c', 'qemu:///system'];
    expect((await tool.read()).calls).toEqual([
      [...c, 'snapshot-create-as', '--domain', 'k8s-master', '--name', 'klab-01-hosts'],
      [...c, 'snapshot-list', '--domain', 'k8s-master', '--name'],
      [...c, 'snapshot-revert', '--domain', 'k8s-master', '--snapshotname', 'klab-01-hosts'],
      [...c, 'snapshot-delete', '--domain', 'k8s-master', '--snapshotname', 'klab-01-hosts'],
      [...c, 'domstate', '--domain', 'k8s-node1'],
      [...c, 'start', '--domain', 'k8s-node1'],
      [...c, 'domstate', '--domain', 'k8s-node1'],
    ]);
  });

  it('an unknown domain: virsh\'s error line and a pointer to hypervisor.domains', async () => {
    const tool = await standIn('virsh', {});
    const driver = new LibvirtDriver({ uri: 'qemu:///system', virsh: tool.tool, domains: new Map([['master', 'gone']]) });
    const error = await failure(driver.list('master'));
    expect(error.message).toBe("virsh snapshot-list for master failed: error: failed to get domain 'gone'");
    expect(error.hint).toMatch(/hypervisor\.domains/);
  });

  it('a missing snapshot: virsh\'s own words', async () => {
    const { driver } = await virshLab();
    const error = await failure(driver.restore('master', 'klab-09-workers'));
    expect(error.message).toBe("virsh snapshot-revert for master failed: error: Domain snapshot not found: no domain snapshot with matching name 'klab-09-workers'");
  });
});

describe('stage snapshots over the stand-in vmrun', () => {
  const stage = (id: string) => ({ id }) as Stage;

  async function snapshots(vms: Record<string, StandInVm> = {}) {
    const lab = await vmwareLab(vms);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'klab-inventory-'));
    folders.push(dir);
    return { ...lab, snapshots: new StageSnapshots(lab.driver, new SnapshotRecordFile(path.join(dir, '.klab', 'snapshots.json'))) };
  }

  it('a stage snapshot replaces an older one of the same name, on every VM, and is recorded with its time', async () => {
    const { tool, vmx, snapshots: s } = await snapshots({ node1: { snapshots: ['before-klab', 'klab-03-kernel'], running: true } });
    await s.take(stage('03-kernel'));
    const state = await tool.read();
    for (const [name, file] of vmx) expect(state.vms[file]?.snapshots.filter((n) => n === 'klab-03-kernel'), name).toHaveLength(1);
    expect(state.vms[vmx.get('node1') ?? '']?.snapshots).toEqual(['before-klab', 'klab-03-kernel']);
    const listed = await s.list();
    expect(listed.map((l) => l.name)).toEqual(['klab-03-kernel']);
    for (const vm of ['master', 'node1', 'node2']) expect(listed[0]?.vms[vm]?.takenAt).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('rollback to a stage without a snapshot names the stages that have one', async () => {
    const { snapshots: s } = await snapshots();
    await s.take(stage('00-preflight'));
    await s.take(stage('01-hosts'));
    const error = await failure(s.restore(stage('03-kernel'), () => undefined));
    expect(error.message).toBe('there is no snapshot for stage 03-kernel (klab-03-kernel)');
    expect(error.hint).toBe('Snapshots on every VM: 00-preflight, 01-hosts. Roll back to one of those.');
  });

  it('restore reverts every VM and starts those the revert left stopped', async () => {
    const { tool, vmx, snapshots: s } = await snapshots();
    await s.take(stage('02-ssh'));
    const lines: string[] = [];
    await s.restore(stage('02-ssh'), (l) => lines.push(l));
    const state = await tool.read();
    for (const file of vmx.values()) expect(state.vms[file]).toMatchObject({ restored: 'klab-02-ssh', running: true });
    expect(lines).toEqual(['master: restored to klab-02-ssh', 'node1: restored to klab-02-ssh', 'node2: restored to klab-02-ssh', 'master: started', 'node1: started', 'node2: started']);
  });

  it('delete removes only klab\'s snapshot, from the VMs that have it', async () => {
    const { tool, vmx, snapshots: s } = await snapshots({ master: { snapshots: ['mine'], running: true } });
    await s.take(stage('04-ipvs'));
    expect(await s.delete(['klab-04-ipvs'])).toEqual(['master', 'node1', 'node2'].map((vm) => ({ name: 'klab-04-ipvs', vm })));
    expect((await tool.read()).vms[vmx.get('master') ?? '']?.snapshots).toEqual(['mine']);
    expect(await s.list()).toEqual([]);
  });

  it('after a skipped stage: a missing snapshot is taken unless a later stage is done; a present one is kept', async () => {
    const { tool, snapshots: s } = await snapshots();
    const taken: string[] = [];
    const hook = snapshotAfterStage(s, (_stage, name) => taken.push(name));
    await hook(stage('01-hosts'), [], { ran: false, laterStageDone: true });
    expect(taken).toEqual([]);
    await hook(stage('01-hosts'), [], { ran: false, laterStageDone: false });
    await hook(stage('01-hosts'), [], { ran: false, laterStageDone: false });
    expect(taken).toEqual(['klab-01-hosts']);
    await hook(stage('01-hosts'), [], { ran: true });
    expect(taken).toEqual(['klab-01-hosts', 'klab-01-hosts']);
    expect((await tool.read()).calls.filter((c) => c[2] === 'snapshot')).toHaveLength(6);
  });

  it('a failed snapshot stops the run with the reason and says the stage stays done', async () => {
    const { snapshots: s } = await snapshots({ node2: { snapshots: [], running: true, locked: true } });
    const hook = snapshotAfterStage(s, () => undefined);
    const error = await failure(hook(stage('03-kernel'), [], { ran: true }));
    expect(error.message).toBe(
      'stage 03-kernel is done (its markers are written), but snapshot klab-03-kernel of node2 failed: vmrun listSnapshots for node2 failed: Error: The virtual machine is locked. It may be in use by another program',
    );
    expect(error.hint).toMatch(/close the VM's tab.*Then run klab up --snapshots again/s);
  });
});
