// Stages 00-05 on real VMs: `klab lab create` boots master, node1 and node2 under qemu, and
// the built CLI runs `klab up --to containerd` on them for real. An up is interrupted the
// hard way in the middle of 05-containerd's package install (klab killed, node2 reset), a
// re-run must finish the job, further runs must change nothing, a marker written just before
// a hard reset must survive it, and a stop (one guest still booting) and start of the lab must
// keep it all. What the stages did is checked on the VMs themselves over SSH. The lab is
// destroyed at the end, pass or fail.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { inventorySchema } from '../../src/inventory/schema.js';
import { resetLabVm } from '../../src/lab/lab.js';
import { vmPaths } from '../../src/lab/lab-files.js';
import { LabConnections, createTestLab, destroyTestLab, interruptAt, jsonLines, klab, onVm } from '../support/lab.js';

const names = ['master', 'node1', 'node2'] as const;
const stageIds = ['00-preflight', '01-hosts', '02-ssh', '03-kernel', '04-ipvs', '05-containerd'];
let dir = '';
let inventory = '';
const connections = new LabConnections(() => dir);
const vm = (name: string) => connections.vm(name);
const forget = (name: string) => connections.forget(name);

/** What stages 00-05 leave on a host, read on the host itself. */
async function expectStagesApplied(name: string): Promise<void> {
  const connection = await vm(name);
  for (const module of ['overlay', 'br_netfilter', 'ip_vs', 'ip_vs_rr', 'ip_vs_wrr', 'ip_vs_sh', 'nf_conntrack']) {
    // In these Debian kernels the container and IPVS modules are loadable modules, so
    // /sys/module/NAME shows that modprobe really loaded them.
    expect(await onVm(connection, `test -d /sys/module/${module} && echo loaded`), `${name}: ${module}`).toBe('loaded');
  }
  const lsmod = await onVm(connection, 'lsmod');
  expect(lsmod).toMatch(/^br_netfilter\s/m);
  expect(lsmod).toMatch(/^ip_vs\s/m);
  expect(await onVm(connection, 'sysctl -n net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables net.ipv4.ip_forward')).toBe('1\n1\n1');
  expect(await onVm(connection, 'wc -l < /proc/swaps')).toBe('1');
  const hosts = await onVm(connection, 'cat /etc/hosts');
  for (const [peer, address] of [['master', '10.77.0.11'], ['node1', '10.77.0.12'], ['node2', '10.77.0.13']] as const) {
    expect(hosts, `${name}: /etc/hosts`).toMatch(new RegExp(`^${address.replaceAll('.', '\\.')}\\s+${peer}$`, 'm'));
  }
  expect(await onVm(connection, 'systemctl is-active containerd')).toBe('active');
  expect(await onVm(connection, 'containerd config dump')).toMatch(/SystemdCgroup\s*=\s*true/);
  expect(await onVm(connection, 'command -v ipvsadm ipset | wc -l')).toBe('2');
  const markerFiles = (await onVm(connection, 'ls /var/lib/klab/stages')).split('\n');
  expect(markerFiles).toEqual(stageIds.map((id) => `${id}.json`));
  for (const id of stageIds) {
    const marker = JSON.parse(await onVm(connection, `cat /var/lib/klab/stages/${id}.json`)) as { stage: string };
    expect(marker.stage).toBe(id);
  }
}

beforeAll(async () => {
  dir = await createTestLab('klab-lab-');
  inventory = path.join(dir, 'lab.yaml');
});

afterAll(async () => {
  connections.forgetAll();
  if (dir) expect(await destroyTestLab(dir), `klab lab destroy left ${dir} behind`).toBe(true);
});

describe('the qemu lab', () => {
  it('boots three VMs with their own identities, reachable with pinned host keys, on one lab network', async () => {
    const status = await klab(['lab', 'status', '--dir', dir, '--json']);
    expect(status.exitCode).toBe(0);
    const vms = JSON.parse(status.stdout) as { name: string; running: boolean }[];
    expect(vms.map((v) => [v.name, v.running])).toEqual(names.map((n) => [n, true]));

    const parsed = inventorySchema.parse(parse(await readFile(inventory, 'utf8')));
    expect(parsed.hosts.map((h) => h.name)).toEqual([...names]);
    expect(parsed.hypervisor).toEqual({ kind: 'qemu-lab', dir });

    const machineIds = new Set<string>();
    for (const name of names) {
      const connection = await vm(name);
      expect(await onVm(connection, 'hostname')).toBe(name);
      machineIds.add(await onVm(connection, 'cat /etc/machine-id'));
    }
    expect(machineIds.size).toBe(3);
    const hostKeys = await Promise.all(names.map(async (n) => onVm(await vm(n), 'cut -d" " -f2 /etc/ssh/ssh_host_ed25519_key.pub')));
    expect(new Set(hostKeys).size).toBe(3);
    for (const peer of parsed.hosts.filter((h) => h.name !== 'node2')) {
      await onVm(await vm('node2'), `ping -c 1 -W 3 ${peer.internalAddress}`);
    }
  });
});

