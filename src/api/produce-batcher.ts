// Groups concurrent API requests into shared produce requests.
//
// @platformatic/kafka sends one produce request per send() call and does not
// linger, so at a few thousand POSTs per second one request per POST would be
// bound by round trips. A request leaves when one of these holds:
// - `batchMessagesMax` messages wait (a request never carries more), or
//   `requestBytesMax` record bytes (the broker refuses a record batch over the
//   topic's max.message.bytes, and would refuse it again on every retry);
// - the oldest waiting submit has waited `lingerMs` (counted from when it
//   arrived: one that already waited that long behind a request in flight goes
//   as soon as that request is answered);
// - as many submits wait as are expected: when a request is answered, the
//   submits it carried plus those that queued meanwhile are the callers now
//   active, and once that many wait, lingering longer would only add latency
//   (a closed loop of C clients sends C and then nothing until answered). The
//   guess is learned again at every answer: under open-loop load it grows by
//   what arrives during each round trip until the linger decides, so steady
//   traffic still travels in linger-sized requests.
// At most `inFlightMax` requests are outstanding, and at most
// `queuedMessagesMax` messages wait: past that a submit fails at once (the API
// answers 503) instead of queueing without bound. A submit not acknowledged
// within `acceptTimeoutMs` fails with AcceptTimeoutError: one still queued is
// withdrawn (nothing of it reaches Kafka), one in flight may still be written.
// One timer, armed for the oldest deadline, watches them all: a timer and a
// race per submit showed on the API's hot path.
//
// A submit travels in one request, whole, unless its records alone outgrow
// `requestBytesMax` (a batch POST of thousands of rows): it is then cut into
// parts that each fit, sent in order. It resolves once every part is
// acknowledged and fails at the first part that fails, withdrawing its parts
// still queued; parts already sent may be written, so the caller must treat a
// failed split submit as possibly written in part.
import { type OutgoingMessage, produceChunks, recordBytesMax } from "../kafka/client.ts";
import {
  AcceptTimeoutError,
  OverloadedError,
  type ProduceBatcherOptions,
  type Waiting,
} from "./produce-batcher-types.ts";

export { AcceptTimeoutError, OverloadedError, type ProduceBatcherOptions };

export class ProduceBatcher {
  readonly #options: ProduceBatcherOptions;
  #queue: Waiting[] = [];
  #queuedMessages = 0;
  /** recordBytesMax of the queued messages, summed. */
  #queuedBytes = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Submits of each request in flight (its size is the number of requests in flight). */
  readonly #inFlightSubmits = new Set<Waiting[]>();
  /** Armed while any submit waits for its answer: fires at the oldest deadline. */
  #deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  /** Submits expected to arrive before the next request should leave (learned at each answer). */
  #expectedSubmits = Number.POSITIVE_INFINITY;
  /** Produce requests sent so far (for metrics and tests). */
  requestsSent = 0;
  /** Messages in those requests. */
  messagesSent = 0;
  /** Milliseconds from send to answer, summed over the answered requests. */
  answerMsTotal = 0;
  /** Produce requests answered (acknowledged or failed). */
  requestsAnswered = 0;

  constructor(options: ProduceBatcherOptions) {
    if (
      options.batchMessagesMax < 1 ||
      options.inFlightMax < 1 ||
      options.queuedMessagesMax < 1 ||
      options.requestBytesMax < 1 ||
      options.acceptTimeoutMs < 1
    ) {
      throw new Error("ProduceBatcher limits must be at least 1");
    }
    this.#options = options;
  }

  get queuedMessages(): number {
    return this.#queuedMessages;
  }

