// The single-node metadata log: an append-only file of metadata records, one JSON line each
// with its CRC32 in front, replayed at start into the in-memory image. A torn or corrupt
// tail (crash mid-write) is cut off at the last whole record. Later a Raft quorum replaces
// this file as the source of the same records; the image and the handlers stay as they are.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import type { Logger } from '../log.js';

export type MetadataRecord =
  | { type: 'cluster'; clusterId: string }
  | {
      type: 'topic';
      name: string;
      topicId: string;
      partitions: number;
      configs: Record<string, string>;
    }
  | { type: 'partitions'; topicId: string; partitions: number }
  | { type: 'remove-topic'; topicId: string };

const fileName = 'metadata.log';

export class MetadataLogError extends Error {
  override readonly name = 'MetadataLogError';
}

export class MetadataLog {
  private constructor(
    private readonly fd: number,
    readonly file: string,
    /** Bytes of whole records; a failed append is cut back to this so no torn line stays. */
    private size: number,
  ) {}

  /** Opens (creating) the log in `dir`, returning it with every whole record it holds. */
  static open(dir: string, log: Logger): { metadataLog: MetadataLog; records: MetadataRecord[] } {
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, fileName);
    const records: MetadataRecord[] = [];
    let goodEnd = 0;
    const bytes = fs.existsSync(file) ? fs.readFileSync(file) : Buffer.alloc(0);
    let position = 0;
    while (position < bytes.length) {
      const newline = bytes.indexOf(0x0a, position);
      if (newline < 0) break;
      const record = parseLine(bytes.toString('utf8', position, newline));
      if (!record) break;
      records.push(record);
      position = newline + 1;
      goodEnd = position;
    }
    const size = bytes.length;
    if (goodEnd < size) {
      log.warn('metadata log: truncating torn or corrupt tail', { file, validBytes: goodEnd, fileBytes: size });
      fs.truncateSync(file, goodEnd);
    }
    const fd = fs.openSync(file, 'a');
    return { metadataLog: new MetadataLog(fd, file, goodEnd), records };
  }

  /**
   * Appends a record durably: it is on disk before the change is visible to anyone. On a
   * failed write (disk full …) the file is cut back to its last whole record, so a later
   * append cannot land behind a torn line that recovery would stop at.
   */
  append(record: MetadataRecord): void {
    const json = JSON.stringify(record);
    const line = Buffer.from(`${zlib.crc32(json).toString(16).padStart(8, '0')} ${json}\n`);
    try {
      let written = 0;
      while (written < line.length) written += fs.writeSync(this.fd, line, written);
      fs.fsyncSync(this.fd);
    } catch (error) {
      try {
        fs.ftruncateSync(this.fd, this.size);
      } catch {
        // Recovery at the next start cuts a torn tail as well.
      }
      throw new MetadataLogError(`writing the metadata log ${this.file} failed: ${(error as Error).message}`, { cause: error });
    }
    this.size += line.length;
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

function parseLine(line: string): MetadataRecord | null {
  const space = line.indexOf(' ');
  if (space !== 8) return null;
  const json = line.slice(space + 1);
  if (zlib.crc32(json).toString(16).padStart(8, '0') !== line.slice(0, space)) return null;
  try {
    return JSON.parse(json) as MetadataRecord;
  } catch {
    return null;
  }
}
