// `klab init`: the answers that make a klab.yaml, whether they come from prompts or flags.
// Every prompt has a flag; without a terminal (or with --yes) a missing answer is an error
// naming its flag, never a prompt that hangs. Each answer is checked when it is given (a key
// file that is no private key, an address already used, a .vmx that does not exist) and the
// question is asked again, so one mistake never loses the answers before it. The file is
// validated with the same loader as every other command before it is written, so `klab init`
// cannot write a file that `klab up` would reject.
import { access, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Document } from 'yaml';
import { KlabError, exitCodes } from '../errors.js';
import { writeFileAtomic } from '../state.js';
import { InventoryError, checkKeyFile, parseInventory, resolveKeyFile } from './load.js';
import { supportedMinors } from './kubernetes-releases.js';
import { brokerSchema, clusterSchema, defaultInternalAddress, hostSchema, ipv4ToNumber, parseIpv4Cidr } from './schema.js';
import type { Inventory } from './schema.js';

export interface InitFlags {
  /** `name=…,address=…,port=…,internal=…,role=…,user=…,key=…`, repeatable; replaces the master/node flags. */
  host?: string[];
  master?: string;
  masterInternal?: string;
  node1?: string;
  node1Internal?: string;
  node2?: string;
  node2Internal?: string;
  user?: string;
  keyFile?: string;
  password?: string;
  kubernetesVersion?: string;
  cni?: string;
  podCidr?: string;
  serviceCidr?: string;
  proxyMode?: string;
  brokerReplicas?: string;
  brokerPartitions?: string;
  brokerStorage?: string;
  /** none, vmware or libvirt: where the VMs run, for snapshots after every stage. */
  hypervisor?: string;
  /** `host=path` of each VM's .vmx (VMware), repeatable. */
  vmx?: string[];
  /** vmrun's path, when it is not where VMware installs it. */
  vmrun?: string;
  /** `host=domain` of each VM (libvirt), repeatable; default: the host's name. */
  domain?: string[];
  force?: boolean;
}

/** How answers are asked for when no flag gave them; the CLI passes @inquirer/prompts. */
export interface Prompter {
  text(question: { message: string; default?: string; validate: Validator }): Promise<string>;
  secret(question: { message: string; validate: Validator }): Promise<string>;
  choice(question: { message: string; choices: readonly string[]; default?: string }): Promise<string>;
}

export interface InitResult {
  file: string;
  inventory: Inventory;
  /** Things the user should know (e.g. the file holds a password). */
  warnings: string[];
}

export class InitError extends KlabError {
  constructor(message: string, hint?: string) {
    super(message, exitCodes.usage, hint);
  }
}

/** `true`, or what was expected: the prompt shows it and asks again; a flag's value fails with it. */
export type Validator = (value: string) => string | true | Promise<string | true>;

/** Collects answers: from a flag when given, else from the prompter, else a default, else a missing-flag error. */
class Answers {
  readonly missing: string[] = [];
  readonly invalid: string[] = [];

  constructor(private readonly prompter: Prompter | undefined) {}

  async text(flag: string, value: string | undefined, message: string, validate: Validator, fallback?: string): Promise<string> {
    if (value !== undefined) return this.checked(flag, value, validate);
    if (this.prompter) return this.prompter.text({ message, validate, ...(fallback === undefined ? {} : { default: fallback }) });
    if (fallback !== undefined) return fallback;
    this.missing.push(flag);
    return '';
  }

  async choice(flag: string, value: string | undefined, message: string, choices: readonly string[], fallback: string): Promise<string> {
    const validate: Validator = (v) => choices.includes(v) || `expected one of ${choices.join(', ')}`;
    if (value !== undefined) return this.checked(flag, value, validate);
    return this.prompter ? this.prompter.choice({ message, choices, default: fallback }) : fallback;
  }

  async checked(flag: string, value: string, validate: Validator): Promise<string> {
    const verdict = await validate(value);
    if (verdict !== true) this.invalid.push(`${flag} ${JSON.stringify(value)}: ${verdict}`);
    return value;
  }
}

function fromSchema(schema: { safeParse(value: unknown): { success: boolean; error?: { issues: { message: string }[] } } }): (value: string) => string | true {
  return (value) => {
    const result = schema.safeParse(value);
    return result.success || (result.error?.issues[0]?.message ?? 'invalid value');
  };
}

