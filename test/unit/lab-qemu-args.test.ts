import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findTool } from '../../src/lab/prerequisites.js';
import { kernelCommandLine, qemuArgs, type VmLaunch } from '../../src/lab/qemu-args.js';
import { labVms, vmSlot } from '../../src/lab/layout.js';

const launch: VmLaunch = {
  name: 'node1',
  accelerator: 'tcg',
  cpus: 1,
  memoryMb: 1024,
  kernel: '/cache/vmlinuz',
  initrd: '/cache/initrd.img',
  disk: '/lab/node1.qcow2',
  natMac: '52:54:00:6b:00:02',
  labMac: '52:54:00:6b:01:02',
  sshPort: 40022,
  labMulticast: { group: '239.77.1.2', port: 45000 },
  qmpSocket: '/lab/node1.qmp',
  pidFile: '/lab/node1.pid',
  consoleLog: '/lab/node1.console.log',
  authorizedKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB lab@test',
};

function option(args: string[], name: string): string[] {
  return args.flatMap((arg, i) => (arg === name ? [args[i + 1] ?? ''] : []));
}

describe('qemu command line of a lab VM', () => {
  const args = qemuArgs(launch);

  it('uses TCG with a bounded translation cache, one vCPU and the given memory', () => {
    expect(option(args, '-accel')).toEqual(['tcg,thread=multi,tb-size=256']);
    expect(option(args, '-smp')).toEqual(['1']);
    expect(option(args, '-m')).toEqual(['1024']);
    expect(option(args, '-display')).toEqual(['none']);
  });

  it('runs under KVM with the host CPU model when the lab chose KVM, and gives the VM the vCPUs asked for', () => {
    const kvm = qemuArgs({ ...launch, accelerator: 'kvm', cpus: 2, memoryMb: 2048 });
    expect(option(kvm, '-accel')).toEqual(['kvm']);
    expect(option(kvm, '-cpu')).toEqual(['host']);
    expect(option(kvm, '-smp')).toEqual(['2']);
    expect(option(kvm, '-m')).toEqual(['2048']);
    expect(option(qemuArgs({ ...launch, cpus: 2 }), '-cpu')).toEqual(['max']);
  });

  it("forwards the control plane's API server on loopback beside SSH, on the same user-mode network", () => {
    const master = qemuArgs({ ...launch, name: 'master', apiServerPort: 46443 });
    expect(option(master, '-netdev')).toContain('user,id=nat,hostfwd=tcp:127.0.0.1:40022-:22,hostfwd=tcp:127.0.0.1:46443-:6443');
    expect(option(args, '-netdev').filter((netdev) => netdev.includes('6443'))).toEqual([]);
  });

  it('forwards SSH on loopback only and puts the lab network on a loopback multicast socket', () => {
    const netdevs = option(args, '-netdev');
    expect(netdevs).toContain('user,id=nat,hostfwd=tcp:127.0.0.1:40022-:22');
    expect(netdevs).toContain('socket,id=lab,mcast=239.77.1.2:45000,localaddr=127.0.0.1');
    expect(option(args, '-device')).toEqual(['virtio-net-pci,netdev=nat,mac=52:54:00:6b:00:02', 'virtio-net-pci,netdev=lab,mac=52:54:00:6b:01:02']);
  });

  it('boots the kernel directly from the overlay disk, logs the console and keeps a QMP socket', () => {
    expect(option(args, '-drive')).toEqual(['file=/lab/node1.qcow2,if=virtio,format=qcow2,cache=unsafe']);
    expect(option(args, '-kernel')).toEqual(['/cache/vmlinuz']);
    expect(option(args, '-qmp')).toEqual(['unix:/lab/node1.qmp,server=on,wait=off']);
    expect(option(args, '-chardev')).toEqual(['file,id=console,path=/lab/node1.console.log']);
    expect(option(args, '-pidfile')).toEqual(['/lab/node1.pid']);
    expect(args).toContain('-daemonize');
  });

  it('passes the hostname and the lab key as single words the guest can decode', () => {
    const cmdline = kernelCommandLine(launch);
    expect(cmdline).toContain('systemd.hostname=node1');
    const word = cmdline.split(' ').find((w) => w.startsWith('klab.authorized_key='));
    expect(Buffer.from(word?.slice('klab.authorized_key='.length) ?? '', 'base64').toString()).toBe(launch.authorizedKey);
  });

  it('refuses a path with a comma, which qemu would read as another option', () => {
    expect(() => qemuArgs({ ...launch, disk: '/lab,x/node1.qcow2' })).toThrow(/comma/);
  });
});

describe('lab layout', () => {
  it('gives every VM distinct MACs and a lab address outside the pod and service CIDRs', () => {
    const macs = labVms.flatMap((vm) => [vm.natMac, vm.labMac]);
    expect(new Set(macs).size).toBe(macs.length);
    expect(labVms.map((vm) => vm.internalAddress)).toEqual(['10.77.0.11', '10.77.0.12', '10.77.0.13']);
    expect(labVms.map((vm) => vm.role)).toEqual(['control-plane', 'worker', 'worker']);
    expect(() => vmSlot(0)).toThrow(RangeError);
  });
});

describe('lab prerequisites', () => {
  it('finds a tool on the given PATH and reports one that is nowhere', () => {
    expect(findTool('node', path.dirname(process.execPath))).toBe(process.execPath);
    expect(findTool('klab-no-such-tool-anywhere', path.dirname(process.execPath))).toBeUndefined();
  });
});
