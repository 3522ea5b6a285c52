// Settings derived from the inventory for the stages: what the user left out gets the value
// that follows from what they wrote (the pause image of the chosen minor, the official
// repository of that minor, the pinned manifest of the chosen CNI, the proxy exceptions of
// the cluster's own networks). Templates read these, never a second copy of the rules.
import { isIP } from 'node:net';
import { ipvsDeprecatedSince, kubernetesReleases, officialRepository, officialRepositoryKey, pinnedManifests } from './kubernetes-releases.js';
import type { KubernetesMinor, ManifestName } from './kubernetes-releases.js';
import type { Inventory } from './schema.js';

export interface ManifestSettings {
  name: ManifestName;
  version: string;
  url: string;
  sha256: string;
  /** Where stage 08/10 keeps the verified download on the control plane. */
  file: string;
}

export type ClusterSettings = Inventory['cluster'] & {
  sandboxImage: string;
  packageRepository: string;
  packageRepositoryKey: string;
  /** Package versions to choose from start with this: `1.37.` for the minor, `1.37.2-` for a pinned patch. */
  packageVersionPrefix: string;
  /** `https://host:port` written into the workstation's .klab/kubeconfig. */
  apiServerUrl: string;
  /** The host part of apiServerUrl, added to the API server's certificate. */
  apiServerHost: string;
  scheduleOnControlPlane: boolean;
  cniManifest: ManifestSettings;
  storageManifest: ManifestSettings;
};

export interface ProxySettings {
  enabled: boolean;
  http: string;
  https: string;
  /** Comma-separated: the inventory's entries, then the cluster's networks, hosts and local names. */
  noProxy: string;
  /** `env http_proxy=… ` to put before a command that downloads, or '' without a proxy. */
  env: string;
}

const apiServerPort = 6443;

function manifest(inventory: Inventory, name: ManifestName): ManifestSettings {
  const pinned = pinnedManifests[name];
  const override = inventory.cluster.manifests?.[name];
  return {
    name,
    version: pinned.version,
    url: override?.url ?? pinned.url,
    sha256: override?.sha256 ?? pinned.sha256,
    file: `/var/lib/klab/manifests/${name}-${pinned.version}.yaml`,
  };
}

export function clusterSettings(inventory: Inventory): ClusterSettings {
  const cluster = inventory.cluster;
  const minor = cluster.kubernetesVersion as KubernetesMinor;
  const release = kubernetesReleases[minor];
  const packageRepository = cluster.packageRepository ?? officialRepository(minor);
  const controlPlane = inventory.hosts.find((h) => h.role === 'control-plane') ?? inventory.hosts[0];
  const endpoint = cluster.apiServerAddress ?? controlPlane?.address ?? '127.0.0.1';
  const [apiServerHost = endpoint, port] = endpoint.split(':');
  return {
    ...cluster,
    sandboxImage: cluster.sandboxImage ?? `registry.k8s.io/pause:${release.pauseVersion}`,
    packageRepository,
    packageRepositoryKey: cluster.packageRepositoryKey ?? officialRepositoryKey(packageRepository),
    packageVersionPrefix: cluster.kubernetesPatch === undefined ? `${minor}.` : `${cluster.kubernetesPatch}-`,
    apiServerUrl: `https://${apiServerHost}:${port ?? apiServerPort}`,
    apiServerHost,
    scheduleOnControlPlane: cluster.scheduleOnControlPlane ?? inventory.hosts.length <= 3,
    cniManifest: manifest(inventory, cluster.cni),
    storageManifest: manifest(inventory, 'localPath'),
  };
}

export function proxySettings(inventory: Inventory): ProxySettings {
  const proxy = inventory.proxy;
  if (proxy === undefined) return { enabled: false, http: '', https: '', noProxy: '', env: '' };
  const http = proxy.http ?? proxy.https ?? '';
  const https = proxy.https ?? proxy.http ?? '';
  const hostEntries = inventory.hosts.flatMap((h) => [h.name, h.internalAddress, ...(isIP(h.address) !== 0 && !h.address.startsWith('127.') ? [h.address] : [])]);
  const cluster = [inventory.cluster.podCidr, inventory.cluster.serviceCidr, '.svc', '.cluster.local', 'localhost', '127.0.0.1'];
  const noProxy = [...new Set([...proxy.noProxy, ...hostEntries, ...cluster])].join(',');
  return {
    enabled: true,
    http,
    https,
    noProxy,
    env: `env http_proxy='${http}' https_proxy='${https}' no_proxy='${noProxy}' `,
  };
}

/** Things a user should know about their choices before a run, said once per command. */
export function inventoryWarnings(inventory: Inventory): string[] {
  const warnings: string[] = [];
  const minor = Number(inventory.cluster.kubernetesVersion.split('.')[1]);
  if (inventory.cluster.proxyMode === 'ipvs' && minor >= Number(ipvsDeprecatedSince.split('.')[1])) {
    warnings.push(
      `cluster.proxyMode is ipvs: kube-proxy's IPVS mode is deprecated since Kubernetes ${ipvsDeprecatedSince} (KEP-5495) and will be removed in a later release. ` +
        'It still works in this version; set proxyMode: nftables (its successor) to move away from it.',
    );
  }
  return warnings;
}
