/**
 * Kafka wire codec: primitive `Reader`/`Writer` plus one generic, schema-driven message
 * encoder/decoder. Pure (no I/O).
 *
 * How a request frame is read and a response written around these (header, body, size
 * prefix) is in header.ts, which builds on this file; this file knows nothing of headers.
 *
 * Decoded values hold every field of the schema (fields the version lacks hold their defaults);
 * response inputs may leave out fields that have defaults. `encodeResponse` returns the
 * size-prefixed frame as chunks: large `records` fields are chunks of their own that alias the
 * caller's Buffers, so Fetch never copies record data, and `decodeMessage` returns `records`
 * fields as `subarray` views of the input frame.
 *
 * Each (message, version) is compiled once into generated per-struct decode/encode functions
 * (see "Compiled plans" below), so no per-field dispatch or closure runs per message.
 */

import { ProtocolError } from './errors.js';
import { parseVersions } from './schema.js';
import type { DefaultValue, Field, MessageInput, MessageSchema, MessageValue, ScalarType } from './schema.js';

// ---- Reader ------------------------------------------------------------------------------

/** Sequential reader over one Buffer; every read checks the remaining bytes first. */
export class Reader {
  readonly buf: Buffer;
  offset: number;
  end: number;

  constructor(buf: Buffer, offset = 0, end = buf.length) {
    this.buf = buf;
    this.offset = offset;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  private need(n: number, what: string): void {
    if (n > this.end - this.offset) {
      throw new ProtocolError(`truncated: ${what} needs ${n} bytes, ${this.end - this.offset} left`, { offset: this.offset });
    }
  }

  // Integer reads use byte arithmetic: the bounds are already checked by need(), and Buffer's
  // read* methods (which check again) cost several times more on this hot path.

  int8(): number {
    this.need(1, 'int8');
    return ((this.buf[this.offset++] as number) << 24) >> 24;
  }

  bool(): boolean {
    return this.int8() !== 0;
  }

  int16(): number {
    this.need(2, 'int16');
    const b = this.buf;
    const o = this.offset;
    this.offset = o + 2;
    return (((b[o] as number) << 24) | ((b[o + 1] as number) << 16)) >> 16;
  }

  uint16(): number {
    this.need(2, 'uint16');
    const b = this.buf;
    const o = this.offset;
    this.offset = o + 2;
    return ((b[o] as number) << 8) | (b[o + 1] as number);
  }

  int32(): number {
    this.need(4, 'int32');
    const o = this.offset;
    this.offset = o + 4;
    return this.int32At(o);
  }

  uint32(): number {
    this.need(4, 'uint32');
    const o = this.offset;
    this.offset = o + 4;
    return this.int32At(o) >>> 0;
  }

  int64(): bigint {
    this.need(8, 'int64');
    const o = this.offset;
    this.offset = o + 8;
    return (BigInt(this.int32At(o)) << 32n) | BigInt(this.int32At(o + 4) >>> 0);
  }

  private int32At(o: number): number {
    const b = this.buf;
    return ((b[o] as number) << 24) | ((b[o + 1] as number) << 16) | ((b[o + 2] as number) << 8) | (b[o + 3] as number);
  }

  float64(): number {
    this.need(8, 'float64');
    const value = this.buf.readDoubleBE(this.offset);
    this.offset += 8;
    return value;
  }

  /** Unsigned LEB128 varint, at most 5 bytes (a 32-bit value). */
  uvarint(): number {
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 5; i++) {
      if (this.offset >= this.end) throw new ProtocolError('truncated: varint runs past the end', { offset: this.offset });
      const byte = this.buf[this.offset++] as number;
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) {
        if (result > 0xffffffff) throw new ProtocolError('varint exceeds 32 bits', { offset: this.offset });
        return result;
      }
      shift += 7;
    }
    throw new ProtocolError('varint longer than 5 bytes', { offset: this.offset });
  }

  /** 16 bytes rendered as a canonical lowercase UUID string. */
  uuid(): string {
    this.need(16, 'uuid');
    const hex = this.buf.toString('hex', this.offset, this.offset + 16);
    this.offset += 16;
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  /** `length` bytes as a zero-copy view. */
  slice(length: number, what = 'bytes'): Buffer {
    this.need(length, what);
    const view = this.buf.subarray(this.offset, this.offset + length);
    this.offset += length;
    return view;
  }

  skip(length: number): void {
    this.need(length, 'skipped bytes');
    this.offset += length;
  }

  private text(length: number): string {
    this.need(length, 'string');
    const start = this.offset;
    const end = start + length;
    this.offset = end;
    // Names and ids are short ASCII; building those directly beats a utf8 decode call.
    if (length <= 32) {
      const b = this.buf;
      let value = '';
      for (let i = start; i < end; i++) {
        const byte = b[i] as number;
        if (byte >= 0x80) return b.toString('utf8', start, end);
        value += String.fromCharCode(byte);
      }
      return value;
    }
    return this.buf.toString('utf8', start, end);
  }

  string(): string {
    const length = this.int16();
    if (length < 0) throw new ProtocolError(`negative string length ${length}`, { offset: this.offset - 2 });
    return this.text(length);
  }

  nullableString(): string | null {
    const length = this.int16();
    if (length === -1) return null;
    if (length < 0) throw new ProtocolError(`negative string length ${length}`, { offset: this.offset - 2 });
    return this.text(length);
  }

  compactString(): string {
    const length = this.uvarint() - 1;
    if (length < 0) throw new ProtocolError('null where a non-null compact string is required', { offset: this.offset - 1 });
    return this.text(length);
  }

  compactNullableString(): string | null {
    const length = this.uvarint() - 1;
    return length < 0 ? null : this.text(length);
  }

  bytes(): Buffer {
    const length = this.int32();
    if (length < 0) throw new ProtocolError(`negative bytes length ${length}`, { offset: this.offset - 4 });
    return this.slice(length);
  }

  nullableBytes(): Buffer | null {
    const length = this.int32();
    if (length === -1) return null;
    if (length < 0) throw new ProtocolError(`negative bytes length ${length}`, { offset: this.offset - 4 });
    return this.slice(length);
  }

  compactBytes(): Buffer {
    const length = this.uvarint() - 1;
    if (length < 0) throw new ProtocolError('null where non-null compact bytes are required', { offset: this.offset - 1 });
    return this.slice(length);
  }

  compactNullableBytes(): Buffer | null {
    const length = this.uvarint() - 1;
    return length < 0 ? null : this.slice(length);
  }

  /**
   * Array element count (int32, or unsigned varint + 1 when compact); -1 means null.
   * A count larger than the bytes left cannot be honest (every element takes at least one
   * byte), so it is rejected before anything is allocated.
   */
  arrayLength(compact: boolean): number {
    const start = this.offset;
    const count = compact ? this.uvarint() - 1 : this.int32();
    if (count < -1) throw new ProtocolError(`negative array length ${count}`, { offset: start });
    if (count > this.end - this.offset) {
      throw new ProtocolError(`array length ${count} exceeds the ${this.end - this.offset} bytes left`, { offset: start });
    }
    return count;
  }

  /** Skips a whole tagged-field section (used where no tags are known, e.g. request header v2). */
  skipTaggedFields(): void {
    const count = this.uvarint();
    for (let i = 0; i < count; i++) {
      this.uvarint();
      this.skip(this.uvarint());
    }
  }
}

