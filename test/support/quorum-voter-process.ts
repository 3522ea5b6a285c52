// Starts test/support/quorum-voter.ts as a node process of its own (bundled once per test file,
// as the broker is bundled) and collects the JSON events it reports on stdout.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { build } from 'esbuild';

export interface VoterEvent {
  event: 'started' | 'leader' | 'applied' | 'committed' | 'restored';
  index?: number;
  term?: number;
  leader?: number | null;
  data?: string;
}

export interface VoterProcess {
  readonly id: number;
  readonly child: ChildProcess;
  readonly events: VoterEvent[];
  stderr: string;
  readonly exited: Promise<void>;
}

/** Bundles the voter script into `dir` and returns the file to run with node. */
export async function bundleVoterScript(dir: string): Promise<string> {
  const script = join(dir, 'quorum-voter.mjs');
  await build({
    entryPoints: [join(import.meta.dirname, 'quorum-voter.ts')],
    outfile: script,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    logLevel: 'warning',
  });
  return script;
}

export function startVoterProcess(script: string, id: number, voterList: string, dataDir: string): VoterProcess {
  const child = spawn(process.execPath, [script, '--id', String(id), '--voters', voterList, '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const voter: VoterProcess = { id, child, events: [], stderr: '', exited: new Promise((resolve) => child.once('close', () => resolve())) };
  let partial = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (text: string) => {
    const lines = (partial + text).split('\n');
    partial = lines.pop()!;
    for (const line of lines) voter.events.push(JSON.parse(line) as VoterEvent);
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (text: string) => {
    voter.stderr += text;
  });
  return voter;
}