const validAddress = fromSchema(hostSchema.shape.address);
const validInternal = fromSchema(hostSchema.shape.internalAddress);
const validUser = fromSchema(hostSchema.shape.user);
const validName = fromSchema(hostSchema.shape.name);
const validPort = (value: string): string | true => (/^\d+$/.test(value) && Number(value) >= 1 && Number(value) <= 65535) || 'expected a port from 1 to 65535';

/** An address (host or host:port) no host given before uses with the same port. */
const validAddressWithPort = (earlier: readonly HostAnswer[]): Validator => (value) => {
  const { address, port } = splitPort(value);
  if (port !== undefined && validPort(String(port)) !== true) return 'expected a port from 1 to 65535 after the colon';
  const verdict = validAddress(address);
  if (verdict !== true) return verdict;
  const taken = earlier.find((host) => host.address === address && (host.port ?? 22) === (port ?? 22));
  return taken === undefined || `expected an address and port no other host uses; ${taken.name} has ${value}`;
};

/** An IPv4 address no host given before uses, outside the default pod and service networks. */
const validInternalAmong = (earlier: readonly HostAnswer[]): Validator => (value) => {
  const verdict = validInternal(value);
  if (verdict !== true) return verdict;
  const taken = earlier.find((host) => host.internalAddress === value);
  if (taken) return `expected an address no other host uses; ${taken.name} has ${value}`;
  const cluster = clusterSchema.parse({});
  for (const [name, cidr] of [['pod network', cluster.podCidr], ['service network', cluster.serviceCidr]] as const) {
    if (holds(cidr, value)) return `expected an address outside the ${name} ${cidr} (choose another --pod-cidr or --service-cidr if the hosts really live there)`;
  }
  return true;
};

/** A CIDR that holds none of the hosts' internal addresses. */
const validPodCidr = (hosts: readonly HostAnswer[]): Validator => (value) => {
  const verdict = fromSchema(clusterSchema.shape.podCidr)(value);
  if (verdict !== true) return verdict;
  const inside = hosts.find((host) => holds(value, host.internalAddress));
  return inside === undefined || `expected a network that holds none of the hosts' addresses; ${inside.name}'s ${inside.internalAddress} lies inside it`;
};

function holds(cidr: string, address: string): boolean {
  const network = parseIpv4Cidr(cidr);
  if (network === undefined || validInternal(address) !== true) return false;
  return ((ipv4ToNumber(address) & network.mask) >>> 0) === ((network.base & network.mask) >>> 0);
}

/** A private key klab can use; the path as written (~/… or relative to the inventory) is what the inventory keeps. */
const validKeyFile = (inventoryDir: string): Validator => async (value) => {
  if (value.trim() === '') return 'expected the path of a private key file';
  return (await checkKeyFile(resolveKeyFile(inventoryDir, value.trim()))) ?? true;
};
const validCount = (max: number): Validator => (value) => (/^\d+$/.test(value) && Number(value) >= 1 && Number(value) <= max) || `expected a whole number from 1 to ${max}`;

/** `10.0.0.10` or `127.0.0.1:2201` (the qemu lab forwards a port per VM). */
function splitPort(value: string): { address: string; port?: number } {
  const m = /^([^:]+):(\d+)$/.exec(value);
  return m?.[1] && m[2] ? { address: m[1], port: Number(m[2]) } : { address: value };
}

interface HostAnswer {
  name: string;
  address: string;
  port?: number;
  internalAddress: string;
  role: 'control-plane' | 'worker';
  user?: string;
  keyFile?: string;
}

const standardHosts = [
  { name: 'master', role: 'control-plane', flag: 'master', addressKey: 'master', internalKey: 'masterInternal' },
  { name: 'node1', role: 'worker', flag: 'node1', addressKey: 'node1', internalKey: 'node1Internal' },
  { name: 'node2', role: 'worker', flag: 'node2', addressKey: 'node2', internalKey: 'node2Internal' },
] as const;

