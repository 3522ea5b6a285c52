// The controller wire format: every Raft message kind survives an encode/decode round trip
// through the declarative schema and the generic codec, and bad bodies are refused by name.
import { describe, expect, it } from 'vitest';
import {
  decodeHandshake,
  decodeHandshakeResponse,
  decodeRaftMessage,
  encodeHandshake,
  encodeHandshakeResponse,
  encodeRaftMessage,
} from '../../broker/controller/quorum/wire.js';
import type { RaftMessage } from '../../broker/controller/raft/types.js';

const bytes = (text: string) => new TextEncoder().encode(text);
const body = (frame: Buffer): Buffer => {
  expect(frame.readInt32BE(0)).toBe(frame.length - 4);
  return frame.subarray(4);
};

const messages: RaftMessage[] = [
  { kind: 'vote', from: 0, to: 1, term: 3, lastIndex: 10, lastTerm: 2, transfer: true },
  { kind: 'pre-vote', from: 2, to: 1, term: 4, lastIndex: 0, lastTerm: 0, transfer: false },
  { kind: 'vote-response', from: 1, to: 0, term: 3, granted: true },
  { kind: 'pre-vote-response', from: 1, to: 2, term: 4, granted: false },
  {
    kind: 'append',
    from: 0,
    to: 2,
    term: 5,
    prevIndex: 7,
    prevTerm: 4,
    commit: 6,
    entries: [
      { index: 8, term: 5, data: null },
      { index: 9, term: 5, data: bytes('topic created') },
      { index: 10, term: 5, data: new Uint8Array(0) },
    ],
  },
  { kind: 'append', from: 0, to: 1, term: 5, prevIndex: 10, prevTerm: 5, commit: 10, entries: [] },
  { kind: 'append-response', from: 2, to: 0, term: 5, success: false, matchIndex: 0, rejectedIndex: 7, hintIndex: 3 },
  { kind: 'heartbeat', from: 0, to: 1, term: 5, commit: 2 ** 40 },
  { kind: 'heartbeat-response', from: 1, to: 0, term: 5 },
  { kind: 'snapshot', from: 0, to: 2, term: 6, snapshot: { lastIndex: 100, lastTerm: 6, data: bytes('{"image":1}') } },
  { kind: 'timeout-now', from: 0, to: 1, term: 6 },
];

describe('quorum wire', () => {
  it.each(messages.map((message) => [message.kind, message] as const))('round-trips a %s message', (_kind, message) => {
    expect(decodeRaftMessage(body(encodeRaftMessage(message)))).toEqual(message);
  });

  it('round-trips the handshake and its answer', () => {
    const handshake = { clusterId: 'klab', senderId: 2, receiverId: 0, voters: '0@a:9093,1@b:9093,2@c:9093' };
    expect(decodeHandshake(body(encodeHandshake(handshake)))).toMatchObject(handshake);
    const refusal = { accepted: false, receiverId: 0, reason: 'the cluster ids differ' };
    expect(decodeHandshakeResponse(body(encodeHandshakeResponse(refusal)))).toEqual(refusal);
  });

  it('refuses a handshake without the magic, a truncated message and trailing bytes', () => {
    const handshake = body(encodeHandshake({ clusterId: 'klab', senderId: 1, receiverId: 0, voters: '' }));
    const wrongMagic = Buffer.from(handshake);
    wrongMagic[0] = 0;
    expect(() => decodeHandshake(wrongMagic)).toThrow(/not a quorum handshake/);
    const heartbeat = body(encodeRaftMessage({ kind: 'heartbeat', from: 0, to: 1, term: 1, commit: 0 }));
    expect(() => decodeRaftMessage(heartbeat.subarray(0, heartbeat.length - 3))).toThrow(/truncated/);
    expect(() => decodeRaftMessage(Buffer.concat([heartbeat, Buffer.from([1])]))).toThrow(/1 bytes follow the message/);
    const negativeTerm = Buffer.from(heartbeat);
    negativeTerm.fill(0xff, 9, 17);
    expect(() => decodeRaftMessage(negativeTerm)).toThrow(/term -1 is out of range/);
  });
});
