// The replicated state machine the quorum feeds: the broker's metadata image implements it.
// Every voter calls it with the same records in the same order, so every image agrees.

/** A committed metadata record (leader term-start markers are not handed to the applier). */
export interface CommittedRecord {
  readonly index: number;
  readonly term: number;
  readonly data: Uint8Array;
}

/**
 * A method that throws stops the voter (the driver reports a 'failed' event): an image that
 * could not apply a committed record would no longer match the other voters'.
 */
export interface MetadataApplier {
  /** Applies one committed record; records arrive in index order, each exactly once per process. */
  apply(record: CommittedRecord): void;
  /** Replaces the whole state with a snapshot's (`lastIndex` is the last record it covers). */
  restore(snapshot: { readonly lastIndex: number; readonly lastTerm: number; readonly data: Uint8Array }): void;
  /** The whole state as of the last applied record, to replace the log up to it. */
  snapshot(): Uint8Array;
}
