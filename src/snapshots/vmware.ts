// VMware Workstation (and Fusion) through vmrun. vmrun prints its errors on standard output
// as "Error: …", sometimes with exit status 0, so every answer is checked for that line;
// the user sees vmrun's own words and what to do about them. Arguments go to vmrun as an
// array (no shell), so a .vmx path with spaces stays one argument.
import path from 'node:path';
import { execa } from 'execa';
import type { SnapshotDriver } from './driver.js';
import { SnapshotError } from './driver.js';

export type VmrunHostType = 'ws' | 'fusion';

/** Where VMware installs vmrun, and the -T host type, on each OS (Fusion on macOS). */
export function vmrunDefaults(platform: NodeJS.Platform): { vmrun: string; hostType: VmrunHostType } {
  switch (platform) {
    case 'win32':
      return { vmrun: 'C:\\Program Files (x86)\\VMware\\VMware Workstation\\vmrun.exe', hostType: 'ws' };
    case 'darwin':
      return { vmrun: '/Applications/VMware Fusion.app/Contents/Library/vmrun', hostType: 'fusion' };
    default:
      return { vmrun: '/usr/bin/vmrun', hostType: 'ws' };
  }
}

export interface VmwareOptions {
  /** vmrun's path; the OS default when not given. */
  vmrun?: string | undefined;
  /** Host name → .vmx path (absolute). */
  vmx: ReadonlyMap<string, string>;
  platform?: NodeJS.Platform;
}

/** `vmrun listSnapshots` prints "Total snapshots: N" and then one name per line. */
export function parseListSnapshots(output: string): string[] {
  const lines = output.split(/\r?\n/);
  const header = lines.findIndex((l) => /^Total snapshots:\s*\d+/.test(l));
  if (header < 0) throw new SnapshotError(`vmrun listSnapshots answered something klab does not understand: ${output.trim() || '(nothing)'}`);
  return lines.slice(header + 1).map((l) => l.trim()).filter((l) => l !== '');
}

/** `vmrun list` prints "Total running VMs: N" and then one .vmx path per line. */
export function parseRunningVms(output: string): string[] {
  const lines = output.split(/\r?\n/);
  const header = lines.findIndex((l) => /^Total running VMs:\s*\d+/.test(l));
  if (header < 0) throw new SnapshotError(`vmrun list answered something klab does not understand: ${output.trim() || '(nothing)'}`);
  return lines.slice(header + 1).map((l) => l.trim()).filter((l) => l !== '');
}

/** What a user can do about a vmrun error, recognised by vmrun's own words. */
export function vmrunHint(message: string, vmx: string | undefined): string {
  const where = vmx ? ` (${vmx})` : '';
  if (/locked|in use|already running|busy/i.test(message)) {
    return `Another VMware program holds the VM${where}: wait for a running operation to end, close the VM's tab or window in Workstation, or stop a second copy of it, then run the klab command again.`;
  }
  if (/encrypt|password/i.test(message)) {
    return `The VM${where} is encrypted; klab cannot pass its password to vmrun. Remove the encryption in Workstation (VM > Settings > Options > Access Control), then run the klab command again.`;
  }
  if (/cannot open|unknown file suffix|not found|does not exist|no such file/i.test(message)) {
    return `Check hypervisor.vms in the inventory: each value must be the full path of the VM's .vmx file (in Workstation: VM > Settings > Options > Working directory shows its folder).`;
  }
  return 'Fix what vmrun reports (Workstation shows the same VM), then run the klab command again.';
}

export class VmwareDriver implements SnapshotDriver {
  readonly kind = 'vmware';
  readonly vms: readonly string[];
  readonly vmrun: string;
  readonly hostType: VmrunHostType;

  constructor(private readonly options: VmwareOptions) {
    const defaults = vmrunDefaults(options.platform ?? process.platform);
    this.vmrun = options.vmrun ?? defaults.vmrun;
    this.hostType = defaults.hostType;
    this.vms = [...options.vmx.keys()];
  }

  /** The whole vmrun argument list for one operation. */
  args(operation: string, ...rest: string[]): string[] {
    return ['-T', this.hostType, operation, ...rest];
  }

  /** The .vmx of an inventory host. */
  vmxOf(vm: string): string {
    const vmx = this.options.vmx.get(vm);
    if (vmx === undefined) throw new SnapshotError(`hypervisor.vms has no .vmx for ${vm}`, `Add "${vm}: C:\\path\\to\\${vm}.vmx" under hypervisor.vms in the inventory.`);
    return vmx;
  }

  private async run(vm: string | undefined, operation: string, ...rest: string[]): Promise<string> {
    const args = this.args(operation, ...rest);
    const vmx = vm === undefined ? undefined : this.vmxOf(vm);
    const result = await execa(this.vmrun, args, { reject: false, stdin: 'ignore', windowsHide: true });
    if (result.failed && result.exitCode === undefined) {
      const code = (result.cause as NodeJS.ErrnoException | undefined)?.code;
      throw new SnapshotError(
        `cannot run vmrun at ${this.vmrun}: ${code === 'ENOENT' ? 'no such file' : result.shortMessage}`,
        'Install VMware Workstation (vmrun comes with it), or set hypervisor.vmrun in the inventory to vmrun\'s full path.',
      );
    }
    const output = `${result.stdout}\n${result.stderr}`;
    const errorLine = output.split(/\r?\n/).find((l) => /^Error:/.test(l.trim()));
    if (errorLine !== undefined || result.exitCode !== 0) {
      const said = (errorLine ?? output).trim() || `exit status ${result.exitCode}`;
      const subject = vm === undefined ? 'vmrun' : `vmrun ${operation} for ${vm}`;
      throw new SnapshotError(`${subject} failed: ${said}`, vmrunHint(said, vmx));
    }
    return result.stdout;
  }

  async take(vm: string, name: string): Promise<void> {
    await this.run(vm, 'snapshot', this.vmxOf(vm), name);
  }

  async list(vm: string): Promise<string[]> {
    return parseListSnapshots(await this.run(vm, 'listSnapshots', this.vmxOf(vm)));
  }

  async restore(vm: string, name: string): Promise<void> {
    await this.run(vm, 'revertToSnapshot', this.vmxOf(vm), name);
  }

  async delete(vm: string, name: string): Promise<void> {
    await this.run(vm, 'deleteSnapshot', this.vmxOf(vm), name);
  }

  async start(vm: string): Promise<void> {
    await this.run(vm, 'start', this.vmxOf(vm), 'nogui');
  }

  async isRunning(vm: string): Promise<boolean> {
    const vmx = this.vmxOf(vm);
    const running = parseRunningVms(await this.run(undefined, 'list'));
    // Windows paths compare without regard to case or slash direction, as Windows does.
    const windows = (this.options.platform ?? process.platform) === 'win32';
    const key = (p: string) => (windows ? path.win32.normalize(p).toLowerCase() : path.posix.normalize(p));
    return running.some((p) => key(p) === key(vmx));
  }
}
