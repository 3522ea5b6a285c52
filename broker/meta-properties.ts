// The data dir's identity, as Kafka's meta.properties: which cluster and which node it belongs
// to, written on first start and checked on every start after, so a data dir moved to another
// node, or a node pointed at another cluster's quorum, stops with a message instead of mixing
// two clusters' data.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { replaceFileDurably } from './storage/durable-file.js';

const fileName = 'meta.properties';

export class DataDirIdentityError extends Error {
  override readonly name = 'DataDirIdentityError';
}

export interface DataDirIdentity {
  readonly clusterId: string;
  readonly nodeId: number;
}

export interface IdentityRequest {
  readonly nodeId: number;
  /** The --cluster-id given, if any. */
  readonly clusterId: string | null;
  /** A broker without --voters may make up its own cluster id; a quorum member must be told it. */
  readonly alone: boolean;
}

/** A new random cluster id in Kafka's form (a UUID's 16 bytes, URL-safe base64 without padding). */
export function randomClusterId(): string {
  return randomBytes(16).toString('base64url');
}

export async function loadDataDirIdentity(dataDir: string, request: IdentityRequest): Promise<DataDirIdentity> {
  const file = path.join(dataDir, fileName);
  const stored = readIdentity(file);
  if (stored) {
    if (stored.nodeId !== request.nodeId) {
      throw new DataDirIdentityError(`${file} says this data dir belongs to node ${stored.nodeId}, but this is node ${request.nodeId}: give each node its own --data-dir`);
    }
    if (request.clusterId !== null && request.clusterId !== stored.clusterId) {
      throw new DataDirIdentityError(
        `${file} says this data dir belongs to cluster ${stored.clusterId}, but --cluster-id is ${request.clusterId}: use the cluster id it was created with, or an empty --data-dir for a new cluster`,
      );
    }
    return stored;
  }
  if (request.clusterId === null && !request.alone) {
    throw new DataDirIdentityError(
      `--cluster-id (or KLAB_BROKER_CLUSTER_ID) is required on a quorum node's first start, the same on every node, e.g. --cluster-id ${randomClusterId()}`,
    );
  }
  const identity: DataDirIdentity = { clusterId: request.clusterId ?? randomClusterId(), nodeId: request.nodeId };
  await replaceFileDurably(file, `# written by klab-broker on first start; do not edit\nversion=1\ncluster.id=${identity.clusterId}\nnode.id=${identity.nodeId}\n`);
  return identity;
}

function readIdentity(file: string): DataDirIdentity | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new DataDirIdentityError(`cannot read ${file}: ${(error as Error).message}`);
  }
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^([a-z.]+)=(.*)$/.exec(line.trim());
    if (match) values.set(match[1]!, match[2]!);
  }
  const clusterId = values.get('cluster.id');
  const nodeId = Number(values.get('node.id'));
  if (!clusterId || !Number.isInteger(nodeId) || nodeId < 0) {
    throw new DataDirIdentityError(`${file} is damaged (it needs cluster.id and node.id lines); restore it, or remove it only if this data dir holds nothing you need`);
  }
  return { clusterId, nodeId };
}
