// Trust on first use against a real sshd: the first contact pins the host key, the same key
// is accepted, a rebuilt host (new key) is refused before anything is sent, and
// `klab trust` is how a user accepts the new key.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { trustHost } from '../../src/commands/inventory.js';
import { exitCodes } from '../../src/errors.js';
import { knownHostsPath } from '../../src/state.js';
import { ConnectFailedError, HostKeyMismatchError } from '../../src/transport/errors.js';
import { fingerprint, readPinnedKeys } from '../../src/transport/known-hosts.js';
import { connectAll, connectHost } from '../../src/transport/ssh.js';
import { startSshd } from '../support/sshd.js';
import type { SshdFixture } from '../support/sshd.js';

let sshd: SshdFixture;
let work: string;
let inventoryFile: string;

beforeAll(async () => {
  sshd = await startSshd();
  work = await mkdtemp(join(tmpdir(), 'klab-hostkeys-'));
  inventoryFile = join(work, 'klab.yaml');
  await writeFile(
    inventoryFile,
    `hosts:\n  - { name: master, address: 127.0.0.1, port: ${sshd.port}, internalAddress: 10.10.0.10, role: control-plane, keyFile: ${sshd.clientKeyFile} }\n`,
  );
});
afterAll(async () => {
  await sshd?.stop();
  await rm(work, { recursive: true, force: true });
});

test('first contact pins the key, the same key is accepted, a new key is refused until klab trust', async () => {
  const knownHostsFile = knownHostsPath(inventoryFile);
  const options = { knownHostsFile, inventoryDir: work };

  // First contact: the presented key is pinned in klab's own known_hosts.
  const first = await connectHost(sshd.hostSpec(), options);
  expect(first.hostKeyFingerprint).toBe(sshd.hostKeyFingerprint);
  await first.close();
  const pinnedText = await readFile(knownHostsFile, 'utf8');
  expect(pinnedText).toMatch(new RegExp(`^\\[127\\.0\\.0\\.1\\]:${sshd.port} ssh-ed25519 AAAA[A-Za-z0-9+/=]+\\n$`));
  const pinned = await readPinnedKeys(knownHostsFile, '127.0.0.1', sshd.port);
  expect(pinned.map((p) => fingerprint(p.blob))).toEqual([sshd.hostKeyFingerprint]);

  // Same key: accepted, nothing re-pinned.
  const second = await connectHost(sshd.hostSpec(), options);
  expect((await second.exec('echo again')).stdout).toBe('again\n');
  await second.close();
  expect(await readFile(knownHostsFile, 'utf8')).toBe(pinnedText);

  // The "VM" is rebuilt: same address and port, new host key.
  const oldFingerprint = sshd.hostKeyFingerprint;
  await sshd.restartWithNewHostKey();
  expect(sshd.hostKeyFingerprint).not.toBe(oldFingerprint);
  const logBefore = sshd.log().length;
  const error = await connectHost(sshd.hostSpec(), options).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(HostKeyMismatchError);
  const mismatch = error as HostKeyMismatchError;
  expect(mismatch.exitCode).toBe(exitCodes.hostKeyMismatch);
  expect(mismatch.message).toContain(`master (127.0.0.1:${sshd.port}) presented host key ${sshd.hostKeyFingerprint}`);
  expect(mismatch.message).toContain(`klab pinned ${oldFingerprint}`);
  expect(mismatch.message).toContain('Nothing was sent to the host');
  expect(mismatch.hint).toContain('klab trust master');
  expect(oldFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  // sshd saw no authentication attempt: the client hung up during the key exchange.
  for (let attempt = 0; attempt < 40 && !/Disconnected from .* \[preauth\]/.test(sshd.log().slice(logBefore)); attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const sshdLog = sshd.log().slice(logBefore);
  expect(sshdLog).toMatch(/Disconnected from .* \[preauth\]/);
  expect(sshdLog).not.toMatch(/publickey|password|Accepted|Failed|Postponed/i);
  // The pin is unchanged.
  expect(await readFile(knownHostsFile, 'utf8')).toBe(pinnedText);

  // connectAll reports it with the host-key exit code.
  const all = await connectAll([sshd.hostSpec()], options).catch((e: unknown) => e);
  expect(all).toBeInstanceOf(ConnectFailedError);
  expect((all as ConnectFailedError).exitCode).toBe(exitCodes.hostKeyMismatch);
  expect((all as Error).message).toContain('klab trust master');

  // The user checked the rebuild and accepts the new key.
  expect(await trustHost(inventoryFile, 'master')).toContain(oldFingerprint);
  const third = await connectHost(sshd.hostSpec(), options);
  expect(third.hostKeyFingerprint).toBe(sshd.hostKeyFingerprint);
  await third.close();
  const repinned = await readPinnedKeys(knownHostsFile, '127.0.0.1', sshd.port);
  expect(repinned.map((p) => fingerprint(p.blob))).toEqual([sshd.hostKeyFingerprint]);
});
