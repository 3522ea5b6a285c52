// The accelerator decision with a stand-in for qemu: a small script that behaves like qemu
// under a KVM that hangs, one that boots, and one that cannot start, so the probe's timeout,
// its kill, its reading of the console and its cache are exercised for real in a second or two.
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chooseAccelerator } from '../../src/lab/accelerator.js';

type Behaviour = 'hangs' | 'boots' | 'cannot-start' | 'stops-early';

let work = '';
beforeEach(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'klab-accel-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A qemu stand-in: answers --version, logs each boot to `runs`, and acts out `behaviour` on the console file. */
async function standInQemu(behaviour: Behaviour, version = 'QEMU emulator version 7.2.22'): Promise<{ binary: string; runs: string }> {
  const binary = path.join(work, `qemu-${behaviour}`);
  const runs = path.join(work, 'runs');
  const script = `#!${process.execPath}
const fs = require('node:fs');
const args = process.argv.slice(2);
if (args.includes('--version')) { console.log(${JSON.stringify(version)}); process.exit(0); }
fs.appendFileSync(${JSON.stringify(runs)}, args.join(' ') + '\\n');
const chardev = args[args.indexOf('-chardev') + 1];
const consoleLog = /path=([^,]+)/.exec(chardev)[1];
switch (${JSON.stringify(behaviour)}) {
  case 'hangs':
    fs.writeFileSync(consoleLog, '[    0.000000] Linux version 6.1.0-41-amd64\\n');
    setInterval(() => {}, 1000);
    break;
  case 'boots':
    fs.writeFileSync(consoleLog, '[    1.2] Run /usr/bin/true as init process\\n[    1.3] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000000\\n');
    break;
  case 'stops-early':
    fs.writeFileSync(consoleLog, '[    0.5] Kernel panic - not syncing: VFS: Unable to mount root fs\\n');
    break;
  case 'cannot-start':
    console.error('Could not access KVM kernel module: No such file or directory');
    process.exit(1);
}
`;
  await writeFile(binary, script);
  await chmod(binary, 0o755);
  return { binary, runs };
}

/** A file that stands for /dev/kvm: it exists and opens read-write. */
async function openableKvm(): Promise<string> {
  const device = path.join(work, 'kvm');
  await writeFile(device, '');
  return device;
}

const image = { kernel: '/cache/vmlinuz', initrd: '/cache/initrd.img', digest: '2aadc49887581f65' };

async function rememberedFiles(cacheRoot: string): Promise<string[]> {
  const dir = path.join(cacheRoot, 'accelerator');
  return existsSync(dir) ? readdir(dir) : [];
}

async function bootCount(runs: string): Promise<number> {
  return existsSync(runs) ? (await readFile(runs, 'utf8')).trim().split('\n').length : 0;
}

describe('choosing the accelerator, against a stand-in qemu (KVM cannot run on these machines)', () => {
  it('uses TCG without probing when /dev/kvm is absent', async () => {
    const { binary, runs } = await standInQemu('boots');
    const choice = await chooseAccelerator(image, { cacheRoot: work, qemuBinary: binary, kvmDevice: path.join(work, 'no-kvm') });
    expect(choice).toEqual({ accelerator: 'tcg', why: `${path.join(work, 'no-kvm')} is absent` });
    expect(await bootCount(runs)).toBe(0);
  });

  it('uses TCG without probing when /dev/kvm cannot be opened', async () => {
    const { binary, runs } = await standInQemu('boots');
    const device = path.join(work, 'kvm-dir');
    await mkdir(device);
    const choice = await chooseAccelerator(image, { cacheRoot: work, qemuBinary: binary, kvmDevice: device });
    expect(choice.accelerator).toBe('tcg');
    expect(choice.why).toMatch(/cannot be opened \(EISDIR\)/);
    expect(await bootCount(runs)).toBe(0);
  });

  it('kills a KVM boot that does not end within the bound, falls back to TCG and remembers that', async () => {
    const { binary, runs } = await standInQemu('hangs');
    const cacheRoot = path.join(work, 'cache');
    const choice = await chooseAccelerator(image, { cacheRoot, qemuBinary: binary, kvmDevice: await openableKvm(), timeoutMs: 1_500 });
    expect(choice.accelerator).toBe('tcg');
    expect(choice.why).toMatch(/^KVM did not boot the kernel within 2 s; remembered in /);
    const [file] = await rememberedFiles(cacheRoot);
    const remembered = JSON.parse(await readFile(path.join(cacheRoot, 'accelerator', file ?? ''), 'utf8')) as Record<string, unknown>;
    expect(remembered).toMatchObject({ accelerator: 'tcg', kernelRelease: os.release(), qemuVersion: 'QEMU emulator version 7.2.22', imageDigest: image.digest });
    expect(await bootCount(runs)).toBe(1);

    // The next create takes the remembered answer without booting anything.
    const again = await chooseAccelerator(image, { cacheRoot, qemuBinary: binary, kvmDevice: await openableKvm(), timeoutMs: 1_500 });
    expect(again.accelerator).toBe('tcg');
    expect(again.why).toMatch(/KVM did not boot the kernel within 2 s, probed \d{4}-.*; remembered in /);
    expect(await bootCount(runs)).toBe(1);
  });

  it('uses KVM when the probe kernel reaches userspace, booting it with the image and an init that exits', async () => {
    const { binary, runs } = await standInQemu('boots');
    const choice = await chooseAccelerator(image, { cacheRoot: work, qemuBinary: binary, kvmDevice: await openableKvm() });
    expect(choice.accelerator).toBe('kvm');
    expect(choice.why).toMatch(/^KVM booted the kernel to userspace in \d+ s; remembered in /);
    const probe = (await readFile(runs, 'utf8')).trim();
    expect(probe).toContain('-accel kvm');
    expect(probe).toContain('-no-reboot');
    expect(probe).toContain('-kernel /cache/vmlinuz -initrd /cache/initrd.img');
    expect(probe).toContain('panic=-1 rdinit=/usr/bin/true');
  });

  it('probes again for another qemu version, kernel or image', async () => {
    const cacheRoot = path.join(work, 'cache');
    const device = await openableKvm();
    const hanging = await standInQemu('hangs', 'QEMU emulator version 7.2.22');
    expect((await chooseAccelerator(image, { cacheRoot, qemuBinary: hanging.binary, kvmDevice: device, timeoutMs: 1_000 })).accelerator).toBe('tcg');
    const newer = await standInQemu('boots', 'QEMU emulator version 8.2.0');
    expect((await chooseAccelerator(image, { cacheRoot, qemuBinary: newer.binary, kvmDevice: device })).accelerator).toBe('kvm');
    expect((await chooseAccelerator({ ...image, digest: 'ffff' }, { cacheRoot, qemuBinary: newer.binary, kvmDevice: device })).why).not.toMatch(/probed/);
    expect(await rememberedFiles(cacheRoot)).toHaveLength(3);
  });

  it('uses TCG when the kernel stops before userspace under KVM', async () => {
    const { binary } = await standInQemu('stops-early');
    const choice = await chooseAccelerator(image, { cacheRoot: work, qemuBinary: binary, kvmDevice: await openableKvm() });
    expect(choice.accelerator).toBe('tcg');
    expect(choice.why).toMatch(/stopped before userspace \("\[ {4}0\.5\] Kernel panic - not syncing: VFS: Unable to mount root fs"\)/);
  });

  it('uses TCG when qemu cannot start under KVM, and does not remember it (it may be fixed by the next create)', async () => {
    const { binary } = await standInQemu('cannot-start');
    const cacheRoot = path.join(work, 'cache');
    const choice = await chooseAccelerator(image, { cacheRoot, qemuBinary: binary, kvmDevice: await openableKvm() });
    expect(choice).toEqual({ accelerator: 'tcg', why: 'qemu could not start under KVM: Could not access KVM kernel module: No such file or directory' });
    expect(await rememberedFiles(cacheRoot)).toEqual([]);
  });
});

