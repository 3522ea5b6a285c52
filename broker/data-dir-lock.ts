// One broker per data dir: two processes appending to the same segment files would corrupt
// them. The lock is a file naming the owner's host and pid; a lock left by a process that is
// gone (kill -9, crash, a restarted container) is taken over, with a log line saying so.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from './log.js';

const lockFileName = '.klab-broker.lock';

export class DataDirInUseError extends Error {
  constructor(dataDir: string, pid: number) {
    super(`data dir ${dataDir} is in use by another klab-broker (pid ${pid} on this host); stop it or use another --data-dir`);
    this.name = 'DataDirInUseError';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface DataDirLock {
  release(): void;
}

export function lockDataDir(dataDir: string, log: Logger): DataDirLock {
  fs.mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, lockFileName);
  const owner = { host: os.hostname(), pid: process.pid };
  try {
    fs.writeFileSync(file, JSON.stringify(owner), { flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    let previous: { host?: string; pid?: number } = {};
    try {
      previous = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof previous;
    } catch {
      // An unreadable lock is a torn write from a crash: nobody holds it.
    }
    const pid = previous.pid ?? -1;
    if (previous.host === owner.host && pid !== process.pid && pid > 0 && isAlive(pid)) {
      throw new DataDirInUseError(dataDir, pid);
    }
    log.warn('taking over a stale data dir lock', { file, previousHost: previous.host, previousPid: previous.pid });
    fs.writeFileSync(file, JSON.stringify(owner));
  }
  return {
    release: () => fs.rmSync(file, { force: true }),
  };
}
