import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { exitCodes } from '../../src/errors.js';
import { InventoryError, loadInventory } from '../../src/inventory/load.js';

let dir: string;
let keyFile: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'klab-inventory-'));
  keyFile = join(dir, 'id_ed25519');
  await writeFile(keyFile, ssh2.utils.generateKeyPairSync('ed25519').private, { mode: 0o600 });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let counter = 0;
async function write(text: string): Promise<string> {
  counter += 1;
  const file = join(dir, `klab-${counter}.yaml`);
  await writeFile(file, text);
  return file;
}

/** Loads `text` expecting failure; returns the error. */
async function problemsOf(text: string): Promise<{ error: InventoryError; file: string }> {
  const file = await write(text);
  const error = await loadInventory(file).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InventoryError);
  return { error: error as InventoryError, file };
}

const threeHosts = (extra = ''): string => `hosts:
  - name: master
    address: 10.0.0.10
    internalAddress: 10.0.0.10
    role: control-plane
    keyFile: id_ed25519
  - name: node1
    address: 10.0.0.11
    internalAddress: 10.0.0.11
    role: worker
    keyFile: id_ed25519
  - name: node2
    address: 10.0.0.12
    internalAddress: 10.0.0.12
    role: worker
    keyFile: id_ed25519
${extra}`;

describe('a valid inventory', () => {
  test('loads with defaults filled in and the file and folder resolved', async () => {
    const file = await write(threeHosts());
    const loaded = await loadInventory(file);
    expect(loaded.file).toBe(file);
    expect(loaded.dir).toBe(dir);
    const master = loaded.inventory.hosts[0];
    expect(master).toEqual({
      name: 'master',
      address: '10.0.0.10',
      port: 22,
      internalAddress: '10.0.0.10',
      role: 'control-plane',
      user: 'root',
      keyFile: 'id_ed25519',
    });
    expect(loaded.inventory.cluster).toEqual({
      kubernetesVersion: '1.37',
      podCidr: '10.244.0.0/16',
      serviceCidr: '10.96.0.0/12',
      cni: 'calico',
      proxyMode: 'ipvs',
    });
    expect(loaded.inventory.broker).toEqual({ replicas: 3, partitions: 6, storage: '1Gi' });
    expect(loaded.inventory.hypervisor).toBeUndefined();
  });

  test('the qemu-lab layout (one loopback address, a port per host) is valid', async () => {
    const file = await write(`hosts:
  - { name: master, address: 127.0.0.1, port: 2201, internalAddress: 10.10.0.10, role: control-plane, password: pw }
  - { name: node1, address: 127.0.0.1, port: 2202, internalAddress: 10.10.0.11, role: worker, password: pw }
hypervisor: { kind: qemu-lab, dir: lab }
`);
    const loaded = await loadInventory(file);
    expect(loaded.inventory.hosts.map((h) => h.port)).toEqual([2201, 2202]);
    expect(loaded.inventory.hypervisor).toEqual({ kind: 'qemu-lab', dir: 'lab' });
  });
});

describe('defaults that save typing', () => {
  test('internalAddress defaults to an IPv4 address, and the defaults take part in the rules', async () => {
    const file = await write(threeHosts().replace(/    internalAddress: .*\n/g, ''));
    const { inventory } = await loadInventory(file);
    expect(inventory.hosts.map((h) => h.internalAddress)).toEqual(['10.0.0.10', '10.0.0.11', '10.0.0.12']);
    const { error } = await problemsOf(threeHosts('cluster:\n  podCidr: 10.0.0.0/16\n').replace(/    internalAddress: .*\n/g, ''));
    expect(error.message).toContain('hosts[0].internalAddress: expected an address outside cluster.podCidr (10.0.0.10 lies inside it');
  });

  test('a host with neither keyFile nor password is valid: klab logs in the way OpenSSH would', async () => {
    const file = await write(threeHosts().replace(/    keyFile: id_ed25519\n/g, ''));
    const { inventory } = await loadInventory(file);
    expect(inventory.hosts.every((h) => h.keyFile === undefined && h.password === undefined)).toBe(true);
  });
});

