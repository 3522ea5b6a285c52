// Runs bench/storage.ts: bundles it with esbuild (already a dependency) into a temporary file
// and imports it, so the benchmark needs no TypeScript runner.
import { build } from 'esbuild';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const outDir = await mkdtemp(path.join(tmpdir(), 'klab-bench-build-'));
const outfile = path.join(outDir, 'storage.mjs');
try {
  await build({
    entryPoints: [path.join(here, 'storage.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    logLevel: 'warning',
  });
  await import(pathToFileURL(outfile).href);
} finally {
  await rm(outDir, { recursive: true, force: true });
}
