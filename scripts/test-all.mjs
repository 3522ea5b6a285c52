// The README's test command: every suite, one after the other (the lab boots VMs and wants
// both cores to itself), then one closing line "N passed, N failed" over all of them.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const runs = [
  ['unit', 'ssh', 'broker'],
  ['faults'],
  ['lab'],
];
const reports = mkdtempSync(path.join(tmpdir(), 'klab-test-'));
let passed = 0;
let failed = 0;
let exitCode = 0;

const build = spawnSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

for (const [index, projects] of runs.entries()) {
  const report = path.join(reports, `run-${index}.json`);
  const args = ['vitest', 'run', ...projects.flatMap((p) => ['--project', p]),
    '--reporter=default', '--reporter=json', `--outputFile.json=${report}`];
  const result = spawnSync('npx', args, { stdio: 'inherit' });
  if (result.status !== 0) exitCode = result.status ?? 1;
  try {
    const summary = JSON.parse(readFileSync(report, 'utf8'));
    passed += summary.numPassedTests;
    failed += summary.numFailedTests;
  } catch {
    console.error(`no test report from the ${projects.join('+')} run`);
    exitCode ||= 1;
  }
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(exitCode);
