// Rules that span several keys of the inventory (uniqueness, exactly one control plane,
// CIDR overlaps, an internal address where none can be defaulted). They run on the raw parsed YAML, next to the
// schema rather than inside it, so they are reported even when some other key is wrong:
// a user fixing the file sees every problem at once.
import { isIP } from 'node:net';
import { defaultInternalAddress, ipv4ToNumber, parseIpv4Cidr } from './schema.js';

export interface RuleIssue {
  /** Key path into the document, e.g. ['hosts', 1, 'internalAddress']. */
  path: (string | number)[];
  /** What was expected, phrased "expected …". */
  message: string;
}

type Row = Record<string, unknown>;

/** The internal address a host ends up with: the one written, else the default from its address. */
function internalAddressOf(host: Row): unknown {
  return host.internalAddress ?? defaultInternalAddress(host.address);
}

/** A YAML mapping: an object that is not null and not an array. */
export function isRecord(value: unknown): value is Row {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function checkInventoryRules(data: unknown): RuleIssue[] {
  if (!isRecord(data)) return [];
  const issues: RuleIssue[] = [];
  const hosts = Array.isArray(data.hosts) ? data.hosts : [];

  const firstSeen = (field: string, keyOf: (host: Row) => string | undefined, what: string): void => {
    const seen = new Map<string, number>();
    hosts.forEach((host, index) => {
      if (!isRecord(host)) return;
      const key = keyOf(host);
      if (key === undefined) return;
      const earlier = seen.get(key);
      if (earlier === undefined) seen.set(key, index);
      else issues.push({ path: ['hosts', index, field], message: `expected a unique ${what}; ${key} is already used by hosts[${earlier}]` });
    });
  };
  firstSeen('name', (h) => (typeof h.name === 'string' ? h.name : undefined), 'host name');
  firstSeen(
    'address',
    (h) => (typeof h.address === 'string' ? `${h.address}:${typeof h.port === 'number' ? h.port : 22}` : undefined),
    'address and port',
  );
  firstSeen('internalAddress', (h) => {
    const internal = internalAddressOf(h);
    return typeof internal === 'string' ? internal : undefined;
  }, 'internal address');

  const controlPlanes = hosts.filter((h) => isRecord(h) && h.role === 'control-plane').length;
  if (hosts.length > 0 && controlPlanes !== 1) {
    issues.push({
      path: ['hosts'],
      message:
        controlPlanes === 0
          ? 'expected one host with role: control-plane (found none)'
          : `expected exactly one host with role: control-plane (found ${controlPlanes}; klab builds a single control plane)`,
    });
  }

  hosts.forEach((host, index) => {
    if (!isRecord(host) || internalAddressOf(host) !== undefined || typeof host.address !== 'string') return;
    const why = isIP(host.address) === 4 ? 'a loopback address (a forwarded port)' : isIP(host.address) === 6 ? 'an IPv6 address' : 'a DNS name';
    issues.push({
      path: ['hosts', index, 'internalAddress'],
      message: `required: expected the host's IPv4 address on the network the hosts share; it defaults to address only when that is an IPv4 address, and ${JSON.stringify(host.address)} is ${why}`,
    });
  });

  const cluster = isRecord(data.cluster) ? data.cluster : {};
  const pod = parseIpv4Cidr(typeof cluster.podCidr === 'string' ? cluster.podCidr : '10.244.0.0/16');
  const service = parseIpv4Cidr(typeof cluster.serviceCidr === 'string' ? cluster.serviceCidr : '10.96.0.0/12');
  if (pod && service && overlaps(pod, service)) {
    issues.push({
      path: ['cluster', cluster.serviceCidr === undefined ? 'podCidr' : 'serviceCidr'],
      message: 'expected podCidr and serviceCidr not to overlap',
    });
  }
  hosts.forEach((host, index) => {
    const internal = isRecord(host) ? internalAddressOf(host) : undefined;
    if (typeof internal !== 'string' || isIP(internal) !== 4) return;
    const ip = ipv4ToNumber(internal);
    for (const [name, cidr] of [['podCidr', pod], ['serviceCidr', service]] as const) {
      if (cidr && ((ip & cidr.mask) >>> 0) === ((cidr.base & cidr.mask) >>> 0)) {
        issues.push({
          path: ['hosts', index, 'internalAddress'],
          message: `expected an address outside cluster.${name} (${internal} lies inside it; pods or services would shadow the host)`,
        });
      }
    }
  });
  return issues;
}

function overlaps(a: { base: number; mask: number }, b: { base: number; mask: number }): boolean {
  // Two CIDRs overlap exactly when one contains the other's base: compare under the shorter mask.
  const mask = (a.mask & b.mask) >>> 0;
  return ((a.base & mask) >>> 0) === ((b.base & mask) >>> 0);
}
