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
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __klabCreateRequire } from 'node:module'; const require = __klabCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
};

const outputs = [
  { entry: 'src/cli.ts', out: 'dist/klab.js', packages: 'external' },
  { entry: 'broker/main.ts', out: 'dist/klab-broker.js' },
];

for (const { entry, out, packages } of outputs) {
  const outfile = path.join(root, out);
  await build({ ...common, entryPoints: [path.join(root, entry)], outfile, ...(packages ? { packages } : {}) });
  await chmod(outfile, 0o755);
}
