// One consumer after another, until stop: a broker outage does not stop the
// worker. The client retries a failed request a few times by itself; when it
// gives up, the messages stream fails (or the consumer, on a failed rejoin),
// the consume loop ends without committing what the failed consumer read, and
// a new consumer is built after a capped, jittered backoff, again and again
// until the broker answers. It reads from the committed offsets: what was
// dropped comes again, and what was written is found already present.

import {
  commitOffsets,
  consume,
  createConsumer,
  type KafkaConnection,
  type KafkaConsumer,
  type KafkaStream,
} from "../kafka/client.ts";
import { ensureTopics, TopicSettingsError, txlogTopics } from "../kafka/topics.ts";
import type { Config } from "../runtime/config.ts";
import { errorText } from "../runtime/error-text.ts";
import type { Logger } from "../runtime/logger.ts";
import { withTimeout } from "../runtime/timeout.ts";
import { type BatchWriter, isInvariantError } from "./batch-writer.ts";
import { type ConsumeLoop, ConsumerFailedError, type ConsumeStats, startConsumeLoop } from "./consume-loop.ts";
import { startLagPoll } from "./lag-poll.ts";
import type { WorkerMetrics } from "./metrics.ts";
import { PartitionOwnership } from "./ownership.ts";
import { backoffMs, sleep } from "./retry.ts";
import type { WorkerStatus } from "./worker-status.ts";

/** First wait before a new consumer after one failed or could not be built, milliseconds. */
export const reconnectBackoffMsMin = 500;
/** Longest wait for the client to close a stream or a consumer, milliseconds. */
const closeTimeoutMs = 5000;
/** How long without a retried request before Kafka counts as answering again, milliseconds. */
const retryQuietMs = 5000;

export interface SessionStats extends ConsumeStats {
  /** Consumers that failed or could not be built, each followed by a new one. */
  kafkaFailures: number;
}

export interface ConsumerSessionsOptions {
  config: Config;
  connection: KafkaConnection;
  writer: BatchWriter;
  status: WorkerStatus;
  stats: SessionStats;
  log: Logger;
  /** Given each session's partition offsets and lag, every WORKER_LAG_POLL_MS. */
  metrics: WorkerMetrics;
}

