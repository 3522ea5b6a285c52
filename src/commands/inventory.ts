// `klab init` writes klab.yaml (prompts, or flags for every prompt); `klab trust HOST`
// forgets a host's pinned SSH key so the next contact pins the key it presents now.
import { input, password, select } from '@inquirer/prompts';
import type { Command } from 'commander';
import { KlabError, exitCodes } from '../errors.js';
import { initInventory } from '../inventory/init.js';
import { supportedMinors } from '../inventory/kubernetes-releases.js';
import type { InitFlags, Prompter } from '../inventory/init.js';
import { loadInventory } from '../inventory/load.js';
import { knownHostsPath } from '../state.js';
import { fingerprint, forgetHostKeys, hostPattern, readPinnedKeys } from '../transport/known-hosts.js';

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

const inquirerPrompter: Prompter = {
  text: ({ message, default: fallback, validate }) => input({ message, validate, ...(fallback === undefined ? {} : { default: fallback }) }),
  secret: ({ message, validate }) => password({ message, mask: '*', validate }),
  choice: ({ message, choices, default: fallback }) => select({ message, choices: choices.map((value) => ({ value })), ...(fallback === undefined ? {} : { default: fallback }) }),
};

export function registerInventoryCommands(program: Command): void {
  program
    .command('init')
    .description('Write the inventory (klab.yaml) by asking, or from flags: every question has a flag')
    .option('--master <address>', 'where klab reaches master over SSH: host or host:port')
    .option('--master-internal <ip>', 'master\'s address among the hosts (default: --master, if an IPv4 address)')
    .option('--node1 <address>', 'where klab reaches node1: host or host:port')
    .option('--node1-internal <ip>', 'node1\'s address among the hosts')
    .option('--node2 <address>', 'where klab reaches node2: host or host:port')
    .option('--node2-internal <ip>', 'node2\'s address among the hosts')
    .option(
      '--host <spec>',
      'a host as name=…,address=…[,port=…][,internal=…][,role=control-plane|worker][,user=…][,key=…]; ' +
        'repeat for each host, instead of --master/--node1/--node2 (the first host defaults to control-plane)',
      collect,
    )
    .option('--user <name>', 'SSH user: root, or a user with passwordless sudo (default root)')
    .option('--key-file <path>', 'private key klab logs in with (~/… is your home folder; relative paths start at the inventory\'s folder); without it or --password, klab logs in as ssh does: SSH agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa')
    .option('--password <password>', 'SSH password instead of a key (visible to other local users while klab runs; the file is written 0600)')
    .option('--kubernetes-version <minor>', `Kubernetes minor version: ${supportedMinors.join(', ')} (default ${supportedMinors[0] ?? ''})`)
    .option('--cni <name>', 'pod network: calico or flannel')
    .option('--pod-cidr <cidr>', 'pod network CIDR')
    .option('--service-cidr <cidr>', 'service CIDR (not asked; default 10.96.0.0/12)')
    .option('--proxy-mode <mode>', 'kube-proxy mode: ipvs, nftables or iptables (not asked; default ipvs)')
    .option('--broker-replicas <n>', 'broker replicas (not asked; default 3)')
    .option('--broker-partitions <n>', 'default partitions per topic (not asked; default 6)')
    .option('--broker-storage <size>', 'volume size per broker, e.g. 1Gi (not asked; default 1Gi)')
    .option('--hypervisor <kind>', 'where the VMs run, for snapshots after every stage: none, vmware (VMware Workstation) or libvirt (default none)')
    .option('--vmx <host=path>', 'a VM\'s .vmx file, e.g. master=C:\\VMs\\master\\master.vmx; repeat for each VM (implies --hypervisor vmware)', collect)
    .option('--vmrun <path>', 'vmrun, when it is not where VMware installs it (not asked)')
    .option('--domain <host=domain>', 'a VM\'s libvirt domain; repeat for each VM (default: the host\'s name)', collect)
    .option('-y, --yes', 'ask nothing: take defaults, and fail naming the flags of answers that have none')
    .option('--non-interactive', 'same as --yes')
    .option('--force', 'overwrite an existing inventory file')
    .addHelpText(
      'after',
      '\nWithout a terminal, or with --yes, klab init never prompts: a missing answer is an error that names its flag.\n' +
        'Example:\n  klab init --yes --master 10.0.0.10 --node1 10.0.0.11 --node2 10.0.0.12 --key-file ~/.ssh/id_ed25519\n',
    )
    .action(async (options: InitFlags & { yes?: boolean; nonInteractive?: boolean }, command: Command) => {
      const { inventory: file } = command.optsWithGlobals<{ inventory: string }>();
      const interactive = process.stdin.isTTY === true && !options.yes && !options.nonInteractive;
      try {
        const result = await initInventory(file, options, interactive ? inquirerPrompter : undefined);
        for (const warning of result.warnings) process.stderr.write(`warning: ${warning}\n`);
        process.stdout.write(`Wrote ${result.file} (${result.inventory.hosts.length} hosts). Next: klab up -i ${file}\n`);
      } catch (error) {
        // Ctrl-C or Ctrl-D at a prompt.
        if (error instanceof Error && error.name === 'ExitPromptError') throw new KlabError('klab init cancelled; nothing was written', exitCodes.interrupted);
        throw error;
      }
    });

  program
    .command('trust')
    .description('Forget the pinned SSH host key of HOST, so the next contact pins the key it presents (after checking the machine was rebuilt)')
    .argument('<host>', 'host name from the inventory')
    .action(async (name: string, _options: unknown, command: Command) => {
      const { inventory: file } = command.optsWithGlobals<{ inventory: string }>();
      const message = await trustHost(file, name);
      process.stdout.write(`${message}\n`);
    });
}

/** Forgets the pinned keys of host `name` of the inventory at `file`; returns what was done, for the user. */
export async function trustHost(file: string, name: string): Promise<string> {
  const loaded = await loadInventory(file);
  const host = loaded.inventory.hosts.find((h) => h.name === name);
  if (!host) {
    throw new KlabError(
      `no host named ${JSON.stringify(name)} in ${loaded.file}`,
      exitCodes.usage,
      `Hosts in the inventory: ${loaded.inventory.hosts.map((h) => h.name).join(', ')}`,
    );
  }
  const knownHosts = knownHostsPath(loaded.file);
  const pinned = await readPinnedKeys(knownHosts, host.address, host.port);
  const removed = await forgetHostKeys(knownHosts, host.address, host.port);
  const where = hostPattern(host.address, host.port);
  if (removed === 0) return `${name} (${where}) had no pinned host key; the next contact pins the key it presents.`;
  return (
    `Forgot the pinned host key of ${name} (${where}): ${pinned.map((pin) => fingerprint(pin.blob)).join(', ')}. ` +
    'The next contact pins the key the host presents then.'
  );
}