// ---- Writer ------------------------------------------------------------------------------

function outOfRange(type: string, value: unknown): ProtocolError {
  return new ProtocolError(`value ${String(value)} is not a valid ${type}`);
}

/** Records at least this large become their own output chunk instead of being copied. */
const ZERO_COPY_THRESHOLD = 1024;

/**
 * Growable writer producing a list of chunks. Small values go into one scratch buffer;
 * large byte blobs (`rawChunk`) are referenced, not copied.
 */
export class Writer {
  private buf: Buffer;
  private pos = 0;
  /** Start of the part of `buf` not yet emitted as a chunk. */
  private chunkStart = 0;
  private readonly chunks: Buffer[] = [];
  private flushedBytes = 0;

  constructor(initialSize = 256) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  /** Total bytes written so far. */
  get length(): number {
    return this.flushedBytes + (this.pos - this.chunkStart);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const pending = this.pos - this.chunkStart;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, pending + n, 256));
    this.buf.copy(next, 0, this.chunkStart, this.pos);
    this.buf = next;
    this.chunkStart = 0;
    this.pos = pending;
  }

  private flushPending(): void {
    if (this.pos > this.chunkStart) {
      this.chunks.push(this.buf.subarray(this.chunkStart, this.pos));
      this.flushedBytes += this.pos - this.chunkStart;
      this.chunkStart = this.pos;
    }
  }

  // Integer writes check the range themselves (so a bad value is a ProtocolError, never silently
  // truncated) and store bytes directly, which is much cheaper than Buffer's write* methods.

  int8(value: number): this {
    if ((value << 24) >> 24 !== value) throw outOfRange('int8', value);
    this.ensure(1);
    this.buf[this.pos++] = value;
    return this;
  }

  bool(value: boolean): this {
    return this.int8(value ? 1 : 0);
  }

  int16(value: number): this {
    if ((value << 16) >> 16 !== value) throw outOfRange('int16', value);
    return this.put16(value);
  }

  uint16(value: number): this {
    if ((value & 0xffff) !== value) throw outOfRange('uint16', value);
    return this.put16(value);
  }

  int32(value: number): this {
    if ((value | 0) !== value) throw outOfRange('int32', value);
    return this.put32(value);
  }

  uint32(value: number): this {
    if (value >>> 0 !== value) throw outOfRange('uint32', value);
    return this.put32(value);
  }

  int64(value: bigint): this {
    if (typeof value !== 'bigint' || BigInt.asIntN(64, value) !== value) throw outOfRange('int64', value);
    const asNumber = Number(value);
    if (Number.isSafeInteger(asNumber)) {
      // Offsets and timestamps fit in 53 bits: split without BigInt arithmetic.
      const high = Math.floor(asNumber / 4294967296);
      return this.put32(high).put32(asNumber - high * 4294967296);
    }
    return this.put32(Number(value >> 32n)).put32(Number(BigInt.asUintN(32, value)));
  }

  private put16(value: number): this {
    this.ensure(2);
    const b = this.buf;
    const p = this.pos;
    b[p] = value >>> 8;
    b[p + 1] = value;
    this.pos = p + 2;
    return this;
  }

  private put32(value: number): this {
    this.ensure(4);
    const b = this.buf;
    const p = this.pos;
    b[p] = value >>> 24;
    b[p + 1] = value >>> 16;
    b[p + 2] = value >>> 8;
    b[p + 3] = value;
    this.pos = p + 4;
    return this;
  }

  float64(value: number): this {
    this.ensure(8);
    this.buf.writeDoubleBE(value, this.pos);
    this.pos += 8;
    return this;
  }

  uvarint(value: number): this {
    this.ensure(5);
    let rest = value >>> 0;
    while (rest >= 0x80) {
      this.buf[this.pos++] = (rest & 0x7f) | 0x80;
      rest >>>= 7;
    }
    this.buf[this.pos++] = rest;
    return this;
  }

  uuid(value: string): this {
    const hex = value.replaceAll('-', '');
    if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new ProtocolError(`invalid uuid '${value}'`);
    this.ensure(16);
    this.buf.write(hex, this.pos, 16, 'hex');
    this.pos += 16;
    return this;
  }

  /** Copies bytes into the scratch buffer. */
  raw(bytes: Uint8Array): this {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
    return this;
  }

  /** Appends bytes by reference (no copy) when large enough to be worth a chunk of its own. */
  rawChunk(bytes: Buffer): this {
    if (bytes.length < ZERO_COPY_THRESHOLD) return this.raw(bytes);
    this.flushPending();
    this.chunks.push(bytes);
    this.flushedBytes += bytes.length;
    return this;
  }

  private text(value: string, length: number): void {
    this.ensure(length);
    this.buf.write(value, this.pos, length, 'utf8');
    this.pos += length;
  }

  /** The UTF-8 length of `value`, or -1 for short pure-ASCII strings (then length === value.length). */
  private static shortAsciiLength(value: string): number {
    if (value.length > 32) return -1;
    for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) >= 0x80) return -1;
    return value.length;
  }

  /** Writes a short ASCII string byte by byte (cheaper than a utf8 encode call), else via utf8. */
  private textWithLength(value: string, compact: boolean): void {
    if (typeof value !== 'string') throw new ProtocolError(`expected a string, got ${typeof value}`);
    const ascii = Writer.shortAsciiLength(value);
    const length = ascii >= 0 ? ascii : Buffer.byteLength(value);
    if (compact) this.uvarint(length + 1);
    else if (length > 0x7fff) throw new ProtocolError(`string of ${length} bytes exceeds the int16 length limit`);
    else this.put16(length);
    if (ascii < 0) {
      this.text(value, length);
      return;
    }
    this.ensure(length);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < length; i++) b[p++] = value.charCodeAt(i);
    this.pos = p;
  }

  string(value: string): this {
    this.textWithLength(value, false);
    return this;
  }

  nullableString(value: string | null): this {
    return value === null ? this.int16(-1) : this.string(value);
  }

  compactString(value: string): this {
    this.textWithLength(value, true);
    return this;
  }

  compactNullableString(value: string | null): this {
    return value === null ? this.uvarint(0) : this.compactString(value);
  }

  bytes(value: Uint8Array): this {
    return this.int32(value.length).raw(value);
  }

  nullableBytes(value: Uint8Array | null): this {
    return value === null ? this.int32(-1) : this.bytes(value);
  }

  compactBytes(value: Uint8Array): this {
    return this.uvarint(value.length + 1).raw(value);
  }

  compactNullableBytes(value: Uint8Array | null): this {
    return value === null ? this.uvarint(0) : this.compactBytes(value);
  }

  arrayLength(count: number, compact: boolean): this {
    return compact ? this.uvarint(count + 1) : this.int32(count);
  }

  /** The written bytes as chunks (no copy). The writer must not be used afterwards. */
  chunksOut(): Buffer[] {
    this.flushPending();
    return this.chunks;
  }

  /** The written bytes as one Buffer (copies only when there is more than one chunk). */
  toBuffer(): Buffer {
    const chunks = this.chunksOut();
    return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, this.flushedBytes);
  }
}

