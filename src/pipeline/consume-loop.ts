// The generic consume loop: takes messages from the stream, drops those a
// rebalance made stale, closes batches by rows / bytes / linger, hands each to
// a BatchHandler (prepare, then write), and commits offsets strictly in batch
// order, each batch's only after its write and every write before it
// finished. What a write does is the handler's business (src/pipeline/
// batch-writer.ts writes transactions to PostgreSQL); the loop knows no
// database, so it is tested with a stream and a handler of the test's own.
//
// Batches overlap: while batch N is written (up to writesInFlightMax writes at
// once), batch N+1 is collected and prepared. Writes may finish out of batch
// order; commits never do.
//
// When the consumer fails (its stream errs once the client's own retries ran
// out, or the caller reports a failure), the loop reads nothing more, drops
// the batch it was filling (unwritten, so uncommitted: it is read again),
// lets the writes in flight finish without committing (the failed consumer
// cannot), and ends with a ConsumerFailedError: the caller builds a new
// consumer, which reads from the committed offsets.
import type { KafkaMessage, KafkaStream, PartitionOffset } from "../kafka/client.ts";
import { errorText } from "../runtime/error-text.ts";
import type { Logger } from "../runtime/logger.ts";
import type { Batch, BatchLimits } from "./batcher.ts";
import { fetchedGeneration, MessageSource } from "./message-source.ts";
import type { PartitionOwnership } from "./ownership.ts";

export interface BatchHandler<Prepared, Written> {
  /** CPU work on a closed batch, done while the previous batch is still being written. */
  prepare(batch: Batch<KafkaMessage>): Promise<Prepared>;
  /**
   * Makes the batch durable. Undefined when `signal` was aborted (stop) before
   * it could: its offsets are then never committed. Throwing stops the loop.
   */
  write(prepared: Prepared, signal: AbortSignal): Promise<Written | undefined>;
  /** Called once the batch's offsets are committed (or skipped for partitions lost meanwhile). */
  committed(prepared: Prepared, written: Written): void;
}

export interface ConsumeStats {
  /** Messages taken into a batch (written or not yet). */
  received: number;
  /** Batches whose offsets were committed, and their messages. */
  batches: number;
  messages: number;
  /** Messages dropped because a rebalance made them stale, or already batched. */
  skipped: number;
  /** Partitions of a batch not committed because a rebalance took them meanwhile, or the consumer failed. */
  commitsSkipped: number;
  /** Messages batched but not written when the consumer failed; a new consumer reads them again. */
  dropped: number;
  commitFailures: number;
}

export interface ConsumeLoopOptions<Prepared, Written> {
  stream: KafkaStream;
  topic: string;
  ownership: PartitionOwnership;
  limits: BatchLimits;
  /** Batches written at once at most. */
  writesInFlightMax: number;
  handler: BatchHandler<Prepared, Written>;
  /** Commits the group's offsets (the consumer's commit). */
  commitOffsets(offsets: PartitionOffset[]): Promise<void>;
  stats: ConsumeStats;
  log: Logger;
}

export interface ConsumeLoop {
  /**
   * Settles when the loop ended on stop; rejects with ConsumerFailedError when
   * the consumer failed (every write in flight settled), or with the error of
   * a write that cannot be retried.
   */
  readonly done: Promise<void>;
  /** Finishes the batch in hand (unless its write keeps failing), commits it, and ends the loop. */
  stop(): Promise<void>;
  /** The consumer failed outside its stream (say, a failed rejoin): end as on a stream error. */
  fail(error: unknown): void;
}

/** The consumer the loop read from failed; nothing read after its last commit is lost, it is read again. */
export class ConsumerFailedError extends Error {
  constructor(readonly reason: unknown) {
    super(`the consumer failed: ${errorText(reason)}`);
    this.name = "ConsumerFailedError";
  }
}

export function newConsumeStats(): ConsumeStats {
  return { received: 0, batches: 0, messages: 0, skipped: 0, commitsSkipped: 0, dropped: 0, commitFailures: 0 };
}

export function startConsumeLoop<P, W>(options: ConsumeLoopOptions<P, W>): ConsumeLoop {
  const abort = new AbortController();
  const source = new MessageSource(options, abort.signal);
  const done = runBatches(options, source, abort.signal);
  // Observed here so that a failure is not reported as unhandled before the caller awaits `done`.
  done.catch(() => {});
  return {
    done,
    async stop() {
      abort.abort();
      await done.catch(() => {});
    },
    fail: (error) => source.fail(error),
  };
}

