// Stage snapshots on the lab's own VMs, for real: `klab up --to kernel --snapshots` saves
// every VM (qemu savevm, memory included) after each of stages 00-03; node1 is then broken
// on purpose (03's modules file and marker removed, a stray file written) and master loses a
// marker too; `klab rollback 03 --yes` restores all three VMs, and the files and markers of
// that moment are back, byte for byte; `klab up` then goes on from 04. What happened is
// read on the VMs themselves over SSH. This file makes its own lab (the lab suite runs files
// one at a time) and destroys it at the end, pass or fail.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabConnections, createTestLab, destroyTestLab, jsonLines, klab, onVm } from '../support/lab.js';

const names = ['master', 'node1', 'node2'] as const;
const through03 = ['00-preflight', '01-hosts', '02-ssh', '03-kernel'];
let dir = '';
let inventory = '';
const connections = new LabConnections(() => dir);
const vm = (name: string) => connections.vm(name);
const forgetAll = () => connections.forgetAll();

/** What stage 03 leaves on a VM, plus the markers: compared before the damage and after the rollback. */
async function stateOf(name: string): Promise<string> {
  return onVm(
    await vm(name),
    [
      'cd /var/lib/klab/stages && for f in *.json; do echo "== $f"; cat "$f"; done',
      'echo "== modules"; cat /etc/modules-load.d/containerd.conf',
      'echo "== sysctl"; cat /etc/sysctl.d/99-kubernetes-cri.conf',
      'echo "== stray"; ls /root/after-snapshot 2>&1 || true',
    ].join('; '),
  );
}

beforeAll(async () => {
  dir = await createTestLab('klab-snap-');
  inventory = path.join(dir, 'lab.yaml');
});

afterAll(async () => {
  forgetAll();
  if (dir) expect(await destroyTestLab(dir), `klab lab destroy left ${dir} behind`).toBe(true);
});

describe('stage snapshots on the qemu lab', () => {
  const before = new Map<string, string>();

  it('klab up --snapshots saves every VM after each stage, and klab snapshot list shows them', async () => {
    const up = await klab(['up', '--to', 'kernel', '--snapshots', '--json', '-i', inventory]);
    expect(up.exitCode, up.all).toBe(0);
    const taken = jsonLines(up.stdout).filter((e) => e.type === 'snapshot');
    expect(taken.map((e) => [e.name, e.vms])).toEqual(through03.map((id) => [`klab-${id}`, [...names]]));

    const listed = await klab(['snapshot', 'list', '--json', '-i', inventory]);
    expect(listed.exitCode, listed.all).toBe(0);
    const report = JSON.parse(listed.stdout) as { hypervisor: string; vms: string[]; snapshots: { stage: string; vms: Record<string, { takenAt?: string }> }[] };
    expect(report.hypervisor).toBe('qemu-lab');
    expect(report.snapshots.map((s) => s.stage)).toEqual(through03);
    for (const snapshot of report.snapshots) {
      for (const name of names) expect(snapshot.vms[name]?.takenAt, `${snapshot.stage} on ${name}`).toMatch(/^\d{4}-\d\d-\d\dT/);
    }
    for (const name of names) before.set(name, await stateOf(name));
    expect(before.get('node1')).toContain('== 03-kernel.json');
    expect(before.get('node1')).toContain('No such file');
  });

  it('a host broken after 03 is seen broken, and rollback refuses to run unasked or to a stage without a snapshot', async () => {
    const node1 = await vm('node1');
    await onVm(node1, 'rm /etc/modules-load.d/containerd.conf /var/lib/klab/stages/03-kernel.json && echo oops > /root/after-snapshot && sync');
    await onVm(await vm('master'), 'rm /var/lib/klab/stages/02-ssh.json && sync');
    const status = await klab(['status', '--json', '-i', inventory]);
    expect(status.exitCode, status.all).toBe(0);
    const stages = (JSON.parse(status.stdout) as { stages: { stage: string; hosts: Record<string, { status: string }> }[] }).stages;
    expect(stages.find((s) => s.stage === '03-kernel')?.hosts.node1?.status).toBe('missing');
    expect(stages.find((s) => s.stage === '02-ssh')?.hosts.master?.status).toBe('missing');

    const unasked = await klab(['rollback', '03', '-i', inventory]);
    expect(unasked.exitCode).toBe(2);
    expect(unasked.stderr).toContain('--yes');
    const tooFar = await klab(['rollback', 'ipvs', '--yes', '-i', inventory]);
    expect(tooFar.exitCode).toBe(2);
    expect(tooFar.stderr).toContain('there is no snapshot for stage 04-ipvs');
    expect(tooFar.stderr).toContain(`Snapshots on every VM: ${through03.join(', ')}`);
  });

  it('klab rollback 03 --yes restores every VM to the moment after 03: files, markers, loaded modules', async () => {
    forgetAll();
    const rollback = await klab(['rollback', '03-kernel', '--yes', '-i', inventory]);
    expect(rollback.exitCode, rollback.all).toBe(0);
    for (const name of names) expect(rollback.stdout).toContain(`${name}: restored to klab-03-kernel`);
    // klab status at the end tells the truth of that moment: 03 done everywhere, 04 not.
    expect(rollback.stdout).toMatch(/^03-kernel\s+done\s+done\s+done$/m);
    expect(rollback.stdout).toMatch(/^04-ipvs\s+missing\s+missing\s+missing$/m);
    for (const name of names) {
      expect(await stateOf(name), name).toBe(before.get(name));
      // savevm keeps memory too: the modules 03 loaded are still loaded, without a reboot.
      expect(await onVm(await vm(name), 'test -d /sys/module/br_netfilter && echo loaded')).toBe('loaded');
      // The restored memory brought the snapshot's clock back; rollback set it to the present.
      const offset = Number(await onVm(await vm(name), 'date -u +%s')) - Date.now() / 1000;
      expect(Math.abs(offset), `${name}'s clock is ${offset} s off`).toBeLessThan(60);
    }
  });

  it('klab up goes on from 04: 00-03 are skipped, 04 and 05 run', async () => {
    const up = await klab(['up', '--to', 'containerd', '--json', '-i', inventory]);
    expect(up.exitCode, up.all).toBe(0);
    const events = jsonLines(up.stdout);
    expect(events.filter((e) => e.type === 'stage-skip').map((e) => e.stage)).toEqual(through03);
    expect(events.filter((e) => e.type === 'stage-end').map((e) => [e.stage, e.status])).toEqual([
      ['04-ipvs', 'done'],
      ['05-containerd', 'done'],
    ]);
    expect(events.filter((e) => e.type === 'snapshot')).toEqual([]);
    for (const name of names) expect(await onVm(await vm(name), 'systemctl is-active containerd'), name).toBe('active');
  });

  it('klab snapshot delete --all removes them from the running VMs', async () => {
    const deleted = await klab(['snapshot', 'delete', '--all', '-i', inventory]);
    expect(deleted.exitCode, deleted.all).toBe(0);
    for (const id of through03) expect(deleted.stdout).toContain(`deleted klab-${id} on master, node1, node2`);
    const listed = await klab(['snapshot', 'list', '--json', '-i', inventory]);
    expect((JSON.parse(listed.stdout) as { snapshots: unknown[] }).snapshots).toEqual([]);
  });
});
