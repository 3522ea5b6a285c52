import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
    for (const flag of ['--master-internal', '--node1', '--node1-internal', '--node2', '--node2-internal', '--key-file or --password']) {
      expect(message).toContain(flag);
    }
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
    const error = await klab(file, 'init', '--yes', '--master', '10.0.0.10', '--node1', '10.0.0.10', '--node2', '10.0.0.12', '--key-file', 'id_ed25519').catch((e: unknown) => e);
    expect((error as KlabError).message).toContain('these answers make an invalid inventory');
    expect((error as KlabError).message).toContain('hosts[1].address: expected a unique address and port');
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
        expect(validate(value)).toBe(true);
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
