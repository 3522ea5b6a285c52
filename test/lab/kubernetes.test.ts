// Stages 06-10 on real VMs against stand-in Kubernetes. The real packages cannot be
// downloaded on these machines (LAB.md), so the test builds a stand-in package repository
// (test/support/kube-stand-in: kubeadm, kubelet and kubectl stand-ins that keep the real
// tools' command lines, preflight checks, files and errors), signs it with a throwaway key
// and serves it and the CNI and storage manifests on this machine's loopback, and the lab's
// inventory points cluster.packageRepository, packageRepositoryKey and manifests at it.
// Everything else is klab's real path: the built CLI runs `klab up` and `klab reset` on three
// qemu VMs, apt verifies the signature, the stages' scripts run as written. What happened is
// read on the VMs: the stand-ins' call logs, their "cluster" on the control plane
// (/var/lib/etcd/member) and the files the stages leave.
import { stat, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseDocument } from 'yaml';
import { clusterSettings } from '../../src/inventory/cluster-settings.js';
import { inventorySchema } from '../../src/inventory/schema.js';
import { readLabRecord } from '../../src/lab/lab-files.js';
import { startStandInRepository, type StandInRepository } from '../support/kube-stand-in/repository.js';
import { LabConnections, createTestLab, destroyTestLab, interruptAt, jsonLines, klab, onVm } from '../support/lab.js';

const names = ['master', 'node1', 'node2'] as const;
const workers = ['node1', 'node2'] as const;
const hostStages = ['00-preflight', '01-hosts', '02-ssh', '03-kernel', '04-ipvs', '05-containerd'];
const kubeStages = ['06-kube-packages', '07-control-plane', '08-network', '09-workers', '10-storage'];
const chosenVersion = '1.37.2-1.1';
const clusterState = '/var/lib/etcd/member';
const keyPath = '/core:/stable:/v1.37/deb/Release.key';
const internalAddress = { master: '10.77.0.11', node1: '10.77.0.12', node2: '10.77.0.13' } as const;

let dir = '';
let inventory = '';
let repository: StandInRepository | undefined;
const connections = new LabConnections(() => dir);
const vm = (name: string) => connections.vm(name);

/** What the stand-ins were asked on a VM, oldest first: "kubeadm init --config …". */
async function calls(name: string): Promise<string[]> {
  const log = await onVm(await vm(name), 'cat /var/log/kube-stand-in/calls.log 2>/dev/null || true');
  return log.split('\n').filter(Boolean).map((line) => line.split(' ').slice(2).join(' '));
}

/** Calls of kubeadm and kubectl only (the kubelet's restarts in between are noise here). */
async function toolCalls(name: string): Promise<string[]> {
  return (await calls(name)).filter((call) => !call.startsWith('kubelet'));
}

const tokenOf = (call: string): string | undefined => /--token (\S+)/.exec(call)?.[1];

async function issuedTokens(): Promise<string[]> {
  return (await onVm(await vm('master'), `cat ${clusterState}/tokens 2>/dev/null || true`)).split('\n').filter(Boolean);
}

/** The stages a host keeps a marker of: 07, 08 and 10 run on the control plane alone. */
function stagesOn(name: string): string[] {
  return name === 'master' ? [...hostStages, ...kubeStages] : [...hostStages, '06-kube-packages', '09-workers'];
}

async function markers(name: string): Promise<string[]> {
  return (await onVm(await vm(name), 'ls /var/lib/klab/stages')).split('\n').map((file) => file.replace(/\.json$/, ''));
}

/**
 * What a listener behind a forwarded loopback port says first. qemu accepts a forwarded
 * connection before the guest listens and then closes it empty, so this tries for a while.
 */
async function firstLineFrom(port: number): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const said = await new Promise<string>((resolve) => {
      let text = '';
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (text += chunk));
      socket.on('close', () => resolve(text.trim()));
      socket.on('error', () => resolve(''));
    });
    if (said !== '' || Date.now() > deadline) return said;
    await sleep(1_000);
  }
}

/**
 * Runs `klab up` and, once `kubeadm <command>` runs on `name`, has written `logLine` to its log
 * and `state` holds there, SIGKILLs klab and hard-resets that VM. The probe finds the running
 * command first, so the log it reads is this run's (klab truncates it when the command starts).
 */
