// ApiVersions: every API that has a handler, advertised from version 0 up to its maximum
// (older versions are answered with UNSUPPORTED_VERSION inside that API's response). A
// request at a version newer than ours is answered by the broker in the v0 form with
// UNSUPPORTED_VERSION and this same list, so the client retries at a version we speak.
import { apiVersionsApi } from '../protocol/apis/18-api-versions.js';
import { ErrorCode } from '../protocol/errors.js';
import type { Broker } from '../broker.js';
import { defineHandler, type ResponseOf } from './types.js';

export function apiVersionsBody(broker: Broker, errorCode: number): ResponseOf<typeof apiVersionsApi> {
  return {
    errorCode,
    apiKeys: broker.handledApis().map((api) => ({ apiKey: api.key, minVersion: 0, maxVersion: api.maxVersion })),
    throttleTimeMs: 0,
  };
}

export const apiVersionsHandler = defineHandler({
  api: apiVersionsApi,
  errorResponse: (_request, errorCode) => ({ errorCode, apiKeys: [], throttleTimeMs: 0 }),
  handle: (_request, { broker }) => apiVersionsBody(broker, ErrorCode.NONE),
});
