// Bundles the two entry points with esbuild. The CLI keeps its npm dependencies external
// (they are installed beside it); the broker is bundled whole into one file so it runs on
// a stock Node image with nothing else installed (DESIGN.md, The broker).
import { build } from 'esbuild';
import { chmod } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: true,
  logLevel: 'warning',
};
const requireShim = "import { createRequire as __klabCreateRequire } from 'node:module'; const require = __klabCreateRequire(import.meta.url);";

/**
 * How the broker wants Node started, kept in its shebang so every launcher (the bin link,
 * bench/broker.mjs, the cluster's container command) reads one place. The broker's own heap
 * stays near 10 MB, and V8 then keeps its old-generation limit so close that each burst of
 * produce buffers (off-heap, but counted) starts a full mark-compact: a 1 M-record produce
 * ran ten of them and cost a third more CPU. Starting the old generation at 64 MB (as a JVM
 * broker starts with -Xms) leaves only cheap young-generation collections on that path.
 */
const brokerNodeFlags = ['--initial-old-space-size=64'];

const outputs = [
  { entry: 'src/cli.ts', out: 'dist/klab.js', packages: 'external', shebang: '#!/usr/bin/env node' },
  { entry: 'broker/main.ts', out: 'dist/klab-broker.js', shebang: `#!/usr/bin/env -S node ${brokerNodeFlags.join(' ')}` },
];

for (const { entry, out, packages, shebang } of outputs) {
  const outfile = path.join(root, out);
  await build({
    ...common,
    entryPoints: [path.join(root, entry)],
    outfile,
    banner: { js: `${shebang}\n${requireShim}` },
    ...(packages ? { packages } : {}),
  });
  await chmod(outfile, 0o755);
}