export async function initInventory(file: string, flags: InitFlags, prompter: Prompter | undefined): Promise<InitResult> {
  const target = resolve(file);
  if (!flags.force && (await exists(target))) {
    throw new InitError(`${target} already exists; klab init does not overwrite it`, 'Pass --force to replace it, or -i to write another file.');
  }
  const answers = new Answers(prompter);
  const inventoryDir = dirname(target);

  const hosts: HostAnswer[] = flags.host?.length ? await parseHostSpecs(flags.host, answers, inventoryDir) : [];
  if (flags.host?.length) {
    const mixed = standardHosts.flatMap((h) => [h.addressKey, h.internalKey]).filter((key) => flags[key] !== undefined);
    if (mixed.length > 0) throw new InitError(`--host cannot be combined with ${mixed.map(flagName).join(', ')}`, 'Describe every host with --host, or use --master/--node1/--node2.');
  } else {
    for (const standard of standardHosts) {
      const given = await answers.text(
        `--${standard.flag}`,
        flags[standard.addressKey],
        `Address klab uses to reach ${standard.name} over SSH (host or host:port)`,
        validAddressWithPort(hosts),
      );
      const { address, port } = splitPort(given);
      const internalAddress = await answers.text(
        flagName(standard.internalKey),
        flags[standard.internalKey],
        `Address of ${standard.name} on the network the hosts share`,
        validInternalAmong(hosts),
        defaultInternalAddress(address),
      );
      hosts.push({ name: standard.name, address, ...(port === undefined ? {} : { port }), internalAddress, role: standard.role });
    }
  }

  const user = await answers.text('--user', flags.user, 'SSH user on the hosts (root, or a user with passwordless sudo)', validUser, 'root');
  // Hosts described with --host may each carry their own key=…, and then need no shared login.
  const everyHostHasKey = hosts.length > 0 && hosts.every((host) => host.keyFile !== undefined);
  const { keyFile, password } = everyHostHasKey ? await loginFromFlags(flags, answers, inventoryDir) : await askLogin(flags, answers, prompter, inventoryDir);

  const cluster = clusterSchema.parse({});
  const broker = brokerSchema.parse({});
  const kubernetesVersion = await answers.choice('--kubernetes-version', flags.kubernetesVersion, 'Kubernetes minor version', supportedMinors, cluster.kubernetesVersion);
  const cni = await answers.choice('--cni', flags.cni, 'Pod network (CNI)', clusterSchema.shape.cni.unwrap().options, cluster.cni);
  const podCidr = await answers.text('--pod-cidr', flags.podCidr, 'Pod network CIDR', validPodCidr(hosts), cluster.podCidr);
  const serviceCidr = flags.serviceCidr === undefined ? cluster.serviceCidr : await answers.checked('--service-cidr', flags.serviceCidr, fromSchema(clusterSchema.shape.serviceCidr));
  const proxyModes = clusterSchema.shape.proxyMode.unwrap().options;
  const proxyMode = flags.proxyMode === undefined ? cluster.proxyMode : await answers.checked('--proxy-mode', flags.proxyMode, (v) => proxyModes.some((mode) => mode === v) || `expected one of ${proxyModes.join(', ')}`);
  const replicas = flags.brokerReplicas === undefined ? broker.replicas : Number(await answers.checked('--broker-replicas', flags.brokerReplicas, validCount(9)));
  const partitions = flags.brokerPartitions === undefined ? broker.partitions : Number(await answers.checked('--broker-partitions', flags.brokerPartitions, validCount(1000)));
  const storage = flags.brokerStorage === undefined ? broker.storage : await answers.checked('--broker-storage', flags.brokerStorage, fromSchema(brokerSchema.shape.storage));
  const hypervisor = await askHypervisor(flags, answers, hosts.map((host) => host.name));

  if (answers.missing.length > 0 || answers.invalid.length > 0) {
    const parts = [
      ...(answers.missing.length > 0 ? [`missing answers (no terminal to ask, or --yes): ${answers.missing.join(', ')}`] : []),
      ...answers.invalid.map((line) => `invalid ${line}`),
    ];
    throw new InitError(`klab init: ${parts.join('; ')}`, 'Run `klab init --help` for every flag; each prompt has one.');
  }

  const document = {
    hosts: hosts.map((host) => ({
      name: host.name,
      address: host.address,
      ...(host.port === undefined ? {} : { port: host.port }),
      internalAddress: host.internalAddress,
      role: host.role,
      user: host.user ?? user,
      ...(host.keyFile ?? keyFile ? { keyFile: host.keyFile ?? keyFile } : {}),
      ...(password === undefined ? {} : { password }),
    })),
    cluster: { kubernetesVersion, podCidr, serviceCidr, cni, proxyMode, sandboxImage: cluster.sandboxImage },
    broker: { replicas, partitions, storage },
    ...(hypervisor === undefined ? {} : { hypervisor }),
  };
  const doc = new Document(document);
  doc.commentBefore =
    ' klab inventory, written by `klab init`. Edit freely: every command validates it.\n' +
    ' address/port: where klab reaches sshd; internalAddress: what the hosts use among themselves.';
  const text = doc.toString();
  const inventory = await parseInventory(text, target).catch((error: unknown) => {
    if (!(error instanceof InventoryError)) throw error;
    const problems = error.problems.map((p) => `  ${p.keyPath}: ${p.message}`);
    throw new InitError(`klab init: these answers make an invalid inventory, so ${target} was not written:\n${problems.join('\n')}`, 'Fix the flags or answers named by these keys and run klab init again.');
  });

  const warnings: string[] = [];
  if (password !== undefined) {
    warnings.push(`${target} holds an SSH password in clear text; it was written readable by you only (mode 0600). Prefer keyFile.`);
  }
  await writeFileAtomic(target, text, password === undefined ? 0o644 : 0o600);
  return { file: target, inventory, warnings };
}

