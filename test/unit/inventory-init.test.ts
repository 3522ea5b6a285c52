import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Command } from 'commander';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { registerInventoryCommands, trustHost } from '../../src/commands/inventory.js';
import { KlabError, exitCodes } from '../../src/errors.js';
import { initInventory } from '../../src/inventory/init.js';
import type { Prompter } from '../../src/inventory/init.js';
import { loadInventory } from '../../src/inventory/load.js';
import { knownHostsPath } from '../../src/state.js';
import { pinHostKey, readPinnedKeys } from '../../src/transport/known-hosts.js';

let dir: string;
let keyFile: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'klab-init-'));
  keyFile = join(dir, 'id_ed25519');
  await writeFile(keyFile, ssh2.utils.generateKeyPairSync('ed25519').private, { mode: 0o600 });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let counter = 0;
const freshFile = (): string => join(dir, `klab-${(counter += 1)}.yaml`);

/** Runs the real command tree as `klab -i FILE ARGS…`, the way src/cli.ts builds it. */
async function klab(file: string, ...args: string[]): Promise<void> {
  const program = new Command('klab').option('-i, --inventory <file>', 'inventory file', 'klab.yaml').exitOverride();
  registerInventoryCommands(program);
  for (const command of program.commands) command.exitOverride();
  await program.parseAsync(['node', 'klab', '-i', file, ...args]);
}

const mode = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;
const standardFlags = ['--master', '10.0.0.10', '--node1', '10.0.0.11', '--node2', '10.0.0.12', '--key-file', 'id_ed25519'];

describe('klab init from flags', () => {
  test('writes an inventory that validates, with the answers and the defaults', async () => {
    const file = freshFile();
    await klab(file, 'init', '--yes', ...standardFlags, '--cni', 'flannel', '--kubernetes-version', '1.36');
    const { inventory } = await loadInventory(file);
    expect(inventory.hosts).toEqual([
      { name: 'master', address: '10.0.0.10', port: 22, internalAddress: '10.0.0.10', role: 'control-plane', user: 'root', keyFile: 'id_ed25519' },
      { name: 'node1', address: '10.0.0.11', port: 22, internalAddress: '10.0.0.11', role: 'worker', user: 'root', keyFile: 'id_ed25519' },
      { name: 'node2', address: '10.0.0.12', port: 22, internalAddress: '10.0.0.12', role: 'worker', user: 'root', keyFile: 'id_ed25519' },
    ]);
    expect(inventory.cluster.cni).toBe('flannel');
    expect(inventory.cluster.kubernetesVersion).toBe('1.36');
    expect(inventory.cluster.podCidr).toBe('10.244.0.0/16');
    expect(inventory.broker.replicas).toBe(3);
    expect(await mode(file)).toBe(0o644);
    // The Kubernetes version stays a string in YAML (1.30 unquoted would be the number 1.3).
    expect(await readFile(file, 'utf8')).toContain('kubernetesVersion: "1.36"');
  });

  test('host:port addresses and separate internal addresses (the qemu lab layout)', async () => {
    const file = freshFile();
    await klab(
      file, 'init', '--non-interactive',
      '--master', '127.0.0.1:2201', '--master-internal', '10.10.0.10',
      '--node1', '127.0.0.1:2202', '--node1-internal', '10.10.0.11',
      '--node2', '127.0.0.1:2203', '--node2-internal', '10.10.0.12',
      '--key-file', keyFile, '--pod-cidr', '192.168.0.0/16', '--broker-replicas', '1',
    );
    const { inventory } = await loadInventory(file);
    expect(inventory.hosts.map((h) => [h.address, h.port, h.internalAddress])).toEqual([
      ['127.0.0.1', 2201, '10.10.0.10'],
      ['127.0.0.1', 2202, '10.10.0.11'],
      ['127.0.0.1', 2203, '10.10.0.12'],
    ]);
    expect(inventory.cluster.podCidr).toBe('192.168.0.0/16');
    expect(inventory.broker.replicas).toBe(1);
  });

  test('--host describes any layout, each host with its own key', async () => {
    const file = freshFile();
    await klab(
      file, 'init', '--yes',
      '--host', 'name=cp,address=10.1.0.5,user=ubuntu,key=id_ed25519',
      '--host', 'name=w1,address=10.1.0.6,port=2222,internal=10.2.0.6,key=id_ed25519',
    );
    const { inventory } = await loadInventory(file);
    expect(inventory.hosts).toEqual([
      { name: 'cp', address: '10.1.0.5', port: 22, internalAddress: '10.1.0.5', role: 'control-plane', user: 'ubuntu', keyFile: 'id_ed25519' },
      { name: 'w1', address: '10.1.0.6', port: 2222, internalAddress: '10.2.0.6', role: 'worker', user: 'root', keyFile: 'id_ed25519' },
    ]);
  });

  test('a password is written 0600 with a warning', async () => {
    const file = freshFile();
    const result = await initInventory(file, { master: '10.0.0.10', node1: '10.0.0.11', node2: '10.0.0.12', password: 'hunter2-secret' }, undefined);
    expect(await mode(file)).toBe(0o600);
    expect(result.warnings.join('\n')).toMatch(/holds an SSH password.*0600/);
    expect(result.warnings.join('\n')).not.toContain('hunter2-secret');
    expect((await loadInventory(file)).inventory.hosts.every((h) => h.password === 'hunter2-secret')).toBe(true);
  });
});