// ---- Compiled plans ----------------------------------------------------------------------
//
// Each (message, version) compiles once into a tree of struct plans. Every struct plan gets a
// generated decode and encode function (via `new Function`) that reads or writes its fields in
// order with direct Reader/Writer calls and builds the decoded object as one literal, so every
// decoded struct of a plan shares one hidden class and no per-field dispatch runs per message.
// The generated source only ever contains Reader/Writer method names from fixed tables and
// field names quoted with JSON.stringify.

const enum Kind {
  Bool,
  Int8,
  Int16,
  Uint16,
  Int32,
  Uint32,
  Int64,
  Float64,
  String,
  Uuid,
  Bytes,
  Records,
  Array,
  Struct,
}

const scalarKinds: Record<ScalarType, Kind> = {
  bool: Kind.Bool,
  int8: Kind.Int8,
  int16: Kind.Int16,
  uint16: Kind.Uint16,
  int32: Kind.Int32,
  uint32: Kind.Uint32,
  int64: Kind.Int64,
  float64: Kind.Float64,
  string: Kind.String,
  uuid: Kind.Uuid,
  bytes: Kind.Bytes,
  records: Kind.Records,
};

/** Reader/Writer method for fixed-width kinds (same name on both). */
const fixedMethods: Partial<Record<Kind, string>> = {
  [Kind.Bool]: 'bool',
  [Kind.Int8]: 'int8',
  [Kind.Int16]: 'int16',
  [Kind.Uint16]: 'uint16',
  [Kind.Int32]: 'int32',
  [Kind.Uint32]: 'uint32',
  [Kind.Int64]: 'int64',
  [Kind.Float64]: 'float64',
  [Kind.Uuid]: 'uuid',
};

