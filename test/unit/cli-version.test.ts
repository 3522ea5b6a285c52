import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { describe, expect, it, vi } from 'vitest';
import { runMain } from '../../src/commands/main.js';
import { exitCodes } from '../../src/errors.js';

async function klab(...args: string[]): Promise<{ code: number; stdout: string }> {
  const stdout: string[] = [];
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (stdout.push(String(chunk)), true));
  process.exitCode = undefined;
  try {
    await runMain(new Command('klab'), ['node', 'klab', ...args]);
  } finally {
    out.mockRestore();
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { code, stdout: stdout.join('') };
}

describe('klab --version', () => {
  it('prints the version of package.json and exits 0, as --version and -v', async () => {
    const { version } = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    for (const flag of ['--version', '-v']) {
      expect(await klab(flag)).toEqual({ code: exitCodes.ok, stdout: `${version}\n` });
    }
  });
});
