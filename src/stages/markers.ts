// Stage markers live on the hosts, so they travel with VM snapshots: after a rollback the
// markers say exactly which stages the restored machine has finished.
import { z } from 'zod';
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

export const markerPath = (stageId: string, dir = markerDir): string => `${dir}/${stageId}.json`;

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

export function markerContent(marker: StageMarker): string {
  return `${JSON.stringify(marker)}\n`;
}
