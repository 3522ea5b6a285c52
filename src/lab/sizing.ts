// How big each lab VM is. kubeadm's preflight refuses a control plane with fewer than 2 CPUs
// or less than 1700 MB of memory, so the default is a VM that passes it wherever the machine
// has room for three of them and still some for itself; where it has not, the VMs get less
// and the user is told that the preflight will complain (stage 07 lets those two checks pass
// as warnings). A size chosen explicitly is used as given, with the same warning if small.

export interface VmSize {
  cpus: number;
  memoryMb: number;
}

export interface HostShape {
  cpus: number;
  memoryMb: number;
}

export interface SizeChoice {
  size: VmSize;
  /** One line each, for the user; empty when kubeadm will be content. */
  warnings: string[];
}

/** kubeadm's preflight minimums for a control plane (its NumCPU and Mem checks). */
export const kubeadmMinimum = { cpus: 2, memoryMb: 1700 } as const;

/**
 * The guest kernel keeps part of -m for itself, and kubeadm counts only what it reports as
 * total memory, so a VM needs this much more than kubeadm's minimum to pass the check
 * (measured: -m 2048 leaves the lab's Debian guest 1965 MiB).
 */
const guestKernelReserveMb = 128;

/** The size a VM is given when the machine has room for it. */
export const preferredVmSize: VmSize = { cpus: 2, memoryMb: 2048 };

/** What qemu itself takes beside the guest's memory (translation cache, devices). */
const qemuOverheadMb = 300;

/** Left for the machine itself: at least 2 GiB, or a quarter of a large machine. */
function hostReserveMb(host: HostShape): number {
  return Math.max(2048, Math.floor(host.memoryMb / 4));
}

/** Below this a Debian guest with containerd is not worth booting. */
const smallestDefaultMemoryMb = 1024;

export function kubeadmWarnings(size: VmSize): string[] {
  const warnings: string[] = [];
  if (size.cpus < kubeadmMinimum.cpus) {
    warnings.push(`${size.cpus} vCPU per VM is below kubeadm's minimum of ${kubeadmMinimum.cpus}: its preflight will complain (NumCPU), and stage 07 lets that pass as a warning`);
  }
  if (size.memoryMb < kubeadmMinimum.memoryMb + guestKernelReserveMb) {
    warnings.push(
      `${size.memoryMb} MiB per VM leaves the guest less than kubeadm's minimum of ${kubeadmMinimum.memoryMb} MB: its preflight will complain (Mem), and stage 07 lets that pass as a warning`,
    );
  }
  return warnings;
}

/**
 * The size of each of `vmCount` VMs: what the user asked for where they did, else the
 * preferred size if that many fit beside the host's reserve, else what does fit (never more
 * vCPUs than the host has cores, never less than 1 GiB).
 */
export function chooseVmSize(host: HostShape, requested: Partial<VmSize>, vmCount: number): SizeChoice {
  const cpus = requested.cpus ?? Math.max(1, Math.min(preferredVmSize.cpus, host.cpus));
  const fitting = Math.floor((host.memoryMb - hostReserveMb(host)) / vmCount - qemuOverheadMb);
  const memoryMb = requested.memoryMb ?? Math.max(smallestDefaultMemoryMb, Math.min(preferredVmSize.memoryMb, roundDown(fitting, 128)));
  const size = { cpus, memoryMb };
  return { size, warnings: kubeadmWarnings(size) };
}

function roundDown(value: number, step: number): number {
  return Math.floor(value / step) * step;
}
