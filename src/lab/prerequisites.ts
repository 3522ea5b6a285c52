// The lab needs Linux, root (debootstrap, chroot) and a few tools. Checking them up front
// turns "spawn ENOENT" halfway through into one message naming everything missing and the
// packages that provide it.
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { LabPrerequisiteError } from './errors.js';

const providers: Record<string, string> = {
  'qemu-system-x86_64': 'qemu-system-x86',
  'qemu-img': 'qemu-utils',
  debootstrap: 'debootstrap',
  'mkfs.ext4': 'e2fsprogs',
  chroot: 'coreutils',
};

type LabTool = keyof typeof providers;

/** Where `tool` is on PATH, also looking in the sbin folders a non-login root shell may lack. */
export function findTool(tool: string, searchPath = process.env.PATH ?? ''): string | undefined {
  const dirs = [...searchPath.split(path.delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'].filter(Boolean);
  for (const dir of dirs) {
    const candidate = path.join(dir, tool);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this folder
    }
  }
  return undefined;
}

export function checkPrerequisites(tools: readonly LabTool[], needsRoot: boolean): void {
  if (process.platform !== 'linux') {
    throw new LabPrerequisiteError([`Linux (this is ${process.platform})`], 'The local qemu lab runs on Linux only; on other systems point klab at your own VMs with an inventory.');
  }
  const missing: string[] = [];
  if (needsRoot && process.getuid?.() !== 0) missing.push('root (run as root, e.g. with sudo)');
  const packages = new Set<string>();
  for (const tool of tools) {
    if (findTool(tool) === undefined) {
      missing.push(tool);
      packages.add(providers[tool] ?? tool);
    }
  }
  if (missing.length > 0) {
    const install = packages.size > 0 ? `apt-get install -y ${[...packages].join(' ')}` : 'run it again as root';
    throw new LabPrerequisiteError(missing, `On Debian or Ubuntu: ${install}.`);
  }
}
