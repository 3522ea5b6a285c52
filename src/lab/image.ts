// Builds the lab's base image once per recipe and caches it: debootstrap a minimal Debian,
// write the recipe's files, take the kernel and initrd out for qemu's -kernel/-initrd, and
// pack the tree into a sparse raw ext4 image with mkfs.ext4 -d (no loop mounts needed). VMs
// never write to it: each gets a qcow2 overlay. A build happens in a private temp folder and
// is renamed into place only when complete, so an interrupted build leaves no half image.
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { LabOperationError } from './errors.js';
import { enabledUnits, maskedUnits, recipeDigest, type Recipe } from './recipe.js';

export interface BaseImage {
  dir: string;
  image: string;
  kernel: string;
  initrd: string;
  digest: string;
}

export function labCacheRoot(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'klab', 'lab');
}

function imageFiles(dir: string, digest: string): BaseImage {
  return { dir, digest, image: path.join(dir, 'base.img'), kernel: path.join(dir, 'vmlinuz'), initrd: path.join(dir, 'initrd.img') };
}

export interface BuildOptions {
  log: (line: string) => void;
  signal?: AbortSignal;
  cacheRoot?: string;
}

/** The cached image for `recipe`, built first when absent. */
export async function ensureBaseImage(recipe: Recipe, options: BuildOptions): Promise<BaseImage> {
  const digest = recipeDigest(recipe);
  const root = options.cacheRoot ?? labCacheRoot();
  const cached = imageFiles(path.join(root, digest), digest);
  if (existsSync(path.join(cached.dir, 'recipe.json'))) {
    options.log(`base image ${digest}: cached in ${cached.dir}`);
    return cached;
  }
  await mkdir(root, { recursive: true });
  const work = await mkdtemp(path.join(root, `.build-${digest}-`));
  const started = Date.now();
  try {
    const rootfs = path.join(work, 'rootfs');
    const out = path.join(work, 'out');
    await mkdir(out);
    options.log(`base image ${digest}: debootstrap ${recipe.suite} from ${recipe.mirror} (a few minutes)`);
    await step('debootstrap', options.signal, 'debootstrap', [
      '--variant=minbase',
      `--include=${recipe.packages.join(',')}`,
      '--components=main',
      recipe.suite,
      rootfs,
      recipe.mirror,
    ]);
    await unmountUnder(rootfs);
    options.log(`base image ${digest}: configuring`);
    await configureRootfs(rootfs, recipe, options.signal);
    await extractKernel(rootfs, out);
    options.log(`base image ${digest}: mkfs.ext4 -d (${recipe.imageSize}, sparse)`);
    const image = path.join(out, 'base.img');
    await step('mkfs.ext4', options.signal, 'mkfs.ext4', ['-q', '-F', '-L', 'klab-root', '-d', rootfs, image, recipe.imageSize]);
    // Overlays of every lab read this file; nothing may change it under them.
    await chmod(image, 0o444);
    await writeFile(path.join(out, 'recipe.json'), `${JSON.stringify(recipe, null, 2)}\n`);
    try {
      await rename(out, cached.dir);
    } catch (error) {
      // Another build of the same recipe finished first; its image is as good as ours.
      if (!existsSync(path.join(cached.dir, 'recipe.json'))) throw error;
    }
    options.log(`base image ${digest}: built in ${Math.round((Date.now() - started) / 1000)} s`);
    return cached;
  } finally {
    await removeBuildTree(work);
  }
}

async function configureRootfs(rootfs: string, recipe: Recipe, signal: AbortSignal | undefined): Promise<void> {
  for (const file of recipe.files) {
    const target = path.join(rootfs, file.path);
    await mkdir(path.dirname(target), { recursive: true });
    await rm(target, { force: true });
    await writeFile(target, file.content);
    await chmod(target, file.mode);
  }
  await step('systemctl enable', signal, 'chroot', [rootfs, 'systemctl', 'enable', ...enabledUnits]);
  await step('systemctl mask', signal, 'chroot', [rootfs, 'systemctl', 'mask', ...maskedUnits]);
  // Each VM must get its own identity on first boot: machine-id, host keys, hostname.
  await writeFile(path.join(rootfs, 'etc/machine-id'), '');
  await rm(path.join(rootfs, 'var/lib/dbus/machine-id'), { force: true });
  await rm(path.join(rootfs, 'etc/hostname'), { force: true });
  for (const name of await readdir(path.join(rootfs, 'etc/ssh'))) {
    if (name.startsWith('ssh_host_')) await rm(path.join(rootfs, 'etc/ssh', name));
  }
}

async function extractKernel(rootfs: string, out: string): Promise<void> {
  const boot = path.join(rootfs, 'boot');
  const names = await readdir(boot);
  const kernel = names.filter((n) => n.startsWith('vmlinuz-')).sort().at(-1);
  const initrd = names.filter((n) => n.startsWith('initrd.img-')).sort().at(-1);
  if (!kernel || !initrd) {
    throw new LabOperationError(`the image has no kernel or initrd in /boot (found: ${names.join(', ') || 'nothing'})`, 'The linux-image-amd64 or initramfs-tools install failed; rebuild the image.');
  }
  await copyFile(path.join(boot, kernel), path.join(out, 'vmlinuz'));
  await copyFile(path.join(boot, initrd), path.join(out, 'initrd.img'));
}

/** Runs one build step; on failure the error names the step and shows the end of its output. */
async function step(name: string, signal: AbortSignal | undefined, file: string, args: string[]): Promise<void> {
  const result = await execa(file, args, { all: true, reject: false, ...(signal ? { cancelSignal: signal } : {}), env: { DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' } });
  if (result.isCanceled) throw new LabOperationError(`${name} was interrupted`);
  if (result.exitCode !== 0) {
    const tail = (result.all ?? '').split('\n').slice(-25).join('\n');
    throw new LabOperationError(`image build step ${name} failed (exit ${result.exitCode ?? result.signal}):\n${tail}`);
  }
}

/** Mount points at or below `dir`, deepest first (from /proc/self/mounts, whose paths are octal-escaped). */
async function mountsUnder(dir: string): Promise<string[]> {
  const text = await readFile('/proc/self/mounts', 'utf8');
  const prefix = path.resolve(dir);
  return text
    .split('\n')
    .map((line) => (line.split(' ')[1] ?? '').replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))))
    .filter((mount) => mount === prefix || mount.startsWith(`${prefix}/`))
    .sort((a, b) => b.length - a.length);
}

/** debootstrap mounts /proc, /sys … inside the target and may leave them after a failure. */
async function unmountUnder(dir: string): Promise<void> {
  for (const mount of await mountsUnder(dir)) await execa('umount', ['--lazy', mount], { reject: false });
  const left = await mountsUnder(dir);
  if (left.length > 0) throw new LabOperationError(`cannot unmount ${left.join(', ')}`, 'Unmount them by hand, then delete the folder.');
}

/** Deletes a build folder, never following a mount into the machine's own /proc or /dev. */
async function removeBuildTree(work: string): Promise<void> {
  await unmountUnder(work);
  await rm(work, { recursive: true, force: true });
}
