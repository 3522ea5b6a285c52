// Stage snapshots without a hypervisor: names, the record file, the vmrun/virsh output
// parsers and argument lists, and the hypervisor block checks.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KlabError } from '../../src/errors.js';
import { inventorySchema } from '../../src/inventory/schema.js';
import type { LoadedInventory } from '../../src/inventory/load.js';
import { LibvirtDriver, parseSnapshotNames } from '../../src/snapshots/libvirt.js';
import { snapshotName, stageIdOf } from '../../src/snapshots/names.js';
import { SnapshotRecordFile, emptyRecord, readSnapshotRecord, withDeleted, withTaken } from '../../src/snapshots/record.js';
import { NoHypervisorError, snapshotDriverFor } from '../../src/snapshots/select.js';
import { VmwareDriver, parseListSnapshots, parseRunningVms, vmrunDefaults, vmrunHint } from '../../src/snapshots/vmware.js';
import { snapshotTable } from '../../src/commands/snapshot.js';

const hosts = ['master', 'node1', 'node2'].map((name, i) => ({ name, address: `10.0.0.${i + 1}`, internalAddress: `10.0.0.${i + 1}`, role: i === 0 ? 'control-plane' : 'worker' }));

const folders: string[] = [];
afterAll(async () => {
  await Promise.all(folders.map((f) => rm(f, { recursive: true, force: true })));
});

async function tempFolder(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'klab-record-'));
  folders.push(dir);
  return dir;
}

function loaded(extra: Record<string, unknown>): LoadedInventory {
  return { file: '/labs/klab.yaml', dir: '/labs', inventory: inventorySchema.parse({ hosts, ...extra }) };
}

describe('snapshot names', () => {
  it('are klab-NN-name and map back to their stage', () => {
    expect(snapshotName({ id: '03-kernel' })).toBe('klab-03-kernel');
    expect(stageIdOf('klab-03-kernel')).toBe('03-kernel');
    expect(stageIdOf('klab-10-storage')).toBe('10-storage');
  });

  it('other snapshots are not klab stage snapshots', () => {
    for (const name of ['before-upgrade', 'klab-3-kernel', 'klab-03', 'Klab-03-kernel', 'klab-03-kernel copy']) expect(stageIdOf(name), name).toBeUndefined();
  });
});

describe('the snapshot record', () => {
  it('adds and removes one VM at a time, dropping a snapshot no VM has', () => {
    let record = withTaken(emptyRecord(), 'klab-03-kernel', 'master', '2026-11-29T20:00:00.000Z');
    record = withTaken(record, 'klab-03-kernel', 'node1', '2026-11-29T20:00:01.000Z');
    expect(record.snapshots).toEqual({ 'klab-03-kernel': { master: '2026-11-29T20:00:00.000Z', node1: '2026-11-29T20:00:01.000Z' } });
    record = withDeleted(record, 'klab-03-kernel', 'master');
    expect(record.snapshots).toEqual({ 'klab-03-kernel': { node1: '2026-11-29T20:00:01.000Z' } });
    expect(withDeleted(record, 'klab-03-kernel', 'node1').snapshots).toEqual({});
  });

  it('parallel updates through the file all land, and the file is private', async () => {
    const dir = await tempFolder();
    const file = new SnapshotRecordFile(path.join(dir, '.klab', 'snapshots.json'));
    await Promise.all(['master', 'node1', 'node2'].map((vm) => file.update((r) => withTaken(r, 'klab-00-preflight', vm, `t-${vm}`))));
    expect((await file.read()).snapshots['klab-00-preflight']).toEqual({ master: 't-master', node1: 't-node1', node2: 't-node2' });
    expect(JSON.parse(await readFile(file.path, 'utf8'))).toMatchObject({ format: 1 });
  });

  it('a missing file is an empty record; a damaged one is a typed error naming the file', async () => {
    const dir = await tempFolder();
    expect(await readSnapshotRecord(path.join(dir, 'none.json'))).toEqual(emptyRecord());
    const damaged = path.join(dir, 'snapshots.json');
    await writeFile(damaged, '{"format": 2, "snapshots": {}}');
    const error = await readSnapshotRecord(damaged).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KlabError);
    expect((error as KlabError).message).toContain(damaged);
    expect((error as KlabError).hint).toContain('Delete the file');
  });
});

