// What a lab folder holds and how its record (lab.json) and inventory (lab.yaml) are written.
// lab.json is the lab's own memory (image, ports, addresses); lab.yaml is an ordinary klab
// inventory for those VMs, checked against the inventory schema before it is written.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { z } from 'zod';
import { inventorySchema, type Inventory } from '../inventory/schema.js';
import { LabStateError } from './errors.js';

export const labRecordName = 'lab.json';
export const labInventoryName = 'lab.yaml';
export const labKeyName = 'lab_key';
export const labRecordFormat = 1;

const vmRecordSchema = z.strictObject({
  name: z.string(),
  role: z.enum(['control-plane', 'worker']),
  slot: z.number().int(),
  natMac: z.string(),
  labMac: z.string(),
  internalAddress: z.string(),
  sshPort: z.number().int().min(1).max(65535),
  /** Loopback port forwarded to the guest's API server (6443); the control plane's only, absent in labs made before it. */
  apiServerPort: z.number().int().min(1).max(65535).optional(),
});

// Format 1 grew optional fields; a record written before them reads as the lab it described:
// one vCPU, TCG, no API server port.
export const labRecordSchema = z.strictObject({
  format: z.literal(labRecordFormat),
  memoryMb: z.number().int().min(256),
  cpus: z.number().int().min(1).default(1),
  accelerator: z.enum(['tcg', 'kvm']).default('tcg'),
  image: z.strictObject({ digest: z.string(), dir: z.string(), image: z.string(), kernel: z.string(), initrd: z.string() }),
  labMulticast: z.strictObject({ group: z.string(), port: z.number().int() }),
  vms: z.array(vmRecordSchema).min(1),
});

export type LabRecord = z.output<typeof labRecordSchema>;
export type VmRecord = z.infer<typeof vmRecordSchema>;

/** The files of one VM inside the lab folder. */
export function vmPaths(dir: string, name: string) {
  return {
    disk: path.join(dir, `${name}.qcow2`),
    pidFile: path.join(dir, `${name}.pid`),
    qmpSocket: path.join(dir, `${name}.qmp`),
    consoleLog: path.join(dir, `${name}.console.log`),
  };
}

export async function readLabRecord(dir: string): Promise<LabRecord> {
  const file = path.join(dir, labRecordName);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new LabStateError(`there is no lab in ${dir} (no ${labRecordName})`, 'Create one with `klab lab create --dir DIR`.');
    }
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new LabStateError(`${file} is not valid JSON (${(error as Error).message})`, 'Destroy the lab and create it again.');
  }
  const format = typeof json === 'object' && json !== null && 'format' in json ? json.format : undefined;
  if (typeof format === 'number' && format > labRecordFormat) {
    throw new LabStateError(`${file} is lab record format ${format}, newer than this klab reads (${labRecordFormat})`, 'Use the klab that created the lab, or a newer one.');
  }
  const parsed = labRecordSchema.safeParse(json);
  if (!parsed.success) {
    throw new LabStateError(`${file} is not a lab record klab understands: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, 'Destroy the lab and create it again.');
  }
  return parsed.data;
}

/** The workstation reaches the API server through the control plane's forwarded port, when the lab has one. */
function labClusterSettings(record: LabRecord): { apiServerAddress: string } | undefined {
  const port = record.vms.find((vm) => vm.role === 'control-plane')?.apiServerPort;
  return port === undefined ? undefined : { apiServerAddress: `127.0.0.1:${port}` };
}

/** The inventory for the lab's VMs: SSH to 127.0.0.1 on each VM's forwarded port with the lab key. */
export function labInventory(dir: string, record: LabRecord): Inventory {
  const cluster = labClusterSettings(record);
  return inventorySchema.parse({
    hosts: record.vms.map((vm) => ({
      name: vm.name,
      address: '127.0.0.1',
      port: vm.sshPort,
      internalAddress: vm.internalAddress,
      role: vm.role,
      user: 'root',
      keyFile: labKeyName,
    })),
    ...(cluster ? { cluster } : {}),
    hypervisor: { kind: 'qemu-lab', dir },
  });
}

export function renderLabInventory(dir: string, record: LabRecord): string {
  const inventory = labInventory(dir, record);
  const header = [
    '# Written by `klab lab create` for the local qemu lab in this folder.',
    '# SSH reaches each VM on 127.0.0.1 through its forwarded port; internalAddress is on the lab network.',
    "# cluster.apiServerAddress is the control plane's API server, forwarded to 127.0.0.1 for the workstation's kubeconfig.",
  ].join('\n');
  // Only what the lab decides is written; the cluster's other settings keep their defaults.
  const cluster = labClusterSettings(record);
  return `${header}\n${stringify({ hosts: inventory.hosts, ...(cluster ? { cluster } : {}), hypervisor: inventory.hypervisor })}`;
}
