#!/usr/bin/env node
// Stages 00-05 on the qemu lab: three VMs in parallel against one VM alone, and a no-op
// re-run. Prints figures only (goals: parallel <= 1.2x one host; no-op re-run <= 5 s).
// Needs Linux, root and a built CLI: `node scripts/build.mjs && node bench/stages.mjs`.
// Each measurement starts from freshly created VMs; the base image is cached after the
// first create.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { parse, stringify } from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'dist', 'klab.js');

async function klab(args) {
  const started = performance.now();
  const result = await execa('node', [cli, ...args], { reject: false, all: true, cwd: root });
  const seconds = (performance.now() - started) / 1000;
  if (result.exitCode !== 0) throw new Error(`klab ${args.join(' ')} failed (exit ${result.exitCode}):\n${result.all}`);
  return seconds;
}

async function withFreshLab(work) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'klab-bench-'));
  try {
    const createSeconds = await klab(['lab', 'create', '--dir', dir]);
    return await work(dir, createSeconds);
  } finally {
    await rm(path.join(dir, 'one.yaml'), { force: true });
    await execa('node', [cli, 'lab', 'destroy', '--dir', dir], { reject: false, cwd: root });
  }
}

const figure = (label, seconds) => console.log(`${label.padEnd(44)} ${seconds.toFixed(1).padStart(7)} s`);

const three = await withFreshLab(async (dir, createSeconds) => {
  figure('lab create (image cached or built, 3 VMs boot)', createSeconds);
  const inventory = path.join(dir, 'lab.yaml');
  const parallel = await klab(['up', '--to', 'containerd', '-i', inventory]);
  figure('stages 00-05, three VMs in parallel', parallel);
  const noop = await klab(['up', '--to', 'containerd', '-i', inventory]);
  figure('no-op re-run (every stage already done)', noop);
  return { parallel, noop };
});

const one = await withFreshLab(async (dir) => {
  const lab = parse(await readFile(path.join(dir, 'lab.yaml'), 'utf8'));
  const onlyMaster = { ...lab, hosts: lab.hosts.filter((host) => host.name === 'master') };
  const inventory = path.join(dir, 'one.yaml');
  await writeFile(inventory, stringify(onlyMaster));
  const alone = await klab(['up', '--to', 'containerd', '-i', inventory]);
  figure('stages 00-05, one VM (the other two idle)', alone);
  return alone;
});

console.log(`parallel / one host: ${(three.parallel / one).toFixed(2)}x (goal <= 1.2x); no-op re-run ${three.noop.toFixed(1)} s (goal <= 5 s)`);
