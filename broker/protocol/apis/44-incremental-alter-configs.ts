/**
 * IncrementalAlterConfigs (key 44), versions 0-1 (flexible from 1).
 * Each config names its operation: SET (0), DELETE (1), APPEND (2), SUBTRACT (3); configs not
 * named keep their values.
 * Field names and versions follow Apache Kafka's public IncrementalAlterConfigsRequest/IncrementalAlterConfigsResponse definitions.
 */

import { defineApi } from '../schema.js';
import type { MessageInput, MessageValue } from '../schema.js';

export const incrementalAlterConfigsApi = defineApi({
  key: 44,
  name: 'IncrementalAlterConfigs',
  minVersion: 0,
  maxVersion: 1,
  flexibleVersions: '1+',
  request: [
    { name: 'resources', type: '[]struct', versions: '0+', fields: [
      { name: 'resourceType', type: 'int8', versions: '0+' },
      { name: 'resourceName', type: 'string', versions: '0+' },
      { name: 'configs', type: '[]struct', versions: '0+', fields: [
        { name: 'name', type: 'string', versions: '0+' },
        { name: 'configOperation', type: 'int8', versions: '0+' },
        { name: 'value', type: 'string', versions: '0+', nullableVersions: '0+' },
      ] },
    ] },
    { name: 'validateOnly', type: 'bool', versions: '0+' },
  ],
  response: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'responses', type: '[]struct', versions: '0+', fields: [
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
      { name: 'resourceType', type: 'int8', versions: '0+' },
      { name: 'resourceName', type: 'string', versions: '0+' },
    ] },
  ],
});

export type IncrementalAlterConfigsRequest = MessageValue<typeof incrementalAlterConfigsApi.request>;
export type IncrementalAlterConfigsResponse = MessageInput<typeof incrementalAlterConfigsApi.response>;
/** IncrementalAlterConfigs' configOperation values. */
export const ConfigOperation = { set: 0, delete: 1, append: 2, subtract: 3 } as const;