describe('klab init never hangs without a terminal', () => {
  test('the test runs without a TTY on stdin', () => {
    expect(process.stdin.isTTY).not.toBe(true);
  });

  test('missing answers are one error naming every missing flag, and nothing is written', async () => {
    const file = freshFile();
    const error = await klab(file, 'init', '--master', '127.0.0.1:2201').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KlabError);
    expect((error as KlabError).exitCode).toBe(exitCodes.usage);
    const message = (error as KlabError).message;
    for (const flag of ['--master-internal', '--node1', '--node1-internal', '--node2', '--node2-internal']) {
      expect(message).toContain(flag);
    }
    await expect(stat(file)).rejects.toThrow(/ENOENT/);
  });

  test('without --key-file or --password the inventory names no login: klab logs in as ssh does', async () => {
    const file = freshFile();
    await klab(file, 'init', '--yes', '--master', '10.0.0.10', '--node1', '10.0.0.11', '--node2', '10.0.0.12');
    const { inventory } = await loadInventory(file);
    expect(inventory.hosts.map((h) => [h.keyFile, h.password])).toEqual([[undefined, undefined], [undefined, undefined], [undefined, undefined]]);
  });

  test('a bad key file, address or port given as a flag is an error naming the flag, and nothing is written', async () => {
    const file = freshFile();
    await writeFile(join(dir, 'public.pub'), ssh2.utils.generateKeyPairSync('ed25519').public);
    const error = await klab(file, 'init', '--yes', '--master', '10.0.0.10', '--node1', '10.0.0.10', '--node2', '10.0.0.12:70000', '--key-file', 'public.pub').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KlabError);
    const message = (error as KlabError).message;
    expect(message).toContain('invalid --node1 "10.0.0.10": expected an address and port no other host uses; master has 10.0.0.10');
    expect(message).toContain('invalid --node2 "10.0.0.12:70000": expected a port from 1 to 65535 after the colon');
    expect(message).toContain(`invalid --key-file "public.pub": expected a private key file; ${join(dir, 'public.pub')} holds a public key`);
    const missing = await klab(freshFile(), 'init', '--yes', ...standardFlags.slice(0, -1), 'no_such_key').catch((e: unknown) => e);
    expect((missing as KlabError).message).toContain(`invalid --key-file "no_such_key": expected a readable private key file; ${join(dir, 'no_such_key')} does not exist`);
    await expect(stat(file)).rejects.toThrow(/ENOENT/);
  });

  test('bad flag values name the flag and the expectation', async () => {
    const error = await klab(freshFile(), 'init', '--yes', ...standardFlags, '--cni', 'weave', '--pod-cidr', '10.244.0.0/33', '--node1-internal', '10.0.0.300').catch((e: unknown) => e);
    const message = (error as KlabError).message;
    expect(message).toContain('--cni "weave": expected one of calico, flannel');
    expect(message).toContain('--pod-cidr "10.244.0.0/33": expected an IPv4 CIDR');
    expect(message).toContain('--node1-internal "10.0.0.300": expected an IPv4 address');
  });

  test('a combination the schema rejects is reported against the file it would have written', async () => {
    const file = freshFile();
    const error = await klab(file, 'init', '--yes', '--host', 'name=cp,address=10.1.0.5', '--host', 'name=cp,address=10.1.0.6').catch((e: unknown) => e);
    expect((error as KlabError).message).toContain('these answers make an invalid inventory');
    expect((error as KlabError).message).toContain('hosts[1].name: expected a unique host name');
    await expect(stat(file)).rejects.toThrow(/ENOENT/);
  });
});

