// The inventory (klab.yaml): one zod schema gives the types, the defaults and the error
// messages. Keys are camelCase in TypeScript and in the file. Unknown keys are errors
// (strict objects) so a typo never silently falls back to a default.
import { isIP } from 'node:net';
import { z } from 'zod';
import { defaultMinor, isSupportedMinor, supportedMinors } from './kubernetes-releases.js';

const hostName = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'expected a lowercase DNS label (a-z, 0-9, -), e.g. master or node1');

const address = z
  .string()
  .min(1)
  .refine((v) => isIP(v) !== 0 || /^[a-zA-Z0-9]([-.a-zA-Z0-9]*[a-zA-Z0-9])?$/.test(v), 'expected an IP address or a DNS name')
  // Four dotted numbers are meant as an IPv4 address (999.1.1.1 is a typo, not a host name).
  .refine((v) => !/^\d+(\.\d+){3}$/.test(v) || isIP(v) === 4, 'expected an IPv4 address with four numbers from 0 to 255');

const ipv4Cidr = z
  .string()
  .refine((v) => parseIpv4Cidr(v) !== undefined, 'expected an IPv4 CIDR such as 10.244.0.0/16')
  .refine((v) => {
    const cidr = parseIpv4Cidr(v);
    return cidr === undefined || (cidr.base & ~cidr.mask) >>> 0 === 0;
  }, 'expected a network address with no host bits set, such as 10.244.0.0/16');

/** An IPv4 CIDR as numbers; undefined when `text` is not one. */
export function parseIpv4Cidr(text: string): { base: number; mask: number; bits: number } | undefined {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(text);
  const ip = m?.[1];
  const bits = Number(m?.[2]);
  if (ip === undefined || isIP(ip) !== 4 || bits > 32) return undefined;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return { base: ipv4ToNumber(ip), mask, bits };
}

export function ipv4ToNumber(ip: string): number {
  return ip.split('.').reduce((n, octet) => ((n << 8) | Number(octet)) >>> 0, 0);
}

export const hostSchema = z.strictObject({
  name: hostName,
  /** Where the CLI reaches the host's sshd (for the qemu lab, 127.0.0.1 with a forwarded port). */
  address,
  port: z.number().int().min(1).max(65535).default(22),
  /** The address the hosts use among themselves (/etc/hosts, kubeadm advertise address); defaults to an IPv4 address. */
  internalAddress: z.ipv4({ message: 'expected an IPv4 address the hosts use among themselves' }),
  role: z.enum(['control-plane', 'worker']),
  user: z.string().min(1).default('root'),
  /** Path to a private key; `~/…` is the home folder, other relative paths start at the inventory file's folder. */
  keyFile: z.string().min(1).optional(),
  /** A password for first contact; prefer keyFile. Never logged. */
  password: z.string().min(1).optional(),
});

/**
 * The internal address a host gets when the inventory names none: its address, when that is
 * an IPv4 address other than loopback (a loopback address reaches a forwarded port, which the
 * hosts cannot use among themselves).
 */
export function defaultInternalAddress(address: unknown): string | undefined {
  return typeof address === 'string' && isIP(address) === 4 && !address.startsWith('127.') ? address : undefined;
}

/** A host entry as written, with internalAddress filled in from address where it may be. */
function withDefaultInternalAddress(host: unknown): unknown {
  if (typeof host !== 'object' || host === null || Array.isArray(host) || 'internalAddress' in host) return host;
  const internalAddress = defaultInternalAddress((host as { address?: unknown }).address);
  return internalAddress === undefined ? host : { ...host, internalAddress };
}

