// `klab snapshot list|delete` and `klab rollback`: the stage snapshots `klab up --snapshots`
// takes. Listing, deleting and restoring talk only to the hypervisor, so they work when a
// host is broken or unreachable over SSH; rollback then waits for SSH and shows klab status.
import { access } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { confirm } from '@inquirer/prompts';
import type { Command } from 'commander';
import { KlabError, exitCodes } from '../errors.js';
import { loadInventory, type LoadedInventory } from '../inventory/load.js';
import { stageSnapshotsFor } from '../snapshots/open.js';
import { snapshotName } from '../snapshots/names.js';
import type { StageSnapshot } from '../snapshots/stage-snapshots.js';
import { loadPlaybooks, resolveStage } from '../stages/playbook.js';
import { playbooksDir } from '../stages/paths.js';
import { clusterKeyPaths, knownHostsPath } from '../state.js';
import { ConnectFailedError } from '../transport/errors.js';
import { readPrivateKeyFile } from '../transport/keys.js';
import type { Host } from '../transport/host.js';
import { connectAll } from '../transport/ssh.js';
import { status as printStatus } from './run.js';

interface GlobalOptions {
  inventory: string;
}

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

/** Restored VMs boot or resume; under software emulation SSH can take minutes to answer. */
const sshWaitMs = 10 * 60_000;

/** "11-29 20:14" in local time: short enough for three VMs in 80 columns. */
function shortTime(iso: string | undefined): string {
  if (iso === undefined) return 'yes';
  const t = new Date(iso);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(t.getMonth() + 1)}-${two(t.getDate())} ${two(t.getHours())}:${two(t.getMinutes())}`;
}

export function snapshotTable(vms: readonly string[], snapshots: readonly StageSnapshot[]): string[] {
  const width = Math.max('stage'.length, ...snapshots.map((s) => s.stage.length));
  const columns = vms.map((vm) => Math.max(vm.length, 11));
  const row = (first: string, cells: string[]) => [first.padEnd(width), ...cells.map((c, i) => c.padEnd(columns[i] ?? 11))].join('  ').trimEnd();
  return [
    row('stage', [...vms]),
    ...snapshots.map((s) => row(s.stage, vms.map((vm) => (s.vms[vm] === undefined ? '-' : shortTime(s.vms[vm]?.takenAt))))),
  ];
}

async function list(global: GlobalOptions, flags: { json?: boolean }): Promise<void> {
  const loaded = await loadInventory(global.inventory);
  const snapshots = await stageSnapshotsFor(loaded);
  const found = await snapshots.list();
  if (flags.json === true) {
    out(JSON.stringify({ hypervisor: snapshots.driver.kind, vms: snapshots.driver.vms, snapshots: found }));
    return;
  }
  if (found.length === 0) {
    out(`no klab snapshots on ${snapshots.driver.vms.join(', ')} (klab up --snapshots takes one after each stage)`);
    return;
  }
  for (const line of snapshotTable(snapshots.driver.vms, found)) out(line);
  out('times: when klab took the snapshot (MM-DD hh:mm); yes: taken, time unknown; -: none');
}

async function remove(global: GlobalOptions, stage: string | undefined, flags: { all?: boolean }): Promise<void> {
  if ((stage === undefined) === (flags.all !== true)) {
    throw new KlabError('klab snapshot delete needs a STAGE or --all, not both', exitCodes.usage, 'e.g. klab snapshot delete 03, or klab snapshot delete --all');
  }
  const loaded = await loadInventory(global.inventory);
  const snapshots = await stageSnapshotsFor(loaded);
  const names = stage === undefined ? (await snapshots.list()).map((s) => s.name) : [snapshotName(resolveStage(await loadPlaybooks(playbooksDir()), stage))];
  const deleted = await snapshots.delete(names);
  if (deleted.length === 0) {
    out(stage === undefined ? 'no klab snapshots to delete' : `no VM has ${names.join(', ')}`);
    return;
  }
  for (const name of names) {
    const vms = deleted.filter((d) => d.name === name).map((d) => d.vm);
    if (vms.length > 0) out(`deleted ${name} on ${vms.join(', ')}`);
  }
}

/** A clock further off than this is set after a restore; closer ones are left to the host's own time sync. */
const clockToleranceS = 30;

/**
 * A VM restored with its memory keeps the time of the snapshot, so its clock runs behind by
 * as long as the snapshot is old, and apt then refuses repositories whose Release files look
 * "not valid yet". Like VMware Tools after a revert, klab sets such a clock to this machine's.
 */
async function setClocks(hosts: readonly Host[]): Promise<void> {
  await Promise.all(
    hosts.map(async (host) => {
      const read = await host.exec('date -u +%s', { timeoutMs: 30_000 });
      const offset = Number(read.stdout.trim()) - Math.round(Date.now() / 1000);
      if (read.code !== 0 || !Number.isFinite(offset) || Math.abs(offset) <= clockToleranceS) return;
      const set = await host.exec(`date -u -s @${Math.round(Date.now() / 1000)}`, { timeoutMs: 30_000 });
      const was = `${Math.abs(offset)} s ${offset < 0 ? 'behind' : 'ahead'}`;
      out(set.code === 0 ? `${host.name}: clock was ${was}; set to this machine's time` : `${host.name}: clock is ${was}, and setting it failed: ${set.stderr.trim()}`);
    }),
  );
}