describe('vmrun', () => {
  it('defaults to where VMware installs it on each OS, with -T fusion on macOS', () => {
    expect(vmrunDefaults('win32')).toEqual({ vmrun: 'C:\\Program Files (x86)\\VMware\\VMware Workstation\\vmrun.exe', hostType: 'ws' });
    expect(vmrunDefaults('linux')).toEqual({ vmrun: '/usr/bin/vmrun', hostType: 'ws' });
    expect(vmrunDefaults('darwin')).toEqual({ vmrun: '/Applications/VMware Fusion.app/Contents/Library/vmrun', hostType: 'fusion' });
  });

  it('argument lists keep a .vmx path with spaces as one argument', () => {
    const vmx = 'C:\\Users\\Ana Lee\\Documents\\Virtual Machines\\master\\master.vmx';
    const driver = new VmwareDriver({ vmx: new Map([['master', vmx]]), platform: 'win32' });
    expect(driver.vmrun).toBe('C:\\Program Files (x86)\\VMware\\VMware Workstation\\vmrun.exe');
    expect(driver.args('snapshot', vmx, 'klab-03-kernel')).toEqual(['-T', 'ws', 'snapshot', vmx, 'klab-03-kernel']);
    expect(new VmwareDriver({ vmx: new Map(), platform: 'darwin' }).args('list')).toEqual(['-T', 'fusion', 'list']);
  });

  it('parses listSnapshots and list as vmrun prints them (CRLF on Windows)', () => {
    expect(parseListSnapshots('Total snapshots: 2\r\nklab-00-preflight\r\nklab-01-hosts\r\n')).toEqual(['klab-00-preflight', 'klab-01-hosts']);
    expect(parseListSnapshots('Total snapshots: 0\n')).toEqual([]);
    expect(parseRunningVms('Total running VMs: 1\nC:\\VMs\\master\\master.vmx\n')).toEqual(['C:\\VMs\\master\\master.vmx']);
    expect(() => parseListSnapshots('something else')).toThrow(/does not understand/);
  });

  it('turns its errors into what to do', () => {
    expect(vmrunHint('Error: The virtual machine is locked. It may be in use by another program', 'a.vmx')).toMatch(/close the VM's tab/);
    expect(vmrunHint('Error: Cannot open VM: C:\\VMs\\master, unknown file suffix', undefined)).toMatch(/hypervisor\.vms/);
    expect(vmrunHint('Error: The virtual machine is encrypted and no password was provided', undefined)).toMatch(/Remove the encryption/);
  });
});

describe('virsh', () => {
  it('argument lists name the connection, the domain and the snapshot with their options', () => {
    const driver = new LibvirtDriver({ uri: 'qemu:///system', domains: new Map([['master', 'k8s master']]) });
    expect(driver.args('snapshot-revert', 'master', '--snapshotname', 'klab-03-kernel')).toEqual([
      '-c', 'qemu:///system', 'snapshot-revert', '--domain', 'k8s master', '--snapshotname', 'klab-03-kernel',
    ]);
  });

  it('parses snapshot-list --name, which ends with a blank line', () => {
    expect(parseSnapshotNames('klab-00-preflight\nklab-01-hosts\n\n')).toEqual(['klab-00-preflight', 'klab-01-hosts']);
    expect(parseSnapshotNames('\n')).toEqual([]);
  });
});

describe('the hypervisor block', () => {
  it('missing: a usage error with an inventory example', async () => {
    const error = await snapshotDriverFor(loaded({})).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoHypervisorError);
    expect((error as KlabError).message).toContain('/labs/klab.yaml names no hypervisor');
    expect((error as KlabError).hint).toContain('kind: vmware');
    expect((error as KlabError).hint).toContain('master: C:\\VMs\\master\\master.vmx');
  });

  it('every host needs a VM, and every VM a host', async () => {
    const error = await snapshotDriverFor(loaded({ hypervisor: { kind: 'vmware', vms: { master: 'm.vmx', node1: 'n1.vmx', node3: 'n3.vmx' } } })).catch((e: unknown) => e);
    expect((error as KlabError).message).toBe('/labs/klab.yaml: hypervisor.vms: no entry for node2; node3 is not a host of the inventory');
  });

  it('relative .vmx paths start at the inventory folder; Windows paths are kept', async () => {
    const driver = await snapshotDriverFor(loaded({ hypervisor: { kind: 'vmware', vms: { master: 'vms/master.vmx', node1: 'C:\\VMs\\node1.vmx', node2: '/srv/node2.vmx' } } }));
    const vmware = driver as VmwareDriver;
    expect(driver.vms).toEqual(['master', 'node1', 'node2']);
    expect(vmware.vmxOf('master')).toBe(path.resolve('/labs', 'vms/master.vmx'));
    expect(vmware.vmxOf('node1')).toBe('C:\\VMs\\node1.vmx');
    expect(vmware.vmxOf('node2')).toBe('/srv/node2.vmx');
  });

  it('inventory snapshots: each-stage is accepted, anything else is not', () => {
    expect(inventorySchema.parse({ hosts, snapshots: 'each-stage' }).snapshots).toBe('each-stage');
    expect(inventorySchema.parse({ hosts }).snapshots).toBe('off');
    expect(inventorySchema.safeParse({ hosts, snapshots: 'always' }).success).toBe(false);
  });
});

describe('klab snapshot list', () => {
  it('shows stages by VM with times, within 80 columns', () => {
    const taken = '2026-11-29T20:14:00.000Z';
    const lines = snapshotTable(['master', 'node1', 'node2'], [
      { name: 'klab-00-preflight', stage: '00-preflight', vms: { master: { takenAt: taken }, node1: { takenAt: taken }, node2: {} } },
      { name: 'klab-10-storage', stage: '10-storage', vms: { master: { takenAt: taken }, node1: undefined, node2: { takenAt: taken } } },
    ]);
    const local = new Date(taken);
    const shown = `${String(local.getMonth() + 1).padStart(2, '0')}-${String(local.getDate()).padStart(2, '0')} ${String(local.getHours()).padStart(2, '0')}:${String(local.getMinutes()).padStart(2, '0')}`;
    expect(lines[0]).toMatch(/^stage\s+master\s+node1\s+node2$/);
    expect(lines[1]?.split(/\s{2,}/)).toEqual(['00-preflight', shown, shown, 'yes']);
    expect(lines[2]?.split(/\s{2,}/)).toEqual(['10-storage', shown, '-', shown]);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(80);
  });
});
