// Picks the snapshot driver for an inventory from its `hypervisor` block, with paths
// resolved against the inventory's folder, and checks every host has a VM in it.
import path from 'node:path';
import { KlabError, exitCodes } from '../errors.js';
import type { LoadedInventory } from '../inventory/load.js';
import type { SnapshotDriver } from './driver.js';
import { LibvirtDriver } from './libvirt.js';
import { QemuLabDriver } from './qemu-lab.js';
import { VmwareDriver } from './vmware.js';

const inventoryExample = [
  'hypervisor:',
  '  kind: vmware',
  '  vms:',
  '    master: C:\\VMs\\master\\master.vmx',
  '    node1: C:\\VMs\\node1\\node1.vmx',
  '    node2: C:\\VMs\\node2\\node2.vmx',
].join('\n');

export class NoHypervisorError extends KlabError {
  constructor(file: string) {
    super(
      `${file} names no hypervisor, so klab cannot take or restore snapshots`,
      exitCodes.usage,
      `Add a hypervisor block to the inventory, e.g.\n${inventoryExample}\n(kind libvirt takes uri and domains; the qemu lab writes its own).`,
    );
  }
}

function mapping(what: string, entries: Record<string, string>, hosts: readonly string[], file: string, value: (v: string) => string): Map<string, string> {
  const missing = hosts.filter((h) => entries[h] === undefined);
  const strangers = Object.keys(entries).filter((name) => !hosts.includes(name));
  if (missing.length > 0 || strangers.length > 0) {
    const problems = [
      ...(missing.length > 0 ? [`no entry for ${missing.join(', ')}`] : []),
      ...(strangers.length > 0 ? [`${strangers.join(', ')} ${strangers.length === 1 ? 'is' : 'are'} not a host of the inventory`] : []),
    ];
    throw new KlabError(`${file}: hypervisor.${what}: ${problems.join('; ')}`, exitCodes.usage, `hypervisor.${what} needs one entry per host (${hosts.join(', ')}).`);
  }
  return new Map(hosts.map((h) => [h, value(entries[h] ?? '')]));
}

export async function snapshotDriverFor(loaded: LoadedInventory): Promise<SnapshotDriver> {
  const { hypervisor, hosts } = loaded.inventory;
  if (hypervisor === undefined) throw new NoHypervisorError(loaded.file);
  const names = hosts.map((h) => h.name);
  switch (hypervisor.kind) {
    case 'vmware':
      return new VmwareDriver({
        vmrun: hypervisor.vmrun,
        vmx: mapping('vms', hypervisor.vms, names, loaded.file, (vmx) => (path.isAbsolute(vmx) || path.win32.isAbsolute(vmx) ? vmx : path.resolve(loaded.dir, vmx))),
      });
    case 'libvirt':
      return new LibvirtDriver({ uri: hypervisor.uri, domains: mapping('domains', hypervisor.domains, names, loaded.file, (d) => d) });
    case 'qemu-lab':
      return QemuLabDriver.open(path.resolve(loaded.dir, hypervisor.dir), names);
  }
}