const enum Presence {
  /** Written in the regular field sequence. */
  Inline,
  /** Written in the tagged-field section when not at its default. */
  Tagged,
  /** Not part of this version: decoded as its default, never written. */
  Absent,
}

type StructDecoder = (reader: Reader) => Record<string, unknown>;
type StructEncoder = (writer: Writer, value: Record<string, unknown>) => void;

interface FieldPlan {
  readonly name: string;
  readonly kind: Kind;
  /** Element kind for arrays (Kind.Struct for arrays of structs). */
  readonly itemKind: Kind;
  readonly struct: StructPlan | undefined;
  readonly presence: Presence;
  readonly nullable: boolean;
  readonly tag: number;
  readonly defaultValue: DefaultValue | undefined;
  /** Tagged fields only: reads or writes the value inside its size-delimited tag. */
  decodeValue: ((reader: Reader) => unknown) | undefined;
  encodeValue: ((writer: Writer, value: unknown) => void) | undefined;
}

interface StructPlan {
  /** Path prefix for error messages, e.g. 'topics.partitions.'. */
  readonly path: string;
  readonly flexible: boolean;
  /** All fields in schema order. */
  readonly fields: readonly FieldPlan[];
  /** Tagged fields, ascending by tag. */
  readonly tagged: readonly FieldPlan[];
  decode: StructDecoder;
  encode: StructEncoder;
}

