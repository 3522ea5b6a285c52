// The Kubernetes settings of the inventory: supported minors, the values derived from them
// (pause image, repository, manifests, API server URL, proxy exceptions), the errors a user
// sees for bad ones, and the preflight route check, run for real through sh and awk on
// sample `ip -4 route` output.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { clusterSettings, inventoryWarnings, proxySettings } from '../../src/inventory/cluster-settings.js';
import { supportedMinors } from '../../src/inventory/kubernetes-releases.js';
import { InventoryError, parseInventory } from '../../src/inventory/load.js';
import { inventorySchema } from '../../src/inventory/schema.js';
import { RunContext } from '../../src/stages/context.js';
import { playbooksDir } from '../../src/stages/paths.js';
import { loadPlaybooks } from '../../src/stages/playbook.js';
import { render } from '../../src/stages/render.js';

const run = promisify(execFile);

const hostsYaml = `hosts:
  - { name: master, address: 192.168.56.10, role: control-plane, password: pw }
  - { name: node1, address: 192.168.56.11, role: worker, password: pw }
  - { name: node2, address: 192.168.56.12, role: worker, password: pw }
`;

async function problems(extra: string): Promise<string> {
  try {
    await parseInventory(`${hostsYaml}${extra}`, '/lab/klab.yaml');
  } catch (error) {
    if (error instanceof InventoryError) return error.message;
    throw error;
  }
  throw new Error('the inventory was accepted');
}

const hosts = [
  { name: 'master', address: '192.168.56.10', role: 'control-plane', password: 'pw' },
  { name: 'node1', address: '192.168.56.11', role: 'worker', password: 'pw' },
  { name: 'node2', address: '192.168.56.12', role: 'worker', password: 'pw' },
];

describe('Kubernetes versions', () => {
  it('offers the three newest minors, newest first and by default', async () => {
    expect(supportedMinors).toEqual(['1.37', '1.36', '1.35']);
    const inventory = await parseInventory(hostsYaml, '/lab/klab.yaml');
    expect(inventory.cluster.kubernetesVersion).toBe('1.37');
  });

  it('an unsupported or unknown minor is an error naming the supported ones', async () => {
    for (const minor of ['1.30', '1.38', '2.0']) {
      const message = await problems(`cluster: { kubernetesVersion: "${minor}" }\n`);
      expect(message).toContain(`/lab/klab.yaml:5:31: cluster.kubernetesVersion: expected a supported Kubernetes minor: "1.37", "1.36", "1.35", got "${minor}"`);
    }
  });

  it('a pinned patch must belong to the minor', async () => {
    expect(await problems('cluster: { kubernetesVersion: "1.36", kubernetesPatch: "1.37.2" }\n')).toContain(
      'cluster.kubernetesPatch: expected a patch release of kubernetesVersion 1.36 (such as "1.36.1"), got "1.37.2"',
    );
    expect(await problems('cluster: { kubernetesPatch: "1.37" }\n')).toContain('cluster.kubernetesPatch: expected a full Kubernetes version such as "1.37.2"');
  });

  it('the pause image follows the minor unless the inventory names one', () => {
    const pause = (cluster: object) => clusterSettings(inventorySchema.parse({ hosts, cluster })).sandboxImage;
    expect(pause({})).toBe('registry.k8s.io/pause:3.10.2');
    expect(pause({ kubernetesVersion: '1.35' })).toBe('registry.k8s.io/pause:3.10.1');
    expect(pause({ kubernetesVersion: '1.35', sandboxImage: 'mirror.example/pause:3.10.1' })).toBe('mirror.example/pause:3.10.1');
  });

  it('the package repository and its key default to the official ones of the minor; a mirror replaces both', () => {
    const official = clusterSettings(inventorySchema.parse({ hosts, cluster: { kubernetesVersion: '1.36' } }));
    expect(official.packageRepository).toBe('https://pkgs.k8s.io/core:/stable:/v1.36/deb/');
    expect(official.packageRepositoryKey).toBe('https://pkgs.k8s.io/core:/stable:/v1.36/deb/Release.key');
    expect(official.packageVersionPrefix).toBe('1.36.');
    const mirror = clusterSettings(inventorySchema.parse({ hosts, cluster: { packageRepository: 'http://10.0.2.2:8080/k8s', kubernetesPatch: '1.37.4' } }));
    expect(mirror.packageRepositoryKey).toBe('http://10.0.2.2:8080/k8s/Release.key');
    expect(mirror.packageVersionPrefix).toBe('1.37.4-');
  });

  it('warns once, in plain words, about IPVS from the minor that deprecates it', () => {
    const warnings = (cluster: object) => inventoryWarnings(inventorySchema.parse({ hosts, cluster }));
    expect(warnings({ proxyMode: 'ipvs' })).toEqual([expect.stringContaining('deprecated since Kubernetes 1.35 (KEP-5495)')]);
    expect(warnings({ proxyMode: 'nftables' })).toEqual([]);
    expect(warnings({ proxyMode: 'iptables' })).toEqual([]);
  });
});

