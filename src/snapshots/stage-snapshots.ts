// Taking, listing, deleting and restoring klab's stage snapshots across every VM of an
// inventory. The hypervisor says which snapshots exist; the record adds when they were taken.
import { KlabError, exitCodes } from '../errors.js';
import type { Stage } from '../stages/playbook.js';
import type { SnapshotDriver } from './driver.js';
import { SnapshotError } from './driver.js';
import { snapshotName, stageIdOf } from './names.js';
import { SnapshotRecordFile, withDeleted, withTaken } from './record.js';

/** One klab snapshot as found in the hypervisor: which VMs have it and when each was taken (when klab knows). */
export interface StageSnapshot {
  name: string;
  stage: string;
  vms: Record<string, { takenAt?: string } | undefined>;
}

export class StageSnapshots {
  constructor(
    readonly driver: SnapshotDriver,
    readonly record: SnapshotRecordFile,
  ) {}

  /** Takes `klab-NN-name` of every VM, replacing an older snapshot of that name. */
  async take(stage: Pick<Stage, 'id'>): Promise<string> {
    const name = snapshotName(stage);
    await Promise.all(
      this.driver.vms.map(async (vm) => {
        try {
          if ((await this.driver.list(vm)).includes(name)) {
            await this.driver.delete(vm, name);
            await this.record.update((r) => withDeleted(r, name, vm));
          }
          await this.driver.take(vm, name);
        } catch (error) {
          if (!(error instanceof KlabError)) throw error;
          throw new SnapshotError(`snapshot ${name} of ${vm} failed: ${error.message}`, error.hint, { cause: error });
        }
        await this.record.update((r) => withTaken(r, name, vm, new Date().toISOString()));
      }),
    );
    return name;
  }

  /** True when every VM has the stage's snapshot. */
  async has(stage: Pick<Stage, 'id'>): Promise<boolean> {
    const name = snapshotName(stage);
    const lists = await Promise.all(this.driver.vms.map((vm) => this.driver.list(vm)));
    return lists.every((names) => names.includes(name));
  }

  /** klab's snapshots on any VM, in stage order. */
  async list(): Promise<StageSnapshot[]> {
    const record = await this.record.read();
    const lists = await Promise.all(this.driver.vms.map(async (vm) => [vm, await this.driver.list(vm)] as const));
    const names = [...new Set(lists.flatMap(([, list]) => list))].filter((n) => stageIdOf(n) !== undefined).sort();
    return names.map((name) => ({
      name,
      stage: stageIdOf(name) ?? name,
      vms: Object.fromEntries(
        lists.map(([vm, list]) => {
          const takenAt = record.snapshots[name]?.[vm];
          return [vm, list.includes(name) ? (takenAt === undefined ? {} : { takenAt }) : undefined];
        }),
      ),
    }));
  }

  /** Deletes the named snapshots from every VM that has them; returns what was deleted. */
  async delete(names: readonly string[]): Promise<{ name: string; vm: string }[]> {
    const deleted: { name: string; vm: string }[] = [];
    for (const vm of this.driver.vms) {
      const present = await this.driver.list(vm);
      for (const name of names.filter((n) => present.includes(n))) {
        await this.driver.delete(vm, name);
        await this.record.update((r) => withDeleted(r, name, vm));
        deleted.push({ name, vm });
      }
    }
    return deleted;
  }

  /** The stage's snapshot name, once every VM is known to have it; otherwise an error naming the stages that do. */
  async requireComplete(stage: Pick<Stage, 'id'>): Promise<string> {
    const name = snapshotName(stage);
    const snapshots = await this.list();
    const wanted = snapshots.find((s) => s.name === name);
    const lacking = this.driver.vms.filter((vm) => wanted?.vms[vm] === undefined);
    if (lacking.length > 0) {
      const complete = snapshots.filter((s) => this.driver.vms.every((vm) => s.vms[vm] !== undefined)).map((s) => s.stage);
      throw new KlabError(
        wanted === undefined ? `there is no snapshot for stage ${stage.id} (${name})` : `${name} is missing on ${lacking.join(', ')}`,
        exitCodes.usage,
        complete.length > 0
          ? `Snapshots on every VM: ${complete.join(', ')}. Roll back to one of those.`
          : 'No stage has a snapshot on every VM yet: klab up --snapshots takes one after each stage.',
      );
    }
    return name;
  }

  /** Restores every VM to the stage's snapshot and starts the ones the restore left stopped. */
  async restore(stage: Pick<Stage, 'id'>, log: (line: string) => void): Promise<void> {
    const name = await this.requireComplete(stage);
    for (const vm of this.driver.vms) {
      await this.driver.restore(vm, name);
      log(`${vm}: restored to ${name}`);
    }
    for (const vm of this.driver.vms) {
      if (await this.driver.isRunning(vm)) continue;
      await this.driver.start(vm);
      log(`${vm}: started`);
    }
  }
}
