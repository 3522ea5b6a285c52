// What the metadata quorum's driver applies committed entries to: each entry's data is one
// encoded cluster record (a null is a new leader's start-of-term marker and is skipped), and a
// snapshot's data is the image's own snapshot bytes.
import type { RaftEntry, RaftSnapshot } from '../raft/types.js';
import { ClusterImage } from './image.js';
import { decodeClusterRecord } from './records.js';

export class ClusterMetadataApplier {
  private current = new ClusterImage();

  get image(): ClusterImage {
    return this.current;
  }

  apply(entry: Pick<RaftEntry, 'data'>): void {
    if (entry.data === null) return;
    this.current.apply(decodeClusterRecord(entry.data));
  }

  restore(snapshot: Pick<RaftSnapshot, 'data'>): void {
    this.current = ClusterImage.restore(snapshot.data);
  }

  snapshot(): Uint8Array {
    return this.current.snapshot();
  }
}
