// Runs klab in-process the way a user runs it (through runMain), with only the command
// groups a test needs, and captures what it writes and the exit code it sets.
import { Command } from 'commander';
import { vi } from 'vitest';
import { runMain } from '../../src/commands/main.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export type CliRunner = (...args: string[]) => Promise<CliResult>;

export function cliInProcess(...registrations: Array<(program: Command) => void>): CliRunner {
  return async (...args) => {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (stdout.push(String(chunk)), true));
    const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (stderr.push(String(chunk)), true));
    const program = new Command('klab').option('-i, --inventory <file>', 'inventory file', 'klab.yaml');
    for (const register of registrations) register(program);
    process.exitCode = undefined;
    try {
      await runMain(program, ['node', 'klab', ...args]);
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
    const code = Number(process.exitCode ?? 0);
    process.exitCode = undefined;
    return { code, stdout: stdout.join(''), stderr: stderr.join('') };
  };
}
