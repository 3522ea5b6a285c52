// Helpers for quorum driver tests: free loopback ports, a logger that records its lines, an
// applier that keeps the records it was given as strings, and polling with a deadline.
import net from 'node:net';
import type { CommittedRecord, MetadataApplier } from '../../broker/controller/quorum/applier.js';
import { Logger, type LogFields } from '../../broker/log.js';

/** Ports free on 127.0.0.1 right now: each is bound to port 0, read back and released. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<net.Server>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve(server));
    })),
  );
  const ports = servers.map((server) => (server.address() as net.AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/** Keeps every line instead of writing it, so tests can check what was reported. */
export class RecordingLogger extends Logger {
  readonly lines: string[] = [];

  constructor(component = 'test') {
    super(component);
  }

  override debug(message: string, fields?: LogFields): void {
    this.record('DEBUG', message, fields);
  }
  override info(message: string, fields?: LogFields): void {
    this.record('INFO', message, fields);
  }
  override warn(message: string, fields?: LogFields): void {
    this.record('WARN', message, fields);
  }
  override error(message: string, fields?: LogFields): void {
    this.record('ERROR', message, fields);
  }

  private record(level: string, message: string, fields: LogFields | undefined): void {
    this.lines.push(`${level} ${message} ${JSON.stringify(fields ?? {}, (_key, value: unknown) => (typeof value === 'bigint' ? String(value) : value))}`);
  }
}

/** The metadata image of the tests: the records applied, in order; a snapshot is their JSON. */
export class ListApplier implements MetadataApplier {
  records: string[] = [];
  restores = 0;
  private readonly decoder = new TextDecoder();

  apply(record: CommittedRecord): void {
    this.records.push(this.decoder.decode(record.data));
  }

  restore(snapshot: { readonly data: Uint8Array }): void {
    this.records = JSON.parse(this.decoder.decode(snapshot.data)) as string[];
    this.restores++;
  }

  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify(this.records));
  }
}

/** Polls `check` until it returns a value other than undefined, or fails naming `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
