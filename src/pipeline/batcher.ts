// Groups consumed messages into batches for one COPY each. A batch closes on
// whichever limit it reaches first: rows, bytes (sum of message value sizes)
// or linger time since its first message. Pure: the caller passes the clock,
// so the limits are tested without Kafka or timers.

export interface BatchLimits {
  /** Items in one batch at most. */
  rowsMax: number;
  /** Sum of item sizes in one batch at most, bytes (see Batcher.add for one larger item). */
  bytesMax: number;
  /** How long a batch waits for more items after its first, milliseconds. */
  lingerMs: number;
}

export type BatchCloseReason = "rows" | "bytes" | "linger" | "flush";

export interface Batch<T> {
  readonly items: T[];
  /** Sum of the item sizes, bytes. */
  readonly bytes: number;
  /** Clock time the first item arrived, milliseconds. */
  readonly openedAtMs: number;
  readonly closedAtMs: number;
  readonly closedBy: BatchCloseReason;
}

export class BatchLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BatchLimitError";
  }
}

export class Batcher<T> {
  readonly limits: BatchLimits;
  #items: T[] = [];
  #bytes = 0;
  #openedAtMs = 0;

  constructor(limits: BatchLimits) {
    if (!(Number.isSafeInteger(limits.rowsMax) && limits.rowsMax >= 1))
      throw new BatchLimitError(`rowsMax must be >= 1, got ${limits.rowsMax}`);
    if (!(Number.isSafeInteger(limits.bytesMax) && limits.bytesMax >= 1))
      throw new BatchLimitError(`bytesMax must be >= 1, got ${limits.bytesMax}`);
    if (!(Number.isSafeInteger(limits.lingerMs) && limits.lingerMs >= 0))
      throw new BatchLimitError(`lingerMs must be >= 0, got ${limits.lingerMs}`);
    this.limits = { ...limits };
  }

  get rows(): number {
    return this.#items.length;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get isEmpty(): boolean {
    return this.#items.length === 0;
  }

  /** True when the open batch can take no more items: it should be taken now. */
  get isFull(): boolean {
    return this.#items.length >= this.limits.rowsMax || this.#bytes >= this.limits.bytesMax;
  }

  /** Clock time the open batch must be taken by, milliseconds; undefined while empty. */
  get deadlineMs(): number | undefined {
    return this.isEmpty ? undefined : this.#openedAtMs + this.limits.lingerMs;
  }

  isDue(nowMs: number): boolean {
    const deadline = this.deadlineMs;
    return deadline !== undefined && nowMs >= deadline;
  }

  /**
   * Adds an item of `bytes` bytes. When it does not fit the open batch, that
   * batch is closed and returned, and the item opens the next one. An item
   * larger than bytesMax on its own becomes a batch of one: it cannot be
   * split, and refusing it would stop its partition for good.
   */
  add(item: T, bytes: number, nowMs: number): Batch<T> | undefined {
    if (!(Number.isSafeInteger(bytes) && bytes >= 0))
      throw new BatchLimitError(`item size must be a byte count, got ${bytes}`);
    let closed: Batch<T> | undefined;
    if (!this.isEmpty) {
      if (this.#items.length + 1 > this.limits.rowsMax) closed = this.take(nowMs, "rows");
      else if (this.#bytes + bytes > this.limits.bytesMax) closed = this.take(nowMs, "bytes");
    }
    if (this.isEmpty) this.#openedAtMs = nowMs;
    this.#items.push(item);
    this.#bytes += bytes;
    this.#checkLimits(this.#items.length, this.#bytes);
    return closed;
  }

  /** Closes and returns the open batch (which must not be empty). */
  take(nowMs: number, reason?: BatchCloseReason): Batch<T> {
    if (this.isEmpty) throw new BatchLimitError("take() on an empty batch");
    const closedBy =
      reason ??
      (this.#items.length >= this.limits.rowsMax
        ? "rows"
        : this.#bytes >= this.limits.bytesMax
          ? "bytes"
          : this.isDue(nowMs)
            ? "linger"
            : "flush");
    const batch: Batch<T> = {
      items: this.#items,
      bytes: this.#bytes,
      openedAtMs: this.#openedAtMs,
      closedAtMs: nowMs,
      closedBy,
    };
    this.#checkLimits(batch.items.length, batch.bytes);
    this.#items = [];
    this.#bytes = 0;
    return batch;
  }

  /** Runs once a consumed message: each error text is built only when its check fails. */
  #checkLimits(rows: number, bytes: number): void {
    if (!(rows <= this.limits.rowsMax))
      throw new BatchLimitError(`batch of ${rows} rows exceeds rowsMax ${this.limits.rowsMax}`);
    if (!(bytes <= this.limits.bytesMax || rows === 1))
      throw new BatchLimitError(`batch of ${bytes} bytes in ${rows} rows exceeds bytesMax ${this.limits.bytesMax}`);
  }
}
