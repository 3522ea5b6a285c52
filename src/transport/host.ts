// The one way klab touches a machine. Stages, preflight and the lab all go through this
// interface; the SSH implementation lives beside it. Keep it small: what a stage needs is
// "run a command", "write a file atomically", "read a file", "hang up".

export interface ExecOptions {
  /** Kills the remote command and fails with CommandTimeoutError after this long. */
  timeoutMs?: number;
  /** Written to the command's standard input, then closed. */
  stdin?: string | Buffer;
  /** Strings to replace with `***` wherever this command or its output is logged. */
  secrets?: readonly string[];
}

export interface ExecResult {
  /** Exit status; a command killed by a signal reports 128 + signal number, as a shell does. */
  code: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface PutOptions {
  /** File mode, e.g. 0o644 (the default) or 0o600 for secrets. */
  mode?: number;
  /** `user` or `user:group`; default leaves the owner to the connecting user (root). */
  owner?: string;
}

export interface Host {
  /** The inventory name (master, node1, …); every error and log line names it. */
  readonly name: string;
  /** Runs a command through `sh -c` as root (prefixed with `sudo -n` for a non-root user). */
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
  /** Writes a file atomically and durably (temp file in the same directory, flushed, then renamed), creating parent directories. */
  put(path: string, content: string | Buffer, options?: PutOptions): Promise<void>;
  /** Reads a whole file; fails with RemoteFileNotFoundError when it does not exist. */
  get(path: string): Promise<Buffer>;
  close(): Promise<void>;
}

/** One finished remote command, already redacted; the run log (src/run/) writes these. */
export interface CommandRecord {
  host: string;
  command: string;
  code: number;
  durationMs: number;
  stdout: string;
  stderr: string;
}

export type CommandLogger = (record: CommandRecord) => void;
