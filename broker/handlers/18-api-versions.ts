// ApiVersions: every API that has a handler, advertised from version 0 up to its maximum
// (older versions are answered with UNSUPPORTED_VERSION inside that API's response). A
// request at a version newer than ours is answered by the dispatcher in the v0 form with
// UNSUPPORTED_VERSION and this same list, so the client retries at a version we speak.
import { apiVersionsApi } from '../protocol/apis/18-api-versions.js';
import { ErrorCode } from '../protocol/errors.js';
import type { ApiDefinition } from '../protocol/schema.js';
import { defineHandler, type ResponseOf } from './types.js';

export function apiVersionsBody(apis: readonly ApiDefinition[], errorCode: number): ResponseOf<typeof apiVersionsApi> {
  return {
    errorCode,
    apiKeys: apis.map((api) => ({ apiKey: api.key, minVersion: 0, maxVersion: api.maxVersion })),
    throttleTimeMs: 0,
  };
}

/** The handler answering with `apis`: the handler table (handlers/index.ts) passes itself in. */
export function apiVersionsHandlerFor(apis: readonly ApiDefinition[]) {
  return defineHandler({
    api: apiVersionsApi,
    errorResponse: (_request, errorCode) => ({ errorCode, apiKeys: [], throttleTimeMs: 0 }),
    handle: () => apiVersionsBody(apis, ErrorCode.NONE),
  });
}