describe('cluster settings', () => {
  it('the kubeconfig names the address the workstation reaches; the qemu lab names a forwarded port', () => {
    expect(clusterSettings(inventorySchema.parse({ hosts })).apiServerUrl).toBe('https://192.168.56.10:6443');
    const lab = inventorySchema.parse({
      hosts: hosts.map((h, i) => ({ ...h, address: '127.0.0.1', port: 2201 + i, internalAddress: `10.77.0.${10 + i}` })),
      cluster: { apiServerAddress: '127.0.0.1:16443' },
    });
    expect(clusterSettings(lab).apiServerUrl).toBe('https://127.0.0.1:16443');
    expect(clusterSettings(lab).apiServerHost).toBe('127.0.0.1');
  });

  it('workloads may run on the control plane of three hosts or fewer by default', () => {
    expect(clusterSettings(inventorySchema.parse({ hosts })).scheduleOnControlPlane).toBe(true);
    const four = [...hosts, { name: 'node3', address: '192.168.56.13', role: 'worker', password: 'pw' }];
    expect(clusterSettings(inventorySchema.parse({ hosts: four })).scheduleOnControlPlane).toBe(false);
    expect(clusterSettings(inventorySchema.parse({ hosts, cluster: { scheduleOnControlPlane: false } })).scheduleOnControlPlane).toBe(false);
  });

  it('the CNI manifest is the pinned one unless a mirror with its own sha256 is named', () => {
    const calico = clusterSettings(inventorySchema.parse({ hosts })).cniManifest;
    expect(calico).toMatchObject({ name: 'calico', version: 'v3.32.1', file: '/var/lib/klab/manifests/calico-v3.32.1.yaml' });
    expect(calico.sha256).toMatch(/^[0-9a-f]{64}$/);
    const mirrored = clusterSettings(
      inventorySchema.parse({ hosts, cluster: { cni: 'flannel', manifests: { flannel: { url: 'http://mirror/kube-flannel.yml', sha256: 'c'.repeat(64) } } } }),
    ).cniManifest;
    expect(mirrored).toMatchObject({ name: 'flannel', url: 'http://mirror/kube-flannel.yml', sha256: 'c'.repeat(64) });
  });

  it('a bad manifest digest or URL is an error naming the key', async () => {
    const message = await problems('cluster: { manifests: { calico: { url: "ftp://x/c.yaml", sha256: "ABC" } } }\n');
    expect(message).toContain('cluster.manifests.calico.url: expected an http:// or https:// URL');
    expect(message).toContain('cluster.manifests.calico.sha256: expected a sha256 digest: 64 lowercase hex digits');
  });
});

