// `klab init`: the answers that make a klab.yaml, whether they come from prompts or flags.
// Every prompt has a flag; without a terminal (or with --yes) a missing answer is an error
// naming its flag, never a prompt that hangs. The file is validated with the same loader
// as every other command before it is written, so `klab init` cannot write a file that
// `klab up` would reject.
import { access } from 'node:fs/promises';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { Document } from 'yaml';
import { KlabError, exitCodes } from '../errors.js';
import { writeFileAtomic } from '../state.js';
import { InventoryError, parseInventory } from './load.js';
import { supportedMinors } from './kubernetes-releases.js';
import { brokerSchema, clusterSchema, hostSchema } from './schema.js';
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
  force?: boolean;
}

/** How answers are asked for when no flag gave them; the CLI passes @inquirer/prompts. */
export interface Prompter {
  text(question: { message: string; default?: string; validate: (value: string) => string | true }): Promise<string>;
  secret(question: { message: string; validate: (value: string) => string | true }): Promise<string>;
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

type Validator = (value: string) => string | true;

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

  checked(flag: string, value: string, validate: Validator): string {
    const verdict = validate(value);
    if (verdict !== true) this.invalid.push(`${flag} ${JSON.stringify(value)}: ${verdict}`);
    return value;
  }
}

function fromSchema(schema: { safeParse(value: unknown): { success: boolean; error?: { issues: { message: string }[] } } }): Validator {
  return (value) => {
    const result = schema.safeParse(value);
    return result.success || (result.error?.issues[0]?.message ?? 'invalid value');
  };
}

const validAddress = fromSchema(hostSchema.shape.address);
const validInternal = fromSchema(hostSchema.shape.internalAddress);
const validUser = fromSchema(hostSchema.shape.user);
const validName = fromSchema(hostSchema.shape.name);
const validAddressWithPort: Validator = (value) => {
  const { address, port } = splitPort(value);
  if (port !== undefined && !(Number.isInteger(port) && port >= 1 && port <= 65535)) return 'expected a port from 1 to 65535 after the colon';
  return validAddress(address);
};
const validCount = (max: number): Validator => (value) => (/^\d+$/.test(value) && Number(value) >= 1 && Number(value) <= max) || `expected a whole number from 1 to ${max}`;

/** `10.0.0.10` or `127.0.0.1:2201` (the qemu lab forwards a port per VM). */
function splitPort(value: string): { address: string; port?: number } {
  const m = /^([^:]+):(\d+)$/.exec(value);
  return m?.[1] && m[2] ? { address: m[1], port: Number(m[2]) } : { address: value };
}

