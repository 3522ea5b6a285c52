// What can go wrong between klab and a host, one class per cause so callers and tests can
// tell them apart and users get a message that names the host and says what to do. None of
// these messages ever contains a password or key material: they are built only from names,
// addresses, fingerprints and the method that was tried.
import { KlabError, exitCodes } from '../errors.js';

/** Where a host is, as every transport error names it: `master (10.0.0.10:22)`. */
export interface HostLocation {
  name: string;
  address: string;
  port: number;
}

function where(host: HostLocation): string {
  return `${host.name} (${host.address}:${host.port})`;
}

export type UnreachableReason = 'timeout' | 'refused' | 'dns' | 'closed' | 'network';

/** The TCP connection or the SSH handshake did not come about. */
export class HostUnreachableError extends KlabError {
  constructor(
    readonly host: HostLocation,
    readonly reason: UnreachableReason,
    detail: string,
    options?: ErrorOptions,
  ) {
    const hints: Record<UnreachableReason, string> = {
      timeout: 'Check that the machine is running, that the address and port in the inventory are right, and that no firewall drops SSH.',
      refused: 'Nothing listens on that port: start sshd on the host, or fix the port in the inventory.',
      dns: 'The name does not resolve: use an IP address or fix the name in the inventory.',
      closed: 'The host hung up during the SSH handshake: check sshd on the host (MaxStartups, AllowUsers, its logs).',
      network: 'Check the network path to the host.',
    };
    super(`${where(host)} is unreachable: ${detail}`, exitCodes.unreachable, hints[reason], options);
  }
}

/** sshd refused every credential klab offered. `methods` name what was tried, never the secret. */
export class AuthenticationError extends KlabError {
  constructor(
    readonly host: HostLocation & { user: string },
    readonly methods: readonly string[],
    /** Credentials found but not offered, and why (an encrypted default key, an agent that did not answer). */
    readonly passedOver: readonly string[] = [],
  ) {
    super(
      `${where(host)}: authentication as ${host.user} failed (tried ${listed(methods)})${passedOver.length > 0 ? `; passed over ${passedOver.join('; ')}` : ''}`,
      exitCodes.unreachable,
      'Check the user and the keyFile or password of this host in the inventory (without either, klab offers the keys of your SSH agent and ~/.ssh/id_ed25519, id_ecdsa, id_rsa, as ssh does); ' +
        'for a key, its public half must be in ~/.ssh/authorized_keys of that user on the host.',
    );
  }
}

/** A host with neither keyFile nor password, and no agent key or default key file to offer. */
export class NoCredentialsError extends KlabError {
  constructor(
    readonly host: HostLocation & { user: string },
    readonly passedOver: readonly string[],
  ) {
    super(
      `${where(host)}: klab has no way to log in as ${host.user}: the inventory gives no keyFile or password, no SSH agent offers a key, ` +
        `and there is no usable ~/.ssh/id_ed25519, id_ecdsa or id_rsa${passedOver.length > 0 ? ` (passed over ${passedOver.join('; ')})` : ''}`,
      exitCodes.unreachable,
      'Add keyFile (or password) to this host in the inventory, or load your key into an SSH agent (ssh-add), as you would for ssh.',
    );
  }
}

function listed(items: readonly string[]): string {
  if (items.length <= 1) return items[0] ?? 'nothing';
  return `${items.slice(0, -1).join(', ')} and ${items.at(-1) ?? ''}`;
}

/**
 * A local private key file that cannot be used: missing, unreadable, not a key, or encrypted.
 * `problem` completes `key file PATH …`; `expected` says what the file should have been (the
 * inventory check reports `expected EXPECTED; PATH PROBLEM`).
 */
export class KeyFileError extends KlabError {
  constructor(
    readonly path: string,
    readonly problem: string,
    hint = 'Point keyFile at an unencrypted OpenSSH or PEM private key that klab can read (klab does not ask for passphrases).',
    readonly expected = 'a readable private key file',
  ) {
    super(`key file ${path} ${problem}`, exitCodes.unreachable, hint);
  }
}

export class KeyFileNotFoundError extends KeyFileError {
  constructor(path: string) {
    super(path, 'does not exist');
  }
}

/** A private key protected by a passphrase: klab never asks for one (an SSH agent can hold the key instead). */
export class EncryptedKeyFileError extends KeyFileError {
  constructor(path: string) {
    super(
      path,
      'is encrypted with a passphrase, and klab does not ask for passphrases',
      'Load it into an SSH agent (ssh-add) and drop keyFile from the inventory: klab then uses the agent, as ssh does. Or decrypt a copy for klab: ssh-keygen -p -f COPY (empty new passphrase).',
      'an unencrypted private key',
    );
  }
}

/** The host presented a key other than the pinned one. Nothing was sent to it. */
export class HostKeyMismatchError extends KlabError {
  constructor(
    readonly host: HostLocation,
    readonly expectedFingerprint: string,
    readonly presentedFingerprint: string,
    readonly knownHostsFile: string,
  ) {
    super(
      `${where(host)} presented host key ${presentedFingerprint}, but klab pinned ${expectedFingerprint} on first contact (${knownHostsFile}). ` +
        'Nothing was sent to the host: this can be a man-in-the-middle, or the machine was rebuilt.',
      exitCodes.hostKeyMismatch,
      `If you rebuilt or reinstalled ${host.name}, check the new fingerprint on its console (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then run: klab trust ${host.name}`,
    );
  }
}

/** A remote command ran longer than its timeout; the channel was closed and the command signalled. */
export class CommandTimeoutError extends KlabError {
  constructor(
    readonly host: string,
    readonly command: string,
    readonly timeoutMs: number,
  ) {
    super(
      `${host}: command timed out after ${formatMs(timeoutMs)} and was stopped: ${command}`,
      exitCodes.stageFailed,
      'The host may be slow or the command may wait for something (network, a lock, input); check the run log.',
    );
  }
}

export class RemoteFileNotFoundError extends KlabError {
  constructor(
    readonly host: string,
    readonly path: string,
  ) {
    super(`${host}: remote file ${path} does not exist`, exitCodes.stageFailed);
  }
}

/** A remote file operation (put/get) failed for a reason other than absence. */
export class RemoteFileError extends KlabError {
  constructor(host: string, operation: string, path: string, detail: string) {
    super(`${host}: ${operation} ${path} failed: ${detail}`, exitCodes.stageFailed);
  }
}

/** The SSH user is not root and `sudo -n` wants a password. */
export class SudoPasswordRequiredError extends KlabError {
  constructor(readonly host: string, readonly user: string) {
    super(
      `${host}: user ${user} is not root and sudo asks for a password`,
      exitCodes.unreachable,
      `Connect as root, or allow ${user} passwordless sudo on the host (e.g. "${user} ALL=(ALL) NOPASSWD:ALL" in /etc/sudoers.d/klab).`,
    );
  }
}

/** Several hosts failed to connect; every one is listed, not only the first. */
export class ConnectFailedError extends KlabError {
  constructor(readonly failures: readonly { host: string; error: Error }[]) {
    const mismatch = failures.some((f) => f.error instanceof HostKeyMismatchError);
    const lines = failures.map((f) => {
      const hint = f.error instanceof KlabError && f.error.hint ? `\n    ${f.error.hint}` : '';
      return `  - ${f.error.message}${hint}`;
    });
    super(
      `${failures.length} host${failures.length === 1 ? '' : 's'} could not be connected:\n${lines.join('\n')}`,
      mismatch ? exitCodes.hostKeyMismatch : exitCodes.unreachable,
    );
  }
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