/** Kafka's "no topic id": the default of every uuid field, and what a name-only answer carries. */
export const ZERO_UUID = '00000000-0000-0000-0000-000000000000';
const EMPTY_BUFFER = Buffer.alloc(0);

function scalarKindOf(type: string, where: string): Kind {
  const kind = scalarKinds[type as ScalarType];
  if (kind === undefined) throw new Error(`schema error: unknown type '${type}' at ${where}`);
  return kind;
}

function compileStruct(fields: readonly Field[], version: number, flexible: boolean, path: string): StructPlan {
  const plans: FieldPlan[] = [];
  for (const field of fields) {
    const where = path + field.name;
    const exists = parseVersions(field.versions).includes(version);
    const isTagged = exists && flexible && parseVersions(field.taggedVersions).includes(version);
    if (isTagged && field.tag === undefined) throw new Error(`schema error: tagged field ${where} has no tag`);
    let kind: Kind;
    let itemKind = Kind.Bool;
    let struct: StructPlan | undefined;
    if (field.type === '[]struct' || field.type === 'struct') {
      kind = field.type === 'struct' ? Kind.Struct : Kind.Array;
      itemKind = Kind.Struct;
      struct = compileStruct(field.fields, version, flexible, `${where}.`);
    } else if (field.type.startsWith('[]')) {
      kind = Kind.Array;
      itemKind = scalarKindOf(field.type.slice(2), where);
    } else {
      kind = scalarKindOf(field.type, where);
    }
    plans.push({
      name: field.name,
      kind,
      itemKind,
      struct,
      presence: !exists ? Presence.Absent : isTagged ? Presence.Tagged : Presence.Inline,
      nullable: kind === Kind.Records || parseVersions(field.nullableVersions).includes(version),
      tag: field.tag ?? -1,
      defaultValue: field.default,
      decodeValue: undefined,
      encodeValue: undefined,
    });
  }
  const tagged = plans.filter((plan) => plan.presence === Presence.Tagged).sort((a, b) => a.tag - b.tag);
  const struct: StructPlan = { path, flexible, fields: plans, tagged, decode: unreachableDecoder, encode: unreachableEncoder };
  generateCode(struct);
  return struct;
}

function unreachableDecoder(): never {
  throw new Error('struct decoder used before it was generated');
}

function unreachableEncoder(): never {
  throw new Error('struct encoder used before it was generated');
}

// ---- Code generation ---------------------------------------------------------------------

/** Statements that read field `ref` (flexible or not) into variable `target`. */
function decodeSource(plan: FieldPlan, ref: string, flexible: boolean, target: string): string {
  if (plan.kind === Kind.Array) {
    const item = plan.itemKind === Kind.Struct ? `${ref}.struct.decode(r)` : readExpression(plan.itemKind, flexible, false);
    const onNull = plan.nullable ? `${target} = null;` : `throw h.notNullable('array', r);`;
    return [
      `{ const n = r.arrayLength(${flexible});`,
      `if (n < 0) { ${onNull} } else {`,
      `const a = new Array(n); for (let i = 0; i < n; i++) a[i] = ${item};`,
      `${target} = a; } }`,
    ].join(' ');
  }
  if (plan.kind === Kind.Struct) {
    return plan.nullable ? `${target} = r.int8() < 0 ? null : ${ref}.struct.decode(r);` : `${target} = ${ref}.struct.decode(r);`;
  }
  return `${target} = ${readExpression(plan.kind, flexible, plan.nullable)};`;
}

