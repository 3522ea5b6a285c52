// The controller listener's wire format: size-prefixed frames ([int32 length][body]) whose
// bodies are declarative schemas encoded by the broker's one generic codec, as Kafka's own
// messages are. A connection carries one direction only: the dialling voter sends a Handshake,
// the listener answers one HandshakeResponse, and from then on the dialler sends RaftMessage
// frames and the listener sends nothing. Each voter dials every other voter, so the two
// directions between a pair travel on two connections and neither side waits on the other.
//
// The handshake names the cluster, both voters and the whole voter list, so a peer from another
// cluster, with an id outside the list or started with a different list is refused before any
// Raft message from it is believed.
import { Reader, encodeMessage, decodeMessage } from '../../protocol/codec.js';
import { ProtocolError } from '../../protocol/errors.js';
import type { MessageSchema, MessageValue } from '../../protocol/schema.js';
import type { NodeId, RaftEntry, RaftMessage, RaftSnapshot } from '../raft/types.js';

/** "KRQM": the first field of every handshake, so a stray client on this port is told apart at once. */
export const handshakeMagic = 0x4b52514d;
export const wireVersion = 0;
export const frameHeaderBytes = 4;

const handshakeFields = [
  { name: 'magic', type: 'int32', versions: '0+' },
  { name: 'clusterId', type: 'string', versions: '0+' },
  { name: 'senderId', type: 'int32', versions: '0+' },
  /** Who the sender believes it dialled: catches two voters' addresses swapped in a config. */
  { name: 'receiverId', type: 'int32', versions: '0+' },
  /** The sender's voter list in canonical form (see canonicalVoters). */
  { name: 'voters', type: 'string', versions: '0+' },
] as const;

