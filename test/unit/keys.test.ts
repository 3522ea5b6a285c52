import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RunLog } from '../../src/run/log.js';
import { clusterKeyPaths, ensureStateDir, knownHostsPath, logsDir, stateDir } from '../../src/state.js';
import { KeyFileError } from '../../src/transport/errors.js';
import { ensureKeyPairFile, generateKeyPair } from '../../src/transport/keys.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'klab-keys-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const mode = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

describe('generateKeyPair', () => {
  test('gives an OpenSSH ed25519 pair that ssh2 parses, with the public half matching the private', () => {
    const pair = generateKeyPair('klab@test');
    expect(pair.privateKey).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----/);
    expect(pair.publicKey).toMatch(/^ssh-ed25519 AAAA\S+ klab@test$/);
    const privateKey = ssh2.utils.parseKey(pair.privateKey);
    const publicKey = ssh2.utils.parseKey(pair.publicKey);
    if (privateKey instanceof Error || publicKey instanceof Error) throw new Error('a generated key did not parse');
    expect(privateKey.isPrivateKey()).toBe(true);
    expect(privateKey.type).toBe('ssh-ed25519');
    expect(publicKey.isPrivateKey()).toBe(false);
    expect(privateKey.getPublicSSH().equals(publicKey.getPublicSSH())).toBe(true);
    // A signature made with the private key verifies with the public one.
    const signature = privateKey.sign(Buffer.from('data'));
    expect(publicKey.verify(Buffer.from('data'), signature)).toBe(true);
  });

  test('gives a different pair every time', () => {
    expect(generateKeyPair('a').privateKey).not.toBe(generateKeyPair('a').privateKey);
  });
});

describe('ensureKeyPairFile', () => {
  test('creates the private key 0600 and the public key 0644, then returns the same pair again', async () => {
    const privatePath = join(dir, 'state', 'id_ed25519');
    const created = await ensureKeyPairFile(privatePath, 'klab-cluster');
    expect(await mode(privatePath)).toBe(0o600);
    expect(await mode(`${privatePath}.pub`)).toBe(0o644);
    expect(await readFile(privatePath, 'utf8')).toBe(created.privateKey);
    expect((await readFile(`${privatePath}.pub`, 'utf8')).trim()).toBe(created.publicKey);
    expect(created.publicKey).toMatch(/ klab-cluster$/);

    const again = await ensureKeyPairFile(privatePath, 'klab-cluster');
    expect(again).toEqual(created);
  });

  test('re-derives a lost public half from the existing private key', async () => {
    const privatePath = join(dir, 'lost-public');
    const created = await ensureKeyPairFile(privatePath, 'klab-cluster');
    await rm(`${privatePath}.pub`);
    const again = await ensureKeyPairFile(privatePath, 'klab-cluster');
    expect(again.privateKey).toBe(created.privateKey);
    expect(again.publicKey.split(' ').slice(0, 2)).toEqual(created.publicKey.split(' ').slice(0, 2));
    expect(await mode(`${privatePath}.pub`)).toBe(0o644);
  });

  test('refuses a file that is not a usable private key, without overwriting it', async () => {
    const privatePath = join(dir, 'not-a-key');
    await writeFile(privatePath, 'hello');
    const error = await ensureKeyPairFile(privatePath, 'x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyFileError);
    expect((error as KeyFileError).message).toContain(privatePath);
    expect(await readFile(privatePath, 'utf8')).toBe('hello');
  });
});

describe('state folder', () => {
  test('lives beside the inventory and is created 0700', async () => {
    const inventory = join(dir, 'lab', 'klab.yaml');
    expect(stateDir(inventory)).toBe(join(dir, 'lab', '.klab'));
    expect(knownHostsPath(inventory)).toBe(join(dir, 'lab', '.klab', 'known_hosts'));
    expect(clusterKeyPaths(inventory)).toEqual({
      privateKey: join(dir, 'lab', '.klab', 'id_ed25519'),
      publicKey: join(dir, 'lab', '.klab', 'id_ed25519.pub'),
    });
    expect(logsDir(inventory)).toBe(join(dir, 'lab', '.klab', 'logs'));
    await ensureStateDir(inventory);
    expect(await mode(stateDir(inventory))).toBe(0o700);
    // The logs folder is made by the run log when a run opens it (src/run/session.ts).
    RunLog.open(logsDir(inventory), 'test').close();
    expect(await mode(logsDir(inventory))).toBe(0o700);
  });
});
