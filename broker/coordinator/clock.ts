// Time as the coordinator sees it: the current time and one-shot timers on the event loop.
// Injected so the group state machine can be driven by a manual clock in tests.

export type CancelTimer = () => void;

export interface Clock {
  now(): number;
  /** Runs `task` once after `delayMs`; the returned function cancels it (a no-op once it ran). */
  schedule(delayMs: number, task: () => void): CancelTimer;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  schedule(delayMs, task) {
    const timer = setTimeout(task, delayMs);
    // Group timers never keep a stopping broker alive.
    timer.unref();
    return () => clearTimeout(timer);
  },
};