function readExpression(kind: Kind, flexible: boolean, nullable: boolean): string {
  const fixed = fixedMethods[kind];
  if (fixed !== undefined) return `r.${fixed}()`;
  const base = kind === Kind.String ? 'String' : 'Bytes';
  const method = flexible ? (nullable ? `compactNullable${base}` : `compact${base}`) : nullable ? `nullable${base}` : base.toLowerCase();
  return `r.${method}()`;
}

/** Statements that write variable `value` as field `ref`. */
function encodeSource(plan: FieldPlan, ref: string, flexible: boolean, value: string): string {
  if (plan.kind === Kind.Array) {
    const onNull = plan.nullable ? `w.arrayLength(-1, ${flexible});` : `throw h.notNullable('array');`;
    const item =
      plan.itemKind === Kind.Struct ? `${ref}.struct.encode(w, ${value}[i]);` : writeStatement(plan.itemKind, flexible, false, `${value}[i]`);
    return [
      `if (${value} === null) { ${onNull} } else {`,
      `if (!Array.isArray(${value})) throw h.notArray(${value});`,
      `w.arrayLength(${value}.length, ${flexible});`,
      `for (let i = 0; i < ${value}.length; i++) { ${item} } }`,
    ].join(' ');
  }
  if (plan.kind === Kind.Struct) {
    const onNull = plan.nullable ? 'w.int8(-1);' : `throw h.notNullable('struct');`;
    return `if (${value} === null) { ${onNull} } else { ${plan.nullable ? 'w.int8(1); ' : ''}${ref}.struct.encode(w, ${value}); }`;
  }
  return writeStatement(plan.kind, flexible, plan.nullable, value);
}

function writeStatement(kind: Kind, flexible: boolean, nullable: boolean, value: string): string {
  const fixed = fixedMethods[kind];
  if (fixed !== undefined) return `w.${fixed}(${value});`;
  const nullMarker = flexible ? 'w.uvarint(0);' : kind === Kind.String ? 'w.int16(-1);' : 'w.int32(-1);';
  const onNull = nullable ? nullMarker : `throw h.notNullable('${kind === Kind.String ? 'string' : 'bytes'}');`;
  let write: string;
  if (kind === Kind.String) write = flexible ? `w.compactString(${value});` : `w.string(${value});`;
  else if (kind === Kind.Bytes) write = flexible ? `w.compactBytes(${value});` : `w.bytes(${value});`;
  else write = `${flexible ? `w.uvarint(${value}.length + 1);` : `w.int32(${value}.length);`} w.rawChunk(${value});`;
  return `if (${value} === null) { ${onNull} } else { ${write} }`;
}

interface GeneratedHelpers {
  def(plan: FieldPlan): unknown;
  readTagged(struct: StructPlan, reader: Reader, out: Record<string, unknown>): void;
  writeTagged(struct: StructPlan, writer: Writer, value: Record<string, unknown>): void;
  decodeFailure(error: unknown, struct: StructPlan, at: number): unknown;
  encodeFailure(error: unknown, field: string): unknown;
  notNullable(what: string, reader?: Reader): ProtocolError;
  notArray(value: unknown): ProtocolError;
}

const helpers: GeneratedHelpers = {
  def: defaultFor,
  readTagged: decodeTaggedFields,
  writeTagged: encodeTaggedFields,
  decodeFailure,
  encodeFailure,
  notNullable: (what, reader) => new ProtocolError(`null ${what} where the field is not nullable`, reader ? { offset: reader.offset } : {}),
  notArray: (value) => new ProtocolError(`expected an array, got ${typeof value}`),
};

