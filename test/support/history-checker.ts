// A history check in the spirit of Jepsen's Kafka workload, for one producer's run: what it
// sent (in send order), what each record's own delivery report acknowledged, and the whole log
// read back from offset 0. Pure, so fault tests assert on its result and print its report.

export interface SentRecord {
  value: string;
  /** The partition the producer addressed the record to. */
  partition: number;
}

/** A successful delivery report: the broker said this record is stored at this offset. */
export interface Acknowledgement {
  value: string;
  partition: number;
  offset: number;
}

export interface LoggedRecord {
  offset: number;
  value: string;
}

export interface HistoryInput {
  sent: readonly SentRecord[];
  acknowledged: readonly Acknowledgement[];
  /** The log of partition i at index i, from offset 0 to the end. */
  log: ReadonlyArray<readonly LoggedRecord[]>;
}

export interface Position {
  partition: number;
  offset: number;
}

export interface HistoryResult {
  sent: number;
  acknowledged: number;
  /** Acknowledged, yet nowhere in the log of the partition it was acknowledged on. */
  lost: Acknowledgement[];
  /** Acknowledged at an offset that holds another value (`found`), or nothing (null). */
  wrongOffset: Array<Acknowledgement & { found: string | null }>;
  /** Values stored more than once, with every place they are at. */
  duplicated: Array<{ value: string; at: Position[] }>;
  /** A value stored after (at a higher offset than) one that was sent later. */
  reordered: Array<{ partition: number; value: string; offset: number; after: LoggedRecord }>;
  /** In the log, never sent. */
  phantom: Array<LoggedRecord & { partition: number }>;
  /** Sent and never acknowledged, yet stored: allowed (the report was lost, not the write). */
  unacknowledgedPresent: number;
}

export function checkHistory({ sent, acknowledged, log }: HistoryInput): HistoryResult {
  const sendIndex = new Map<string, number>();
  sent.forEach((record, index) => {
    if (sendIndex.has(record.value)) throw new Error(`history input: value ${record.value} was sent twice; every sent value must be unique`);
    sendIndex.set(record.value, index);
  });

  const places = new Map<string, Position[]>();
  const phantom: HistoryResult['phantom'] = [];
  const reordered: HistoryResult['reordered'] = [];
  log.forEach((records, partition) => {
    // The latest-sent record seen so far in this partition: anything sent before it must not follow it.
    let latest: { index: number; record: LoggedRecord } | null = null;
    for (const record of records) {
      const at = places.get(record.value);
      if (at) at.push({ partition, offset: record.offset });
      else places.set(record.value, [{ partition, offset: record.offset }]);
      const index = sendIndex.get(record.value);
      if (index === undefined) {
        phantom.push({ partition, ...record });
        continue;
      }
      // A duplicate is reported as such, not again as out of order.
      if (at) continue;
      if (latest && index < latest.index) reordered.push({ partition, value: record.value, offset: record.offset, after: latest.record });
      else latest = { index, record };
    }
  });

  const lost: HistoryResult['lost'] = [];
  const wrongOffset: HistoryResult['wrongOffset'] = [];
  const acknowledgedValues = new Set<string>();
  const byOffset = log.map((records) => new Map(records.map((record) => [record.offset, record.value])));
  for (const ack of acknowledged) {
    acknowledgedValues.add(ack.value);
    if (!(places.get(ack.value) ?? []).some((place) => place.partition === ack.partition)) lost.push(ack);
    const found = byOffset[ack.partition]?.get(ack.offset) ?? null;
    if (found !== ack.value) wrongOffset.push({ ...ack, found });
  }

  const duplicated = [...places].filter(([value, at]) => at.length > 1 && sendIndex.has(value)).map(([value, at]) => ({ value, at }));
  const unacknowledgedPresent = [...sendIndex.keys()].filter((value) => !acknowledgedValues.has(value) && places.has(value)).length;
  return { sent: sent.length, acknowledged: acknowledgedValues.size, lost, wrongOffset, duplicated, reordered, phantom, unacknowledgedPresent };
}

const shown = 5;

function firstFew<T>(items: readonly T[], describe: (item: T) => string): string {
  const listed = items.slice(0, shown).map(describe).join(', ');
  return items.length > shown ? `${listed}, … (${items.length - shown} more)` : listed;
}

/** One paragraph: the counts, then the first few offending values of each kind. */
export function formatHistoryReport(result: HistoryResult): string {
  const problems = [
    result.lost.length > 0 && `${result.lost.length} lost (${firstFew(result.lost, (a) => `${a.value} acked at ${a.partition}/${a.offset}`)})`,
    result.wrongOffset.length > 0 &&
      `${result.wrongOffset.length} acked at an offset holding something else (${firstFew(
        result.wrongOffset,
        (a) => `${a.value} acked at ${a.partition}/${a.offset}, which holds ${a.found ?? 'nothing'}`,
      )})`,
    result.duplicated.length > 0 &&
      `${result.duplicated.length} duplicated (${firstFew(result.duplicated, (d) => `${d.value} at ${d.at.map((p) => `${p.partition}/${p.offset}`).join(' and ')}`)})`,
    result.reordered.length > 0 &&
      `${result.reordered.length} out of send order (${firstFew(
        result.reordered,
        (r) => `${r.value} at ${r.partition}/${r.offset} after ${r.after.value} at ${r.partition}/${r.after.offset}`,
      )})`,
    result.phantom.length > 0 && `${result.phantom.length} never sent (${firstFew(result.phantom, (p) => `${p.value} at ${p.partition}/${p.offset}`)})`,
  ].filter((problem): problem is string => typeof problem === 'string');
  const counts = `${result.sent} sent, ${result.acknowledged} acknowledged, ${result.unacknowledgedPresent} stored without an acknowledgement`;
  return problems.length === 0 ? `History clean: ${counts}.` : `History has anomalies: ${counts}; ${problems.join('; ')}.`;
}
