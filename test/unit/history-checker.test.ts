import { describe, expect, it } from 'vitest';
import { checkHistory, formatHistoryReport, type HistoryInput, type SentRecord } from '../support/history-checker.js';

// Two partitions, three records each, sent round-robin: p0-0, p1-0, p0-1, p1-1, p0-2, p1-2.
const sent: SentRecord[] = [0, 1, 2].flatMap((seq) => [0, 1].map((partition) => ({ value: `p${partition}-${seq}`, partition })));
const cleanLog = [0, 1].map((partition) => [0, 1, 2].map((seq) => ({ offset: seq, value: `p${partition}-${seq}` })));
const allAcked = cleanLog.flatMap((records, partition) => records.map((record) => ({ ...record, partition })));

function history(changes: Partial<HistoryInput>): HistoryInput {
  return { sent, acknowledged: allAcked, log: cleanLog, ...changes };
}

describe('history checker', () => {
  it('finds nothing wrong in a clean history', () => {
    const result = checkHistory(history({}));
    expect(result).toEqual({
      sent: 6,
      acknowledged: 6,
      lost: [],
      wrongOffset: [],
      duplicated: [],
      reordered: [],
      phantom: [],
      unacknowledgedPresent: 0,
    });
    expect(formatHistoryReport(result)).toBe('History clean: 6 sent, 6 acknowledged, 0 stored without an acknowledgement.');
  });

  it('reports an acknowledged record missing from the log as lost, and its offset as wrong', () => {
    const log = [cleanLog[0]!, [{ offset: 0, value: 'p1-0' }, { offset: 2, value: 'p1-2' }]];
    const result = checkHistory(history({ log }));
    expect(result.lost).toEqual([{ value: 'p1-1', partition: 1, offset: 1 }]);
    expect(result.wrongOffset).toEqual([{ value: 'p1-1', partition: 1, offset: 1, found: null }]);
    expect(formatHistoryReport(result)).toContain('1 lost (p1-1 acked at 1/1)');
  });

  it('reports an acknowledgement naming an offset that holds another value, the kafkajs failover fault', () => {
    // The broker dropped p0-2 as a duplicate and answered with p0-1's offset.
    const log = [cleanLog[0]!.slice(0, 2), cleanLog[1]!];
    const acknowledged = allAcked.map((ack) => (ack.value === 'p0-2' ? { ...ack, offset: 1 } : ack));
    const result = checkHistory(history({ log, acknowledged }));
    expect(result.wrongOffset).toEqual([{ value: 'p0-2', partition: 0, offset: 1, found: 'p0-1' }]);
    expect(result.lost).toEqual([{ value: 'p0-2', partition: 0, offset: 1 }]);
  });

  it('reports a value stored at another offset than acknowledged, without calling it lost', () => {
    const acknowledged = allAcked.map((ack) => (ack.value === 'p1-2' ? { ...ack, offset: 7 } : ack));
    const result = checkHistory(history({ acknowledged }));
    expect(result.lost).toEqual([]);
    expect(result.wrongOffset).toEqual([{ value: 'p1-2', partition: 1, offset: 7, found: null }]);
  });

  it('reports a value stored twice as duplicated, and not also as reordered', () => {
    const log = [[...cleanLog[0]!, { offset: 3, value: 'p0-1' }], cleanLog[1]!];
    const result = checkHistory(history({ log }));
    expect(result.duplicated).toEqual([{ value: 'p0-1', at: [{ partition: 0, offset: 1 }, { partition: 0, offset: 3 }] }]);
    expect(result.reordered).toEqual([]);
    expect(formatHistoryReport(result)).toContain('1 duplicated (p0-1 at 0/1 and 0/3)');
  });

  it('reports records stored out of send order within a partition', () => {
    const log = [
      [
        { offset: 0, value: 'p0-0' },
        { offset: 1, value: 'p0-2' },
        { offset: 2, value: 'p0-1' },
      ],
      cleanLog[1]!,
    ];
    const acknowledged = allAcked.map((ack) => (ack.value === 'p0-2' ? { ...ack, offset: 1 } : ack.value === 'p0-1' ? { ...ack, offset: 2 } : ack));
    const result = checkHistory(history({ log, acknowledged }));
    expect(result.reordered).toEqual([{ partition: 0, value: 'p0-1', offset: 2, after: { offset: 1, value: 'p0-2' } }]);
    expect(result.wrongOffset).toEqual([]);
  });

  it('reports a record that was never sent as a phantom', () => {
    const log = [cleanLog[0]!, [...cleanLog[1]!, { offset: 3, value: 'stranger' }]];
    const result = checkHistory(history({ log }));
    expect(result.phantom).toEqual([{ partition: 1, offset: 3, value: 'stranger' }]);
    expect(formatHistoryReport(result)).toContain('1 never sent (stranger at 1/3)');
  });

  it('counts records stored without an acknowledgement, which is allowed', () => {
    const acknowledged = allAcked.filter((ack) => ack.value !== 'p0-0' && ack.value !== 'p1-2');
    const result = checkHistory(history({ acknowledged }));
    expect(result).toMatchObject({ acknowledged: 4, unacknowledgedPresent: 2, lost: [], wrongOffset: [], phantom: [] });
    expect(formatHistoryReport(result)).toMatch(/^History clean: .*2 stored without an acknowledgement/);
  });

  it('names only the first few offenders of a kind in the report', () => {
    const manySent = Array.from({ length: 8 }, (_, seq) => ({ value: `p0-${seq}`, partition: 0 }));
    const manyAcked = manySent.map((record, offset) => ({ ...record, offset }));
    const result = checkHistory({ sent: manySent, acknowledged: manyAcked, log: [[]] });
    expect(result.lost).toHaveLength(8);
    expect(formatHistoryReport(result)).toContain('p0-4 acked at 0/4, … (3 more)');
  });

  it('refuses a history whose sent values repeat, as it could not tell their places apart', () => {
    expect(() => checkHistory(history({ sent: [...sent, sent[0]!] }))).toThrow(/p0-0 was sent twice/);
  });
});
