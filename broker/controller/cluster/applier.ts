// The cluster image as the metadata quorum's state machine: each committed record's data is
// one encoded cluster record, and a snapshot's data is the image's own snapshot bytes.
import type { CommittedRecord, MetadataApplier } from '../quorum/applier.js';
import { ClusterImage } from './image.js';
import { decodeClusterRecord } from './records.js';

export class ClusterMetadataApplier implements MetadataApplier {
  private current = new ClusterImage();

  get image(): ClusterImage {
    return this.current;
  }

  apply(record: CommittedRecord): void {
    this.current.apply(decodeClusterRecord(record.data));
  }

  restore(snapshot: Parameters<MetadataApplier['restore']>[0]): void {
    this.current = ClusterImage.restore(snapshot.data);
  }

  snapshot(): Uint8Array {
    return this.current.snapshot();
  }
}
