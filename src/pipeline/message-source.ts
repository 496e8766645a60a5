// The stream side of the consume loop: reads the consumer's messages stream
// without a promise per message, drops what a rebalance made stale, closes
// batches by rows / bytes / linger, and notices when the consumer failed.
import type { KafkaMessage, KafkaStream } from "../kafka/client.ts";
import { type Batch, Batcher, type BatchLimits } from "./batcher.ts";
import type { ConsumeStats } from "./consume-loop.ts";
import type { PartitionOwnership } from "./ownership.ts";

/** The consumer-group generation a message was fetched in (the stream stamps it). */
export function fetchedGeneration(message: KafkaMessage, fallback: number): number {
  const consumer = message.metadata.consumer as { generationId?: unknown } | undefined;
  return typeof consumer?.generationId === "number" ? consumer.generationId : fallback;
}

/**
 * The stream side of the loop: messages are taken from the stream's buffer
 * synchronously (read()), and collect() waits only when the buffer is empty:
 * no promise per message. While a batch is written nothing is read, the
 * buffer fills to its highWaterMark and the stream stops fetching. That is
 * the backpressure; heartbeats run on their own timer.
 */
export interface SourceOptions {
  stream: KafkaStream;
  ownership: PartitionOwnership;
  limits: BatchLimits;
  stats: ConsumeStats;
}

export class MessageSource {
  readonly #options: SourceOptions;
  readonly #signal: AbortSignal;
  readonly #batcher: Batcher<KafkaMessage>;
  /** Why the consumer failed, once it did: nothing more is read. */
  failure: unknown;
  // Listeners stay for the stream's life: with no 'readable' listener Node
  // sets readableFlowing back to null, and @platformatic/kafka then stops
  // fetching. A wait only swaps in who is woken.
  readonly #wakers = new Set<() => void>();

  constructor(options: SourceOptions, signal: AbortSignal) {
    this.#options = options;
    this.#signal = signal;
    this.#batcher = new Batcher<KafkaMessage>(options.limits);
    const emitter = options.stream as unknown as NodeJS.EventEmitter;
    // The client's stream destroys itself when its own retries of a fetch ran out.
    emitter.on("error", (error: unknown) => this.fail(error));
    for (const event of ["readable", "end", "close"]) emitter.on(event, () => this.#wake());
    signal.addEventListener("abort", () => this.#wake());
  }

  fail(error: unknown): void {
    this.failure ??= error;
    this.#wake();
  }

  #wake(): void {
    for (const waker of this.#wakers) waker();
  }

  /** The next batch to write: closed by a limit, by linger time, or by stop (undefined: nothing left). */
  async collect(): Promise<Batch<KafkaMessage> | undefined> {
    const batcher = this.#batcher;
    const { stream, ownership, stats } = this.#options;
    for (;;) {
      if (this.failure !== undefined) {
        // Not written, so not committed: the next consumer reads these again.
        if (!batcher.isEmpty) stats.dropped += batcher.take(Date.now(), "flush").items.length;
        return undefined;
      }
      if (batcher.isFull || batcher.isDue(Date.now())) return batcher.take(Date.now());
      if (this.#signal.aborted) return batcher.isEmpty ? undefined : batcher.take(Date.now(), "flush");
      for (let message = stream.read() as KafkaMessage | null; message !== null; message = stream.read()) {
        const generation = fetchedGeneration(message, ownership.generation ?? 0);
        if (ownership.accept(message.partition, message.offset, generation) !== "new") {
          stats.skipped++;
          continue;
        }
        stats.received++;
        const closed = batcher.add(message, message.value?.length ?? 0, Date.now());
        if (closed) return closed;
        // Full now: leave at once rather than wait for the stream's next news.
        if (batcher.isFull) return batcher.take(Date.now());
      }
      if (stream.readableEnded || stream.destroyed) {
        // Closed on purpose only after stop(), which is seen above: anything else is a failure.
        this.failure ??= new Error("the messages stream ended");
        continue;
      }
      const deadline = batcher.deadlineMs;
      await this.#wait(deadline === undefined ? undefined : deadline - Date.now());
    }
  }

  /** Whichever comes first: `waitMs` pass (undefined: no limit), the stream has news, or stop. */
  #wait(waitMs: number | undefined): Promise<void> {
    if (this.#signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const finish = () => {
        clearTimeout(timer);
        this.#wakers.delete(finish);
        resolve();
      };
      this.#wakers.add(finish);
      if (waitMs !== undefined) timer = setTimeout(finish, Math.max(0, waitMs));
    });
  }
}