const handshakeResponseFields = [
  { name: 'accepted', type: 'bool', versions: '0+' },
  { name: 'receiverId', type: 'int32', versions: '0+' },
  { name: 'reason', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
] as const;

const entryFields = [
  { name: 'index', type: 'int64', versions: '0+' },
  { name: 'term', type: 'int64', versions: '0+' },
  /** Null for a leader's term-start marker. */
  { name: 'data', type: 'bytes', versions: '0+', nullableVersions: '0+' },
] as const;

/**
 * Every Raft message kind in one flat schema: `kind` says which, fields a kind does not use
 * keep their defaults. Indexes and terms are int64 on the wire (numbers in the core).
 */
const raftMessageFields = [
  { name: 'kind', type: 'int8', versions: '0+' },
  { name: 'from', type: 'int32', versions: '0+' },
  { name: 'to', type: 'int32', versions: '0+' },
  { name: 'term', type: 'int64', versions: '0+' },
  { name: 'lastIndex', type: 'int64', versions: '0+', default: 0n },
  { name: 'lastTerm', type: 'int64', versions: '0+', default: 0n },
  { name: 'transfer', type: 'bool', versions: '0+', default: false },
  { name: 'granted', type: 'bool', versions: '0+', default: false },
  { name: 'prevIndex', type: 'int64', versions: '0+', default: 0n },
  { name: 'prevTerm', type: 'int64', versions: '0+', default: 0n },
  { name: 'commit', type: 'int64', versions: '0+', default: 0n },
  { name: 'entries', type: '[]struct', versions: '0+', nullableVersions: '0+', fields: entryFields, default: null },
  { name: 'success', type: 'bool', versions: '0+', default: false },
  { name: 'matchIndex', type: 'int64', versions: '0+', default: 0n },
  { name: 'rejectedIndex', type: 'int64', versions: '0+', default: 0n },
  { name: 'hintIndex', type: 'int64', versions: '0+', default: 0n },
  { name: 'snapshot', type: 'struct', versions: '0+', nullableVersions: '0+', default: null, fields: [
    { name: 'lastIndex', type: 'int64', versions: '0+' },
    { name: 'lastTerm', type: 'int64', versions: '0+' },
    { name: 'data', type: 'bytes', versions: '0+' },
  ] },
] as const;

// The api keys are outside Kafka's range: these messages never reach the Kafka dispatcher.
export const handshakeSchema = { name: 'QuorumHandshake', apiKey: -1, flexibleVersions: 'none', fields: handshakeFields } satisfies MessageSchema;
export const handshakeResponseSchema = { name: 'QuorumHandshakeResponse', apiKey: -1, flexibleVersions: 'none', fields: handshakeResponseFields } satisfies MessageSchema;
export const raftMessageSchema = { name: 'RaftMessage', apiKey: -2, flexibleVersions: 'none', fields: raftMessageFields } satisfies MessageSchema;

export type Handshake = MessageValue<typeof handshakeSchema>;
export type HandshakeResponse = MessageValue<typeof handshakeResponseSchema>;
type WireRaftMessage = MessageValue<typeof raftMessageSchema>;

const kindCodes = {
  vote: 1,
  'pre-vote': 2,
  'vote-response': 3,
  'pre-vote-response': 4,
  append: 5,
  'append-response': 6,
  heartbeat: 7,
  'heartbeat-response': 8,
  snapshot: 9,
  'timeout-now': 10,
} as const satisfies Record<RaftMessage['kind'], number>;
const kindsByCode = new Map<number, RaftMessage['kind']>(Object.entries(kindCodes).map(([kind, code]) => [code, kind as RaftMessage['kind']]));

/** One voter's controller address. */
export interface VoterAddress {
  readonly host: string;
  readonly port: number;
}

/** The voter list as one string, ids ascending ("0@a:9093,1@b:9093"), so two lists compare by equality. */
export function canonicalVoters(voters: ReadonlyMap<NodeId, VoterAddress>): string {
  return [...voters.entries()]
    .sort(([a], [b]) => a - b)
    .map(([id, address]) => `${id}@${address.host}:${address.port}`)
    .join(',');
}

/** A frame: the body's length, then the body. */
function frame(body: Buffer): Buffer {
  const header = Buffer.allocUnsafe(frameHeaderBytes);
  header.writeInt32BE(body.length, 0);
  return Buffer.concat([header, body]);
}

export function encodeHandshake(handshake: Omit<Handshake, 'magic'>): Buffer {
  return frame(encodeMessage(handshakeSchema, wireVersion, { magic: handshakeMagic, ...handshake }));
}

export function encodeHandshakeResponse(response: HandshakeResponse): Buffer {
  return frame(encodeMessage(handshakeResponseSchema, wireVersion, response));
}

/** Decodes a whole frame body as `schema`; bytes left over make the frame malformed. */
function decodeBody<S extends MessageSchema>(schema: S, body: Buffer): MessageValue<S> {
  const reader = new Reader(body);
  const value = decodeMessage(schema, wireVersion, reader);
  if (reader.remaining !== 0) throw new ProtocolError(`${reader.remaining} bytes follow the message`, { message: schema.name, offset: reader.offset });
  return value;
}

export function decodeHandshake(body: Buffer): Handshake {
  const handshake = decodeBody(handshakeSchema, body);
  if (handshake.magic !== handshakeMagic) {
    throw new ProtocolError(`not a quorum handshake (magic 0x${(handshake.magic >>> 0).toString(16)}); is a Kafka client pointed at the controller listener?`, { message: handshakeSchema.name, offset: 0 });
  }
  return handshake;
}

export function decodeHandshakeResponse(body: Buffer): HandshakeResponse {
  return decodeBody(handshakeResponseSchema, body);
}

const big = (value: number): bigint => BigInt(value);

function small(value: bigint, field: string): number {
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtocolError(`${field} ${value} is out of range`, { message: raftMessageSchema.name, field });
  return Number(value);
}

function wireEntry(entry: RaftEntry): { index: bigint; term: bigint; data: Buffer | null } {
  return { index: big(entry.index), term: big(entry.term), data: entry.data === null ? null : Buffer.from(entry.data.buffer, entry.data.byteOffset, entry.data.byteLength) };
}

export function encodeRaftMessage(message: RaftMessage): Buffer {
  const value: Partial<WireRaftMessage> & Pick<WireRaftMessage, 'kind' | 'from' | 'to' | 'term'> = {
    kind: kindCodes[message.kind],
    from: message.from,
    to: message.to,
    term: big(message.term),
  };
  switch (message.kind) {
    case 'vote':
    case 'pre-vote':
      Object.assign(value, { lastIndex: big(message.lastIndex), lastTerm: big(message.lastTerm), transfer: message.transfer });
      break;
    case 'vote-response':
    case 'pre-vote-response':
      value.granted = message.granted;
      break;
    case 'append':
      Object.assign(value, { prevIndex: big(message.prevIndex), prevTerm: big(message.prevTerm), commit: big(message.commit), entries: message.entries.map(wireEntry) });
      break;
    case 'append-response':
      Object.assign(value, { success: message.success, matchIndex: big(message.matchIndex), rejectedIndex: big(message.rejectedIndex), hintIndex: big(message.hintIndex) });
      break;
    case 'heartbeat':
      value.commit = big(message.commit);
      break;
    case 'snapshot': {
      const { lastIndex, lastTerm, data } = message.snapshot;
      value.snapshot = { lastIndex: big(lastIndex), lastTerm: big(lastTerm), data: Buffer.from(data.buffer, data.byteOffset, data.byteLength) };
      break;
    }
    case 'heartbeat-response':
    case 'timeout-now':
      break;
  }
  return frame(encodeMessage(raftMessageSchema, wireVersion, value));
}

/** Decodes a Raft message frame body; the data it holds is copied out of the frame. */
export function decodeRaftMessage(body: Buffer): RaftMessage {
  const wire = decodeBody(raftMessageSchema, body);
  const kind = kindsByCode.get(wire.kind);
  if (kind === undefined) throw new ProtocolError(`unknown raft message kind ${wire.kind}`, { message: raftMessageSchema.name, field: 'kind' });
  const envelope = { from: wire.from, to: wire.to, term: small(wire.term, 'term') };
  switch (kind) {
    case 'vote':
    case 'pre-vote':
      return { kind, ...envelope, lastIndex: small(wire.lastIndex, 'lastIndex'), lastTerm: small(wire.lastTerm, 'lastTerm'), transfer: wire.transfer };
    case 'vote-response':
    case 'pre-vote-response':
      return { kind, ...envelope, granted: wire.granted };
    case 'append':
      return {
        kind,
        ...envelope,
        prevIndex: small(wire.prevIndex, 'prevIndex'),
        prevTerm: small(wire.prevTerm, 'prevTerm'),
        commit: small(wire.commit, 'commit'),
        entries: (wire.entries ?? []).map(
          (entry): RaftEntry => ({
            index: small(entry.index, 'entries.index'),
            term: small(entry.term, 'entries.term'),
            data: entry.data === null ? null : new Uint8Array(entry.data),
          }),
        ),
      };
    case 'append-response':
      return {
        kind,
        ...envelope,
        success: wire.success,
        matchIndex: small(wire.matchIndex, 'matchIndex'),
        rejectedIndex: small(wire.rejectedIndex, 'rejectedIndex'),
        hintIndex: small(wire.hintIndex, 'hintIndex'),
      };
    case 'heartbeat':
      return { kind, ...envelope, commit: small(wire.commit, 'commit') };
    case 'heartbeat-response':
    case 'timeout-now':
      return { kind, ...envelope };
    case 'snapshot': {
      if (wire.snapshot === null) throw new ProtocolError('snapshot message without a snapshot', { message: raftMessageSchema.name, field: 'snapshot' });
      const snapshot: RaftSnapshot = {
        lastIndex: small(wire.snapshot.lastIndex, 'snapshot.lastIndex'),
        lastTerm: small(wire.snapshot.lastTerm, 'snapshot.lastTerm'),
        data: new Uint8Array(wire.snapshot.data),
      };
      return { kind, ...envelope, snapshot };
    }
  }
}
