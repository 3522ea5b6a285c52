// One metadata quorum voter as a process of its own, for the multi-process quorum test; it is
// bundled and started with node, as the broker is. Options: --id N --voters 0@host:port,...
// --data-dir DIR --cluster ID. It reports on stdout, one JSON object a line:
//   {"event":"leader","leader":L,"term":T}          the leader it knows changed
//   {"event":"applied","index":I,"data":"..."}     a record it applied, in order
//   {"event":"committed","index":I,"term":T,"data":"..."}  its own proposal committed
// While it leads it proposes records "v<id>-t<term>-<n>" one after another. SIGTERM closes it
// with a controlled shutdown (resign); SIGKILL is the crash the test is about.
import { parseArgs } from 'node:util';
import type { CommittedRecord, MetadataApplier } from '../../broker/controller/quorum/applier.js';
import { QuorumDriver } from '../../broker/controller/quorum/driver.js';
import type { VoterAddress } from '../../broker/controller/quorum/wire.js';
import { Logger } from '../../broker/log.js';

const { values } = parseArgs({
  options: {
    id: { type: 'string' },
    voters: { type: 'string' },
    'data-dir': { type: 'string' },
    cluster: { type: 'string', default: 'quorum-test' },
  },
});
if (values.id === undefined || values.voters === undefined || values['data-dir'] === undefined) {
  throw new Error('usage: quorum-voter --id N --voters 0@host:port,... --data-dir DIR [--cluster ID]');
}
const id = Number(values.id);
const voters = new Map<number, VoterAddress>(
  values.voters.split(',').map((item) => {
    const match = /^(\d+)@(.+):(\d+)$/.exec(item);
    if (!match) throw new Error(`--voters: '${item}' is not id@host:port`);
    return [Number(match[1]), { host: match[2]!, port: Number(match[3]) }];
  }),
);

const report = (event: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(event)}\n`);
};
const decoder = new TextDecoder();

class ReportingApplier implements MetadataApplier {
  private records: string[] = [];
  apply(record: CommittedRecord): void {
    const data = decoder.decode(record.data);
    this.records.push(data);
    report({ event: 'applied', index: record.index, data });
  }
  restore(snapshot: { readonly data: Uint8Array }): void {
    this.records = JSON.parse(decoder.decode(snapshot.data)) as string[];
    report({ event: 'restored', records: this.records.length });
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify(this.records));
  }
}

const driver = await QuorumDriver.start({
  nodeId: id,
  clusterId: values.cluster,
  voters,
  listen: voters.get(id)!,
  dataDir: values['data-dir'],
  logger: new Logger(`quorum-voter-${id}`),
  applier: new ReportingApplier(),
});

let proposing = false;
let closing = false;
async function proposeWhileLeading(): Promise<void> {
  if (proposing) return;
  proposing = true;
  try {
    for (let n = 0; !closing && driver.status().role === 'leader'; n++) {
      const data = `v${id}-t${driver.status().term}-${n}`;
      try {
        const position = await driver.propose(new TextEncoder().encode(data));
        report({ event: 'committed', index: position.index, term: position.term, data });
      } catch {
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  } finally {
    proposing = false;
  }
}

driver.subscribe((event) => {
  if (event.kind === 'leader-changed') report({ event: 'leader', leader: event.leader, term: event.term });
  if (event.kind === 'role-changed' && event.role === 'leader') setImmediate(() => void proposeWhileLeading());
  if (event.kind === 'failed') process.exit(1);
});
process.on('SIGTERM', () => {
  closing = true;
  void driver.close().then(() => process.exit(0));
});
report({ event: 'started', id });