describe('klab init keeps existing files', () => {
  test('refuses to overwrite without --force, overwrites with it', async () => {
    const file = freshFile();
    await writeFile(file, 'precious: true\n');
    const error = await klab(file, 'init', '--yes', ...standardFlags).catch((e: unknown) => e);
    expect((error as KlabError).message).toContain(`${file} already exists`);
    expect((error as KlabError).hint).toContain('--force');
    expect(await readFile(file, 'utf8')).toBe('precious: true\n');

    await klab(file, 'init', '--yes', '--force', ...standardFlags);
    expect((await loadInventory(file)).inventory.hosts).toHaveLength(3);
  });
});

describe('klab trust', () => {
  test('forgets the pinned keys of that host only', async () => {
    const file = freshFile();
    await klab(file, 'init', '--yes', '--master', '127.0.0.1:2201', '--master-internal', '10.10.0.10', '--node1', '127.0.0.1:2202', '--node1-internal', '10.10.0.11', '--node2', '127.0.0.1:2203', '--node2-internal', '10.10.0.12', '--key-file', 'id_ed25519');
    const knownHosts = knownHostsPath(file);
    const blob = (n: number): Buffer => Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 1, n])]);
    await pinHostKey(knownHosts, '127.0.0.1', 2201, blob(1));
    await pinHostKey(knownHosts, '127.0.0.1', 2202, blob(2));

    const message = await trustHost(file, 'master');
    expect(message).toContain('Forgot the pinned host key of master ([127.0.0.1]:2201): SHA256:');
    expect(await readPinnedKeys(knownHosts, '127.0.0.1', 2201)).toEqual([]);
    expect(await readPinnedKeys(knownHosts, '127.0.0.1', 2202)).toHaveLength(1);

    await klab(file, 'trust', 'node1');
    expect(await readPinnedKeys(knownHosts, '127.0.0.1', 2202)).toEqual([]);
    expect(await trustHost(file, 'node2')).toContain('had no pinned host key');
  });

  test('an unknown host name lists the hosts there are', async () => {
    const file = freshFile();
    await klab(file, 'init', '--yes', ...standardFlags);
    const error = await trustHost(file, 'mastr').catch((e: unknown) => e);
    expect((error as KlabError).message).toContain('no host named "mastr"');
    expect((error as KlabError).hint).toContain('master, node1, node2');
  });
});

describe('klab init with prompts', () => {
  test('asks only what no flag answered, offering the defaults (scripted answers stand in for the terminal)', async () => {
    const asked: string[] = [];
    const scripted: Record<string, string> = {
      'Address of master': '10.0.0.10',
      'Address of node1': '10.0.0.11',
      'Address of node2': '10.0.0.12',
      'How does klab log in?': 'key file',
      'Private key file': 'id_ed25519',
    };
    const answer = (message: string, fallback?: string): string => {
      asked.push(message);
      const key = Object.keys(scripted).find((k) => message.startsWith(k));
      const value = key === undefined ? fallback : scripted[key];
      if (value === undefined) throw new Error(`unexpected prompt: ${message}`);
      return value;
    };
    const prompter: Prompter = {
      text: async ({ message, default: fallback, validate }) => {
        const value = answer(message, fallback);
        expect(await validate(value)).toBe(true);
        return value;
      },
      secret: async ({ message }) => answer(message),
      choice: async ({ message, choices, default: fallback }) => {
        const value = answer(message, fallback);
        expect(choices).toContain(value);
        return value;
      },
    };
    const file = freshFile();
    await initInventory(file, { master: '10.0.0.10', node1: '10.0.0.11', node2: '10.0.0.12', cni: 'flannel' }, prompter);
    // Addresses and the CNI came from flags; internal addresses, login and the rest were asked.
    expect(asked.some((m) => m.startsWith('Address klab uses'))).toBe(false);
    expect(asked.some((m) => m.startsWith('Pod network (CNI)'))).toBe(false);
    expect(asked.filter((m) => m.startsWith('Address of'))).toHaveLength(3);
    expect(asked).toContain('Kubernetes minor version');
    const { inventory } = await loadInventory(file);
    expect(inventory.cluster.cni).toBe('flannel');
    // The newest supported minor is offered first and taken by default.
    expect(inventory.cluster.kubernetesVersion).toBe('1.37');
    expect(inventory.hosts.map((h) => h.keyFile)).toEqual(['id_ed25519', 'id_ed25519', 'id_ed25519']);
  });
});

