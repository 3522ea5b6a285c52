// Every error klab shows a user is a KlabError: a message that says what and where, an
// optional hint that says what to do, and the process exit code it maps to. Anything else
// reaching the top level is a bug and exits with `internal`.

export const exitCodes = {
  ok: 0,
  /** A stage task failed on a host. */
  stageFailed: 1,
  /** Bad command line or inventory: nothing was touched. */
  usage: 2,
  /** A host could not be reached or authenticated. */
  unreachable: 3,
  /** A host key differs from the pinned one: possible man-in-the-middle, nothing was sent. */
  hostKeyMismatch: 4,
  /** Preflight found a host unfit (OS, memory, duplicate machine-id …). */
  preflightFailed: 5,
  internal: 70,
  interrupted: 130,
} as const;

type ExitCode = (typeof exitCodes)[keyof typeof exitCodes];

export class KlabError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    readonly hint?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}