const validPassword: Validator = (v) => v !== '' || 'expected a password';

async function loginFromFlags(flags: InitFlags, answers: Answers, inventoryDir: string): Promise<{ keyFile?: string; password?: string }> {
  return {
    ...(flags.keyFile === undefined ? {} : { keyFile: await answers.checked('--key-file', flags.keyFile, validKeyFile(inventoryDir)) }),
    ...(flags.password === undefined ? {} : { password: await answers.checked('--password', flags.password, validPassword) }),
  };
}

/** The login choice that writes neither keyFile nor password: klab then logs in as `ssh` would. */
export const loginAsSsh = 'as ssh does: SSH agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa';

async function askLogin(flags: InitFlags, answers: Answers, prompter: Prompter | undefined, inventoryDir: string): Promise<{ keyFile?: string; password?: string }> {
  // Without a flag and without a terminal, klab logs in as ssh does.
  if (flags.keyFile !== undefined || flags.password !== undefined || !prompter) return loginFromFlags(flags, answers, inventoryDir);
  const method = await prompter.choice({ message: 'How does klab log in?', choices: [loginAsSsh, 'key file', 'password'], default: loginAsSsh });
  if (method === 'password') return { password: await prompter.secret({ message: 'SSH password (stored in the inventory, mode 0600)', validate: validPassword }) };
  if (method === loginAsSsh) return {};
  return { keyFile: await prompter.text({ message: 'Private key file (~/… is your home folder)', default: '~/.ssh/id_ed25519', validate: validKeyFile(inventoryDir) }) };
}

const hypervisorKinds = ['none', 'vmware', 'libvirt'] as const;

type HypervisorAnswer = { kind: 'vmware'; vmrun?: string; vms: Record<string, string> } | { kind: 'libvirt'; domains: Record<string, string> };

/** The hypervisor block: VMware with each VM's .vmx, libvirt with each VM's domain, or none. */
async function askHypervisor(flags: InitFlags, answers: Answers, hostNames: readonly string[]): Promise<HypervisorAnswer | undefined> {
  // A .vmx flag says VMware by itself.
  const implied = flags.vmx?.length ? 'vmware' : flags.domain?.length ? 'libvirt' : undefined;
  const kind = await answers.choice(
    '--hypervisor',
    flags.hypervisor ?? implied,
    'Hypervisor the VMs run in, for snapshots after every stage (vmware: VMware Workstation)',
    hypervisorKinds,
    'none',
  );
  const stray = [...(kind === 'vmware' ? [] : flags.vmx ?? []).map((v) => `--vmx ${JSON.stringify(v)}`), ...(kind === 'libvirt' ? [] : flags.domain ?? []).map((v) => `--domain ${JSON.stringify(v)}`)];
  for (const flag of stray) answers.invalid.push(`${flag}: does not go with --hypervisor ${kind}`);
  if (kind === 'vmware') {
    const given = await hostPairs('--vmx', flags.vmx, answers, hostNames, validVmx);
    const vms: Record<string, string> = {};
    for (const host of hostNames) {
      // With --vmx flags, a VM they leave out has no .vmx; without any, each is asked.
      const path = given.get(host) ?? (flags.vmx === undefined ? await answers.text(`--vmx ${host}=PATH`, undefined, `Path of ${host}'s .vmx file (empty: no snapshots of ${host})`, validVmx, '') : '');
      if (unquoted(path) !== '') vms[host] = unquoted(path);
    }
    const vmrun = flags.vmrun === undefined ? undefined : await answers.checked('--vmrun', flags.vmrun, validVmrun);
    return { kind, ...(vmrun === undefined ? {} : { vmrun }), vms };
  }
  if (kind === 'libvirt') {
    const given = await hostPairs('--domain', flags.domain, answers, hostNames, validDomain);
    const domains: Record<string, string> = {};
    for (const host of hostNames) domains[host] = given.get(host) ?? (flags.domain === undefined ? await answers.text(`--domain ${host}=DOMAIN`, undefined, `libvirt domain of ${host}`, validDomain, host) : host);
    return { kind, domains };
  }
  return undefined;
}