export interface ConsumerSessions {
  /** Settles after the first consumer joined, or its first attempt failed (the worker goes on trying). */
  readonly started: Promise<void>;
  /** Settles on stop; rejects on an error no new consumer can fix (txlog itself is wrong). */
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

interface Session {
  consumer: KafkaConsumer;
  stream: KafkaStream;
  loop?: ConsumeLoop;
  /** A failure reported before the loop existed. */
  failure?: unknown;
  quietTimer?: ReturnType<typeof setTimeout>;
}

export function runConsumerSessions(options: ConsumerSessionsOptions): ConsumerSessions {
  const abort = new AbortController();
  const started = Promise.withResolvers<void>();
  const state = { current: undefined as Session | undefined, joining: undefined as KafkaConsumer | undefined };
  const done = superviseSessions(options, abort.signal, state, started.resolve).finally(started.resolve);
  done.catch(() => {});
  return {
    started: started.promise,
    done,
    async stop() {
      abort.abort();
      // A consumer still joining gives up its retries when closed.
      void state.joining?.close(true).catch(() => {});
      await state.current?.loop?.stop();
      await done.catch(() => {});
    },
  };
}

async function superviseSessions(
  options: ConsumerSessionsOptions,
  signal: AbortSignal,
  state: { current: Session | undefined; joining: KafkaConsumer | undefined },
  markStarted: () => void,
): Promise<void> {
  const { config, status, stats } = options;
  const ownership = new PartitionOwnership();
  let failures = 0;
  let topicsReady = false;
  while (!signal.aborted) {
    let failure: unknown;
    try {
      if (!topicsReady) await ensureTopics(options.connection, txlogTopics(config));
      topicsReady = true;
      const session = await openSession(options, ownership, state, () => {
        failures = 0;
      });
      markStarted();
      failure = await consumeSession(options, session, ownership, state);
      if (failure === undefined) return;
    } catch (error) {
      if (!isKafkaFailure(error)) throw error;
      failure = error instanceof ConsumerFailedError ? error.reason : error;
    }
    markStarted();
    if (signal.aborted) return;
    // Everything read with the failed consumer is written or dropped: the next one starts from the committed offsets.
    ownership.reset();
    options.writer.expectRedelivery();
    failures++;
    stats.kafkaFailures++;
    const waitMs = backoffMs(failures, reconnectBackoffMsMin, config.retryBackoffMsMax);
    status.failing("kafka", `consumer failed (attempt ${failures}), a new one in ${waitMs} ms: ${errorText(failure)}`);
    await sleep(waitMs, signal);
  }
}

/**
 * Errors a new consumer may fix: anything from Kafka, but not txlog's own
 * invariants, a database or dead-letter topic that refuses what is written,
 * nor topics weaker than configured (retrying cannot fix those: they stop
 * the worker loudly).
 */
function isKafkaFailure(error: unknown): boolean {
  if (error instanceof ConsumerFailedError) return true;
  return !(error instanceof TopicSettingsError || isInvariantError(error));
}

/** A new consumer in the group with its messages stream; throws when Kafka does not answer. */
async function openSession(
  options: ConsumerSessionsOptions,
  ownership: PartitionOwnership,
  state: { joining: KafkaConsumer | undefined },
  onJoin: () => void,
): Promise<Session> {
  const { config, status } = options;
  // Fetches wait for WORKER_FETCH_BYTES_MIN: under a trickle of single
  // POSTs, a fetch answered at the first byte meant one fetch per produce
  // request, and each costs the broker about as much CPU as the produce.
  const consumer = createConsumer(options.connection, {
    groupId: config.groupId,
    fetchBytesMin: config.workerFetchBytesMin,
    fetchWaitMsMax: config.workerFetchWaitMsMax,
  });
  const session = { consumer } as Session;
  // A failed rejoin: the consumer sends no more heartbeats and is out of the
  // group. (With no listener the client's emit would throw.)
  consumer.on("error", (error: unknown) => {
    session.failure ??= error;
    session.loop?.fail(error);
  });
  // Registered before consume(): the first join happens inside it.
  consumer.on("consumer:group:join", () => {
    const assigned = (consumer.assignments ?? []).filter((a) => a.topic === config.topic);
    const partitions = assigned.flatMap((a) => a.partitions);
    ownership.assign(consumer.generationId, partitions);
    status.assigned(partitions);
    onJoin();
    status.running(
      `in group ${config.groupId}, generation ${consumer.generationId}, partitions ${partitions.join(",")}`,
    );
  });
  // The client retries failed requests by itself before it gives up: Kafka
  // counts as failing from the first retry until none came for a while.
  consumer.on("client:performWithRetry:retry", (operation: unknown) => {
    status.failing("kafka", `a ${String(operation)} request failed, the client retries`);
    clearTimeout(session.quietTimer);
    session.quietTimer = setTimeout(() => status.recovered("kafka", "requests answered again"), retryQuietMs);
  });
  state.joining = consumer;
  try {
    session.stream = await consume(consumer, [config.topic]);
  } catch (error) {
    await closeSession(session, options.log);
    throw error;
  } finally {
    state.joining = undefined;
  }
  return session;
}

/** Runs the consume loop on one consumer; the failure that ended it, or undefined on stop. */
async function consumeSession(
  options: ConsumerSessionsOptions,
  session: Session,
  ownership: PartitionOwnership,
  state: { current: Session | undefined },
): Promise<unknown> {
  const { config } = options;
  session.loop = startConsumeLoop({
    stream: session.stream,
    topic: config.topic,
    ownership,
    limits: { rowsMax: config.batchRowsMax, bytesMax: config.batchBytesMax, lingerMs: config.batchLingerMs },
    writesInFlightMax: config.writesInFlightMax,
    handler: options.writer,
    commitOffsets: (offsets) => commitOffsets(session.consumer, offsets),
    stats: options.stats,
    log: options.log,
  });
  if (session.failure !== undefined) session.loop.fail(session.failure);
  state.current = session;
  const lagPoll = startLagPoll({
    consumer: session.consumer,
    stream: session.stream,
    topic: config.topic,
    intervalMs: config.workerLagPollMs,
    metrics: options.metrics,
    status: options.status,
  });
  try {
    await session.loop.done;
    return undefined;
  } catch (error) {
    if (error instanceof ConsumerFailedError) return error.reason;
    throw error;
  } finally {
    lagPoll.stop();
    options.status.assigned([]);
    state.current = undefined;
    await closeSession(session, options.log);
  }
}

async function closeSession(session: Session, log: Logger): Promise<void> {
  clearTimeout(session.quietTimer);
  const steps: Array<[string, () => Promise<unknown> | undefined]> = [
    ["close the messages stream", () => session.stream?.close()],
    // Forced: a broker that does not answer is no error when leaving.
    ["leave the consumer group", () => session.consumer.close(true)],
  ];
  for (const [what, step] of steps) {
    try {
      await withTimeout(Promise.resolve(step()), closeTimeoutMs, what);
    } catch (error) {
      log.warn(`could not ${what}: ${errorText(error)}`);
    }
  }
}
