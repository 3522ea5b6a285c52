// DescribeConfigs: topic resources list every supported topic config with its effective
// value (the topic's override, else the broker's default); the broker resource lists the
// broker's own settings as it runs with them (read-only: they come from flags).
import { describeConfigsApi } from '../protocol/apis/32-describe-configs.js';
import { ErrorCode } from '../protocol/errors.js';
import { topicConfigSpecByName } from '../controller/topic-configs.js';
import type { Broker } from '../broker.js';
import { defineHandler, type RequestOf, type ResponseOf } from './types.js';

type ResourceRequest = RequestOf<typeof describeConfigsApi>['resources'][number];
type ResourceResult = ResponseOf<typeof describeConfigsApi>['results'][number];
type ConfigEntry = ResourceResult['configs'][number];

const resourceTopic = 2;
const resourceBroker = 4;
const sourceTopicConfig = 1;
const sourceStaticBrokerConfig = 4;
const sourceDefaultConfig = 5;

function failure(resource: ResourceRequest, errorCode: number, errorMessage: string | null): ResourceResult {
  return { errorCode, errorMessage, resourceType: resource.resourceType, resourceName: resource.resourceName, configs: [] };
}

function selected(resource: ResourceRequest, name: string): boolean {
  return resource.configurationKeys === null || resource.configurationKeys.includes(name);
}

function describeTopic(broker: Broker, resource: ResourceRequest, includeSynonyms: boolean): ResourceResult {
  const topic = broker.topic(resource.resourceName);
  if (!topic) return failure(resource, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic "${resource.resourceName}" does not exist`);
  const configs: ConfigEntry[] = broker
    .effectiveTopicConfigs(topic.configs)
    .filter((entry) => selected(resource, entry.name))
    .map((entry) => {
      const brokerName = topicConfigSpecByName.get(entry.name)?.brokerName ?? entry.name;
      const synonyms = [
        ...(entry.overridden ? [{ name: entry.name, value: entry.value, source: sourceTopicConfig }] : []),
        { name: brokerName, value: entry.defaultValue, source: sourceDefaultConfig },
      ];
      return {
        name: entry.name,
        value: entry.value,
        readOnly: false,
        isDefault: !entry.overridden,
        configSource: entry.overridden ? sourceTopicConfig : sourceDefaultConfig,
        isSensitive: false,
        synonyms: includeSynonyms ? synonyms : [],
        documentation: null,
      };
    });
  return { errorCode: ErrorCode.NONE, errorMessage: null, resourceType: resourceTopic, resourceName: topic.name, configs };
}

function describeBroker(broker: Broker, resource: ResourceRequest, includeSynonyms: boolean): ResourceResult {
  if (resource.resourceName !== '' && resource.resourceName !== String(broker.nodeId)) {
    return failure(resource, ErrorCode.INVALID_REQUEST, `this is node ${broker.nodeId}, not "${resource.resourceName}"`);
  }
  const configs: ConfigEntry[] = Object.entries(broker.brokerConfigs())
    .filter(([name]) => selected(resource, name))
    .map(([name, value]) => ({
      name,
      value,
      readOnly: true,
      isDefault: false,
      configSource: sourceStaticBrokerConfig,
      isSensitive: false,
      synonyms: includeSynonyms ? [{ name, value, source: sourceStaticBrokerConfig }] : [],
      documentation: null,
    }));
  return { errorCode: ErrorCode.NONE, errorMessage: null, resourceType: resourceBroker, resourceName: resource.resourceName, configs };
}

export const describeConfigsHandler = defineHandler({
  api: describeConfigsApi,
  errorResponse: (request, errorCode) => ({
    throttleTimeMs: 0,
    results: request.resources.map((resource) => failure(resource, errorCode, null)),
  }),
  handle(request, { broker }) {
    const results = request.resources.map((resource) => {
      if (resource.resourceType === resourceTopic) return describeTopic(broker, resource, request.includeSynonyms);
      if (resource.resourceType === resourceBroker) return describeBroker(broker, resource, request.includeSynonyms);
      return failure(resource, ErrorCode.INVALID_REQUEST, `resource type ${resource.resourceType} is not supported`);
    });
    return { throttleTimeMs: 0, results };
  },
});