function generateCode(struct: StructPlan): void {
  const decodeLines: string[] = [];
  const literal: string[] = [];
  const encodeLines: string[] = [];
  struct.fields.forEach((plan, index) => {
    const ref = `F[${index}]`;
    const key = JSON.stringify(plan.name);
    if (plan.presence === Presence.Inline) {
      decodeLines.push(`at = ${index}; let v${index}; ${decodeSource(plan, ref, struct.flexible, `v${index}`)}`);
      literal.push(`${key}: v${index}`);
      encodeLines.push(`at = ${index}; x = v[${key}]; if (x === undefined) x = h.def(${ref}); ${encodeSource(plan, ref, struct.flexible, 'x')}`);
    } else {
      literal.push(`${key}: h.def(${ref})`);
    }
    if (plan.presence === Presence.Tagged) {
      plan.decodeValue = compile<(reader: Reader) => unknown>(
        `return function (r) { let x; ${decodeSource(plan, ref, true, 'x')} return x; };`,
        struct,
      );
      plan.encodeValue = compile<(writer: Writer, value: unknown) => void>(
        `return function (w, x) { ${encodeSource(plan, ref, true, 'x')} };`,
        struct,
      );
    }
  });
  const readTagged = struct.flexible ? 'at = -1; h.readTagged(S, r, o);' : '';
  const writeTagged = struct.flexible ? 'h.writeTagged(S, w, v);' : '';
  struct.decode = compile<StructDecoder>(
    `return function (r) { let at = -1; try { ${decodeLines.join('\n')}
      const o = { ${literal.join(', ')} }; ${readTagged} return o; } catch (e) { throw h.decodeFailure(e, S, at); } };`,
    struct,
  );
  struct.encode = compile<StructEncoder>(
    `return function (w, v) { let at = -1; let x; try { ${encodeLines.join('\n')}
      } catch (e) { throw h.encodeFailure(e, S.path + S.fields[at].name); } ${writeTagged} };`,
    struct,
  );
}

function compile<T>(source: string, struct: StructPlan): T {
  return new Function('F', 'S', 'h', source)(struct.fields, struct, helpers) as T;
}

const planCache = new WeakMap<MessageSchema, StructPlan[]>();

function planFor(schema: MessageSchema, version: number): StructPlan {
  let byVersion = planCache.get(schema);
  if (byVersion === undefined) {
    byVersion = [];
    planCache.set(schema, byVersion);
  }
  let plan = byVersion[version];
  if (plan === undefined) {
    if (!Number.isInteger(version) || version < 0 || version > 0x7fff) throw new ProtocolError(`invalid version ${version}`, { message: schema.name });
    plan = compileStruct(schema.fields, version, parseVersions(schema.flexibleVersions).includes(version), '');
    byVersion[version] = plan;
  }
  return plan;
}

// ---- Defaults ----------------------------------------------------------------------------

function defaultFor(plan: FieldPlan): unknown {
  const declared = plan.defaultValue;
  if (declared === null) return null;
  switch (plan.kind) {
    case Kind.Bool:
      return declared ?? false;
    case Kind.Int64:
      return declared === undefined ? 0n : BigInt(declared);
    case Kind.String:
      return declared ?? '';
    case Kind.Uuid:
      return declared ?? ZERO_UUID;
    case Kind.Bytes:
      return EMPTY_BUFFER;
    case Kind.Records:
      return null;
    case Kind.Array:
      return [];
    case Kind.Struct:
      return defaultStruct(plan.struct as StructPlan);
    default:
      return declared ?? 0;
  }
}

function defaultStruct(struct: StructPlan): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of struct.fields) out[field.name] = defaultFor(field);
  return out;
}

function isDefault(plan: FieldPlan, value: unknown): boolean {
  if (value === undefined) return true;
  switch (plan.kind) {
    case Kind.Array:
      return plan.defaultValue === null ? value === null : Array.isArray(value) && value.length === 0;
    case Kind.Bytes:
      return value instanceof Uint8Array && value.length === 0;
    case Kind.Struct: {
      if (value === null) return plan.defaultValue === null;
      const struct = plan.struct as StructPlan;
      const record = value as Record<string, unknown>;
      return struct.fields.every((field) => field.presence === Presence.Absent || isDefault(field, record[field.name]));
    }
    default:
      return value === defaultFor(plan);
  }
}

// ---- Tagged fields -----------------------------------------------------------------------