describe('proxy', () => {
  it('adds the cluster networks, the hosts and local names to no_proxy', () => {
    const proxy = proxySettings(inventorySchema.parse({ hosts, proxy: { http: 'http://proxy:3128', noProxy: ['.corp'] } }));
    expect(proxy).toMatchObject({ enabled: true, http: 'http://proxy:3128', https: 'http://proxy:3128' });
    expect(proxy.noProxy.split(',')).toEqual([
      '.corp', 'master', '192.168.56.10', 'node1', '192.168.56.11', 'node2', '192.168.56.12',
      '10.244.0.0/16', '10.96.0.0/12', '.svc', '.cluster.local', 'localhost', '127.0.0.1',
    ]);
    expect(proxy.env).toBe(`env http_proxy='http://proxy:3128' https_proxy='http://proxy:3128' no_proxy='${proxy.noProxy}' `);
    expect(proxySettings(inventorySchema.parse({ hosts }))).toMatchObject({ enabled: false, env: '' });
  });

  it('a proxy without a URL, a bad URL or a bad no_proxy entry is an error naming the key', async () => {
    expect(await problems('proxy: { noProxy: [".corp"] }\n')).toContain('proxy: expected http or https (or both): the proxy URL');
    expect(await problems('proxy: { http: "proxy:3128" }\n')).toContain('proxy.http: expected an http:// or https:// URL');
    expect(await problems('proxy: { http: "http://p:3128", noProxy: ["a b"] }\n')).toContain('proxy.noProxy[0]: expected a host name, domain (.example.com), address or CIDR');
  });
});

describe('preflight: pod and service CIDRs against the hosts\' routes (sh and awk, as on a host)', async () => {
  const stages = await loadPlaybooks(playbooksDir());
  const preflight = stages.find((s) => s.id === '00-preflight');
  const task = preflight?.tasks.find((t) => t.kind === 'capture' && t.spec.var === 'routeClash');
  if (!preflight || task?.kind !== 'capture' || task.spec.command === undefined) throw new Error('00-preflight has no routeClash capture');
  const command = task.spec.command;

  async function clash(routes: string, cluster: object = {}): Promise<string> {
    const context = new RunContext(inventorySchema.parse({ hosts, cluster }), { publicKey: 'k', privateKey: 'p' });
    const rendered = render(command, context.view('master', preflight as NonNullable<typeof preflight>), 'test');
    expect(rendered.startsWith('ip -4 route show |')).toBe(true);
    const script = `printf '%s' "$ROUTES" ${rendered.slice('ip -4 route show'.length)}`;
    const { stdout } = await run('sh', ['-c', script], { env: { ...process.env, ROUTES: routes } });
    return stdout.trim();
  }

  const lab = 'default via 192.168.56.1 dev eth0 proto dhcp\n192.168.56.0/24 dev eth0 proto kernel scope link src 192.168.56.10\n';

  it('passes when no route overlaps', async () => {
    expect(await clash(lab)).toBe('none');
  });

  it('names the route and the CIDR it overlaps', async () => {
    expect(await clash(lab, { podCidr: '192.168.0.0/16' })).toBe(
      'route "192.168.56.0/24 dev eth0 proto kernel scope link src 192.168.56.10" overlaps cluster.podCidr 192.168.0.0/16',
    );
    expect(await clash(`${lab}10.96.4.0/24 dev eth1 proto kernel scope link src 10.96.4.2\n`)).toBe(
      'route "10.96.4.0/24 dev eth1 proto kernel scope link src 10.96.4.2" overlaps cluster.serviceCidr 10.96.0.0/12',
    );
  });

  it('ignores the routes the pod network itself adds, so it holds on a running cluster', async () => {
    const running = `${lab}10.244.1.0/24 via 10.244.1.0 dev flannel.1 onlink\n10.244.0.0/24 dev cni0 proto kernel scope link src 10.244.0.1\nblackhole 10.244.219.64/26 proto bird\n10.244.104.0/26 via 192.168.56.11 dev tunl0 proto bird onlink\n`;
    expect(await clash(running)).toBe('none');
  });
});
