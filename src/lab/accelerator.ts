// KVM or TCG for the lab's VMs. /dev/kvm existing proves little: on some machines (a nested,
// paravirtual KVM, LAB.md) a stock kernel never finishes booting under it. So KVM is chosen
// only when a short boot probe shows it works: the base image's own kernel and initrd boot
// under KVM with an init that exits at once, and a kernel that reaches userspace then panics
// ("Attempted to kill init"), which with panic=-1 and -no-reboot ends qemu. A probe that does
// not end within the bound is killed and TCG is used. A finished probe is remembered per host
// kernel, qemu version and base image, so only the first create on a machine pays for it.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { z } from 'zod';
import { LabOperationError } from './errors.js';
import type { BaseImage } from './image.js';

export type Accelerator = 'kvm' | 'tcg';

export interface AcceleratorChoice {
  accelerator: Accelerator;
  /** Why, in words for the user: what the probe found, or why there was none. */
  why: string;
}

export interface ProbeOptions {
  /** Where the answer is remembered: the lab's cache folder. */
  cacheRoot: string;
  timeoutMs?: number;
  signal?: AbortSignal;
  qemuBinary?: string;
  kvmDevice?: string;
}

/**
 * How long the probe waits for the kernel to reach userspace. Under KVM it takes a second or
 * two; TCG needs about 9 s for the same boot on an idle two-core machine, so a KVM that has
 * not got there in this time is no faster than TCG and is not worth the risk.
 */
export const kvmProbeTimeoutMs = 30_000;

/** Every initramfs-tools initrd carries it; as init it exits at once, which panics the kernel. */
const probeInit = '/usr/bin/true';
const reachedUserspace = 'Attempted to kill init';

const rememberedSchema = z.strictObject({
  kernelRelease: z.string(),
  qemuVersion: z.string(),
  imageDigest: z.string(),
  accelerator: z.enum(['kvm', 'tcg']),
  finding: z.string(),
  probedAt: z.string(),
});

type ProbeKey = Pick<z.infer<typeof rememberedSchema>, 'kernelRelease' | 'qemuVersion' | 'imageDigest'>;

interface ProbeOutcome {
  accelerator: Accelerator;
  finding: string;
  /** A finished boot or a timeout says something about this machine; qemu failing to start may not (a module not loaded yet). */
  conclusive: boolean;
}

export async function chooseAccelerator(image: Pick<BaseImage, 'kernel' | 'initrd' | 'digest'>, options: ProbeOptions): Promise<AcceleratorChoice> {
  const device = options.kvmDevice ?? '/dev/kvm';
  const unusable = await kvmDeviceProblem(device);
  if (unusable !== undefined) return { accelerator: 'tcg', why: unusable };
  const qemu = options.qemuBinary ?? 'qemu-system-x86_64';
  const key: ProbeKey = { kernelRelease: os.release(), qemuVersion: await qemuVersion(qemu), imageDigest: image.digest };
  const file = rememberedFile(options.cacheRoot, key);
  const remembered = await readRemembered(file, key);
  if (remembered) return { accelerator: remembered.accelerator, why: `${remembered.finding}, probed ${remembered.probedAt}; remembered in ${file}` };
  const outcome = await probeKvmBoot(qemu, image, options.timeoutMs ?? kvmProbeTimeoutMs, options.signal);
  if (!outcome.conclusive) return { accelerator: outcome.accelerator, why: outcome.finding };
  await remember(file, { ...key, accelerator: outcome.accelerator, finding: outcome.finding, probedAt: new Date().toISOString() });
  return { accelerator: outcome.accelerator, why: `${outcome.finding}; remembered in ${file}` };
}

async function kvmDeviceProblem(device: string): Promise<string | undefined> {
  if (!existsSync(device)) return `${device} is absent`;
  try {
    // qemu opens it read-write; a device only root or the kvm group may open is useless to others.
    await (await open(device, 'r+')).close();
    return undefined;
  } catch (error) {
    return `${device} cannot be opened (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
  }
}

async function qemuVersion(qemu: string): Promise<string> {
  const result = await execa(qemu, ['--version'], { reject: false, stdin: 'ignore', all: true });
  const firstLine = (result.all ?? '').split('\n')[0]?.trim() ?? '';
  if (result.exitCode !== 0 || firstLine === '') throw new LabOperationError(`${qemu} --version failed: ${firstLine || `exit ${result.exitCode ?? result.signal}`}`);
  return firstLine;
}

function rememberedFile(cacheRoot: string, key: ProbeKey): string {
  const digest = createHash('sha256').update(JSON.stringify([key.kernelRelease, key.qemuVersion, key.imageDigest])).digest('hex').slice(0, 16);
  return path.join(cacheRoot, 'accelerator', `${digest}.json`);
}

async function readRemembered(file: string, key: ProbeKey): Promise<z.infer<typeof rememberedSchema> | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  // A damaged or foreign file is probed over rather than trusted.
  const parsed = rememberedSchema.safeParse(safeJson(text));
  if (!parsed.success) return undefined;
  const { kernelRelease, qemuVersion: version, imageDigest } = parsed.data;
  return kernelRelease === key.kernelRelease && version === key.qemuVersion && imageDigest === key.imageDigest ? parsed.data : undefined;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function remember(file: string, entry: z.infer<typeof rememberedSchema>): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const partial = `${file}.${process.pid}.tmp`;
  await writeFile(partial, `${JSON.stringify(entry, null, 2)}\n`);
  await rename(partial, file);
}

async function probeKvmBoot(qemu: string, image: Pick<BaseImage, 'kernel' | 'initrd'>, timeoutMs: number, signal: AbortSignal | undefined): Promise<ProbeOutcome> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'klab-kvm-probe-'));
  const consoleLog = path.join(work, 'console.log');
  const started = Date.now();
  try {
    const result = await execa(
      qemu,
      [
        '-accel', 'kvm', '-cpu', 'host', '-smp', '1', '-m', '512',
        '-nodefaults', '-display', 'none', '-monitor', 'none', '-no-reboot',
        '-kernel', image.kernel,
        '-initrd', image.initrd,
        '-append', `console=ttyS0 panic=-1 rdinit=${probeInit}`,
        '-chardev', `file,id=console,path=${consoleLog}`,
        '-serial', 'chardev:console',
      ],
      { reject: false, all: true, stdin: 'ignore', timeout: timeoutMs, forceKillAfterDelay: 5_000, ...(signal ? { cancelSignal: signal } : {}) },
    );
    if (result.isCanceled) throw new LabOperationError('the KVM boot probe was interrupted');
    const seconds = Math.round((Date.now() - started) / 1000);
    if (result.timedOut) return { accelerator: 'tcg', finding: `KVM did not boot the kernel within ${Math.round(timeoutMs / 1000)} s`, conclusive: true };
    const consoleText = await readFile(consoleLog, 'latin1').catch(() => '');
    if (consoleText.includes(reachedUserspace)) return { accelerator: 'kvm', finding: `KVM booted the kernel to userspace in ${seconds} s`, conclusive: true };
    if (consoleText.trim() === '') {
      const said = (result.all ?? '').trim().split('\n')[0] || `exit ${result.exitCode ?? result.signal}`;
      return { accelerator: 'tcg', finding: `qemu could not start under KVM: ${said}`, conclusive: false };
    }
    const lastLine = consoleText.trim().split('\n').at(-1)?.trim() ?? '';
    return { accelerator: 'tcg', finding: `under KVM the kernel stopped before userspace ("${lastLine}")`, conclusive: true };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