/**
 * Stands in for the terminal the way @inquirer/prompts behaves: each answer goes through the
 * prompt's validate, and a refused answer is shown its message and asked again (the next
 * scripted answer). `refused` records every message the user would have seen.
 */
function retryingPrompter(script: Record<string, string[]>): { prompter: Prompter; refused: string[]; asked: string[] } {
  const refused: string[] = [];
  const asked: string[] = [];
  const next = (message: string): string[] => {
    asked.push(message);
    const key = Object.keys(script).find((k) => message.startsWith(k));
    return key === undefined ? [] : (script[key] ?? []);
  };
  const ask = async (message: string, validate: (value: string) => string | true | Promise<string | true>, fallback?: string): Promise<string> => {
    const answers = next(message);
    const tries = answers.length > 0 ? answers.splice(0) : fallback === undefined ? [] : [fallback];
    for (const value of tries) {
      const verdict = await validate(value);
      if (verdict === true) return value;
      refused.push(`${message}: ${verdict}`);
    }
    throw new Error(`no acceptable answer scripted for: ${message}`);
  };
  return {
    refused,
    asked,
    prompter: {
      text: ({ message, default: fallback, validate }) => ask(message, validate, fallback),
      secret: ({ message, validate }) => ask(message, validate),
      choice: ({ message, choices, default: fallback }) => ask(message, (v) => choices.includes(v) || `not a choice: ${v}`, fallback),
    },
  };
}

describe('klab init checks each answer when it is given', () => {
  test('a refused answer is asked again, and the answers before it are kept', async () => {
    const vmx = join(dir, 'Virtual Machines', 'master', 'master.vmx');
    await mkdir(dirname(vmx), { recursive: true });
    await writeFile(vmx, '.encoding = "UTF-8"\n');
    await writeFile(join(dir, 'id_ed25519.pub'), ssh2.utils.generateKeyPairSync('ed25519').public);
    const { prompter, refused } = retryingPrompter({
      'Address klab uses to reach master': ['10.0.0.10'],
      'Address klab uses to reach node1': ['10.0.0.10', 'node1 lab', '10.0.0.11'],
      'Address klab uses to reach node2': ['10.0.0.12:70000', '10.0.0.12'],
      'Address of node2': ['10.0.0.11', '10.244.1.5', '10.0.0.12'],
      'How does klab log in?': ['key file'],
      'Private key file': ['no_such_key', 'id_ed25519.pub', 'id_ed25519'],
      'Pod network CIDR': ['10.0.0.0/16', '192.168.0.0/16'],
      'Hypervisor the VMs run in': ['vmware'],
      "Path of master's .vmx": [join(dir, 'nope', 'master.vmx'), `"${vmx}"`],
      "Path of node2's .vmx": [join(dir, 'notes.txt'), ''],
    });
    const file = freshFile();
    await initInventory(file, {}, prompter);
    expect(refused).toEqual([
      'Address klab uses to reach node1 over SSH (host or host:port): expected an address and port no other host uses; master has 10.0.0.10',
      'Address klab uses to reach node1 over SSH (host or host:port): expected an IP address or a DNS name',
      'Address klab uses to reach node2 over SSH (host or host:port): expected a port from 1 to 65535 after the colon',
      'Address of node2 on the network the hosts share: expected an address no other host uses; node1 has 10.0.0.11',
      'Address of node2 on the network the hosts share: expected an address outside the pod network 10.244.0.0/16 (choose another --pod-cidr or --service-cidr if the hosts really live there)',
      `Private key file (~/… is your home folder): expected a readable private key file; ${join(dir, 'no_such_key')} does not exist`,
      `Private key file (~/… is your home folder): expected a private key file; ${join(dir, 'id_ed25519.pub')} holds a public key; keyFile must be the private key`,
      "Pod network CIDR: expected a network that holds none of the hosts' addresses; master's 10.0.0.10 lies inside it",
      `Path of master's .vmx file (empty: no snapshots of master): expected an existing .vmx file on this machine; ${join(dir, 'nope', 'master.vmx')} does not exist`,
      "Path of node2's .vmx file (empty: no snapshots of node2): expected the path of a .vmx file (the VM's configuration file, in its folder)",
    ]);
    const { inventory } = await loadInventory(file);
    expect(inventory.hosts.map((h) => [h.address, h.internalAddress, h.keyFile])).toEqual([
      ['10.0.0.10', '10.0.0.10', 'id_ed25519'],
      ['10.0.0.11', '10.0.0.11', 'id_ed25519'],
      ['10.0.0.12', '10.0.0.12', 'id_ed25519'],
    ]);
    expect(inventory.cluster.podCidr).toBe('192.168.0.0/16');
    // The quotes of Explorer's "Copy as path" are dropped; a VM left empty gets no snapshots.
    expect(inventory.hypervisor).toEqual({ kind: 'vmware', vms: { master: vmx } });
  });

  test('the first login choice writes no key: klab logs in as ssh does', async () => {
    const { prompter, asked } = retryingPrompter({
      'Address klab uses to reach master': ['10.0.0.10'],
      'Address klab uses to reach node1': ['10.0.0.11'],
      'Address klab uses to reach node2': ['10.0.0.12'],
    });
    const file = freshFile();
    await initInventory(file, {}, prompter);
    expect(asked.some((m) => m.startsWith('Private key file'))).toBe(false);
    const { inventory } = await loadInventory(file);
    expect(inventory.hosts.every((h) => h.keyFile === undefined && h.password === undefined)).toBe(true);
    expect(inventory.hypervisor).toBeUndefined();
  });
});