function decodeTaggedFields(struct: StructPlan, reader: Reader, out: Record<string, unknown>): void {
  const count = reader.uvarint();
  for (let i = 0; i < count; i++) {
    const tag = reader.uvarint();
    const size = reader.uvarint();
    const field = struct.tagged.find((candidate) => candidate.tag === tag);
    if (field === undefined || field.decodeValue === undefined) {
      reader.skip(size);
      continue;
    }
    if (size > reader.remaining) {
      throw new ProtocolError(`tagged field ${tag} of ${size} bytes exceeds the ${reader.remaining} bytes left`, {
        field: struct.path + field.name,
        offset: reader.offset,
      });
    }
    const end = reader.offset + size;
    const outerEnd = reader.end;
    reader.end = end;
    try {
      out[field.name] = field.decodeValue(reader);
    } catch (error) {
      throw error instanceof ProtocolError && error.context.field === undefined ? error.withContext({ field: struct.path + field.name }) : error;
    } finally {
      reader.end = outerEnd;
    }
    reader.offset = end;
  }
}

function encodeTaggedFields(struct: StructPlan, writer: Writer, value: Record<string, unknown>): void {
  let present = 0;
  for (const field of struct.tagged) if (!isDefault(field, value[field.name])) present++;
  writer.uvarint(present);
  if (present === 0) return;
  for (const field of struct.tagged) {
    const fieldValue = value[field.name];
    if (isDefault(field, fieldValue) || field.encodeValue === undefined) continue;
    const inner = new Writer(64);
    try {
      field.encodeValue(inner, fieldValue);
    } catch (error) {
      throw encodeFailure(error, struct.path + field.name);
    }
    const bytes = inner.toBuffer();
    writer.uvarint(field.tag).uvarint(bytes.length).raw(bytes);
  }
}

// ---- Failures ----------------------------------------------------------------------------

/** Attributes a decode failure to the innermost field being read (outer structs keep it). */
function decodeFailure(error: unknown, struct: StructPlan, at: number): unknown {
  if (!(error instanceof ProtocolError) || error.context.field !== undefined) return error;
  const field = struct.fields[at];
  return error.withContext({ field: field === undefined ? `${struct.path}(tagged fields)` : struct.path + field.name });
}

/** Attributes an encode failure to the innermost field; Buffer's range and type errors become ProtocolErrors. */
function encodeFailure(error: unknown, field: string): unknown {
  if (error instanceof ProtocolError) return error.context.field === undefined ? error.withContext({ field }) : error;
  if (error instanceof RangeError || error instanceof TypeError) return new ProtocolError(`cannot encode value: ${error.message}`, { field });
  return error;
}

// ---- Public entry points -----------------------------------------------------------------

/**
 * Decodes one message of `schema` at `version` from `reader` (advancing it). Fields the version
 * lacks hold their defaults. `records`/`bytes` values are views into the reader's buffer.
 * Throws ProtocolError naming the message, version, field path and byte offset.
 */
export function decodeMessage<S extends MessageSchema>(schema: S, version: number, reader: Reader): MessageValue<S> {
  const plan = planFor(schema, version);
  try {
    return plan.decode(reader) as MessageValue<S>;
  } catch (error) {
    throw error instanceof ProtocolError ? error.withContext({ message: schema.name, version, offset: reader.offset }) : error;
  }
}

/** Encodes `value` as `schema` at `version` into `writer` (fields missing from `value` take their defaults). */
export function encodeMessageInto<S extends MessageSchema>(schema: S, version: number, value: MessageInput<S>, writer: Writer): void {
  const plan = planFor(schema, version);
  try {
    plan.encode(writer, value as Record<string, unknown>);
  } catch (error) {
    throw error instanceof ProtocolError ? error.withContext({ message: schema.name, version }) : error;
  }
}

/** Encodes one message into a single Buffer (convenient for tests and small messages). */
export function encodeMessage<S extends MessageSchema>(schema: S, version: number, value: MessageInput<S>): Buffer {
  const writer = new Writer();
  encodeMessageInto(schema, version, value, writer);
  return writer.toBuffer();
}

/** A value of `schema` at `version` with every field at its default (a base for error responses). */
export function defaultMessage<S extends MessageSchema>(schema: S, version: number): MessageValue<S> {
  return defaultStruct(planFor(schema, version)) as MessageValue<S>;
}