const httpUrl = z.string().regex(/^https?:\/\/[^\s'"\\]+$/, 'expected an http:// or https:// URL');

/** A manifest at another location: its URL and the sha256 it must have. */
const manifestSource = z.strictObject({
  url: httpUrl,
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected a sha256 digest: 64 lowercase hex digits'),
});

export const clusterSchema = z.strictObject({
  /** Kubernetes minor, e.g. "1.37"; selects the package repository (stage 06). */
  kubernetesVersion: z
    .string()
    .refine(isSupportedMinor, `expected a supported Kubernetes minor: ${supportedMinors.map((m) => JSON.stringify(m)).join(', ')}`)
    .default(defaultMinor),
  /** One patch release to install, e.g. "1.37.2"; by default the newest of the minor when stage 06 first runs. */
  kubernetesPatch: z.string().regex(/^1\.\d{2}\.\d+$/, 'expected a full Kubernetes version such as "1.37.2"').optional(),
  podCidr: ipv4Cidr.default('10.244.0.0/16'),
  serviceCidr: ipv4Cidr.default('10.96.0.0/12'),
  cni: z.enum(['calico', 'flannel']).default('calico'),
  proxyMode: z.enum(['ipvs', 'nftables', 'iptables']).default('ipvs'),
  /** Pause image for containerd's sandbox image; by default the one kubeadm expects for the minor. */
  sandboxImage: z.string().min(1).optional(),
  /** The apt repository of the minor (a mirror, or a test's stand-in); default: the official one. */
  packageRepository: httpUrl.optional(),
  /** The key that signs packageRepository; default: its Release.key. */
  packageRepositoryKey: httpUrl.optional(),
  /** Where the workstation reaches the API server (host or host:port) for .klab/kubeconfig; default: the control plane's address, port 6443. */
  apiServerAddress: z.string().regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, 'expected host or host:port, such as 192.168.56.10 or 127.0.0.1:6443').optional(),
  /** Let workloads run on the control plane too; default: yes when there are three hosts or fewer. */
  scheduleOnControlPlane: z.boolean().optional(),
  /** Other locations (mirrors) of the pinned manifests, each with its sha256. */
  manifests: z
    .strictObject({ calico: manifestSource.optional(), flannel: manifestSource.optional(), localPath: manifestSource.optional() })
    .optional(),
}).superRefine((cluster, ctx) => {
  if (cluster.kubernetesPatch !== undefined && !cluster.kubernetesPatch.startsWith(`${cluster.kubernetesVersion}.`)) {
    ctx.addIssue({ code: 'custom', path: ['kubernetesPatch'], message: `expected a patch release of kubernetesVersion ${cluster.kubernetesVersion} (such as "${cluster.kubernetesVersion}.1"), got "${cluster.kubernetesPatch}"` });
  }
});

/** An HTTP proxy for apt, containerd and kubelet; the cluster's own networks and hosts are added to noProxy. */
export const proxySchema = z.strictObject({
  http: httpUrl.optional(),
  https: httpUrl.optional(),
  noProxy: z.array(z.string().regex(/^[A-Za-z0-9.*/:-]+$/, 'expected a host name, domain (.example.com), address or CIDR')).default([]),
}).refine((proxy) => proxy.http !== undefined || proxy.https !== undefined, { message: 'expected http or https (or both): the proxy URL' });

export const brokerSchema = z.strictObject({
  replicas: z.number().int().min(1).max(9).default(3),
  partitions: z.number().int().min(1).max(1000).default(6),
  storage: z.string().regex(/^\d+(Mi|Gi)$/, 'expected a size such as 1Gi or 512Mi').default('1Gi'),
});

export const hypervisorSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('vmware'), vmrun: z.string().optional(), vms: z.record(z.string(), z.string()) }),
  z.strictObject({ kind: z.literal('libvirt'), uri: z.string().default('qemu:///system'), domains: z.record(z.string(), z.string()) }),
  z.strictObject({ kind: z.literal('qemu-lab'), dir: z.string() }),
]);

export const inventorySchema = z.strictObject({
  hosts: z.array(z.preprocess(withDefaultInternalAddress, hostSchema)).min(1),
  cluster: clusterSchema.prefault({}),
  broker: brokerSchema.prefault({}),
  proxy: proxySchema.optional(),
  hypervisor: hypervisorSchema.optional(),
  /** each-stage: every `klab up` snapshots every VM after each stage, as `klab up --snapshots` does. */
  snapshots: z.enum(['each-stage', 'off']).default('off'),
});

export type HostSpec = z.infer<typeof hostSchema>;
export type ClusterSpec = z.infer<typeof clusterSchema>;
export type BrokerSpec = z.infer<typeof brokerSchema>;
export type Inventory = z.infer<typeof inventorySchema>;
