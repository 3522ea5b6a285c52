// Where the shipped playbooks and templates live. The CLI runs from dist/klab.js (bundled)
// and tests run src/ directly, so the folders are found by walking up from this module to
// the package root, the folder holding package.json beside playbooks/.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'playbooks'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`klab's playbooks folder was not found above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

let root: string | undefined;

function packageRoot(): string {
  root ??= findPackageRoot();
  return root;
}

export const playbooksDir = (): string => path.join(packageRoot(), 'playbooks');
export const templatesDir = (): string => path.join(packageRoot(), 'templates');
