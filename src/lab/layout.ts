// The lab's fixed plan: which VMs exist, their roles, and the addresses each one gets. MAC
// addresses are derived from a VM's slot so the base image can configure every slot's NICs
// in advance (systemd-networkd matches by MAC), and nothing per-VM has to be written into a
// disk image.

/** The lab network between the VMs. Clear of the default pod (10.244.0.0/16) and service (10.96.0.0/12) CIDRs. */
export const labNetwork = { prefix: '10.77.0', prefixLength: 24 } as const;

/** User-mode (slirp) networking gives every guest this DNS forwarder. */
export const userNetDns = '10.0.2.3';

/** Slots the base image configures; a lab uses the first few. */
export const slotCount = 9;

export interface VmSlot {
  slot: number;
  /** NIC 1: user-mode network (SSH via hostfwd, packages via NAT). */
  natMac: string;
  /** NIC 2: the lab network between VMs. */
  labMac: string;
  internalAddress: string;
}

export function vmSlot(slot: number): VmSlot {
  if (!Number.isInteger(slot) || slot < 1 || slot > slotCount) throw new RangeError(`lab VM slot ${slot} is not in 1..${slotCount}`);
  const hex = slot.toString(16).padStart(2, '0');
  return {
    slot,
    natMac: `52:54:00:6b:00:${hex}`,
    labMac: `52:54:00:6b:01:${hex}`,
    internalAddress: `${labNetwork.prefix}.${10 + slot}`,
  };
}

export interface LabVmPlan extends VmSlot {
  name: string;
  role: 'control-plane' | 'worker';
}

/** The three machines of DESIGN.md: master (control plane), node1 and node2. */
export const labVms: readonly LabVmPlan[] = [
  { name: 'master', role: 'control-plane', ...vmSlot(1) },
  { name: 'node1', role: 'worker', ...vmSlot(2) },
  { name: 'node2', role: 'worker', ...vmSlot(3) },
];
