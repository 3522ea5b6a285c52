// Everything a run command needs, opened in order: the inventory (nothing is touched
// before it is valid), the state folder and the run log, the cluster key,
// and connections to every host. Closing hangs up every host and closes the log.
import { access } from 'node:fs/promises';
import { KlabError, exitCodes } from '../errors.js';
import { loadInventory } from '../inventory/load.js';
import type { LoadedInventory } from '../inventory/load.js';
import { clusterKeyPaths, ensureStateDir, knownHostsPath, logsDir, stateDir } from '../state.js';
import { ensureKeyPairFile } from '../transport/keys.js';
import { connectAll } from '../transport/ssh.js';
import type { Host } from '../transport/host.js';
import { RunContext, keysNotYetCreated } from '../stages/context.js';
import type { KlabKeys } from '../stages/context.js';
import { TemplateStore } from '../stages/digest.js';
import { templatesDir } from '../stages/paths.js';
import { RunLog } from './log.js';
import { klabVersion } from './version.js';

export interface RunSession {
  loaded: LoadedInventory;
  log: RunLog;
  context: RunContext;
  templates: TemplateStore;
  hosts: Map<string, Host>;
  /** Set once Ctrl-C or SIGTERM arrived; the hosts were hung up, so running commands fail. */
  readonly interrupted: boolean;
  close(): Promise<void>;
}

export interface SessionOptions {
  inventoryFile: string;
  /** Names the log file: up, stage, plan, status. */
  command: string;
  /**
   * Create the cluster key pair when it does not exist (real runs). Plans and status only
   * read it: they change nothing, not even locally.
   */
  createKeys: boolean;
}

const clusterKeyComment = 'klab-cluster';

async function clusterKeys(inventoryFile: string, create: boolean): Promise<KlabKeys> {
  const { privateKey } = clusterKeyPaths(inventoryFile);
  if (!create) {
    try {
      await access(privateKey);
    } catch {
      return keysNotYetCreated;
    }
  }
  return ensureKeyPairFile(privateKey, clusterKeyComment);
}

async function openSession(options: SessionOptions): Promise<RunSession> {
  const loaded = await loadInventory(options.inventoryFile);
  await ensureStateDir(loaded.file);
  const log = RunLog.open(logsDir(loaded.file), options.command);
  log.note(`klab ${klabVersion} ${options.command}, inventory ${loaded.file}`);
  let hosts: Host[] = [];
  let interrupted = false;
  const interrupt = (): void => {
    interrupted = true;
    log.note('interrupted (signal); hanging up every host');
    for (const host of hosts) void host.close();
  };
  try {
    const context = new RunContext(loaded.inventory, await clusterKeys(loaded.file, options.createKeys), stateDir(loaded.file));
    hosts = await connectAll(loaded.inventory.hosts, {
      knownHostsFile: knownHostsPath(loaded.file),
      inventoryDir: loaded.dir,
      logger: log.commandLogger,
      note: (text) => log.note(text),
      ...(context.keys === keysNotYetCreated ? {} : { clusterPrivateKey: context.keys.privateKey }),
    });
    process.once('SIGINT', interrupt);
    process.once('SIGTERM', interrupt);
    return {
      loaded,
      log,
      context,
      templates: new TemplateStore(templatesDir()),
      hosts: new Map(hosts.map((h) => [h.name, h])),
      get interrupted() {
        return interrupted;
      },
      async close() {
        process.off('SIGINT', interrupt);
        process.off('SIGTERM', interrupt);
        await Promise.all(hosts.map((h) => h.close()));
        log.close();
      },
    };
  } catch (error) {
    log.note(`failed: ${error instanceof Error ? error.message : String(error)}`);
    log.close();
    throw error;
  }
}

/** Runs `work` in a session and always closes it; an interruption becomes exit code 130. */
export async function withSession<T>(options: SessionOptions, work: (session: RunSession) => Promise<T>): Promise<T> {
  const session = await openSession(options);
  try {
    return await work(session);
  } catch (error) {
    session.log.note(`failed: ${error instanceof Error ? error.message : String(error)}`);
    if (session.interrupted) throw new KlabError('interrupted; the hosts were hung up mid-stage', exitCodes.interrupted, 'Run the same command again: finished stages are skipped and the interrupted one starts over (its tasks are idempotent).', { cause: error });
    throw error;
  } finally {
    await session.close();
  }
}