/** `host=value` flags, each naming a host of the inventory once. */
async function hostPairs(flag: string, values: readonly string[] | undefined, answers: Answers, hostNames: readonly string[], validate: Validator): Promise<Map<string, string>> {
  const pairs = new Map<string, string>();
  for (const value of values ?? []) {
    const eq = value.indexOf('=');
    const host = value.slice(0, Math.max(eq, 0));
    const named = `${flag} ${JSON.stringify(value)}`;
    if (eq < 0 || !hostNames.includes(host)) answers.invalid.push(`${named}: expected HOST=VALUE with HOST one of ${hostNames.join(', ')}`);
    else if (pairs.has(host)) answers.invalid.push(`${named}: ${host} is given twice`);
    else {
      const verdict = await validate(value.slice(eq + 1));
      if (verdict === true) pairs.set(host, value.slice(eq + 1));
      else answers.invalid.push(`${named}: ${verdict}`);
    }
  }
  return pairs;
}

/** Explorer's "Copy as path" puts quotes around a path. */
function unquoted(path: string): string {
  return path.trim().replace(/^"(.*)"$/, '$1');
}

const validVmx: Validator = async (value) => {
  const path = unquoted(value);
  if (path === '') return true;
  if (!/\.vmx$/i.test(path)) return 'expected the path of a .vmx file (the VM\'s configuration file, in its folder)';
  const found = await stat(path).catch(() => undefined);
  return found?.isFile() === true || `expected an existing .vmx file on this machine; ${path} ${found ? 'is not a file' : 'does not exist'}`;
};

const validVmrun: Validator = async (value) => {
  const found = await stat(value).catch(() => undefined);
  return found?.isFile() === true || `expected the vmrun executable; ${value} ${found ? 'is not a file' : 'does not exist'}`;
};

const validDomain: Validator = (value) => /^[^\s'"]+$/.test(value) || 'expected a libvirt domain name (no spaces or quotes)';

async function parseHostSpecs(specs: readonly string[], answers: Answers, inventoryDir: string): Promise<HostAnswer[]> {
  const keys = ['name', 'address', 'port', 'internal', 'role', 'user', 'key'];
  const hosts: HostAnswer[] = [];
  for (const [index, spec] of specs.entries()) {
    const flag = `--host ${JSON.stringify(spec)}`;
    const fields = new Map<string, string>();
    for (const part of spec.split(',')) {
      const eq = part.indexOf('=');
      const key = eq < 0 ? part.trim() : part.slice(0, eq).trim();
      if (eq < 0 || !keys.includes(key)) {
        answers.invalid.push(`${flag}: ${JSON.stringify(part)} is not key=value with a key among ${keys.join(', ')}`);
        continue;
      }
      fields.set(key, part.slice(eq + 1).trim());
    }
    const field = async (key: string, validate: Validator, fallback?: string): Promise<string> => {
      const value = fields.get(key) ?? fallback;
      if (value === undefined) {
        answers.invalid.push(`${flag}: missing ${key}=`);
        return '';
      }
      return answers.checked(`${flag} ${key}=`, value, validate);
    };
    const name = await field('name', validName);
    const address = await field('address', validAddress);
    const port = fields.has('port') ? Number(await field('port', validPort)) : undefined;
    const role = await field('role', (v) => ['control-plane', 'worker'].includes(v) || 'expected control-plane or worker', index === 0 ? 'control-plane' : 'worker');
    const user = fields.has('user') ? await field('user', validUser) : undefined;
    const keyFile = fields.has('key') ? await field('key', validKeyFile(inventoryDir)) : undefined;
    hosts.push({
      name,
      address,
      ...(port === undefined ? {} : { port }),
      internalAddress: await field('internal', validInternal, defaultInternalAddress(address)),
      role: role === 'control-plane' ? 'control-plane' : 'worker',
      ...(user === undefined ? {} : { user }),
      ...(keyFile === undefined ? {} : { keyFile }),
    });
  }
  return hosts;
}

function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
