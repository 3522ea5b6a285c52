// The local qemu lab's VMs (klab lab). Snapshots are qcow2 internal snapshots in each VM's
// overlay: on a running VM through qemu's monitor (savevm/loadvm/delvm, which keep memory
// and device state too, so a restored VM carries on where it was), on a stopped VM with
// qemu-img (disk only; the VM then boots from the restored disk). Stage markers are flushed
// to disk before a snapshot is taken, so both kinds carry them.
import { execa } from 'execa';
import { readLabRecord, vmPaths } from '../lab/lab-files.js';
import { startLabVm } from '../lab/lab.js';
import { qmpExecute } from '../lab/qmp.js';
import { runningPid } from '../lab/vm.js';
import type { SnapshotDriver } from './driver.js';
import { SnapshotError } from './driver.js';

/** savevm writes the VM's memory into its disk; under software emulation on a busy machine that takes a while. */
const monitorTimeoutMs = 10 * 60_000;

export class QemuLabDriver implements SnapshotDriver {
  readonly kind = 'qemu-lab';

  private constructor(
    private readonly dir: string,
    readonly vms: readonly string[],
  ) {}

  /** The driver for the lab in `dir` (absolute); every inventory host must be one of its VMs. */
  static async open(dir: string, hosts: readonly string[]): Promise<QemuLabDriver> {
    const record = await readLabRecord(dir);
    const known = new Set(record.vms.map((vm) => vm.name));
    const strangers = hosts.filter((h) => !known.has(h));
    if (strangers.length > 0) {
      throw new SnapshotError(
        `the lab in ${dir} has no VM named ${strangers.join(', ')}`,
        `The lab's VMs are ${[...known].join(', ')}; the inventory's host names must match them (klab lab create writes such an inventory).`,
      );
    }
    return new QemuLabDriver(dir, hosts);
  }

  private disk(vm: string): string {
    return vmPaths(this.dir, vm).disk;
  }

  async isRunning(vm: string): Promise<boolean> {
    return (await runningPid(vmPaths(this.dir, vm).pidFile)) !== undefined;
  }

  /** One monitor command; HMP answers success with nothing and failure with its message. */
  private async monitor(vm: string, commandLine: string): Promise<void> {
    const said = await qmpExecute(vmPaths(this.dir, vm).qmpSocket, 'human-monitor-command', { 'command-line': commandLine }, monitorTimeoutMs);
    if (typeof said === 'string' && said.trim() !== '') throw new SnapshotError(`qemu's monitor refused "${commandLine}" on ${vm}: ${said.trim()}`);
  }

  private async qemuImg(vm: string, args: string[]): Promise<string> {
    const result = await execa('qemu-img', args, { reject: false, stdin: 'ignore' });
    if (result.exitCode !== 0) {
      throw new SnapshotError(`qemu-img ${args[0] ?? ''} ${args[1] ?? ''} on ${vm} failed: ${result.stderr.trim() || result.shortMessage}`);
    }
    return result.stdout;
  }

  async take(vm: string, name: string): Promise<void> {
    if (await this.isRunning(vm)) await this.monitor(vm, `savevm ${name}`);
    else await this.qemuImg(vm, ['snapshot', '-c', name, this.disk(vm)]);
  }

  async list(vm: string): Promise<string[]> {
    // --force-share reads the image while the VM's qemu holds it open.
    const info = JSON.parse(await this.qemuImg(vm, ['info', '--force-share', '--output=json', this.disk(vm)])) as { snapshots?: { name: string }[] };
    return (info.snapshots ?? []).map((s) => s.name);
  }

  async restore(vm: string, name: string): Promise<void> {
    if (await this.isRunning(vm)) await this.monitor(vm, `loadvm ${name}`);
    else await this.qemuImg(vm, ['snapshot', '-a', name, this.disk(vm)]);
  }

  async delete(vm: string, name: string): Promise<void> {
    if (await this.isRunning(vm)) await this.monitor(vm, `delvm ${name}`);
    else await this.qemuImg(vm, ['snapshot', '-d', name, this.disk(vm)]);
  }

  async start(vm: string): Promise<void> {
    await startLabVm({ dir: this.dir }, vm);
  }
}
