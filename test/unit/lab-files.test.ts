import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { clusterSettings } from '../../src/inventory/cluster-settings.js';
import { inventorySchema } from '../../src/inventory/schema.js';
import { parseConsoleHostKeys } from '../../src/lab/guest.js';
import { labInventory, labRecordName, readLabRecord, renderLabInventory, type LabRecord } from '../../src/lab/lab-files.js';
import { labVms } from '../../src/lab/layout.js';
import { makeRecipe, recipeDigest } from '../../src/lab/recipe.js';

const record: LabRecord = {
  format: 1,
  memoryMb: 2048,
  cpus: 2,
  accelerator: 'tcg',
  image: { digest: 'abc', dir: '/c/abc', image: '/c/abc/base.img', kernel: '/c/abc/vmlinuz', initrd: '/c/abc/initrd.img' },
  labMulticast: { group: '239.77.0.1', port: 45000 },
  vms: labVms.map((vm, i) => ({ ...vm, sshPort: 40000 + i, ...(vm.role === 'control-plane' ? { apiServerPort: 46443 } : {}) })),
};

/** lab.json as a lab made before the size, accelerator and API server port were recorded wrote it. */
const recordBeforeSizing = {
  format: 1,
  memoryMb: 1024,
  image: record.image,
  labMulticast: record.labMulticast,
  vms: labVms.map((vm, i) => ({ ...vm, sshPort: 40000 + i })),
};

describe('lab.yaml', () => {
  it('is a valid klab inventory for the three VMs, reached on loopback with the lab key', () => {
    const inventory = inventorySchema.parse(parse(renderLabInventory('/labs/one', record)));
    expect(inventory.hosts.map((h) => [h.name, h.address, h.port, h.internalAddress, h.role, h.user, h.keyFile])).toEqual([
      ['master', '127.0.0.1', 40000, '10.77.0.11', 'control-plane', 'root', 'lab_key'],
      ['node1', '127.0.0.1', 40001, '10.77.0.12', 'worker', 'root', 'lab_key'],
      ['node2', '127.0.0.1', 40002, '10.77.0.13', 'worker', 'root', 'lab_key'],
    ]);
    expect(inventory.hypervisor).toEqual({ kind: 'qemu-lab', dir: '/labs/one' });
  });

  it("points the workstation's kubeconfig at the control plane's forwarded API server port", () => {
    const written = parse(renderLabInventory('/labs/one', record)) as { cluster: unknown };
    expect(written.cluster).toEqual({ apiServerAddress: '127.0.0.1:46443' });
    const settings = clusterSettings(inventorySchema.parse(written));
    expect(settings.apiServerUrl).toBe('https://127.0.0.1:46443');
    expect(settings.apiServerHost).toBe('127.0.0.1');
  });

  it('leaves the API server address to its default for a lab without a forwarded API server port', () => {
    const old = { ...record, vms: recordBeforeSizing.vms };
    const written = parse(renderLabInventory('/labs/one', old)) as Record<string, unknown>;
    expect(written.cluster).toBeUndefined();
    expect(inventorySchema.parse(written).cluster.apiServerAddress).toBeUndefined();
  });

  it('keeps the lab network clear of the default pod and service CIDRs', () => {
    const inventory = labInventory('/labs/one', record);
    expect(inventory.cluster.podCidr).toBe('10.244.0.0/16');
    expect(inventory.cluster.serviceCidr).toBe('10.96.0.0/12');
    for (const host of inventory.hosts) expect(host.internalAddress.startsWith('10.77.0.')).toBe(true);
  });
});

describe('host keys from a VM console', () => {
  // A real ed25519 public key blob (type string + 32 key bytes), built here so the test owns it.
  const blob = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), Buffer.alloc(32, 7)]);
  const line = `klab-host-key ssh-ed25519 ${blob.toString('base64')}`;

  it('reads printed keys once each, among kernel messages', () => {
    const text = `[    1.0] virtio_net ok\r\n${line}\r\n[    2.0] systemd[1]: started\r\n${line}\r\n`;
    expect(parseConsoleHostKeys(text)).toEqual([{ type: 'ssh-ed25519', base64: blob.toString('base64') }]);
  });

  it('ignores a key line that other console output broke', () => {
    const broken = `klab-host-key ssh-ed25519 ${blob.toString('base64').slice(0, 20)}\n`;
    expect(parseConsoleHostKeys(broken)).toEqual([]);
  });
});

describe('image recipe digest', () => {
  const sources = [{ uri: 'http://mirror.example/debian', suites: ['bookworm'], components: ['main'] }];
  it('is stable for the same recipe and changes with the mirror', () => {
    const a = recipeDigest(makeRecipe('http://mirror.example/debian', sources));
    expect(recipeDigest(makeRecipe('http://mirror.example/debian', sources))).toBe(a);
    const other = [{ uri: 'http://other.example/debian', suites: ['bookworm'], components: ['main'] }];
    expect(recipeDigest(makeRecipe('http://other.example/debian', other))).not.toBe(a);
    expect(a).toMatch(/^[0-9a-f]{16}$/);
  });

  it('configures each VM slot by MAC and generates host keys at boot rather than baking them in', () => {
    const files = makeRecipe('http://mirror.example/debian', sources).files;
    const lab1 = files.find((f) => f.path === '/etc/systemd/network/20-klab-lab-1.network');
    expect(lab1?.content).toContain('MACAddress=52:54:00:6b:01:01');
    expect(lab1?.content).toContain('Address=10.77.0.11/24');
    expect(files.find((f) => f.path === '/usr/local/sbin/klab-lab-boot')?.content).toContain('ssh-keygen -q -t "$type"');
    expect(files.find((f) => f.path === '/etc/resolv.conf')?.content).toBe('nameserver 10.0.2.3\n');
  });
});

describe('lab.json', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  async function labWith(json: unknown): Promise<string> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'klab-lab-record-'));
    dirs.push(dir);
    await writeFile(path.join(dir, labRecordName), typeof json === 'string' ? json : JSON.stringify(json));
    return dir;
  }

  it('reads a record with the size, accelerator and API server port as written', async () => {
    expect(await readLabRecord(await labWith(record))).toEqual(record);
  });

  it('reads a record made before those fields as one vCPU under TCG without an API server port', async () => {
    const read = await readLabRecord(await labWith(recordBeforeSizing));
    expect(read.cpus).toBe(1);
    expect(read.accelerator).toBe('tcg');
    expect(read.memoryMb).toBe(1024);
    expect(read.vms.map((vm) => vm.apiServerPort)).toEqual([undefined, undefined, undefined]);
  });

  it('refuses a record from a newer klab, saying so', async () => {
    await expect(readLabRecord(await labWith({ ...record, format: 2 }))).rejects.toThrow(/format 2, newer than this klab reads \(1\)/);
  });

  it('refuses a damaged record with a message naming the file', async () => {
    const at = await labWith('{"format": 1,');
    await expect(readLabRecord(at)).rejects.toThrow(`${path.join(at, labRecordName)} is not valid JSON`);
    await expect(readLabRecord(await labWith({ ...record, accelerator: 'hvf' }))).rejects.toThrow(/accelerator/);
  });
});