async function interruptKubeadm(name: 'master' | 'node1', command: 'init' | 'join', logLine: string, state: string) {
  const killed = await interruptAt({
    dir,
    args: ['up', '--json', '-i', inventory],
    vm: name,
    connection: await vm(name),
    probe: `pgrep -f '^/bin/sh /usr/bin/kubeadm ${command}' >/dev/null && grep -q '${logLine}' /var/log/klab/kubeadm-${command}.log && ${state} && echo caught; true`,
    moment: (out) => out.includes('caught'),
    what: `${name} half way through kubeadm ${command}`,
  });
  connections.forget(name);
  return killed;
}

function settings() {
  return readFile(inventory, 'utf8').then((text) => clusterSettings(inventorySchema.parse(parse(text))));
}

beforeAll(async () => {
  repository = await startStandInRepository({ minor: '1.37', versions: ['1.37.1-1.1', chosenVersion] });
  dir = await createTestLab('klab-kube-');
  inventory = path.join(dir, 'lab.yaml');
  // The stand-in repository and manifests replace the official ones; nothing else changes.
  const document = parseDocument(await readFile(inventory, 'utf8'));
  document.setIn(['cluster', 'packageRepository'], repository.repositoryUrl);
  document.setIn(['cluster', 'packageRepositoryKey'], repository.keyUrl);
  document.setIn(['cluster', 'manifests'], { calico: repository.manifests.calico, localPath: repository.manifests.localPath });
  await writeFile(inventory, document.toString());
  const hosts = await klab(['up', '--to', 'containerd', '-i', inventory]);
  if (hosts.exitCode !== 0) throw new Error(`klab up --to containerd failed (exit ${hosts.exitCode}):\n${hosts.all}`);
});

afterAll(async () => {
  connections.forgetAll();
  await repository?.close();
  if (dir) expect(await destroyTestLab(dir), `klab lab destroy left ${dir} behind`).toBe(true);
});

