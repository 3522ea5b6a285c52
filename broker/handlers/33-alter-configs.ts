// AlterConfigs (the older API): a topic resource's configs become exactly those named, so every
// override the request leaves out returns to its default (Kafka's semantics; clients that
// mean to change one config use IncrementalAlterConfigs). The controller works out what is left
// out from its own image: this broker's may trail it. Resources are checked as
// IncrementalAlterConfigs checks them (see 44-incremental-alter-configs.ts).
import { alterConfigsApi } from '../protocol/apis/33-alter-configs.js';
import { ErrorCode } from '../protocol/errors.js';
import { changeResult, configResult, repeatedResources, resourceRefusal } from './44-incremental-alter-configs.js';
import { defineHandler, type ResponseOf } from './types.js';

type ResourceResult = ResponseOf<typeof alterConfigsApi>['responses'][number];

export const alterConfigsHandler = defineHandler({
  api: alterConfigsApi,
  errorResponse: (request, errorCode) => ({
    throttleTimeMs: 0,
    responses: request.resources.map((resource) => configResult(resource.resourceType, resource.resourceName, errorCode, null)),
  }),
  async handle(request, { services: { metadata } }) {
    const repeated = repeatedResources(request.resources);
    const responses: ResourceResult[] = [];
    for (const resource of request.resources) {
      const { resourceType, resourceName } = resource;
      const refused = resourceRefusal(repeated, resourceType, resourceName);
      if (refused) {
        responses.push(refused);
        continue;
      }
      const set: Record<string, string> = {};
      const duplicate = resource.configs.find((config, index) => resource.configs.findIndex((other) => other.name === config.name) !== index);
      if (duplicate) {
        responses.push(configResult(resourceType, resourceName, ErrorCode.INVALID_REQUEST, `config ${duplicate.name} appears more than once for topic "${resourceName}"`));
        continue;
      }
      // A null value names no override: the config returns to its default like one left out.
      for (const config of resource.configs) if (config.value !== null) set[config.name] = config.value;
      responses.push(changeResult(resourceType, resourceName, await metadata.replaceTopicConfigs(resourceName, set, request.validateOnly)));
    }
    return { throttleTimeMs: 0, responses };
  },
});
