// SSH key pairs made in-process (ssh2's generator), so nothing local needs ssh-keygen and
// klab runs the same on Windows, macOS and Linux. Keys are ed25519 in OpenSSH formats: the
// private key as `-----BEGIN OPENSSH PRIVATE KEY-----`, the public key as an
// authorized_keys line.
import { readFile } from 'node:fs/promises';
import ssh2 from 'ssh2';
import { writeFileAtomic } from '../state.js';
import { EncryptedKeyFileError, KeyFileError, KeyFileNotFoundError } from './errors.js';

export interface KeyPair {
  /** OpenSSH private key (unencrypted); write it 0600 and never log it. */
  privateKey: string;
  /** `ssh-ed25519 AAAA… comment`, ready for authorized_keys. */
  publicKey: string;
}

export function generateKeyPair(comment: string): KeyPair {
  const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment });
  return { privateKey: pair.private, publicKey: pair.public.trim() };
}

/**
 * Returns the key pair stored at `privatePath` (public half at `privatePath.pub`), creating
 * both when the private key is absent: private 0600, public 0644. An existing private key is
 * kept (re-running a stage must not rotate keys already installed on hosts); a missing public
 * half is derived from it again.
 */
export async function ensureKeyPairFile(privatePath: string, comment: string): Promise<KeyPair> {
  const publicPath = `${privatePath}.pub`;
  const existing = await readIfPresent(privatePath);
  if (existing === undefined) {
    const pair = generateKeyPair(comment);
    await writeFileAtomic(privatePath, pair.privateKey, 0o600);
    await writeFileAtomic(publicPath, `${pair.publicKey}\n`, 0o644);
    return pair;
  }
  const parsed = ssh2.utils.parseKey(existing);
  if (parsed instanceof Error || !parsed.isPrivateKey()) {
    throw new KeyFileError(privatePath, 'is not an unencrypted OpenSSH private key', 'Move it away and let klab create a new key pair.');
  }
  const publicKey = `${parsed.type} ${parsed.getPublicSSH().toString('base64')} ${parsed.comment || comment}`.trim();
  const storedPublic = await readIfPresent(publicPath);
  if (storedPublic === undefined) await writeFileAtomic(publicPath, `${publicKey}\n`, 0o644);
  return { privateKey: existing, publicKey: storedPublic?.trim() || publicKey };
}

/**
 * Reads the private key at `path` and checks that klab can use it: it exists, is readable, is
 * a private key (not the public half) and is not encrypted. Returns the key text; anything
 * else throws KeyFileError naming the file and the problem.
 */
export async function readPrivateKeyFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw code === 'ENOENT' ? new KeyFileNotFoundError(path) : new KeyFileError(path, `cannot be read (${code ?? 'error'})`);
  }
  const parsed = ssh2.utils.parseKey(text);
  if (parsed instanceof Error) {
    throw /encrypted/i.test(parsed.message)
      ? new EncryptedKeyFileError(path)
      : new KeyFileError(path, `is not a private key klab can read (${parsed.message})`, undefined, 'a private key file');
  }
  if (!parsed.isPrivateKey()) throw new KeyFileError(path, 'holds a public key; keyFile must be the private key', undefined, 'a private key file');
  return text;
}

async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new KeyFileError(path, `cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}