describe('stages 00-05 on the lab', () => {
  it('an up killed during 05-containerd package install, with node2 reset, leaves 05 unfinished on node2', async () => {
    // Stage 04 is done on node2 (its marker exists) and dpkg runs: that is 05's apt install.
    const killed = await interruptAt({
      dir,
      args: ['up', '--to', 'containerd', '--json', '-i', inventory],
      vm: 'node2',
      connection: await vm('node2'),
      probe: 'ls /var/lib/klab/stages 2>/dev/null; echo ---; pgrep -x dpkg >/dev/null && echo dpkg-running; true',
      moment: (out) => out.includes('04-ipvs.json') && !out.includes('05-containerd.json') && out.includes('dpkg-running'),
      what: "05-containerd's package install on node2",
    });
    forget('node2');
    expect(killed.signal).toBe('SIGKILL');

    const rebooted = await vm('node2');
    // The reset dropped whatever the guest had not flushed; 04's marker was written moments
    // before, so it is still there only because markers are recorded durably.
    const markers = await onVm(rebooted, 'ls /var/lib/klab/stages');
    expect(markers).toContain('04-ipvs.json');
    expect(markers).not.toContain('05-containerd.json');
    expect(JSON.parse(await onVm(rebooted, 'cat /var/lib/klab/stages/04-ipvs.json'))).toMatchObject({ stage: '04-ipvs' });
  });

  it('a re-run completes stages 00-05, and the hosts show every change', async () => {
    const rerun = await klab(['up', '--to', 'containerd', '--json', '-i', inventory]);
    const events = jsonLines(rerun.stdout);
    expect(rerun.exitCode, rerun.all).toBe(0);
    expect(events.at(-1)).toMatchObject({ type: 'run-end', status: 'ok' });

    for (const name of names) await expectStagesApplied(name);
    // Root SSH between hosts with strict host key checking: stage 02's keys and known_hosts.
    const master = await vm('master');
    expect(await onVm(master, 'ssh -o BatchMode=yes -o StrictHostKeyChecking=yes node1 hostname')).toBe('node1');
    expect(await onVm(await vm('node2'), 'ssh -o BatchMode=yes -o StrictHostKeyChecking=yes master hostname')).toBe('master');
    expect(await onVm(await vm('node2'), 'dpkg --audit | wc -l')).toBe('0');
  });

  it('a second up skips every stage by its markers, and a forced one runs every task and changes nothing', async () => {
    const again = await klab(['up', '--to', 'containerd', '--json', '-i', inventory]);
    expect(again.exitCode, again.all).toBe(0);
    const events = jsonLines(again.stdout);
    expect(events.filter((e) => e.type === 'stage-skip').map((e) => e.stage)).toEqual(stageIds);
    expect(events.filter((e) => e.type === 'task-result')).toEqual([]);

    const forced = await klab(['up', '--to', 'containerd', '--force', '--json', '-i', inventory]);
    expect(forced.exitCode, forced.all).toBe(0);
    const results = jsonLines(forced.stdout).filter((e) => e.type === 'task-result') as { stage: string; task: string; outcome: { host: string; status: string } }[];
    expect(new Set(results.map((r) => r.stage))).toEqual(new Set(stageIds));
    const notOk = results.filter((r) => r.outcome.status !== 'ok' && r.outcome.status !== 'skipped');
    expect(notOk.map((r) => `${r.outcome.host} ${r.stage} ${r.task}: ${r.outcome.status}`)).toEqual([]);
    expect(results.filter((r) => r.outcome.status === 'ok').length).toBeGreaterThan(0);
  });

  it('a marker recorded moments before a hard reset survives it, with the content just written', async () => {
    const forced = await klab(['up', '--only', '04-ipvs', '--force', '--json', '-i', inventory]);
    expect(forced.exitCode, forced.all).toBe(0);
    const node1 = await vm('node1');
    const written = await onVm(node1, 'cat /var/lib/klab/stages/04-ipvs.json');
    await resetLabVm({ dir }, 'node1');
    forget('node1');
    // The guest's page cache is gone with the reset; only what klab flushed is left.
    expect(await onVm(await vm('node1'), 'cat /var/lib/klab/stages/04-ipvs.json')).toBe(written);
    expect(JSON.parse(written)).toMatchObject({ stage: '04-ipvs' });
  });

  it('stop and start keep the disks: after a clean reboot every stage is still done and in effect', async () => {
    connections.forgetAll();
    // node1 is still booting when stop presses its power button: nothing in the guest listens
    // to the button that early, so stop must keep pressing until the guest reacts.
    await resetLabVm({ dir }, 'node1');
    const stopped = await klab(['lab', 'stop', '--dir', dir]);
    expect(stopped.exitCode, stopped.all).toBe(0);
    for (const name of names) {
      const consoleText = await readFile(vmPaths(dir, name).consoleLog, 'latin1').catch(() => '');
      expect(stopped.stdout, `stop powers ${name} off cleanly; its console ended with:\n${consoleText.split('\n').slice(-15).join('\n')}`).toContain(`${name}: powered off`);
    }
    const status = await klab(['lab', 'status', '--dir', dir, '--json']);
    expect((JSON.parse(status.stdout) as { running: boolean }[]).map((v) => v.running)).toEqual([false, false, false]);

    const started = await klab(['lab', 'start', '--dir', dir]);
    expect(started.exitCode, started.all).toBe(0);
    // Modules and kernel settings must come back from modules-load.d and sysctl.d, not from a stage run.
    for (const name of names) await expectStagesApplied(name);
    const again = await klab(['up', '--to', 'containerd', '--json', '-i', inventory]);
    expect(again.exitCode, again.all).toBe(0);
    expect(jsonLines(again.stdout).filter((e) => e.type === 'stage-skip').map((e) => e.stage)).toEqual(stageIds);
  });
});
