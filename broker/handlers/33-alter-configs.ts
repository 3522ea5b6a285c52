// AlterConfigs (the older API): a topic resource's configs become exactly those named, so every
// override the request leaves out returns to its default (Kafka's semantics; clients that
// mean to change one config use IncrementalAlterConfigs). What is left out is read from this
// broker's image, which the controller's last answer here already showed. Resources are
// checked and changed as IncrementalAlterConfigs does (see 44-incremental-alter-configs.ts).
import { alterConfigsApi } from '../protocol/apis/33-alter-configs.js';
import { ErrorCode } from '../protocol/errors.js';
import { alterTopic, configResult, repeatedResources, resourceRefusal } from './44-incremental-alter-configs.js';
import { defineHandler, type ResponseOf } from './types.js';

type ResourceResult = ResponseOf<typeof alterConfigsApi>['responses'][number];

export const alterConfigsHandler = defineHandler({
  api: alterConfigsApi,
  errorResponse: (request, errorCode) => ({
    throttleTimeMs: 0,
    responses: request.resources.map((resource) => configResult(resource.resourceType, resource.resourceName, errorCode, null)),
  }),
  async handle(request, { services }) {
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
      const remove = Object.keys(services.metadata.image.topicConfigs(resourceName)).filter((name) => !Object.hasOwn(set, name));
      responses.push(await alterTopic(services, { resourceType, resourceName, set, remove }, request.validateOnly));
    }
    return { throttleTimeMs: 0, responses };
  },
});