/** Connects to every host until all answer (host keys checked against the pins as always), then sets clocks left behind. */
async function waitForHosts(loaded: LoadedInventory): Promise<void> {
  const clusterKey = clusterKeyPaths(loaded.file).privateKey;
  const clusterPrivateKey = await access(clusterKey).then(
    () => readPrivateKeyFile(clusterKey),
    () => undefined,
  );
  const deadline = Date.now() + sshWaitMs;
  for (;;) {
    try {
      const hosts = await connectAll(loaded.inventory.hosts, {
        knownHostsFile: knownHostsPath(loaded.file),
        inventoryDir: loaded.dir,
        ...(clusterPrivateKey === undefined ? {} : { clusterPrivateKey }),
      });
      try {
        await setClocks(hosts);
      } finally {
        await Promise.all(hosts.map((h) => h.close()));
      }
      return;
    } catch (error) {
      // A changed host key is never waited out; an unreachable host may still be booting.
      if (!(error instanceof ConnectFailedError) || error.exitCode !== exitCodes.unreachable || Date.now() > deadline) throw error;
      await sleep(3_000);
    }
  }
}

async function rollback(global: GlobalOptions, stageName: string, flags: { yes?: boolean }): Promise<void> {
  const stage = resolveStage(await loadPlaybooks(playbooksDir()), stageName);
  const loaded = await loadInventory(global.inventory);
  const snapshots = await stageSnapshotsFor(loaded);
  const name = await snapshots.requireComplete(stage);
  if (flags.yes !== true) {
    if (!process.stdin.isTTY || !process.stdout.isTTY) {
      throw new KlabError(`klab rollback asks before it restores ${name}, and there is no terminal to ask on`, exitCodes.usage, `Pass --yes to restore without asking: klab rollback ${stage.id} --yes`);
    }
    const vms = snapshots.driver.vms.join(', ');
    if (!(await confirm({ message: `Restore ${vms} to ${name}? What they did since is lost.`, default: false }))) {
      out('nothing restored');
      return;
    }
  }
  await snapshots.restore(stage, out);
  out('waiting for SSH on every host');
  await waitForHosts(loaded);
  await printStatus(global, {});
  out(`rolled back to ${name}: klab up goes on from the stage after ${stage.id}`);
}

export function registerSnapshotCommands(program: Command): void {
  const globals = (command: Command): GlobalOptions => command.optsWithGlobals<GlobalOptions>();
  const snapshot = program.command('snapshot').description("The VM snapshots klab up --snapshots takes after each stage (through the inventory's hypervisor)");

  snapshot
    .command('list')
    .description('Show which stages have a snapshot on which VM, and when it was taken')
    .option('--json', 'one JSON document on standard output')
    .action(async (flags: { json?: boolean }, command: Command) => {
      await list(globals(command), flags);
    });

  snapshot
    .command('delete')
    .description("Delete a stage's snapshot from every VM, or all of klab's snapshots")
    .argument('[stage]', 'the stage: 03, kernel or 03-kernel')
    .option('--all', "every klab snapshot (other snapshots are left alone)")
    .action(async (stage: string | undefined, flags: { all?: boolean }, command: Command) => {
      await remove(globals(command), stage, flags);
    });

  program
    .command('rollback')
    .description("Restore every VM to the snapshot taken after STAGE, start them, wait for SSH and show klab status")
    .argument('<stage>', 'the stage: 03, kernel or 03-kernel')
    .option('-y, --yes', 'restore without asking')
    .action(async (stage: string, flags: { yes?: boolean }, command: Command) => {
      await rollback(globals(command), stage, flags);
    });
}
