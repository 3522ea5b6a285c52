// `klab lab …`: the local qemu lab (Linux, root). See src/lab/lab.ts for what each step does.
import path from 'node:path';
import type { Command } from 'commander';
import { KlabError, exitCodes } from '../errors.js';
import { createLab, destroyLab, labStatus, startLab, stopLab, type LabContext } from '../lab/lab.js';
import { labInventoryName, labKeyName } from '../lab/lab-files.js';
import { knownHostsPath } from '../state.js';

const defaultDir = path.join('.klab', 'lab');

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

function parseCpus(value: string): number {
  const cpus = Number(value);
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > 64) {
    throw new KlabError(`--cpus must be a whole number of vCPUs between 1 and 64, not "${value}"`, exitCodes.usage);
  }
  return cpus;
}

function parseMemory(value: string): number {
  const mb = Number(value);
  if (!Number.isInteger(mb) || mb < 512 || mb > 65_536) {
    throw new KlabError(`--memory must be a whole number of MiB between 512 and 65536, not "${value}"`, exitCodes.usage);
  }
  return mb;
}

/**
 * Runs a lab operation so that Ctrl-C or SIGTERM cancels it through its AbortSignal: the
 * operation's own cleanup (stopping VMs, removing a half-built image) then runs before klab exits.
 */
async function interruptible(work: (signal: AbortSignal) => Promise<void>): Promise<void> {
  const controller = new AbortController();
  const abort = () => controller.abort();
  process.once('SIGINT', abort);
  process.once('SIGTERM', abort);
  try {
    await work(controller.signal);
  } catch (error) {
    if (controller.signal.aborted) throw new KlabError('interrupted; what the lab had started was stopped', exitCodes.interrupted, undefined, { cause: error });
    throw error;
  } finally {
    process.off('SIGINT', abort);
    process.off('SIGTERM', abort);
  }
}

function context(dir: string, signal?: AbortSignal): LabContext {
  return { dir: path.resolve(dir), log, ...(signal ? { signal } : {}) };
}

function printAccess(dir: string): void {
  const absolute = path.resolve(dir);
  log(`inventory: ${path.join(absolute, labInventoryName)}  (klab up -i ${path.join(absolute, labInventoryName)})`);
  log(`by hand:   ssh -i ${path.join(absolute, labKeyName)} -o UserKnownHostsFile=${knownHostsPath(path.join(absolute, labInventoryName))} -p PORT root@127.0.0.1`);
}

export function registerLabCommand(program: Command): void {
  const lab = program.command('lab').description('a local lab of three qemu VMs (master, node1, node2) to run klab on; Linux and root only');
  const dirOption = ['-d, --dir <dir>', 'the lab folder', defaultDir] as const;

  lab
    .command('create')
    .description('build (or reuse) the cached Debian image, create the three VMs, boot them and write lab.yaml')
    .option(...dirOption)
    .option('-c, --cpus <n>', 'vCPUs per VM (default: 2 where the machine has 2 cores or more; kubeadm wants 2)', parseCpus)
    .option('-m, --memory <MiB>', 'memory per VM (default: 2048 where three fit beside the host; kubeadm wants 1700 MB)', parseMemory)
    .option('--mirror <url>', "Debian mirror for the image and the VMs (default: the machine's own apt sources)")
    .action(async (options: { dir: string; cpus?: number; memory?: number; mirror?: string }) => {
      const size = { ...(options.cpus !== undefined ? { cpus: options.cpus } : {}), ...(options.memory !== undefined ? { memoryMb: options.memory } : {}) };
      await interruptible(async (signal) => {
        await createLab({ ...context(options.dir, signal), size, ...(options.mirror ? { mirror: options.mirror } : {}) });
      });
      printAccess(options.dir);
    });

  lab
    .command('start')
    .description('boot the VMs of an existing lab (disks kept from before)')
    .option(...dirOption)
    .action(async (options: { dir: string }) => {
      await interruptible((signal) => startLab(context(options.dir, signal)));
      printAccess(options.dir);
    });

  lab
    .command('stop')
    .description('power the VMs off; their disks are kept')
    .option(...dirOption)
    .action(async (options: { dir: string }) => stopLab(context(options.dir)));

  lab
    .command('destroy')
    .description("stop the VMs and delete the lab's disks, keys, inventory and klab state")
    .option(...dirOption)
    .action(async (options: { dir: string }) => destroyLab(context(options.dir)));

  lab
    .command('status')
    .description('which VMs run, and where to reach them')
    .option(...dirOption)
    .option('--json', 'machine-readable output')
    .action(async (options: { dir: string; json?: boolean }) => {
      const vms = await labStatus(context(options.dir));
      if (options.json) {
        log(JSON.stringify(vms));
        return;
      }
      for (const vm of vms) {
        const api = vm.apiServerPort === undefined ? '' : `  api 127.0.0.1:${vm.apiServerPort}`;
        log(`${vm.name.padEnd(7)} ${vm.running ? `running (pid ${vm.pid})` : 'stopped'}`.padEnd(30) + `ssh 127.0.0.1:${vm.sshPort}  lab ${vm.internalAddress}${api}`);
      }
    });
}
