// Stage markers live on the hosts, so they travel with VM snapshots: after a rollback the
// markers say exactly which stages the restored machine has finished.
import { z } from 'zod';
import { RemoteFileError } from '../transport/errors.js';
import type { Host } from '../transport/host.js';
import { quote } from '../transport/shell.js';

export const markerDir = '/var/lib/klab/stages';

const markerSchema = z.object({
  stage: z.string(),
  digest: z.string(),
  klabVersion: z.string(),
  finishedAt: z.string(),
});

export type StageMarker = z.infer<typeof markerSchema>;

const markerPath = (stageId: string, dir = markerDir): string => `${dir}/${stageId}.json`;

/** Reads every marker on a host (read-only). A marker that does not parse counts as absent, so its stage runs again. */
export async function readMarkers(host: Host, dir = markerDir, secrets: readonly string[] = []): Promise<Map<string, StageMarker>> {
  const result = await host.exec(`for f in ${quote(dir)}/*.json; do [ -f "$f" ] && { tr -d '\\n' < "$f"; echo; }; done; true`, {
    timeoutMs: 60_000,
    secrets,
  });
  const markers = new Map<string, StageMarker>();
  for (const line of result.stdout.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const marker = markerSchema.parse(JSON.parse(line));
      markers.set(marker.stage, marker);
    } catch {
      // An unreadable marker proves nothing about its stage.
    }
  }
  return markers;
}

function markerContent(marker: StageMarker): string {
  return `${JSON.stringify(marker)}\n`;
}

/**
 * Records a finished stage. Everything the stage changed is flushed to disk first (`sync`),
 * then the marker itself is written durably: after a hard reset, a power cut or a disk-only
 * snapshot, a host never carries a marker for work it lost.
 */
export async function writeMarker(host: Host, marker: StageMarker, dir = markerDir, secrets: readonly string[] = []): Promise<void> {
  const path = markerPath(marker.stage, dir);
  const flushed = await host.exec('sync', { timeoutMs: 10 * 60_000, secrets });
  if (flushed.code !== 0) throw new RemoteFileError(host.name, 'writing', path, `flushing the stage's changes to disk failed: ${flushed.stderr.trim() || `exit status ${flushed.code}`}`);
  await host.put(path, markerContent(marker), { mode: 0o644 });
}
