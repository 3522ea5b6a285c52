// Typed errors of the metadata quorum, so a driver maps them to Kafka answers (NotLeaderError
// becomes NOT_CONTROLLER naming the leader) without reading message text.
import type { NodeId } from './types.js';

/** A proposal reached a voter that is not the leader; `leader` is the one it knows, if any. */
export class NotLeaderError extends Error {
  constructor(
    readonly nodeId: NodeId,
    readonly leader: NodeId | null,
    readonly term: number,
  ) {
    super(
      leader === null
        ? `voter ${nodeId} is not the metadata leader and knows no leader in term ${term}; retry after an election`
        : `voter ${nodeId} is not the metadata leader; send to voter ${leader} (term ${term})`,
    );
    this.name = 'NotLeaderError';
  }
}

/** The caller asked the core for something its state rules out (a programming error in the driver). */
export class RaftUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RaftUsageError';
  }
}

/** A quorum file is unreadable or damaged; `offset` is the byte where the damage starts. */
export class RaftStorageError extends Error {
  constructor(
    readonly file: string,
    readonly offset: number | null,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(`${file}${offset === null ? '' : ` at byte ${offset}`}: ${message}`, options);
    this.name = 'RaftStorageError';
  }
}
