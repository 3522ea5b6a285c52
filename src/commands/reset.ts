// `klab reset [--yes]`: takes Kubernetes apart on every host with kubeadm's official clean-up
// (playbooks/teardown/00-reset.yaml) and forgets stages 06 and later, so `klab up` builds the
// cluster again on hosts that keep their stages 00-05. It asks first: it destroys a cluster.
import path from 'node:path';
import { rm } from 'node:fs/promises';
import { confirm } from '@inquirer/prompts';
import type { Command } from 'commander';
import { KlabError, exitCodes } from '../errors.js';
import { loadInventory } from '../inventory/load.js';
import { ListrReporter, PlainReporter, Reporters } from '../run/reporters.js';
import { withSession } from '../run/session.js';
import { StageEngine } from '../stages/engine.js';
import { playbooksDir } from '../stages/paths.js';
import { loadPlaybooks } from '../stages/playbook.js';
import { stateDir } from '../state.js';

/** Where a host records its last reset; apart from the stage markers, so status never lists it. */
const resetRecordDir = '/var/lib/klab/resets';

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

async function confirmed(hosts: readonly string[], yes: boolean): Promise<boolean> {
  if (yes) return true;
  if (process.stdin.isTTY !== true) {
    throw new KlabError('klab reset takes the cluster apart and there is no terminal to ask first', exitCodes.usage, 'Pass --yes to reset without being asked.');
  }
  try {
    return await confirm({ message: `Take Kubernetes apart on ${hosts.join(', ')} (kubeadm reset -f, CNI configuration, kube-proxy rules, kubeconfigs)?`, default: false });
  } catch (error) {
    if (error instanceof Error && error.name === 'ExitPromptError') return false;
    throw error;
  }
}

export async function resetCluster(inventoryFile: string, yes: boolean): Promise<void> {
  const [stage] = await loadPlaybooks(path.join(playbooksDir(), 'teardown'));
  if (stage === undefined) throw new Error(`no reset playbook in ${path.join(playbooksDir(), 'teardown')}`);
  const loaded = await loadInventory(inventoryFile);
  if (!(await confirmed(loaded.inventory.hosts.map((h) => h.name), yes))) {
    out('klab reset: nothing was changed.');
    return;
  }
  await withSession({ inventoryFile, command: 'reset', createKeys: false }, async (session) => {
    const hosts = [...session.hosts.keys()];
    const screen = process.stdout.isTTY ? new ListrReporter(out) : new PlainReporter(out, hosts, false);
    const engine = new StageEngine({
      context: session.context,
      hosts: session.hosts,
      templates: session.templates,
      dryRun: false,
      force: true,
      reporter: new Reporters(screen, session.log),
      markerDirFor: () => resetRecordDir,
    });
    await engine.run([stage]);
    // The fetched kubeconfig names a cluster that no longer exists.
    await rm(path.join(stateDir(loaded.file), 'kubeconfig'), { force: true });
    out(`reset: Kubernetes is gone from ${hosts.join(', ')}; stages 00-05 stay done, and klab up builds the cluster again. Log: ${session.log.path}`);
  });
}

export function registerResetCommand(program: Command): void {
  program
    .command('reset')
    .description('Take Kubernetes apart on every host (kubeadm reset and its documented clean-up); stages 00-05 stay done')
    .option('-y, --yes', 'do not ask first (needed without a terminal)')
    .action(async (flags: { yes?: boolean }, command: Command) => {
      const { inventory } = command.optsWithGlobals<{ inventory: string }>();
      await resetCluster(inventory, flags.yes === true);
    });
}
