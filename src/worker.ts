// The worker: consumes the transactions topic in a consumer group, writes
// batches to PostgreSQL, dead-letters what can never be written, and commits
// Kafka offsets only after both are done.
//
// Delivery: at least once into Kafka's view, exactly once into the table.
// Offsets are committed after the database commit, so a crash, a failed
// offset commit or a rebalance makes some messages arrive again; their rows
// are already there and the primary key (transaction_id, chosen by the API)
// turns the second write into "already present". Never the other way round:
// an offset is never committed past a message that is not written or
// dead-lettered.
//
// `bun run worker` runs it; tests call startWorker() in-process.

import {
  commitOffsets,
  consume,
  createConsumer,
  createProducer,
  ensureTopics,
  type KafkaConnection,
  type KafkaConsumer,
  type KafkaMessage,
  type KafkaProducer,
  type KafkaStream,
  type PartitionOffset,
  txlogTopics,
} from "./kafka/client.ts";
import { type Batch, Batcher, BatchLimitError } from "./pipeline/batcher.ts";
import { SinkInvariantError, type SinkRow, stagingLine, writeBatchIsolating } from "./pipeline/copy-writer.ts";
import { type DeadLetter, deadLetter } from "./pipeline/dead-letters.ts";
import { OwnershipError, PartitionOwnership } from "./pipeline/ownership.ts";
import { ensureDatabase, openDatabase, type Sql } from "./postgres/connection.ts";
import { migrate } from "./postgres/migrate.ts";
import { type Config, exitOnStartFailure, loadConfigOrExit } from "./runtime/config.ts";
import { decodeMessage, describeErrors } from "./transaction/rules.ts";

/** First wait before retrying a failed write, milliseconds; doubles up to config.retryBackoffMsMax. */
export const retryBackoffMsMin = 100;

/** Messages decoded between two yields to the event loop. */
const prepareSliceMessages = 500;

export interface WorkerOptions {
  /** Where the per-batch lines go (default: console.log). */
  log?: (line: string) => void;
}

export interface WorkerStats {
  /** Messages taken into a batch (written or not yet). */
  received: number;
  batches: number;
  /** Messages of finished batches (written or dead-lettered). */
  messages: number;
  inserted: number;
  /** Rows whose id was already stored. */
  duplicates: number;
  deadLettered: number;
  /** Failed attempts of a database write or a dead-letter produce. */
  retries: number;
  /** Messages dropped because a rebalance made them stale, or already batched. */
  skipped: number;
  /** Partitions of a batch not committed because a rebalance took them meanwhile. */
  commitsSkipped: number;
  commitFailures: number;
}

export interface WorkerHandle {
  readonly stats: Readonly<WorkerStats>;
  /** Settles when the worker has stopped and closed everything; rejects when it stopped on an error. */
  readonly done: Promise<void>;
  /** Finishes the batch in hand (unless its write keeps failing), commits, closes. */
  stop(): Promise<void>;
}

