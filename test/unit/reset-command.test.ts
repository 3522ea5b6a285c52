// `klab reset` destroys a cluster, so it never runs unasked: without a terminal it needs
// --yes, and says so before any host is contacted.
import { execFile } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { resetCluster } from '../../src/commands/reset.js';
import { KlabError, exitCodes } from '../../src/errors.js';
import { inventorySchema } from '../../src/inventory/schema.js';
import { RunContext } from '../../src/stages/context.js';
import { playbooksDir } from '../../src/stages/paths.js';
import { loadPlaybooks } from '../../src/stages/playbook.js';
import { render } from '../../src/stages/render.js';
import { testTempDir } from '../support/temp-dir.js';

const run = promisify(execFile);

describe('klab reset', () => {
  it('without a terminal and without --yes is a usage error naming --yes, before any host is contacted', async () => {
    const dir = await testTempDir('klab-reset-');
    const file = path.join(dir, 'klab.yaml');
    // Port 1 on loopback: any attempt to connect would fail with a different error.
    await writeFile(file, 'hosts:\n  - { name: master, address: 127.0.0.1, port: 1, internalAddress: 10.77.0.10, role: control-plane, password: pw }\n');
    const stdinWasTty = process.stdin.isTTY;
    process.stdin.isTTY = false;
    try {
      const error = await resetCluster(file, false).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(KlabError);
      expect((error as KlabError).exitCode).toBe(exitCodes.usage);
      expect((error as KlabError).message).toContain('no terminal to ask first');
      expect((error as KlabError).hint).toBe('Pass --yes to reset without being asked.');
    } finally {
      process.stdin.isTTY = stdinWasTty;
    }
  });
});

describe('the reset playbook', () => {
  it('forgets the markers of stages 06 and later and keeps 00-05 (its guard then says done), run by sh as on a host', async () => {
    const [reset] = await loadPlaybooks(path.join(playbooksDir(), 'teardown'));
    const task = reset?.tasks.find((t) => t.name.startsWith('Forget the Kubernetes stages'));
    if (reset === undefined || task?.kind !== 'command' || task.spec.unless === undefined) throw new Error('no marker clean-up task');
    const context = new RunContext(inventorySchema.parse({ hosts: [{ name: 'master', address: '192.168.56.10', role: 'control-plane' }] }), { publicKey: 'k', privateKey: 'p' });
    const view = context.view('master', reset);
    const dir = await testTempDir('klab-markers-');
    const ids = ['00-preflight', '05-containerd', '06-kube-packages', '07-control-plane', '10-storage', '11-broker'];
    for (const id of ids) await writeFile(path.join(dir, `${id}.json`), '{}\n');
    const inDir = (command: string): string => render(command, view, 'test').replaceAll('/var/lib/klab/stages', dir).replace(/; sync$/, '');
    const guard = () => run('sh', ['-c', inDir(task.spec.unless ?? '')]).then(() => 'done', () => 'to do');
    expect(await guard()).toBe('to do');
    await run('sh', ['-c', inDir(task.spec.run)]);
    expect((await readdir(dir)).sort()).toEqual(['00-preflight.json', '05-containerd.json']);
    expect(await guard()).toBe('done');
  });
});