/** Collects, prepares and writes batches; commits them in order through writeAndCommit. */
async function runBatches<P, W>(
  options: ConsumeLoopOptions<P, W>,
  source: MessageSource,
  signal: AbortSignal,
): Promise<void> {
  const writing: Promise<boolean>[] = [];
  outer: for (;;) {
    // A write that fails while the next batch fills must stop the loop now,
    // not when the next batch closes (which, when idle, is never).
    const failed = writing.length === 0 ? undefined : Promise.all(writing).then(() => new Promise<never>(() => {}));
    const batch = await (failed === undefined ? source.collect() : Promise.race([source.collect(), failed]));
    const prepared = batch === undefined ? undefined : await options.handler.prepare(batch);
    while (writing.length >= (prepared === undefined || batch === undefined ? 1 : options.writesInFlightMax)) {
      // After an abandoned batch nothing may be committed: a later offset
      // would cover the messages that were never written.
      if (!(await writing.shift())) break outer;
    }
    if (prepared === undefined || batch === undefined) break;
    if (source.failure !== undefined) {
      // Read through a consumer that failed while this batch waited for a write slot: the next consumer reads it again.
      options.stats.dropped += batch.items.length;
      break;
    }
    const written = writeAndCommit(options, source, batch, prepared, writing.at(-1), signal);
    // Observed now so a failure waiting here is not reported as unhandled.
    written.catch(() => {});
    writing.push(written);
  }
  await Promise.all(writing);
  if (source.failure !== undefined) throw new ConsumerFailedError(source.failure);
}

/** Writes one batch, then commits its offsets once the batch before it is committed; false when abandoned. */
async function writeAndCommit<P, W>(
  options: ConsumeLoopOptions<P, W>,
  source: MessageSource,
  batch: Batch<KafkaMessage>,
  prepared: P,
  /** The batch before this one, still in flight (or undefined). */
  previous: Promise<boolean> | undefined,
  signal: AbortSignal,
): Promise<boolean> {
  const written = await options.handler.write(prepared, signal);
  if (written === undefined) return false;
  // Offsets are committed in batch order: this batch's only after the one
  // before it is written and committed (an abandoned one stops us too).
  if (previous !== undefined && !(await previous)) return false;
  await commitBatch(options, batch, source.failure !== undefined);
  options.stats.batches++;
  options.stats.messages += batch.items.length;
  options.handler.committed(prepared, written);
  return true;
}

/** Commits, per partition, the offset after the batch's last message: everything before it is written. */
async function commitBatch<P, W>(
  options: ConsumeLoopOptions<P, W>,
  batch: Batch<KafkaMessage>,
  /** The consumer failed: nothing can be committed through it. */
  consumerFailed: boolean,
): Promise<void> {
  const { ownership, stats } = options;
  const last = new Map<number, { message: KafkaMessage; generation: number }>();
  for (const message of batch.items) {
    const generation = fetchedGeneration(message, ownership.generation ?? 0);
    const seen = last.get(message.partition);
    if (seen === undefined) {
      last.set(message.partition, { message, generation });
      continue;
    }
    if (message.offset > seen.message.offset) seen.message = message;
    seen.generation = Math.min(seen.generation, generation);
  }
  if (consumerFailed) {
    // The rows are written; the next consumer reads them again and finds them present.
    stats.commitsSkipped += last.size;
    return;
  }
  const offsets: PartitionOffset[] = [];
  for (const [partition, { message, generation }] of last) {
    // A rebalance took the partition (even if it came back) while the batch
    // was written: the new owner's progress is not ours to overwrite. The
    // rows are written; the owner reads them again and finds them present.
    if (!ownership.ownsSince(partition, generation)) {
      stats.commitsSkipped++;
      continue;
    }
    const offset = message.offset + 1n;
    ownership.checkForward(partition, offset);
    offsets.push({ topic: options.topic, partition, offset, leaderEpoch: message.leaderEpoch });
  }
  if (offsets.length === 0) return;
  try {
    await options.commitOffsets(offsets);
    for (const { partition, offset } of offsets) ownership.committed(partition, offset);
  } catch (error) {
    // The rows are durable; an offset commit lost now only means these
    // messages are read again later and found already present.
    stats.commitFailures++;
    options.log.warn(`offset commit failed, the batch will be read again and deduplicated: ${errorText(error)}`);
  }
}
