/**
 * Request and response headers, and whole size-prefixed frames.
 *
 * Request header v1: apiKey int16, apiVersion int16, correlationId int32, clientId nullable
 * string (int16 length even in v2); v2 (flexible request versions) adds a tagged-field section.
 * Response header v0: correlationId; v1 (flexible response versions) adds a tagged-field
 * section — except ApiVersions, whose response always uses v0 so a client that does not yet
 * know the broker's versions can parse it.
 *
 * Usage (answering Metadata; `apisByKey` serves generic dispatch by key):
 *
 *   const reader = new Reader(frame);                         // frame = bytes after the size prefix
 *   const header = decodeRequestHeader(reader);               // ProtocolError when malformed
 *   if (header.apiKey === metadataApi.key && metadataApi.supports(header.apiVersion)) {
 *     const request = decodeMessage(metadataApi.request, header.apiVersion, reader);  // a MetadataRequest
 *     const response: MetadataResponse = { brokers: [{ nodeId: 1, host: 'b1', port: 9092 }], topics: [] };
 *     const chunks = encodeResponse(metadataApi, header.apiVersion, header.correlationId, response);
 *     socket.cork(); for (const chunk of chunks) socket.write(chunk); socket.uncork();
 *   }
 */

import { apisByKey, apiVersionsApi } from './apis/index.js';
import { Reader, Writer, decodeMessage, encodeMessageInto } from './codec.js';
import { ProtocolError } from './errors.js';
import type { ApiDefinition, MessageInput, MessageValue } from './schema.js';

export interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
}

export function requestHeaderVersion(api: ApiDefinition, version: number): 1 | 2 {
  return api.isFlexible(version) ? 2 : 1;
}

export function responseHeaderVersion(api: ApiDefinition, version: number): 0 | 1 {
  return api.key !== apiVersionsApi.key && api.isFlexible(version) ? 1 : 0;
}

/**
 * Reads a request header. The header's version follows from the API key and version it
 * carries, so the tagged-field section is consumed only for known APIs at flexible versions;
 * for an unknown API key the reader is left right after the client id.
 */
export function decodeRequestHeader(reader: Reader): RequestHeader {
  try {
    const apiKey = reader.int16();
    const apiVersion = reader.int16();
    const correlationId = reader.int32();
    const clientId = reader.nullableString();
    const api = apisByKey.get(apiKey);
    if (api !== undefined && api.isFlexible(apiVersion)) reader.skipTaggedFields();
    return { apiKey, apiVersion, correlationId, clientId };
  } catch (error) {
    throw error instanceof ProtocolError ? error.withContext({ message: 'RequestHeader' }) : error;
  }
}

function encodeRequestHeader(writer: Writer, api: ApiDefinition, version: number, correlationId: number, clientId: string | null): void {
  writer.int16(api.key).int16(version).int32(correlationId).nullableString(clientId);
  if (requestHeaderVersion(api, version) === 2) writer.uvarint(0);
}

function encodeResponseHeader(writer: Writer, api: ApiDefinition, version: number, correlationId: number): void {
  writer.int32(correlationId);
  if (responseHeaderVersion(api, version) === 1) writer.uvarint(0);
}

/** Reads a response header and returns its correlation id. */
function decodeResponseHeader(reader: Reader, api: ApiDefinition, version: number): number {
  try {
    const correlationId = reader.int32();
    if (responseHeaderVersion(api, version) === 1) reader.skipTaggedFields();
    return correlationId;
  } catch (error) {
    throw error instanceof ProtocolError ? error.withContext({ message: 'ResponseHeader' }) : error;
  }
}

function sizePrefixed(writer: Writer): Buffer[] {
  const chunks = writer.chunksOut();
  const total = writer.length;
  // The int32 placeholder was the first thing written, so it is inside the first chunk.
  (chunks[0] as Buffer).writeInt32BE(total - 4, 0);
  return chunks;
}

/**
 * A whole response frame (size prefix, header, body) as chunks to write in order; large record
 * blobs are their own chunks aliasing the handler's Buffers.
 */
export function encodeResponse<A extends ApiDefinition>(
  api: A,
  version: number,
  correlationId: number,
  body: MessageInput<A['response']>,
): Buffer[] {
  const writer = new Writer(512);
  writer.int32(0);
  encodeResponseHeader(writer, api, version, correlationId);
  encodeMessageInto<A['response']>(api.response, version, body, writer);
  return sizePrefixed(writer);
}

/** A whole request frame (size prefix, header, body): for clients of the broker (followers, tests). */
export function encodeRequest<A extends ApiDefinition>(
  api: A,
  version: number,
  correlationId: number,
  clientId: string | null,
  body: MessageInput<A['request']>,
): Buffer[] {
  const writer = new Writer(512);
  writer.int32(0);
  encodeRequestHeader(writer, api, version, correlationId, clientId);
  encodeMessageInto<A['request']>(api.request, version, body, writer);
  return sizePrefixed(writer);
}

/** Decodes a response frame body (without the size prefix): header then message. */
export function decodeResponse<A extends ApiDefinition>(
  api: A,
  version: number,
  frame: Buffer,
): { correlationId: number; body: MessageValue<A['response']> } {
  const reader = new Reader(frame);
  const correlationId = decodeResponseHeader(reader, api, version);
  return { correlationId, body: decodeMessage<A['response']>(api.response, version, reader) };
}
