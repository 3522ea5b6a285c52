// One small interface over the hypervisors klab can snapshot (VMware's vmrun, libvirt's
// virsh, the local qemu lab). A driver speaks for every VM of the inventory, named by the
// inventory's host names; it only talks to the hypervisor, never over SSH, so it works when
// a host is broken or unreachable.
import { KlabError, exitCodes } from '../errors.js';

export interface SnapshotDriver {
  /** What the user wrote as hypervisor.kind, for messages. */
  readonly kind: 'vmware' | 'libvirt' | 'qemu-lab';
  /** The inventory host names this driver controls, in inventory order. */
  readonly vms: readonly string[];
  /** Takes a snapshot named `name` of a VM (running or not). */
  take(vm: string, name: string): Promise<void>;
  /** Names of the VM's snapshots, in the hypervisor's order. */
  list(vm: string): Promise<string[]>;
  /** Puts the VM back to the snapshot; it may be left stopped or paused (start() brings it up). */
  restore(vm: string, name: string): Promise<void>;
  delete(vm: string, name: string): Promise<void>;
  start(vm: string): Promise<void>;
  isRunning(vm: string): Promise<boolean>;
}

/** A hypervisor refused or failed an operation; the message carries the tool's own words. */
export class SnapshotError extends KlabError {
  constructor(message: string, hint?: string, options?: ErrorOptions) {
    super(message, exitCodes.stageFailed, hint, options);
  }
}