describe('stages 06-10 on the lab against stand-in Kubernetes packages and manifests', () => {
  it('klab up installs the stand-in packages from the signed repository, then init, CNI, joins with fresh tokens and storage, in order', async () => {
    const up = await klab(['up', '--json', '-i', inventory]);
    expect(up.exitCode, up.all).toBe(0);
    const events = jsonLines(up.stdout);
    expect(events.filter((e) => e.type === 'stage-skip').map((e) => e.stage)).toEqual(hostStages);
    expect(events.filter((e) => e.type === 'stage-end').map((e) => [e.stage, e.status])).toEqual(kubeStages.map((id) => [id, 'done']));

    for (const name of names) {
      const host = await vm(name);
      // 06: the key in a keyring that the source names, apt checked the signature, one version held.
      expect(await onVm(host, 'cat /etc/apt/sources.list.d/kubernetes.list'), name).toContain(
        `deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] ${repository?.repositoryUrl} /`,
      );
      expect(await onVm(host, 'gpg --show-keys /etc/apt/keyrings/kubernetes-apt-keyring.gpg'), name).toContain('klab stand-in repository');
      const installed = (await onVm(host, "dpkg-query -W -f='${Package} ${Version}\\n' kubeadm kubelet kubectl")).split('\n').sort();
      expect(installed, name).toEqual(['kubeadm', 'kubectl', 'kubelet'].map((p) => `${p} ${chosenVersion}`));
      expect((await onVm(host, 'apt-mark showhold')).split('\n').sort(), name).toEqual(['kubeadm', 'kubectl', 'kubelet']);
      expect(await onVm(host, "dpkg-query -W -f='${Status}\\n' conntrack socat"), name).toBe('install ok installed\ninstall ok installed');
      // The kubelet runs with the host's own address on the lab network (/etc/default/kubelet).
      expect(await onVm(host, 'systemctl is-active kubelet'), name).toBe('active');
      const kubelet = (await calls(name)).filter((call) => call.startsWith('kubelet ')).at(-1);
      expect(kubelet, name).toContain(`--node-ip=${internalAddress[name]}`);
      expect(kubelet, name).toContain('--config=/var/lib/kubelet/config.yaml');
      expect(await markers(name), name).toEqual(stagesOn(name));
    }
    // The key was fetched by every host (and the repository's index with it).
    expect(repository?.requests.filter((p) => p === keyPath)).toHaveLength(3);

    // 07-10 on the control plane, in this order; both joins in between, each with its own token.
    const master = await toolCalls('master');
    const order = [
      'kubeadm init --config /var/lib/klab/kubeadm-config.yaml',
      'kubectl --kubeconfig /etc/kubernetes/admin.conf apply -f /var/lib/klab/manifests/calico-',
      'kubeadm token create --print-join-command --ttl 1h',
      'kubeadm token create --print-join-command --ttl 1h',
      'kubectl --kubeconfig /etc/kubernetes/admin.conf taint nodes master node-role.kubernetes.io/control-plane:NoSchedule-',
      'kubectl --kubeconfig /etc/kubernetes/admin.conf apply -f /var/lib/klab/manifests/localPath-',
      'kubectl --kubeconfig /etc/kubernetes/admin.conf annotate --overwrite storageclass local-path storageclass.kubernetes.io/is-default-class=true',
    ];
    let last = -1;
    for (const [i, prefix] of order.entries()) {
      const at = master.findIndex((call, index) => index > last && call.startsWith(prefix));
      expect(at, `"${prefix}" after step ${i} in the control plane's calls:\n${master.join('\n')}`).toBeGreaterThan(last);
      last = at;
    }
    expect(master.filter((call) => call.startsWith('kubeadm init'))).toHaveLength(1);

    const tokens = await issuedTokens();
    expect(tokens).toHaveLength(2);
    expect(new Set(tokens).size).toBe(2);
    const joined = new Set<string>();
    for (const name of workers) {
      const joins = (await toolCalls(name)).filter((call) => call.startsWith('kubeadm join'));
      expect(joins, name).toHaveLength(1);
      expect(joins[0], name).toMatch(/^kubeadm join 10\.77\.0\.11:6443 --token \S+ --discovery-token-ca-cert-hash sha256:[0-9a-f]{64} --cri-socket unix:\/\/\/run\/containerd\/containerd\.sock$/);
      const token = tokenOf(joins[0] ?? '') ?? '';
      expect(tokens).toContain(token);
      joined.add(token);
      // The node registered with the token it joined with.
      expect(await onVm(await vm('master'), `cat ${clusterState}/nodes/${name}`)).toBe(token);
      expect(await onVm(await vm(name), 'test -s /etc/kubernetes/kubelet.conf && echo joined')).toBe('joined');
    }
    expect(joined.size).toBe(2);

    const control = await vm('master');
    // The kubeadm configuration that init read: addresses, networks, cgroup driver, proxy mode.
    const config = await onVm(control, 'cat /var/lib/klab/kubeadm-config.yaml');
    expect(config).toContain('advertiseAddress: 10.77.0.11');
    expect(config).toContain('podSubnet: 10.244.0.0/16');
    expect(config).toContain('kubernetesVersion: v1.37.2');
    expect(config).toContain('cgroupDriver: systemd');
    expect(await onVm(control, `cat ${clusterState}/objects/kube-proxy`)).toBe('ipvs');
    expect(await onVm(control, `cat ${clusterState}/objects/cni`)).toBe('calico 10.244.0.0/16');
    expect(await onVm(control, `cat ${clusterState}/objects/default-storageclass`)).toBe('true');
    expect(await onVm(control, 'kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes --no-headers | awk \'{ print $1, $2 }\'')).toBe('master Ready\nnode1 Ready\nnode2 Ready');
    expect(await onVm(control, 'cmp /etc/kubernetes/admin.conf /root/.kube/config && stat -c %a /root/.kube/config')).toBe('600');

    // The workstation's kubeconfig: the control plane's admin.conf with the server it can reach.
    const kubeconfigFile = path.join(dir, '.klab', 'kubeconfig');
    expect((await stat(kubeconfigFile)).mode & 0o777).toBe(0o600);
    const adminConf = await onVm(control, 'cat /etc/kubernetes/admin.conf');
    expect(adminConf).toContain('server: https://10.77.0.11:6443');
    // lab.yaml names the loopback port that the lab forwards to the control plane's 6443.
    const { apiServerUrl } = await settings();
    const forwarded = (await readLabRecord(dir)).vms.find((v) => v.name === 'master')?.apiServerPort;
    expect(apiServerUrl).toBe(`https://127.0.0.1:${forwarded}`);
    // And that port reaches the control plane's 6443. The stand-ins serve no API there, so a
    // one-shot socat answers in its place.
    await onVm(control, "setsid socat TCP-LISTEN:6443,reuseaddr SYSTEM:'echo api-port-reached' </dev/null >/dev/null 2>&1 &");
    expect(await firstLineFrom(forwarded ?? 0)).toBe('api-port-reached');
    expect((await readFile(kubeconfigFile, 'utf8')).trim()).toBe(adminConf.replace('server: https://10.77.0.11:6443', `server: ${apiServerUrl}`));
  });

  it('a second up skips every stage; a forced 06-10 fetches the key again and changes nothing else', async () => {
    const again = await klab(['up', '--json', '-i', inventory]);
    expect(again.exitCode, again.all).toBe(0);
    const events = jsonLines(again.stdout);
    expect(events.filter((e) => e.type === 'stage-skip').map((e) => e.stage)).toEqual([...hostStages, ...kubeStages]);
    expect(events.filter((e) => e.type === 'task-result')).toEqual([]);

    const before = new Map<string, number>();
    for (const name of names) before.set(name, (await toolCalls(name)).length);
    const keyFetches = repository?.requests.filter((p) => p === keyPath).length ?? 0;
    const forced = await klab(['up', '--from', 'kube-packages', '--force', '--json', '-i', inventory]);
    expect(forced.exitCode, forced.all).toBe(0);
    const results = jsonLines(forced.stdout).filter((e) => e.type === 'task-result') as { stage: string; task: string; outcome: { host: string; status: string } }[];
    expect(new Set(results.map((r) => r.stage))).toEqual(new Set(kubeStages));
    const changed = results.filter((r) => r.outcome.status === 'changed').map((r) => `${r.stage} ${r.task}`);
    // The key is fetched fresh on every run (keys expire), and apt reads the lists again after it.
    expect(new Set(changed)).toEqual(new Set(["06-kube-packages Fetch the repository's signing key", '06-kube-packages Refresh the package lists for the new repository']));
    expect(results.filter((r) => r.outcome.status === 'failed')).toEqual([]);
    expect(repository?.requests.filter((p) => p === keyPath)).toHaveLength(keyFetches + 3);
    for (const name of names) {
      const after = (await toolCalls(name)).slice(before.get(name));
      // Only looks: no init, join, token, apply, taint or annotate ran again.
      expect(after.filter((call) => /^kubeadm (init|join|token|reset)|^kubectl .*(apply|taint|annotate) /.test(call)), name).toEqual([]);
    }
    expect(await issuedTokens()).toHaveLength(2);
  });

  it('klab reset takes Kubernetes apart on every host with kubeadm reset, keeps stages 00-05 and removes the kubeconfig', async () => {
    const reset = await klab(['reset', '--yes', '-i', inventory]);
    expect(reset.exitCode, reset.all).toBe(0);
    for (const name of names) {
      expect((await toolCalls(name)).at(-1), name).toBe('kubeadm reset -f --cri-socket unix:///run/containerd/containerd.sock');
      expect(await markers(name), name).toEqual(hostStages);
      expect(await onVm(await vm(name), 'ls /etc/kubernetes/admin.conf /etc/kubernetes/kubelet.conf /etc/kubernetes/pki /root/.kube/config 2>/dev/null | wc -l'), name).toBe('0');
      // The packages stay installed and held; only the cluster is gone.
      expect(await onVm(await vm(name), 'apt-mark showhold | wc -l'), name).toBe('3');
    }
    expect(await onVm(await vm('master'), `test -e ${clusterState} && echo left || echo gone`)).toBe('gone');
    await expect(stat(path.join(dir, '.klab', 'kubeconfig'))).rejects.toThrow(/ENOENT/);
  });

  it('a kubeadm init that fails shows kubeadm\'s own error and the log path, and the host is left ready for a retry', async () => {
    const master = await vm('master');
    await onVm(master, 'sysctl -qw net.ipv4.ip_forward=0');
    const failed = await klab(['up', '-i', inventory]);
    await onVm(master, 'sysctl -qw net.ipv4.ip_forward=1');
    expect(failed.exitCode, failed.all).not.toBe(0);
    expect(failed.all).toContain('[ERROR FileContent--proc-sys-net-ipv4-ip_forward]: /proc/sys/net/ipv4/ip_forward contents are not set to 1');
    expect(failed.all).toContain('kubeadm init failed; its full output is in /var/log/klab/kubeadm-init.log on master');
    expect(await markers('master')).toEqual([...hostStages, '06-kube-packages']);
  });

  it('an up whose worker is reset in the middle of kubeadm join finishes on the re-run: the half-joined node is reset and joins with a fresh token', async () => {
    const tokensBefore = await issuedTokens();
    expect(tokensBefore).toEqual([]);
    // The join has fetched the CA and waits for its TLS bootstrap (kubeadm's own words in its
    // log): certificates written and synced, no kubelet.conf yet.
    const killed = await interruptKubeadm('node1', 'join', 'Waiting for the kubelet to perform the TLS Bootstrap', 'test -e /etc/kubernetes/pki/ca.crt && test ! -e /etc/kubernetes/kubelet.conf');
    expect(killed.signal).toBe('SIGKILL');
    const interruptedJoin = (await toolCalls('node1')).filter((call) => call.startsWith('kubeadm join')).at(-1) ?? '';
    expect(await onVm(await vm('node1'), 'for f in pki/ca.crt kubelet.conf; do test -e /etc/kubernetes/$f && echo $f; done; true')).toBe('pki/ca.crt');

    const rerun = await klab(['up', '--json', '-i', inventory]);
    expect(rerun.exitCode, rerun.all).toBe(0);
    expect(jsonLines(rerun.stdout).filter((e) => e.type === 'stage-end').map((e) => e.stage)).toEqual(['09-workers', '10-storage']);
    const node1Calls = await toolCalls('node1');
    const resetAt = node1Calls.lastIndexOf('kubeadm reset -f --cri-socket unix:///run/containerd/containerd.sock');
    const lastJoin = node1Calls.findLastIndex((call) => call.startsWith('kubeadm join'));
    expect(resetAt, node1Calls.join('\n')).toBeGreaterThan(node1Calls.indexOf(interruptedJoin));
    expect(lastJoin).toBeGreaterThan(resetAt);
    const freshToken = tokenOf(node1Calls[lastJoin] ?? '');
    expect(freshToken).not.toBe(tokenOf(interruptedJoin));
    expect(await issuedTokens()).toContain(freshToken);
    expect(await onVm(await vm('master'), `cat ${clusterState}/nodes/node1`)).toBe(freshToken);
    for (const name of names) expect(await markers(name), name).toEqual(stagesOn(name));
    expect(await onVm(await vm('master'), "kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes --no-headers | awk '{ print $1, $2 }'")).toBe('master Ready\nnode1 Ready\nnode2 Ready');
  });

  it('an up whose control plane is reset in the middle of kubeadm init finishes on the re-run: the half-initialised control plane is reset and initialised again', async () => {
    const reset = await klab(['reset', '--yes', '-i', inventory]);
    expect(reset.exitCode, reset.all).toBe(0);
    // init has written its certificates, kubeconfigs and static pod manifests (synced) and waits
    // for the API server; its add-on phase has not run.
    const killed = await interruptKubeadm('master', 'init', 'wait-control-plane', `test ! -e ${clusterState}/objects/kube-proxy`);
    expect(killed.signal).toBe('SIGKILL');
    const control = await vm('master');
    expect(await onVm(control, `test -e /etc/kubernetes/manifests/kube-apiserver.yaml && test -e /etc/kubernetes/admin.conf && test ! -e ${clusterState}/objects/kube-proxy && echo half`)).toBe('half');
    const before = await toolCalls('master');
    const interruptedInit = before.findLastIndex((call) => call.startsWith('kubeadm init'));
    expect(interruptedInit, before.join('\n')).toBeGreaterThan(before.lastIndexOf('kubeadm reset -f --cri-socket unix:///run/containerd/containerd.sock'));

    const rerun = await klab(['up', '--json', '-i', inventory]);
    expect(rerun.exitCode, rerun.all).toBe(0);
    expect(jsonLines(rerun.stdout).filter((e) => e.type === 'stage-end').map((e) => e.stage)).toEqual(['07-control-plane', '08-network', '09-workers', '10-storage']);
    // The half-done control plane is taken apart first, then initialised once, from scratch.
    const after = (await toolCalls('master')).slice(interruptedInit + 1).filter((call) => /^kubeadm (reset|init)/.test(call));
    expect(after).toEqual(['kubeadm reset -f --cri-socket unix:///run/containerd/containerd.sock', 'kubeadm init --config /var/lib/klab/kubeadm-config.yaml']);
    expect(await onVm(control, `cat ${clusterState}/objects/kube-proxy`)).toBe('ipvs');
    for (const name of names) expect(await markers(name), name).toEqual(stagesOn(name));
    expect(await onVm(control, "kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes --no-headers | awk '{ print $1, $2 }'")).toBe('master Ready\nnode1 Ready\nnode2 Ready');
  });
});
