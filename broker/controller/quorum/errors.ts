// Typed errors of the quorum driver, so callers map them to Kafka answers without reading
// message text. NotLeaderError (raft/errors.ts) is what propose() rejects with off the leader.
import type { NodeId } from '../raft/types.js';
import type { VoterAddress } from './wire.js';

/** The driver's options are inconsistent (a programming or configuration error, found at start). */
export class QuorumConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QuorumConfigError';
  }
}

/** The controller listener could not be bound. */
export class QuorumListenError extends Error {
  constructor(
    readonly address: VoterAddress,
    cause: Error,
  ) {
    super(`cannot listen for controller connections on ${address.host}:${address.port}: ${cause.message} (check --controller-listen)`, { cause });
    this.name = 'QuorumListenError';
  }
}

/**
 * This voter stopped leading before the proposal committed. The record may still commit under
 * the next leader, or may be lost: the caller must retry idempotently or read the log.
 */
export class LeadershipLostError extends Error {
  constructor(
    readonly nodeId: NodeId,
    readonly index: number,
    readonly term: number,
    readonly leader: NodeId | null,
  ) {
    super(`voter ${nodeId} lost the metadata leadership of term ${term} before entry ${index} committed${leader === null ? '' : `; voter ${leader} leads now`}; the record may or may not be in the log`);
    this.name = 'LeadershipLostError';
  }
}

/** Another entry committed at the proposal's index: the proposal is certainly not in the log. */
export class ProposalLostError extends Error {
  constructor(
    readonly index: number,
    readonly term: number,
    readonly committedTerm: number,
  ) {
    super(`entry ${index} of term ${term} was replaced by an entry of term ${committedTerm}; propose again`);
    this.name = 'ProposalLostError';
  }
}

/** The driver was closed (or failed) before the proposal committed. */
export class QuorumClosedError extends Error {
  constructor(
    readonly nodeId: NodeId,
    reason: string,
  ) {
    super(`metadata quorum voter ${nodeId} is closed: ${reason}`);
    this.name = 'QuorumClosedError';
  }
}
