// The Kubernetes releases klab installs, and the pinned add-on manifests it applies: data,
// kept in this one place so a new minor or a manifest bump is a one-line change here.
//
// Minors: the three newest that the official package repository serves on 2026-11-29.
// kubernetes.io/releases/1.37 lists 1.37.0 as released on 2026-08-26 and 1.36, 1.35 as
// actively supported; the sig-release v1.38 schedule plans 1.38.0 for 2026-12-16, so it is
// not out yet. Newest first: the first one is the default.
//
// Pause image: the version kubeadm's constants (PauseVersion) expect for each minor, so
// containerd's sandbox image and kubeadm agree and kubeadm does not warn. 1.35: 3.10.1
// (kubernetes/kubernetes PR 130713, first in 1.34); 1.36: 3.10.2; 1.37: 3.10.2 (no later
// bump found; stated by downstream installers that track kubeadm, e.g. kubeclipper PR 947).
export const kubernetesReleases = {
  '1.37': { pauseVersion: '3.10.2' },
  '1.36': { pauseVersion: '3.10.2' },
  '1.35': { pauseVersion: '3.10.1' },
} as const;

export type KubernetesMinor = keyof typeof kubernetesReleases;

export const supportedMinors = Object.keys(kubernetesReleases) as KubernetesMinor[];

export const defaultMinor: KubernetesMinor = supportedMinors[0] ?? '1.37';

export function isSupportedMinor(minor: string): minor is KubernetesMinor {
  return Object.hasOwn(kubernetesReleases, minor);
}

/** kube-proxy's IPVS mode is deprecated from this minor on (KEP-5495). */
export const ipvsDeprecatedSince = '1.35';

/**
 * Manifests applied with kubectl, pinned by version and sha256. Each digest was computed from
 * the file at its release tag in the project's own repository (the raw file the URL serves):
 * projectcalico/calico v3.32.1 manifests/calico.yaml, flannel-io/flannel v0.28.9
 * Documentation/kube-flannel.yml, rancher/local-path-provisioner v0.0.37
 * deploy/local-path-storage.yaml. The inventory may override url and sha256 (a mirror).
 */
export const pinnedManifests = {
  calico: {
    version: 'v3.32.1',
    url: 'https://raw.githubusercontent.com/projectcalico/calico/v3.32.1/manifests/calico.yaml',
    sha256: 'a1df919d9721cf667accdc3e72848911b0cb25cfab7d2478ad0c996302c95744',
  },
  flannel: {
    version: 'v0.28.9',
    url: 'https://raw.githubusercontent.com/flannel-io/flannel/v0.28.9/Documentation/kube-flannel.yml',
    sha256: 'e875824be2f552b45711dbda91af81b17eb961d00025d914d9fef18fad8f09c0',
  },
  localPath: {
    version: 'v0.0.37',
    url: 'https://raw.githubusercontent.com/rancher/local-path-provisioner/v0.0.37/deploy/local-path-storage.yaml',
    sha256: '9781b39c24f3f651bd6d6e41b561e04e4904bbdb6d4f8c7a6009df3a702dcd65',
  },
} as const;

export type ManifestName = keyof typeof pinnedManifests;

/** The official package repository of one minor, and the key that signs it (Installing kubeadm). */
export const officialRepository = (minor: string): string => `https://pkgs.k8s.io/core:/stable:/v${minor}/deb/`;
export const officialRepositoryKey = (repository: string): string => `${repository.replace(/\/?$/, '/')}Release.key`;
