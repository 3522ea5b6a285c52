// Producer ids for idempotent producers (InitProducerId), unique across the cluster: the broker
// hands them out from blocks it gets from the active controller (Kafka's RPCProducerIdManager),
// in-process when this node is the controller, else with AllocateProducerIds. The controller
// records each block in the metadata log before answering, so no id is given twice — not by
// two brokers, nor by one broker before and after a restart (the rest of its block is skipped).
//
// Before the metadata quorum, a broker reserved blocks in producer-ids.json in its data dir.
// Producers given ids from that file may still have state in the partition logs, so a block
// from the controller that lies below the file's high-water is skipped (and the next one asked
// for) until the cluster-wide counter has passed it. The file is only read, never written.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { allocateProducerIds, type ProducerIdBlock } from '../controller/cluster/producer-id-decisions.js';
import { ControllerDecisionError } from '../controller/cluster/elections.js';
import { throwIfControllerRefused, type ControllerChannel } from '../controller/controller-channel.js';
import type { Logger } from '../log.js';
import { allocateProducerIdsApi } from '../protocol/apis/67-allocate-producer-ids.js';
import { ErrorCode } from '../protocol/errors.js';

export const PRODUCER_ID_FILE = 'producer-ids.json';
const FORMAT_VERSION = 1;
/** How long one block request may wait for the controller; the client's InitProducerId is retried after. */
const blockRequestTimeoutMs = 5_000;

/** The old producer-id file exists but cannot be trusted: allocation refuses to guess. */
export class ProducerIdStateError extends Error {
  override readonly name = 'ProducerIdStateError';
}

/** No producer id can be handed out yet (the broker is not registered, or the controller is unreachable); clients retry. */
export class ProducerIdsUnavailableError extends Error {
  override readonly name = 'ProducerIdsUnavailableError';
}

/**
 * The first id the data dir's old producer-ids.json did not reserve (0 without the file): ids
 * below it may have been given to producers by this broker before the metadata quorum.
 */
export async function readLegacyProducerIdFloor(dataDir: string): Promise<number> {
  const file = path.join(dataDir, PRODUCER_ID_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ProducerIdStateError(`${file} is not valid JSON; move it aside only if no producer ids were ever issued`, { cause: error });
  }
  const { version, nextBlockStart } = (parsed ?? {}) as { version?: unknown; nextBlockStart?: unknown };
  if (version !== FORMAT_VERSION || typeof nextBlockStart !== 'number' || !Number.isSafeInteger(nextBlockStart) || nextBlockStart < 0) {
    throw new ProducerIdStateError(`${file} must hold {"version":${FORMAT_VERSION},"nextBlockStart":<id ≥ 0>}`);
  }
  return nextBlockStart;
}

export interface ProducerIdServiceOptions {
  readonly nodeId: number;
  readonly dataDir: string;
  readonly channel: ControllerChannel;
  /** This broker's registration epoch, null until it has registered. */
  readonly brokerEpoch: () => number | null;
  readonly logger: Logger;
}

export class ProducerIdService {
  private next = 0;
  private blockEnd = 0;
  private floor: number | null = null;
  private fetching: Promise<void> | null = null;

  constructor(private readonly options: ProducerIdServiceOptions) {}

  /** The next unused producer id; asks the controller for a new block when the current one is used up. */
  async allocate(): Promise<number> {
    while (this.next >= this.blockEnd) {
      // Concurrent requests share one block request rather than each taking a block.
      this.fetching ??= this.takeBlock().finally(() => {
        this.fetching = null;
      });
      await this.fetching;
    }
    return this.next++;
  }

  private async takeBlock(): Promise<void> {
    // Read on the first block, not at startup, and again after a failed read: a disk that
    // comes back makes allocation work again.
    this.floor ??= await readLegacyProducerIdFloor(this.options.dataDir);
    for (;;) {
      const block = await this.requestBlock();
      const first = Number(block.firstProducerId);
      const end = first + block.size;
      if (end <= this.floor) {
        this.options.logger.warn('skipping a producer id block below the ids this data dir reserved before the metadata quorum', {
          firstProducerId: first,
          size: block.size,
          reservedUpTo: this.floor,
          file: PRODUCER_ID_FILE,
        });
        continue;
      }
      this.next = Math.max(first, this.floor);
      this.blockEnd = end;
      return;
    }
  }

  private async requestBlock(): Promise<ProducerIdBlock> {
    const { nodeId, channel } = this.options;
    const brokerEpoch = this.options.brokerEpoch();
    const what = `producer id block for broker ${nodeId}`;
    if (brokerEpoch === null) throw new ProducerIdsUnavailableError(`${what}: this broker has not registered with the controller yet`);
    return channel.call(
      what,
      blockRequestTimeoutMs,
      (controller) =>
        controller.decide(what, (image) => {
          const decision = allocateProducerIds(image, nodeId, brokerEpoch);
          return { records: decision.records, result: decision.block };
        }),
      async (client) => {
        const response = await client.request(allocateProducerIdsApi, 0, { brokerId: nodeId, brokerEpoch: BigInt(brokerEpoch) });
        throwIfControllerRefused(response.errorCode, what);
        if (response.producerIdStart < 0n || response.producerIdLen <= 0) {
          throw new ControllerDecisionError(ErrorCode.UNKNOWN_SERVER_ERROR, `${what}: the controller answered an empty block (start ${response.producerIdStart}, length ${response.producerIdLen})`);
        }
        return { firstProducerId: response.producerIdStart, size: response.producerIdLen };
      },
    );
  }
}
