// One VM's qemu command line, built from plain data so it can be checked without running qemu.
// The choices come from LAB.md: KVM only where a boot probe showed it works (accelerator.ts),
// else TCG with tb-size=256 to keep each VM's translation cache small; the kernel and initrd
// passed directly, a qcow2 overlay on the shared base image, SSH (and the control plane's API
// server) through loopback-only hostfwds, and the lab network as a multicast socket bound to
// 127.0.0.1 so it never touches the machine's NICs.
import type { Accelerator } from './accelerator.js';

export interface VmLaunch {
  name: string;
  accelerator: Accelerator;
  cpus: number;
  memoryMb: number;
  kernel: string;
  initrd: string;
  /** The VM's qcow2 overlay. */
  disk: string;
  natMac: string;
  labMac: string;
  /** Loopback port forwarded to the guest's port 22. */
  sshPort: number;
  /** Loopback port forwarded to the guest's API server (6443), on the control plane only. */
  apiServerPort?: number;
  labMulticast: { group: string; port: number };
  /** QMP socket: stop, reset, and later savevm/loadvm for snapshots. */
  qmpSocket: string;
  pidFile: string;
  consoleLog: string;
  /** The lab's public key line; the guest installs it for root (see recipe.ts). */
  authorizedKey: string;
}

export function kernelCommandLine(vm: Pick<VmLaunch, 'name' | 'authorizedKey'>): string {
  // base64 keeps the key one word on the command line, where the guest's boot script finds it.
  const key = Buffer.from(vm.authorizedKey.trim()).toString('base64');
  return `root=/dev/vda rw console=ttyS0 systemd.hostname=${vm.name} klab.authorized_key=${key}`;
}

export function qemuArgs(vm: VmLaunch): string[] {
  for (const [what, value] of Object.entries({ disk: vm.disk, qmpSocket: vm.qmpSocket, pidFile: vm.pidFile, consoleLog: vm.consoleLog })) {
    // qemu splits option values at commas; a path containing one would silently mean something else.
    if (value.includes(',')) throw new RangeError(`the lab's ${what} path must not contain a comma: ${value}`);
  }
  const { group, port } = vm.labMulticast;
  const forwards: Array<[number, number]> = [[vm.sshPort, 22], ...(vm.apiServerPort === undefined ? [] : [[vm.apiServerPort, 6443] as [number, number]])];
  return [
    '-name', `klab-${vm.name}`,
    ...acceleratorArgs(vm.accelerator),
    '-smp', String(vm.cpus),
    '-m', String(vm.memoryMb),
    '-display', 'none',
    '-monitor', 'none',
    '-kernel', vm.kernel,
    '-initrd', vm.initrd,
    '-append', kernelCommandLine(vm),
    '-drive', `file=${vm.disk},if=virtio,format=qcow2,cache=unsafe`,
    '-netdev', ['user,id=nat', ...forwards.map(([host, guest]) => `hostfwd=tcp:127.0.0.1:${host}-:${guest}`)].join(','),
    '-device', `virtio-net-pci,netdev=nat,mac=${vm.natMac}`,
    '-netdev', `socket,id=lab,mcast=${group}:${port},localaddr=127.0.0.1`,
    '-device', `virtio-net-pci,netdev=lab,mac=${vm.labMac}`,
    '-chardev', `file,id=console,path=${vm.consoleLog}`,
    '-serial', 'chardev:console',
    '-qmp', `unix:${vm.qmpSocket},server=on,wait=off`,
    '-pidfile', vm.pidFile,
    '-daemonize',
  ];
}

export function acceleratorArgs(accelerator: Accelerator): string[] {
  switch (accelerator) {
    case 'kvm':
      return ['-accel', 'kvm', '-cpu', 'host'];
    case 'tcg':
      return ['-accel', 'tcg,thread=multi,tb-size=256', '-cpu', 'max'];
  }
}
