// DescribeConfigs: topic resources list every supported topic config with its effective
// value (the topic's override, else the broker's default); the broker resource lists the
// broker's own settings as it runs with them (read-only: they come from flags).
import { describeConfigsApi } from '../protocol/apis/32-describe-configs.js';
import { ErrorCode } from '../protocol/errors.js';
import { formatHostPort } from '../config.js';
import { brokerTopicConfigDefaults, effectiveTopicConfigs, topicConfigSpecByName } from '../controller/topic-configs.js';
import { defineHandler, type BrokerServices, type RequestOf, type ResponseOf } from './types.js';

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

function describeTopic({ metadata, config }: BrokerServices, resource: ResourceRequest, includeSynonyms: boolean): ResourceResult {
  const topic = metadata.topic(resource.resourceName);
  if (!topic) return failure(resource, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic "${resource.resourceName}" does not exist`);
  const configs: ConfigEntry[] = effectiveTopicConfigs(config, metadata.image.topicConfigs(topic.name))
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

/** The broker's settings under Kafka's names, as it runs with them. */
function brokerConfigs({ config, metadata }: BrokerServices): Record<string, string> {
  return {
    'node.id': String(config.nodeId),
    'broker.id': String(config.nodeId),
    listeners: config.listeners.map(({ name, listen }) => `${name}://${formatHostPort(listen)}`).join(','),
    'advertised.listeners': [...metadata.advertisedListeners()].map(([name, address]) => `${name}://${formatHostPort(address)}`).join(','),
    'listener.security.protocol.map': config.listeners.map(({ name }) => `${name}:PLAINTEXT`).join(','),
    'inter.broker.listener.name': config.interBrokerListener,
    ...(config.voters
      ? { 'controller.quorum.voters': config.voters.map(({ nodeId, address }) => `${nodeId}@${formatHostPort(address)}`).join(',') }
      : {}),
    'log.dirs': config.dataDir,
    ...brokerTopicConfigDefaults(config),
    'log.flush.interval.ms': config.fsync === 'always' ? '0' : String(config.fsyncIntervalMs),
    'log.flush.interval.messages': config.fsync === 'always' ? '1' : String(2n ** 63n - 1n),
    'auto.create.topics.enable': String(config.autoCreateTopics),
    'num.partitions': String(config.defaultPartitions),
    'default.replication.factor': String(config.defaultReplicationFactor),
    'socket.request.max.bytes': String(config.maxFrameBytes),
  };
}

function describeBroker(services: BrokerServices, resource: ResourceRequest, includeSynonyms: boolean): ResourceResult {
  const nodeId = services.metadata.nodeId;
  if (resource.resourceName !== '' && resource.resourceName !== String(nodeId)) {
    return failure(resource, ErrorCode.INVALID_REQUEST, `this is node ${nodeId}, not "${resource.resourceName}"`);
  }
  const configs: ConfigEntry[] = Object.entries(brokerConfigs(services))
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
  handle(request, { services }) {
    const results = request.resources.map((resource) => {
      if (resource.resourceType === resourceTopic) return describeTopic(services, resource, request.includeSynonyms);
      if (resource.resourceType === resourceBroker) return describeBroker(services, resource, request.includeSynonyms);
      return failure(resource, ErrorCode.INVALID_REQUEST, `resource type ${resource.resourceType} is not supported`);
    });
    return { throttleTimeMs: 0, results };
  },
});
