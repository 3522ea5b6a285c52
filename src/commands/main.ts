// The top level of the CLI: parse, run, and turn every error into a message, a hint, the
// run's log file and an exit code (src/errors.ts). Anything that is not a KlabError is a
// bug and exits with `internal`, with its stack in front of the user.
import { CommanderError } from 'commander';
import type { Command } from 'commander';
import { KlabError, exitCodes } from '../errors.js';
import { takeRunLogPath } from '../run/log.js';
import { klabVersion } from '../run/version.js';

function exitOverrideEverywhere(command: Command): void {
  command.exitOverride();
  for (const sub of command.commands) exitOverrideEverywhere(sub);
}

function printError(lines: string[]): void {
  process.stderr.write(`${lines.join('\n')}\n`);
}

export async function runMain(program: Command, argv: readonly string[]): Promise<void> {
  program.version(klabVersion, '-v, --version', 'print klab\'s version');
  exitOverrideEverywhere(program);
  takeRunLogPath();
  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    process.exitCode = exitCodeFor(error);
  }
}

function exitCodeFor(error: unknown): number {
  const log = takeRunLogPath();
  const logLine = log ? [`Log: ${log}`] : [];
  if (error instanceof CommanderError) {
    // Commander has printed its message (or the help) already.
    return error.exitCode === 0 ? exitCodes.ok : exitCodes.usage;
  }
  if (error instanceof KlabError) {
    printError([`klab: ${error.message}`, ...(error.hint ? [`hint: ${error.hint}`] : []), ...logLine]);
    return error.exitCode;
  }
  const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
  printError([`klab: internal error (a bug in klab): ${detail}`, ...logLine]);
  return exitCodes.internal;
}
