// How klab logs in to a host whose inventory entry gives neither keyFile nor password: the
// way OpenSSH's client would, so a user whose `ssh root@host` works needs to configure
// nothing. First the SSH agent (SSH_AUTH_SOCK; on Windows also the OpenSSH agent's pipe and
// Pageant), then the default key files in ~/.ssh. Every agent is asked for its keys before
// any host is contacted: an agent that does not answer is passed over with a note, because
// ssh2 would otherwise end the whole connection on it. Nothing here runs an ssh program.
import { homedir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import type { BaseAgent, ParsedKey, SignCallback, SigningRequestOptions } from 'ssh2';
import { EncryptedKeyFileError, KeyFileError, KeyFileNotFoundError } from './errors.js';
import { readPrivateKeyFile } from './keys.js';

/** The key files OpenSSH tries when none is configured, in the order klab tries them. */
export const defaultKeyNames = ['id_ed25519', 'id_ecdsa', 'id_rsa'] as const;

/** Windows' own OpenSSH agent service listens on this named pipe. */
export const windowsAgentPipe = '\\\\.\\pipe\\openssh-ssh-agent';

/** An agent that answered, holding at least one key. */
export interface AgentSource {
  /** How the agent is named to the user, e.g. `the SSH agent (SSH_AUTH_SOCK)`. */
  label: string;
  agent: BaseAgent;
  keyCount: number;
}

export interface KeyFileSource {
  path: string;
  /** The private key text; never logged. */
  key: string;
}

export interface OpenSshLogin {
  agents: AgentSource[];
  keyFiles: KeyFileSource[];
  /** What was looked at and passed over, and why (for the log and for an authentication error). */
  passedOver: string[];
}

export interface LookupOptions {
  /** Default: process.env (SSH_AUTH_SOCK). */
  env?: NodeJS.ProcessEnv;
  /** Default: process.platform; on win32 the OpenSSH pipe and Pageant are asked too. */
  platform?: NodeJS.Platform;
  /** Default: os.homedir() (HOME, or USERPROFILE on Windows), as OpenSSH finds ~/.ssh. */
  home?: string;
  /** How long an agent may take to list its keys. */
  agentTimeoutMs?: number;
}

const defaultAgentTimeoutMs = 3_000;

export async function findOpenSshLogin(options: LookupOptions = {}): Promise<OpenSshLogin> {
  const passedOver: string[] = [];
  const agents: AgentSource[] = [];
  // A key an agent offers is not offered again from a file: every refused key counts against
  // sshd's MaxAuthTries.
  const offered = new Set<string>();
  for (const candidate of agentCandidates(options.env ?? process.env, options.platform ?? process.platform)) {
    const answer = await listKeys(candidate.agent, options.agentTimeoutMs ?? defaultAgentTimeoutMs);
    if (answer instanceof Error) passedOver.push(`${candidate.label}: no answer (${answer.message})`);
    else if (answer.length === 0) passedOver.push(`${candidate.label}: holds no keys`);
    else {
      agents.push({ label: candidate.label, agent: new ListedAgent(candidate.agent, answer), keyCount: answer.length });
      for (const key of answer) offered.add(publicBlob(key));
    }
  }

  const keyFiles: KeyFileSource[] = [];
  const sshDir = join(options.home ?? homedir(), '.ssh');
  for (const name of defaultKeyNames) {
    const path = join(sshDir, name);
    try {
      const key = await readPrivateKeyFile(path);
      const parsed = ssh2.utils.parseKey(key);
      if (!(parsed instanceof Error) && offered.has(publicBlob(parsed))) continue;
      keyFiles.push({ path, key });
    } catch (error) {
      if (error instanceof KeyFileNotFoundError) continue;
      if (!(error instanceof KeyFileError)) throw error;
      passedOver.push(`${path}: ${error.problem}${error instanceof EncryptedKeyFileError ? ' (add it to the SSH agent instead)' : ''}`);
    }
  }
  return { agents, keyFiles, passedOver };
}

/** `the SSH agent (SSH_AUTH_SOCK=…) holding 2 keys`: how the log and an authentication error name an agent. */
export function describeAgent(source: AgentSource): string {
  return `${source.label} holding ${source.keyCount} key${source.keyCount === 1 ? '' : 's'}`;
}

function agentCandidates(env: NodeJS.ProcessEnv, platform: NodeJS.Platform): { label: string; agent: BaseAgent }[] {
  const socket = env.SSH_AUTH_SOCK;
  const candidates: { label: string; agent: BaseAgent }[] = [];
  if (socket) candidates.push({ label: `the SSH agent (SSH_AUTH_SOCK=${socket})`, agent: ssh2.createAgent(socket) });
  if (platform === 'win32') {
    if (socket?.toLowerCase() !== windowsAgentPipe) candidates.push({ label: `the Windows OpenSSH agent (${windowsAgentPipe})`, agent: ssh2.createAgent(windowsAgentPipe) });
    candidates.push({ label: 'Pageant', agent: ssh2.createAgent('pageant') });
  }
  return candidates;
}

function listKeys(agent: BaseAgent, timeoutMs: number): Promise<ParsedKey[] | Error> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(new Error(`did not answer within ${timeoutMs} ms`)), timeoutMs);
    agent.getIdentities((error, keys) => {
      clearTimeout(timer);
      if (error) resolve(error);
      else resolve((keys ?? []).flatMap((key) => {
        // As in ssh2's own agent code, an entry that is not a key ssh2 can parse is passed over.
        if (typeof key === 'object' && 'pubKey' in key) return [];
        const parsed = ssh2.utils.parseKey(key);
        return parsed instanceof Error ? [] : [parsed];
      }));
    });
  });
}

function publicBlob(key: ParsedKey): string {
  return key.getPublicSSH().toString('base64');
}

/** An agent whose keys were listed once, up front; signing still goes to the agent itself. */
class ListedAgent extends ssh2.BaseAgent<ParsedKey> {
  constructor(
    private readonly agent: BaseAgent,
    private readonly keys: ParsedKey[],
  ) {
    super();
  }

  getIdentities(callback: (error: Error | undefined, keys?: ParsedKey[]) => void): void {
    callback(undefined, this.keys);
  }

  sign(publicKey: ParsedKey, data: Buffer, options: SigningRequestOptions | SignCallback, callback?: SignCallback): void {
    if (typeof options === 'function') this.agent.sign(publicKey, data, options);
    else this.agent.sign(publicKey, data, options, callback);
  }
}