/** The internal address suggested for a host: its address when that is a usable IPv4 address. */
function internalDefault(address: string): string | undefined {
  return isIP(address) === 4 && !address.startsWith('127.') ? address : undefined;
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

  const hosts: HostAnswer[] = flags.host?.length ? parseHostSpecs(flags.host, answers) : [];
  if (flags.host?.length) {
    const mixed = standardHosts.flatMap((h) => [h.addressKey, h.internalKey]).filter((key) => flags[key] !== undefined);
    if (mixed.length > 0) throw new InitError(`--host cannot be combined with ${mixed.map(flagName).join(', ')}`, 'Describe every host with --host, or use --master/--node1/--node2.');
  } else {
    for (const standard of standardHosts) {
      const given = await answers.text(`--${standard.flag}`, flags[standard.addressKey], `Address klab uses to reach ${standard.name} over SSH (host or host:port)`, validAddressWithPort);
      const { address, port } = splitPort(given);
      const internalAddress = await answers.text(
        flagName(standard.internalKey),
        flags[standard.internalKey],
        `Address of ${standard.name} on the network the hosts share`,
        validInternal,
        internalDefault(address),
      );
      hosts.push({ name: standard.name, address, ...(port === undefined ? {} : { port }), internalAddress, role: standard.role });
    }
  }

  const user = await answers.text('--user', flags.user, 'SSH user on the hosts (root, or a user with passwordless sudo)', validUser, 'root');
  // Hosts described with --host may each carry their own key=…, and then need no shared login.
  const everyHostHasKey = hosts.length > 0 && hosts.every((host) => host.keyFile !== undefined);
  const { keyFile, password } = everyHostHasKey ? loginFromFlags(flags, answers) : await askLogin(flags, answers, prompter);

  const cluster = clusterSchema.parse({});
  const broker = brokerSchema.parse({});
  const kubernetesVersion = await answers.choice('--kubernetes-version', flags.kubernetesVersion, 'Kubernetes minor version', supportedMinors, cluster.kubernetesVersion);
  const cni = await answers.choice('--cni', flags.cni, 'Pod network (CNI)', clusterSchema.shape.cni.unwrap().options, cluster.cni);
  const podCidr = await answers.text('--pod-cidr', flags.podCidr, 'Pod network CIDR', fromSchema(clusterSchema.shape.podCidr), cluster.podCidr);
  const serviceCidr = flags.serviceCidr === undefined ? cluster.serviceCidr : answers.checked('--service-cidr', flags.serviceCidr, fromSchema(clusterSchema.shape.serviceCidr));
  const proxyMode = flags.proxyMode === undefined ? cluster.proxyMode : answers.checked('--proxy-mode', flags.proxyMode, (v) => ['ipvs', 'iptables'].includes(v) || 'expected ipvs or iptables');
  const replicas = flags.brokerReplicas === undefined ? broker.replicas : Number(answers.checked('--broker-replicas', flags.brokerReplicas, validCount(9)));
  const partitions = flags.brokerPartitions === undefined ? broker.partitions : Number(answers.checked('--broker-partitions', flags.brokerPartitions, validCount(1000)));
  const storage = flags.brokerStorage === undefined ? broker.storage : answers.checked('--broker-storage', flags.brokerStorage, fromSchema(brokerSchema.shape.storage));

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

const validKey: Validator = (v) => v.trim() !== '' || 'expected the path of a private key file';
const validPassword: Validator = (v) => v !== '' || 'expected a password';

function loginFromFlags(flags: InitFlags, answers: Answers): { keyFile?: string; password?: string } {
  return {
    ...(flags.keyFile === undefined ? {} : { keyFile: answers.checked('--key-file', flags.keyFile, validKey) }),
    ...(flags.password === undefined ? {} : { password: answers.checked('--password', flags.password, validPassword) }),
  };
}

async function askLogin(flags: InitFlags, answers: Answers, prompter: Prompter | undefined): Promise<{ keyFile?: string; password?: string }> {
  if (flags.keyFile !== undefined || flags.password !== undefined) return loginFromFlags(flags, answers);
  if (!prompter) {
    answers.missing.push('--key-file or --password');
    return {};
  }
  const method = await prompter.choice({ message: 'How does klab log in?', choices: ['key file', 'password'], default: 'key file' });
  if (method === 'password') return { password: await prompter.secret({ message: 'SSH password (stored in the inventory, mode 0600)', validate: validPassword }) };
  return { keyFile: await prompter.text({ message: 'Private key file (~/… is your home folder)', default: '~/.ssh/id_ed25519', validate: validKey }) };
}

function parseHostSpecs(specs: readonly string[], answers: Answers): HostAnswer[] {
  const keys = ['name', 'address', 'port', 'internal', 'role', 'user', 'key'];
  return specs.map((spec, index) => {
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
    const field = (key: string, validate: Validator, fallback?: string): string => {
      const value = fields.get(key) ?? fallback;
      if (value === undefined) {
        answers.invalid.push(`${flag}: missing ${key}=`);
        return '';
      }
      return answers.checked(`${flag} ${key}=`, value, validate);
    };
    const address = field('address', validAddress);
    const port = fields.has('port') ? Number(field('port', (v) => (/^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 65535) || 'expected a port from 1 to 65535')) : undefined;
    const role = field('role', (v) => ['control-plane', 'worker'].includes(v) || 'expected control-plane or worker', index === 0 ? 'control-plane' : 'worker');
    const user = fields.has('user') ? field('user', validUser) : undefined;
    const keyFile = fields.get('key');
    return {
      name: field('name', validName),
      address,
      ...(port === undefined ? {} : { port }),
      internalAddress: field('internal', validInternal, internalDefault(address)),
      role: role === 'control-plane' ? 'control-plane' : 'worker',
      ...(user === undefined ? {} : { user }),
      ...(keyFile === undefined ? {} : { keyFile }),
    };
  });
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