describe('klab init --hypervisor', () => {
  test('--vmx for each VM writes the vmware hypervisor block (--hypervisor vmware implied)', async () => {
    const vmx = (name: string): string => join(dir, 'vms', `${name}.vmx`);
    await mkdir(join(dir, 'vms'), { recursive: true });
    for (const name of ['master', 'node1', 'node2']) await writeFile(vmx(name), '');
    const file = freshFile();
    await klab(file, 'init', '--yes', ...standardFlags, '--vmx', `master=${vmx('master')}`, '--vmx', `node1=${vmx('node1')}`, '--vmx', `node2=${vmx('node2')}`);
    expect((await loadInventory(file)).inventory.hypervisor).toEqual({ kind: 'vmware', vms: { master: vmx('master'), node1: vmx('node1'), node2: vmx('node2') } });
  });

  test('--hypervisor libvirt names each domain after its host unless --domain says otherwise', async () => {
    const file = freshFile();
    await klab(file, 'init', '--yes', ...standardFlags, '--hypervisor', 'libvirt', '--domain', 'master=k8s-master');
    expect((await loadInventory(file)).inventory.hypervisor).toEqual({ kind: 'libvirt', uri: 'qemu:///system', domains: { master: 'k8s-master', node1: 'node1', node2: 'node2' } });
  });

  test('bad hypervisor flags name the flag and what was expected', async () => {
    const error = await klab(
      freshFile(), 'init', '--yes', ...standardFlags,
      '--hypervisor', 'vmware', '--vmx', 'mastr=/vms/master.vmx', '--vmx', `node1=${join(dir, 'missing.vmx')}`, '--domain', 'node2=x',
    ).catch((e: unknown) => e);
    const message = (error as KlabError).message;
    expect(message).toContain('invalid --vmx "mastr=/vms/master.vmx": expected HOST=VALUE with HOST one of master, node1, node2');
    expect(message).toContain(`invalid --vmx "node1=${join(dir, 'missing.vmx')}": expected an existing .vmx file on this machine; ${join(dir, 'missing.vmx')} does not exist`);
    expect(message).toContain('--domain "node2=x": does not go with --hypervisor vmware');
    const kind = await klab(freshFile(), 'init', '--yes', ...standardFlags, '--hypervisor', 'hyperv').catch((e: unknown) => e);
    expect((kind as KlabError).message).toContain('--hypervisor "hyperv": expected one of none, vmware, libvirt');
  });
});