  /**
   * Resolves once Kafka acknowledged every message (acks=all); rejects when the
   * produce request failed, the batcher is overloaded or closed, or with
   * AcceptTimeoutError after `acceptTimeoutMs`. The messages of a submit
   * within `requestBytesMax` travel in the same produce request, so they are
   * accepted or refused as a whole; a larger one is split (see above), and
   * after a failure parts of it may be written.
   */
  submit(messages: OutgoingMessage[]): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("the producer is closing"));
    if (messages.length === 0) return Promise.resolve();
    if (this.#queuedMessages + messages.length > this.#options.queuedMessagesMax) {
      return Promise.reject(new OverloadedError(this.#options.queuedMessagesMax));
    }
    let bytes = 0;
    for (const message of messages) bytes += recordBytesMax(message);
    return new Promise<void>((resolve, reject) => {
      const queuedAtMs = performance.now();
      const parts =
        bytes <= this.#options.requestBytesMax
          ? [{ messages, bytes, queuedAtMs, resolve, reject }]
          : this.#split(messages, queuedAtMs, resolve, reject);
      for (const part of parts) {
        this.#queue.push(part);
        this.#queuedMessages += part.messages.length;
        this.#queuedBytes += part.bytes;
      }
      // Deadlines come in submit order, so an armed timer is never later than this one's.
      this.#deadlineTimer ??= this.#armDeadlineTimer(this.#options.acceptTimeoutMs);
      this.#schedule();
    });
  }

  /**
   * A submit too large for one request as parts that each fit: it resolves
   * once all are acknowledged, and fails with the first failure, withdrawing
   * its parts still queued. A timeout after some part left says so (sent).
   */
  #split(
    messages: OutgoingMessage[],
    queuedAtMs: number,
    resolve: () => void,
    reject: (error: unknown) => void,
  ): Waiting[] {
    const parts: Waiting[] = [];
    let unanswered = 0;
    let settled = false;
    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      this.#withdraw(parts);
      const anySent = parts.some((part) => part.sent);
      const timedOutUnsent = error instanceof AcceptTimeoutError && !error.sent;
      reject(timedOutUnsent && anySent ? new AcceptTimeoutError(error.timeoutMs, true) : error);
    };
    const acknowledged = () => {
      unanswered--;
      if (unanswered === 0 && !settled) {
        settled = true;
        resolve();
      }
    };
    for (const chunk of produceChunks(messages, this.#options.requestBytesMax)) {
      let bytes = 0;
      for (const message of chunk) bytes += recordBytesMax(message);
      parts.push({ messages: chunk, bytes, queuedAtMs, resolve: acknowledged, reject: fail });
      unanswered++;
    }
    return parts;
  }

  /** Takes those of `parts` still queued out of the queue: they never reach Kafka. */
  #withdraw(parts: Waiting[]): void {
    const withdrawn = new Set(parts.filter((part) => !part.sent));
    if (withdrawn.size === 0) return;
    this.#queue = this.#queue.filter((waiting) => {
      if (!withdrawn.has(waiting)) return true;
      this.#queuedMessages -= waiting.messages.length;
      this.#queuedBytes -= waiting.bytes;
      return false;
    });
  }

  #schedule(): void {
    if (this.#inFlightSubmits.size >= this.#options.inFlightMax || this.#queue.length === 0) return;
    if (
      this.#queuedMessages >= this.#options.batchMessagesMax ||
      this.#queuedBytes >= this.#options.requestBytesMax ||
      this.#queue.length >= this.#expectedSubmits ||
      this.#options.lingerMs === 0 ||
      this.#closed
    ) {
      this.#flush();
      return;
    }
    const waitedMs = performance.now() - (this.#queue[0] as Waiting).queuedAtMs;
    if (waitedMs >= this.#options.lingerMs) {
      this.#flush();
      return;
    }
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#flush();
    }, this.#options.lingerMs - waitedMs);
  }

  #flush(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    while (this.#inFlightSubmits.size < this.#options.inFlightMax && this.#queue.length > 0) {
      const taken: Waiting[] = [];
      const messages: OutgoingMessage[] = [];
      let bytes = 0;
      // Whole submits (or parts) only; a single one over the message cap goes alone.
      while (this.#queue.length > 0) {
        const next = this.#queue[0] as Waiting;
        if (
          messages.length > 0 &&
          (messages.length + next.messages.length > this.#options.batchMessagesMax ||
            bytes + next.bytes > this.#options.requestBytesMax)
        ) {
          break;
        }
        this.#queue.shift();
        next.sent = true;
        taken.push(next);
        // Not push(...): a part may hold more messages than a call takes arguments.
        for (const message of next.messages) messages.push(message);
        bytes += next.bytes;
      }
      this.#queuedMessages -= messages.length;
      this.#queuedBytes -= bytes;
      this.#inFlightSubmits.add(taken);
      this.requestsSent++;
      this.messagesSent += messages.length;
      const sentAtMs = performance.now();
      let acknowledged = false;
      this.#options
        .send(messages)
        .then(
          () => {
            acknowledged = true;
            for (const waiting of taken) waiting.resolve();
          },
          (error: unknown) => {
            for (const waiting of taken) waiting.reject(error);
          },
        )
        .finally(() => {
          const answerMs = performance.now() - sentAtMs;
          this.#inFlightSubmits.delete(taken);
          this.requestsAnswered++;
          this.answerMsTotal += answerMs;
          this.#options.onAnswer?.(messages.length, answerMs, acknowledged);
          this.#expectedSubmits = taken.length + this.#queue.length;
          this.#schedule();
        });
      // Below the caps and with time left to linger, let more requests arrive.
      if (
        this.#queuedMessages < this.#options.batchMessagesMax &&
        this.#queuedBytes < this.#options.requestBytesMax &&
        !this.#closed
      ) {
        break;
      }
    }
    this.#schedule();
  }

  #armDeadlineTimer(delayMs: number): ReturnType<typeof setTimeout> {
    const timer = setTimeout(() => this.#failOverdue(), Math.max(0, delayMs));
    // Nothing to watch is no reason for the process to stay up.
    timer.unref();
    return timer;
  }

  /** Fails every submit past its deadline, then arms the timer for the oldest one left. */
  #failOverdue(): void {
    this.#deadlineTimer = undefined;
    const timeoutMs = this.#options.acceptTimeoutMs;
    const now = performance.now();
    let oldestLeftMs = Number.POSITIVE_INFINITY;
    for (const submits of this.#inFlightSubmits) {
      for (const waiting of submits) {
        if (waiting.timedOut) continue;
        if (now - waiting.queuedAtMs >= timeoutMs) {
          waiting.timedOut = true;
          waiting.reject(new AcceptTimeoutError(timeoutMs, true));
        } else {
          oldestLeftMs = Math.min(oldestLeftMs, waiting.queuedAtMs);
        }
      }
    }
    // The queue is in submit order: the overdue are at its head.
    while (this.#queue.length > 0 && now - (this.#queue[0] as Waiting).queuedAtMs >= timeoutMs) {
      const waiting = this.#queue.shift() as Waiting;
      this.#queuedMessages -= waiting.messages.length;
      this.#queuedBytes -= waiting.bytes;
      waiting.reject(new AcceptTimeoutError(timeoutMs, false));
    }
    if (this.#queue.length > 0) oldestLeftMs = Math.min(oldestLeftMs, (this.#queue[0] as Waiting).queuedAtMs);
    if (oldestLeftMs !== Number.POSITIVE_INFINITY) {
      this.#deadlineTimer = this.#armDeadlineTimer(oldestLeftMs + timeoutMs - now);
    }
  }

  /** Sends what is queued and waits until nothing is in flight. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#flush();
    while (this.#inFlightSubmits.size > 0 || this.#queue.length > 0) {
      await Bun.sleep(5);
      this.#flush();
    }
  }
}
