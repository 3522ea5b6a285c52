// IncrementalAlterConfigs: SET and DELETE of topic config overrides, each resource changed by
// the active controller wherever the request arrives (through MetadataService), on its own,
// and in this broker's metadata before the answer. APPEND and SUBTRACT act on list-valued
// configs, and no supported topic config is one. Broker configs come from flags and are
// static here, so a BROKER resource is refused rather than half-applied.
import { ConfigOperation, incrementalAlterConfigsApi } from '../protocol/apis/44-incremental-alter-configs.js';
import { ErrorCode } from '../protocol/errors.js';
import { ConfigResourceType } from '../controller/cluster/records.js';
import type { ChangeOutcome } from '../controller/metadata-service.js';
import { defineHandler, type ResponseOf } from './types.js';

type ResourceResult = ResponseOf<typeof incrementalAlterConfigsApi>['responses'][number];

export function configResult(resourceType: number, resourceName: string, errorCode: number, errorMessage: string | null): ResourceResult {
  return { errorCode, errorMessage, resourceType, resourceName };
}

/** The refusal of a resource that is not a topic, or null for a topic resource. */
function unsupportedResource(resourceType: number, resourceName: string): ResourceResult | null {
  if (resourceType === ConfigResourceType.topic) return null;
  const message =
    resourceType === ConfigResourceType.broker
      ? `broker configs cannot be changed at runtime: klab-broker takes them from its command-line flags (or environment) at startup; restart broker ${resourceName || '(cluster default)'} with new flags, or change the topic's configs instead`
      : `config resource type ${resourceType} is not supported (only topics, type 2, can be changed)`;
  return configResult(resourceType, resourceName, ErrorCode.INVALID_REQUEST, message);
}

/** A resource's answer from what the controller made of its change (it says whether the topic exists). */
export function changeResult(resourceType: number, resourceName: string, outcome: ChangeOutcome): ResourceResult {
  return configResult(resourceType, resourceName, outcome.errorCode, outcome.errorCode === ErrorCode.NONE ? null : outcome.message);
}

/** Why a resource is refused before its configs are looked at (listed twice, or not a topic), or null. */
export function resourceRefusal(repeated: ReadonlySet<string>, resourceType: number, resourceName: string): ResourceResult | null {
  if (repeated.has(`${resourceType}/${resourceName}`)) {
    return configResult(resourceType, resourceName, ErrorCode.INVALID_REQUEST, `resource "${resourceName}" (type ${resourceType}) appears more than once in the request`);
  }
  return unsupportedResource(resourceType, resourceName);
}

/** Names of resources the request lists more than once (Kafka refuses them all). */
export function repeatedResources(resources: readonly { resourceType: number; resourceName: string }[]): Set<string> {
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const { resourceType, resourceName } of resources) {
    const key = `${resourceType}/${resourceName}`;
    if (seen.has(key)) repeated.add(key);
    seen.add(key);
  }
  return repeated;
}

export const incrementalAlterConfigsHandler = defineHandler({
  api: incrementalAlterConfigsApi,
  errorResponse: (request, errorCode) => ({
    throttleTimeMs: 0,
    responses: request.resources.map((resource) => configResult(resource.resourceType, resource.resourceName, errorCode, null)),
  }),
  async handle(request, { services: { metadata } }) {
    const repeated = repeatedResources(request.resources);
    const responses: ResourceResult[] = [];
    for (const resource of request.resources) {
      const { resourceType, resourceName } = resource;
      const refuse = (message: string) => responses.push(configResult(resourceType, resourceName, ErrorCode.INVALID_REQUEST, message));
      const refused = resourceRefusal(repeated, resourceType, resourceName);
      if (refused) {
        responses.push(refused);
        continue;
      }
      const set: Record<string, string> = {};
      const remove: string[] = [];
      const named = new Set<string>();
      let problem: string | null = null;
      for (const config of resource.configs) {
        if (named.has(config.name)) problem ??= `config ${config.name} appears more than once for topic "${resourceName}"`;
        named.add(config.name);
        if (config.configOperation === ConfigOperation.set) {
          if (config.value === null) problem ??= `SET of config ${config.name} on topic "${resourceName}" has no value; use DELETE to return it to its default`;
          else set[config.name] = config.value;
        } else if (config.configOperation === ConfigOperation.delete) {
          remove.push(config.name);
        } else if (config.configOperation === ConfigOperation.append || config.configOperation === ConfigOperation.subtract) {
          problem ??= `${config.configOperation === ConfigOperation.append ? 'APPEND' : 'SUBTRACT'} of config ${config.name} on topic "${resourceName}": no supported topic config is a list; use SET or DELETE`;
        } else {
          problem ??= `config ${config.name} on topic "${resourceName}": unknown operation ${config.configOperation} (SET 0, DELETE 1, APPEND 2, SUBTRACT 3)`;
        }
      }
      if (problem) {
        refuse(problem);
        continue;
      }
      responses.push(changeResult(resourceType, resourceName, await metadata.alterTopicConfigs(resourceName, set, remove, request.validateOnly)));
    }
    return { throttleTimeMs: 0, responses };
  },
});