/** Errors that mean txlog itself is wrong: stop loudly, never retry or skip. */
function isInvariantError(error: unknown): boolean {
  return error instanceof SinkInvariantError || error instanceof BatchLimitError || error instanceof OwnershipError;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The consumer-group generation a message was fetched in (the stream stamps it). */
function fetchedGeneration(message: KafkaMessage, fallback: number): number {
  const consumer = message.metadata.consumer as { generationId?: unknown } | undefined;
  return typeof consumer?.generationId === "number" ? consumer.generationId : fallback;
}

export async function startWorker(config: Config, options: WorkerOptions = {}): Promise<WorkerHandle> {
  const log = options.log ?? ((line: string) => console.log(line));
  const connection: KafkaConnection = {
    brokers: config.kafkaBrokers,
    clientId: config.kafkaClientId,
    timeoutMs: config.kafkaTimeoutMs,
  };

  await ensureDatabase(config.databaseUrl);
  // One connection per batch write in flight.
  const sql = openDatabase(config.databaseUrl, { poolMax: config.writesInFlightMax });
  let producer: KafkaProducer | undefined;
  let consumer: KafkaConsumer | undefined;
  let stream: KafkaStream | undefined;
  const ownership = new PartitionOwnership();
  try {
    await migrate(sql);
    await ensureTopics(connection, txlogTopics(config));
    producer = createProducer(connection);
    // Fetches wait for WORKER_FETCH_BYTES_MIN: under a trickle of single
    // POSTs, a fetch answered at the first byte meant one fetch per produce
    // request, and each costs the broker about as much CPU as the produce.
    const groupConsumer = createConsumer(connection, {
      groupId: config.groupId,
      fetchBytesMin: config.workerFetchBytesMin,
      fetchWaitMsMax: config.workerFetchWaitMsMax,
    });
    consumer = groupConsumer;
    // Registered before consume(): the first join happens inside it.
    groupConsumer.on("consumer:group:join", () => {
      const assigned = (groupConsumer.assignments ?? []).filter((a) => a.topic === config.topic);
      ownership.assign(
        groupConsumer.generationId,
        assigned.flatMap((a) => a.partitions),
      );
    });
    stream = await consume(groupConsumer, [config.topic]);
  } catch (error) {
    await stream?.close().catch(() => {});
    await consumer?.close(true).catch(() => {});
    await producer?.close().catch(() => {});
    await sql.end();
    throw error;
  }
  return runWorker(config, log, sql, producer, consumer, stream, ownership);
}

function runWorker(
  config: Config,
  log: (line: string) => void,
  sql: Sql,
  producer: KafkaProducer,
  consumer: KafkaConsumer,
  stream: KafkaStream,
  ownership: PartitionOwnership,
): WorkerHandle {
  const stats: WorkerStats = {
    received: 0,
    batches: 0,
    messages: 0,
    inserted: 0,
    duplicates: 0,
    deadLettered: 0,
    retries: 0,
    skipped: 0,
    commitsSkipped: 0,
    commitFailures: 0,
  };
  const batcher = new Batcher<KafkaMessage>({
    rowsMax: config.batchRowsMax,
    bytesMax: config.batchBytesMax,
    lingerMs: config.batchLingerMs,
  });
  // Messages are taken from the stream's buffer synchronously (read()), and
  // collect() waits only when the buffer is empty: no promise per message.
  // While a batch is written nothing is read, the buffer fills to its
  // highWaterMark and the stream stops fetching. That is the backpressure;
  // heartbeats run on their own timer.
  let stopping = false;
  let ended = false;
  // COPY straight into transactions unless the last batch held ids already
  // stored: a redelivered backlog (after a crash or rebalance) goes the
  // staging way until a batch comes through with no duplicate.
  let directCopy = true;
  let streamError: unknown;
  // Listeners stay for the stream's life: with no 'readable' listener Node
  // sets readableFlowing back to null, and @platformatic/kafka then stops
  // fetching. A wait only swaps in who is woken.
  const streamWakers = new Set<() => void>();
  const wakeOnStream = () => {
    for (const wake of streamWakers) wake();
  };
  const emitter = stream as unknown as NodeJS.EventEmitter;
  emitter.on("error", (error: unknown) => {
    streamError ??= error;
    wakeOnStream();
  });
  for (const event of ["readable", "end", "close"]) emitter.on(event, wakeOnStream);
  // Waits in progress that stop() must cut short.
  const stopWakers = new Set<() => void>();

  /** Whichever comes first: `waitMs` pass (undefined: no limit), stop() is called, or (`onStream`) the stream has news. */
  function wait(waitMs: number | undefined, onStream: boolean): Promise<void> {
    if (stopping) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const finish = () => {
        clearTimeout(timer);
        streamWakers.delete(finish);
        stopWakers.delete(finish);
        resolve();
      };
      if (onStream) streamWakers.add(finish);
      stopWakers.add(finish);
      if (waitMs !== undefined) timer = setTimeout(finish, Math.max(0, waitMs));
    });
  }

  /** The next batch to write: closed by a limit, by linger time, or by stop. */
  async function collect(): Promise<Batch<KafkaMessage> | undefined> {
    for (;;) {
      if (batcher.isFull || batcher.isDue(Date.now())) return batcher.take(Date.now());
      if (stopping || ended) return batcher.isEmpty ? undefined : batcher.take(Date.now(), "flush");
      for (let message = stream.read() as KafkaMessage | null; message !== null; message = stream.read()) {
        const generation = fetchedGeneration(message, ownership.generation ?? 0);
        if (ownership.accept(message.partition, message.offset, generation) !== "new") {
          stats.skipped++;
          continue;
        }
        stats.received++;
        const closed = batcher.add(message, message.value?.length ?? 0, Date.now());
        if (closed) return closed;
      }
      if (streamError !== undefined) throw streamError;
      if (stream.readableEnded || stream.destroyed) {
        ended = true;
        continue;
      }
      const deadline = batcher.deadlineMs;
      await wait(deadline === undefined ? undefined : deadline - Date.now(), true);
    }
  }

  /** Runs `attempt` until it succeeds; undefined when stop() came during the wait. */
  async function retrying<T>(what: string, attempt: () => Promise<T>): Promise<T | undefined> {
    for (let failures = 0; ; failures++) {
      try {
        return await attempt();
      } catch (error) {
        if (isInvariantError(error)) throw error;
        stats.retries++;
        const waitMs = Math.min(config.retryBackoffMsMax, retryBackoffMsMin * 2 ** failures);
        log(`${what} failed (attempt ${failures + 1}), retrying in ${waitMs} ms: ${errorText(error)}`);
        // Awaiting keeps the event loop free: the consumer goes on heartbeating.
        await wait(waitMs, false);
        if (stopping) {
          // Nothing of this batch is committed: whoever owns the partition next reads it again.
          log(`${what}: stopping with the batch unwritten; its offsets stay uncommitted`);
          return undefined;
        }
      }
    }
  }

  interface Prepared {
    batch: Batch<KafkaMessage>;
    rows: SinkRow[];
    /** rows encoded as COPY lines, ahead of the write. */
    lines: string[];
    letters: DeadLetter[];
    /** The message each row was decoded from (for dead-lettering a row PostgreSQL refuses). */
    sources: Map<SinkRow, KafkaMessage>;
  }

  /**
   * Decodes a batch and encodes its COPY lines: the worker's CPU work, done
   * while PostgreSQL is still writing the previous batch.
   */
  async function prepare(batch: Batch<KafkaMessage>): Promise<Prepared> {
    const rows: SinkRow[] = [];
    const letters: DeadLetter[] = [];
    const sources = new Map<SinkRow, KafkaMessage>();
    for (const [index, message] of batch.items.entries()) {
      // Yield now and then, so the previous batch's database replies are read
      // as they arrive instead of after the whole batch is decoded.
      if (index > 0 && index % prepareSliceMessages === 0) await new Promise((resolve) => setImmediate(resolve));
      const decoded = decodeMessage(message.value);
      if (!decoded.ok) {
        letters.push({ message, reason: describeErrors(decoded.errors) });
        continue;
      }
      const row: SinkRow = { transaction: decoded.value, partition: message.partition, offset: message.offset };
      rows.push(row);
      sources.set(row, message);
    }
    return { batch, rows, lines: rows.map(stagingLine), letters, sources };
  }

  /** Writes, dead-letters and commits one batch; false when stop() abandoned it unwritten. */
  async function write(
    { batch, rows, lines, letters, sources }: Prepared,
    /** The write of the batch before this one, still in flight (or undefined). */
    previous: Promise<boolean> | undefined,
  ): Promise<boolean> {
    const partitions = [...new Set(batch.items.map((m) => m.partition))].sort((a, b) => a - b);
    log(
      `Message Received: ${batch.items.length} messages (${batch.bytes} bytes) from partitions ${partitions.join(",")} in ${batch.closedAtMs - batch.openedAtMs} ms`,
    );
    const startedMs = Date.now();
    const written = await retrying("database write", () =>
      writeBatchIsolating(sql, rows, { direct: directCopy }, lines),
    );
    if (written === undefined) return false;
    directCopy = written.duplicates === 0;
    for (const { row, reason } of written.rejected) {
      const message = sources.get(row) as KafkaMessage;
      letters.push({ message, reason: `database refused: ${reason}` });
    }
    if (letters.length > 0) {
      const produced = await retrying("dead-letter produce", async () => {
        await deadLetter(producer, config.dlqTopic, letters);
        return true;
      });
      if (produced === undefined) return false;
    }

    // Offsets are committed in batch order: this batch's only after the one
    // before it is written and committed (an abandoned one stops us too).
    if (previous !== undefined && !(await previous)) return false;
    await commit(batch);
    // A deep backlog allocates fast and the heap grows well past what is
    // live: nudge the collector each batch, and collect fully only past the
    // soft memory limit (a full collection per batch costs ~25% throughput).
    Bun.gc(process.memoryUsage.rss() > config.workerRssBytesSoftMax);
    stats.batches++;
    stats.messages += batch.items.length;
    stats.inserted += written.inserted;
    stats.duplicates += written.duplicates;
    stats.deadLettered += letters.length;
    log(
      `DB Committed: ${written.inserted} rows (${written.duplicates} already present, ${letters.length} dead-lettered) in ${Date.now() - startedMs} ms, ${written.path === "direct" ? "COPY into transactions" : "through staging"}`,
    );
    return true;
  }

  /** Commits, per partition, the offset after the batch's last message: everything before it is written. */
  async function commit(batch: Batch<KafkaMessage>): Promise<void> {
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
      offsets.push({ topic: config.topic, partition, offset, leaderEpoch: message.leaderEpoch });
    }
    if (offsets.length === 0) return;
    try {
      await commitOffsets(consumer, offsets);
      for (const { partition, offset } of offsets) ownership.committed(partition, offset);
    } catch (error) {
      // The rows are committed in PostgreSQL; an offset commit lost now only
      // means these messages are read again later and found already present.
      stats.commitFailures++;
      log(`offset commit failed, the batch will be read again and deduplicated: ${errorText(error)}`);
    }
  }

  async function close(): Promise<void> {
    const steps: Array<[string, () => Promise<unknown>]> = [
      ["close the messages stream", () => stream.close()],
      ["leave the consumer group", () => consumer.close()],
      ["close the producer", () => producer.close()],
      ["close the database pool", () => sql.end({ timeout: 5 })],
    ];
    for (const [what, step] of steps) {
      try {
        await step();
      } catch (error) {
        log(`could not ${what}: ${errorText(error)}`);
      }
    }
  }

  // Batches overlap: while PostgreSQL writes batch N (on up to
  // config.writesInFlightMax connections at once), batch N+1 is collected and
  // prepared. Rows may reach PostgreSQL out of batch order (ids make that
  // harmless), but offsets are committed strictly in batch order.
  async function run(): Promise<void> {
    const writing: Promise<boolean>[] = [];
    try {
      outer: for (;;) {
        // A write that fails while the next batch fills must stop the worker
        // now, not when the next batch closes (which, when idle, is never).
        const failed = writing.length === 0 ? undefined : Promise.all(writing).then(() => new Promise<never>(() => {}));
        const batch = await (failed === undefined ? collect() : Promise.race([collect(), failed]));
        const prepared = batch === undefined ? undefined : await prepare(batch);
        while (writing.length >= (prepared === undefined ? 1 : config.writesInFlightMax)) {
          // After an abandoned batch nothing may be committed: a later offset
          // would cover the messages that were never written.
          if (!(await writing.shift())) break outer;
        }
        if (prepared === undefined) break;
        const write_ = write(prepared, writing.at(-1));
        // Observed now so a failure waiting here is not reported as unhandled.
        write_.catch(() => {});
        writing.push(write_);
      }
      await Promise.all(writing);
    } finally {
      await close();
    }
  }

  const done = run();
  // Observed here so that a failure is not reported as unhandled before the caller awaits `done`.
  done.catch(() => {});
  return {
    stats,
    done,
    async stop() {
      stopping = true;
      for (const wake of stopWakers) wake();
      await done.catch(() => {});
    },
  };
}

if (import.meta.main) {
  const config = loadConfigOrExit();
  const worker = await startWorker(config).catch((error: unknown) => exitOnStartFailure("worker", config, error));
  console.log(
    `worker: consuming ${config.topic} as group ${config.groupId}, writing ${new URL(config.databaseUrl).pathname.slice(1)}`,
  );
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      console.log(`worker: ${signal}, finishing the current batch`);
      void worker.stop();
    });
  }
  try {
    await worker.done;
    console.log("worker: stopped");
    process.exit(0);
  } catch (error) {
    console.error("worker: stopped on an error:", error);
    process.exit(1);
  }
}
