// Runs the Debian kcat (librdkafka) against a test broker: arguments as an array, never a
// shell line, with a timeout so a hung client fails the test instead of the suite.
import { execa } from 'execa';

export const kcatPath = '/usr/bin/kcat';

export interface KcatResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export async function runKcat(
  args: readonly string[],
  options: { input?: string | Buffer; timeoutMs?: number } = {},
): Promise<KcatResult> {
  const result = await execa(kcatPath, [...args], {
    input: options.input ?? '',
    reject: false,
    timeout: options.timeoutMs ?? 30_000,
    stripFinalNewline: false,
  });
  if (result.timedOut) throw new Error(`kcat ${args.join(' ')} timed out; stderr:\n${result.stderr}`);
  return { stdout: String(result.stdout), stderr: String(result.stderr), exitCode: result.exitCode ?? -1 };
}
