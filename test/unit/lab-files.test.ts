import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { inventorySchema } from '../../src/inventory/schema.js';
import { parseConsoleHostKeys } from '../../src/lab/guest.js';
import { labInventory, renderLabInventory, type LabRecord } from '../../src/lab/lab-files.js';
import { labVms } from '../../src/lab/layout.js';
import { makeRecipe, recipeDigest } from '../../src/lab/recipe.js';

const record: LabRecord = {
  format: 1,
  memoryMb: 1024,
  image: { digest: 'abc', dir: '/c/abc', image: '/c/abc/base.img', kernel: '/c/abc/vmlinuz', initrd: '/c/abc/initrd.img' },
  labMulticast: { group: '239.77.0.1', port: 45000 },
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