describe('problems name the file, the line, the key and what was expected', () => {
  test('YAML syntax error', async () => {
    const { error, file } = await problemsOf('hosts:\n  - name: master\n    address: [10.0.0.10\n');
    expect(error.exitCode).toBe(exitCodes.usage);
    expect(error.problems[0]?.line).toBeGreaterThanOrEqual(3);
    expect(error.message).toContain(file);
    expect(error.message).toMatch(/expected valid YAML/);
  });

  test('duplicate YAML key', async () => {
    const { error, file } = await problemsOf(threeHosts('cluster:\n  cni: calico\n  cni: flannel\n'));
    expect(error.message).toContain(`${file}:19:3:`);
    expect(error.message).toMatch(/expected valid YAML: .*unique/i);
  });

  test('unknown key, with the keys that are allowed', async () => {
    const { error, file } = await problemsOf(threeHosts().replace('    internalAddress: 10.0.0.11\n', '    internalAdress: 10.0.0.11\n'));
    expect(error.message).toContain(`${file}:9:5: hosts[1].internalAdress: unknown key; expected one of: name, address, port, internalAddress`);
    // The key it replaced is missing, but address 10.0.0.11 gives it a default.
    expect(error.problems).toHaveLength(1);
  });

  test('unknown top-level key', async () => {
    const { error, file } = await problemsOf(threeHosts('clutser:\n  cni: calico\n'));
    expect(error.message).toContain(`${file}:17:1: clutser: unknown key; expected one of: hosts, cluster, broker, proxy, hypervisor`);
  });

  test('wrong type, with what was found', async () => {
    const { error, file } = await problemsOf(threeHosts().replace('    role: worker\n    keyFile', '    role: worker\n    port: twenty-two\n    keyFile'));
    expect(error.message).toContain(`${file}:11:11: hosts[1].port: expected a number, got "twenty-two"`);
  });

  test('an unquoted Kubernetes version is a number and the message says to quote it', async () => {
    const { error, file } = await problemsOf(threeHosts('cluster:\n  kubernetesVersion: 1.30\n'));
    expect(error.message).toContain(`${file}:18:22: cluster.kubernetesVersion: expected a string, got 1.3 (quote the value to make it a string)`);
  });

  test('an enum value outside its choices', async () => {
    const { error, file } = await problemsOf(threeHosts('cluster:\n  cni: weave\n'));
    expect(error.message).toContain(`${file}:18:8: cluster.cni: expected one of "calico", "flannel", got "weave"`);
  });

  test('bad internal address', async () => {
    const { error, file } = await problemsOf(threeHosts().replace('internalAddress: 10.0.0.12', 'internalAddress: 10.0.0.300'));
    expect(error.message).toContain(`${file}:14:22: hosts[2].internalAddress: expected an IPv4 address the hosts use among themselves, got "10.0.0.300"`);
  });

  test('an address of four dotted numbers must be a valid IPv4 address, not a host name', async () => {
    const { error, file } = await problemsOf(threeHosts().replace('address: 10.0.0.12', 'address: 10.0.0.312'));
    expect(error.message).toContain(`${file}:13:14: hosts[2].address: expected an IPv4 address with four numbers from 0 to 255, got "10.0.0.312"`);
  });

  test('duplicate host names, addresses and internal addresses', async () => {
    const text = threeHosts()
      .replace('name: node2', 'name: node1')
      .replace('address: 10.0.0.12', 'address: 10.0.0.11')
      .replace('internalAddress: 10.0.0.12', 'internalAddress: 10.0.0.10');
    const { error, file } = await problemsOf(text);
    expect(error.message).toContain(`${file}:12:11: hosts[2].name: expected a unique host name; node1 is already used by hosts[1]`);
    expect(error.message).toContain(`${file}:13:14: hosts[2].address: expected a unique address and port; 10.0.0.11:22 is already used by hosts[1]`);
    expect(error.message).toContain(`${file}:14:22: hosts[2].internalAddress: expected a unique internal address; 10.0.0.10 is already used by hosts[0]`);
    expect(error.problems).toHaveLength(3);
  });

  test('the same address on different ports is fine, the same address and port is not', async () => {
    const text = threeHosts().replace('address: 10.0.0.11', 'address: 10.0.0.10\n    port: 2222');
    await expect(loadInventory(await write(text))).resolves.toBeDefined();
    const { error } = await problemsOf(threeHosts().replace('address: 10.0.0.11', 'address: 10.0.0.10'));
    expect(error.message).toContain('hosts[1].address: expected a unique address and port; 10.0.0.10:22 is already used by hosts[0]');
  });

  test('no control-plane host', async () => {
    const { error, file } = await problemsOf(threeHosts().replace('role: control-plane', 'role: worker'));
    expect(error.message).toContain(`${file}:2:3: hosts: expected one host with role: control-plane (found none)`);
  });

  test('a missing role and a fractional count', async () => {
    const { error, file } = await problemsOf(threeHosts('broker:\n  replicas: 2.5\n').replace('    role: worker\n    keyFile: id_ed25519\n  - name: node2', '    keyFile: id_ed25519\n  - name: node2'));
    expect(error.message).toContain(`${file}:7:5: hosts[1].role: required: expected one of "control-plane", "worker"`);
    expect(error.message).toContain(`${file}:17:13: broker.replicas: expected a whole number, got 2.5`);
  });

  test('two control-plane hosts', async () => {
    const { error } = await problemsOf(threeHosts().replace('address: 10.0.0.11\n    internalAddress: 10.0.0.11\n    role: worker', 'address: 10.0.0.11\n    internalAddress: 10.0.0.11\n    role: control-plane'));
    expect(error.message).toContain('hosts: expected exactly one host with role: control-plane (found 2');
  });

  test('bad CIDRs', async () => {
    const { error, file } = await problemsOf(threeHosts('cluster:\n  podCidr: 10.244.0.0/33\n  serviceCidr: 10.96.0.1/12\n'));
    expect(error.message).toContain(`${file}:18:12: cluster.podCidr: expected an IPv4 CIDR such as 10.244.0.0/16, got "10.244.0.0/33"`);
    expect(error.message).toContain(`${file}:19:16: cluster.serviceCidr: expected a network address with no host bits set`);
  });

  test('overlapping pod and service CIDRs', async () => {
    const { error, file } = await problemsOf(threeHosts('cluster:\n  podCidr: 10.0.0.0/8\n  serviceCidr: 10.96.0.0/12\n'));
    expect(error.message).toContain(`${file}:19:16: cluster.serviceCidr: expected podCidr and serviceCidr not to overlap`);
    // The hosts' own addresses lie inside that pod CIDR as well.
    expect(error.message).toContain('hosts[0].internalAddress: expected an address outside cluster.podCidr');
  });

  test('internalAddress is required when address is a DNS name or loopback, and the message says why', async () => {
    const { error, file } = await problemsOf(
      threeHosts()
        .replace('address: 10.0.0.11\n    internalAddress: 10.0.0.11\n', 'address: node1.lab.example\n')
        .replace('address: 10.0.0.12\n    internalAddress: 10.0.0.12\n', 'address: 127.0.0.1\n    port: 2203\n'),
    );
    expect(error.message).toContain(
      `${file}:7:5: hosts[1].internalAddress: required: expected the host's IPv4 address on the network the hosts share; it defaults to address only when that is an IPv4 address, and "node1.lab.example" is a DNS name`,
    );
    expect(error.message).toContain('hosts[2].internalAddress: required: expected the host\'s IPv4 address');
    expect(error.message).toContain('"127.0.0.1" is a loopback address (a forwarded port)');
    // One problem per host: zod's bare "required" is replaced by the explanation, not repeated.
    expect(error.problems).toHaveLength(2);
  });

  test('a keyFile that does not exist', async () => {
    const { error, file } = await problemsOf(threeHosts().replace('keyFile: id_ed25519\n  - name: node1', 'keyFile: missing_key\n  - name: node1'));
    expect(error.message).toContain(`${file}:6:14: hosts[0].keyFile: expected a readable private key file; ${join(dir, 'missing_key')} does not exist`);
  });

  test('a keyFile that cannot be read', async () => {
    // Root reads any file regardless of its mode, so a folder stands in for an unreadable file.
    await mkdir(join(dir, 'a-folder'), { recursive: true });
    const { error } = await problemsOf(threeHosts().replace('keyFile: id_ed25519\n  - name: node1', 'keyFile: a-folder\n  - name: node1'));
    expect(error.message).toContain(`hosts[0].keyFile: expected a readable private key file; ${join(dir, 'a-folder')} cannot be read (EISDIR)`);
  });

  test('a keyFile that is encrypted', async () => {
    const encrypted = ssh2.utils.generateKeyPairSync('ed25519', { passphrase: 'secret-passphrase', cipher: 'aes256-ctr', rounds: 2 });
    await writeFile(join(dir, 'encrypted_key'), encrypted.private, { mode: 0o600 });
    const { error } = await problemsOf(threeHosts().replace('keyFile: id_ed25519\n  - name: node1', 'keyFile: encrypted_key\n  - name: node1'));
    expect(error.message).toContain('hosts[0].keyFile: expected an unencrypted private key');
    expect(error.message).toContain('passphrase');
  });

  test('a keyFile that holds a public key', async () => {
    await writeFile(join(dir, 'public_key'), ssh2.utils.generateKeyPairSync('ed25519').public);
    const { error } = await problemsOf(threeHosts().replace('keyFile: id_ed25519\n  - name: node1', 'keyFile: public_key\n  - name: node1'));
    expect(error.message).toContain('hosts[0].keyFile: expected a private key file');
  });

  test('a wrong password type does not echo the password', async () => {
    const { error } = await problemsOf(threeHosts().replace('keyFile: id_ed25519\n  - name: node1', 'password: 81726354\n  - name: node1'));
    expect(error.message).toContain('hosts[0].password: expected a string, got number');
    expect(error.message).not.toContain('81726354');
  });

  test('several problems are all listed, in file order', async () => {
    const text = threeHosts('cluster:\n  cni: weave\nbroker:\n  replicas: 0\n')
      .replace('name: node1', 'name: Node_1')
      .replace('address: 10.0.0.12', 'address: "bad address!"');
    const { error, file } = await problemsOf(text);
    expect(error.problems.map((p) => p.keyPath)).toEqual(['hosts[1].name', 'hosts[2].address', 'cluster.cni', 'broker.replicas']);
    expect(error.message).toContain(`inventory ${file} has 4 problems:`);
    expect(error.message).toContain(`${file}:7:11: hosts[1].name: expected a lowercase DNS label`);
    expect(error.message).toContain(`${file}:20:13: broker.replicas: expected number to be >=1, got 0`);
  });

  test('an unknown hypervisor kind', async () => {
    const { error, file } = await problemsOf(threeHosts('hypervisor:\n  kind: virtualbox\n'));
    expect(error.message).toContain(`${file}:18:9: hypervisor.kind: expected one of "vmware", "libvirt", "qemu-lab"`);
  });

  test('an empty file', async () => {
    const { error, file } = await problemsOf('');
    expect(error.message).toContain(`${file}: hosts: required: expected a list`);
  });

  test('a missing file points at klab init', async () => {
    const missing = join(dir, 'nope.yaml');
    const error = await loadInventory(missing).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InventoryError);
    expect((error as InventoryError).message).toContain(`${missing}: (document): expected a readable inventory file; the file does not exist`);
    expect((error as InventoryError).hint).toContain('klab init');
  });
});
