// libvirt through virsh, on the connection URI the inventory names. virsh reports failures
// on standard error as "error: …" lines with a non-zero exit status; the user sees those
// lines. Domains and snapshot names are passed with their option names (--domain,
// --snapshotname), never through a shell.
import { execa } from 'execa';
import type { SnapshotDriver } from './driver.js';
import { SnapshotError } from './driver.js';

export interface LibvirtOptions {
  uri: string;
  /** Host name → libvirt domain name. */
  domains: ReadonlyMap<string, string>;
  /** The virsh executable; tests point it at a stand-in. */
  virsh?: string;
}

/** `virsh snapshot-list --name` prints one name per line and a blank line at the end. */
export function parseSnapshotNames(output: string): string[] {
  return output.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
}

function virshHint(said: string, uri: string): string {
  if (/failed to get domain|domain not found/i.test(said)) return `Check hypervisor.domains in the inventory: each value must be a domain name that \`virsh -c ${uri} list --all\` shows.`;
  if (/failed to connect|authentication|permission denied/i.test(said)) return `Check hypervisor.uri (${uri}) and that your user may use it (e.g. membership of the libvirt group).`;
  return 'Fix what virsh reports, then run the klab command again.';
}

export class LibvirtDriver implements SnapshotDriver {
  readonly kind = 'libvirt';
  readonly vms: readonly string[];
  private readonly virsh: string;

  constructor(private readonly options: LibvirtOptions) {
    this.virsh = options.virsh ?? 'virsh';
    this.vms = [...options.domains.keys()];
  }

  args(operation: string, vm: string, ...rest: string[]): string[] {
    return ['-c', this.options.uri, operation, '--domain', this.domainOf(vm), ...rest];
  }

  private domainOf(vm: string): string {
    const domain = this.options.domains.get(vm);
    if (domain === undefined) throw new SnapshotError(`hypervisor.domains has no libvirt domain for ${vm}`, `Add "${vm}: DOMAIN" under hypervisor.domains in the inventory.`);
    return domain;
  }

  private async run(operation: string, vm: string, ...rest: string[]): Promise<string> {
    const result = await execa(this.virsh, this.args(operation, vm, ...rest), { reject: false, stdin: 'ignore' });
    if (result.failed && result.exitCode === undefined) {
      const code = (result.cause as NodeJS.ErrnoException | undefined)?.code;
      throw new SnapshotError(`cannot run ${this.virsh}: ${code === 'ENOENT' ? 'not installed or not on PATH' : result.shortMessage}`, 'Install libvirt\'s client (virsh).');
    }
    if (result.exitCode !== 0) {
      const said = result.stderr.split(/\r?\n/).filter((l) => l.trim() !== '').join(' ') || result.stdout.trim() || `exit status ${result.exitCode}`;
      throw new SnapshotError(`virsh ${operation} for ${vm} failed: ${said}`, virshHint(said, this.options.uri));
    }
    return result.stdout;
  }

  async take(vm: string, name: string): Promise<void> {
    await this.run('snapshot-create-as', vm, '--name', name);
  }

  async list(vm: string): Promise<string[]> {
    return parseSnapshotNames(await this.run('snapshot-list', vm, '--name'));
  }

  async restore(vm: string, name: string): Promise<void> {
    await this.run('snapshot-revert', vm, '--snapshotname', name);
  }

  async delete(vm: string, name: string): Promise<void> {
    await this.run('snapshot-delete', vm, '--snapshotname', name);
  }

  async start(vm: string): Promise<void> {
    await this.run('start', vm);
  }

  async isRunning(vm: string): Promise<boolean> {
    return (await this.run('domstate', vm)).trim() === 'running';
  }
}
