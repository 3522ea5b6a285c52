// What the engine tells the outside world while it runs. Reporters (src/run/) turn these
// into listr2 progress, plain lines or JSON lines; the run log records them too.

export type TaskStatus = 'ok' | 'changed' | 'failed' | 'skipped';

/** A fresh tally with every task status at zero. */
export const zeroCounts = (): Record<TaskStatus, number> => ({ ok: 0, changed: 0, failed: 0, skipped: 0 });

export interface TaskOutcome {
  host: string;
  status: TaskStatus;
  /** One line on what happened: "already done", "wrote /etc/hosts", "would run: swapoff -a". */
  detail?: string;
  /** A check with severity warn that did not hold: the run goes on, the user should know. */
  warning?: string;
  /** The remote exit code of a failed command. */
  exitCode?: number;
  /** The last lines of a failed command's stderr (or stdout when stderr was empty), redacted. */
  output?: string;
  /** A failed check of severity fail: the host is unfit rather than a command broken. */
  unfit?: boolean;
  durationMs: number;
}

export type EngineEvent =
  | { type: 'stage-start'; stage: string; description: string; hosts: string[]; dryRun: boolean }
  | { type: 'stage-skip'; stage: string; description: string; reason: string }
  | { type: 'task-start'; stage: string; task: string; index: number; hosts: string[] }
  | { type: 'task-result'; stage: string; task: string; index: number; outcome: TaskOutcome }
  | { type: 'stage-end'; stage: string; status: 'done' | 'failed'; counts: Record<TaskStatus, number>; durationMs: number };

export interface Reporter {
  /** The engine waits for a returned promise, so a renderer can finish drawing a stage before the next one starts. */
  event(event: EngineEvent): void | Promise<void>;
}
