// The inventory (klab.yaml): one zod schema gives the types, the defaults and the error
// messages. Keys are camelCase in TypeScript and in the file. Unknown keys are errors
// (strict objects) so a typo never silently falls back to a default.
import { isIP } from 'node:net';
import { z } from 'zod';

const hostName = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'expected a lowercase DNS label (a-z, 0-9, -), e.g. master or node1');

const address = z
  .string()
  .min(1)
  .refine((v) => isIP(v) !== 0 || /^[a-zA-Z0-9]([-.a-zA-Z0-9]*[a-zA-Z0-9])?$/.test(v), 'expected an IP address or a DNS name');

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

export const clusterSchema = z.strictObject({
  /** Kubernetes minor, e.g. "1.30"; selects the pkgs.k8s.io repository (stage 06). */
  kubernetesVersion: z.string().regex(/^1\.\d{2}$/, 'expected a Kubernetes minor version such as "1.30"').default('1.30'),
  podCidr: ipv4Cidr.default('10.244.0.0/16'),
  serviceCidr: ipv4Cidr.default('10.96.0.0/12'),
  cni: z.enum(['calico', 'flannel']).default('calico'),
  proxyMode: z.enum(['ipvs', 'iptables']).default('ipvs'),
  /** Pause image for containerd's sandbox_image; should match the Kubernetes version. */
  sandboxImage: z.string().min(1).default('registry.k8s.io/pause:3.9'),
});

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
  hypervisor: hypervisorSchema.optional(),
  /** each-stage: every `klab up` snapshots every VM after each stage, as `klab up --snapshots` does. */
  snapshots: z.enum(['each-stage', 'off']).default('off'),
});

export type HostSpec = z.infer<typeof hostSchema>;
export type ClusterSpec = z.infer<typeof clusterSchema>;
export type BrokerSpec = z.infer<typeof brokerSchema>;
export type Inventory = z.infer<typeof inventorySchema>;
