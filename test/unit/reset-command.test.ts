// `klab reset` destroys a cluster, so it never runs unasked: without a terminal it needs
// --yes, and says so before any host is contacted.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resetCluster } from '../../src/commands/reset.js';
import { KlabError, exitCodes } from '../../src/errors.js';

describe('klab reset', () => {
  it('without a terminal and without --yes is a usage error naming --yes, before any host is contacted', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'klab-reset-'));
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
