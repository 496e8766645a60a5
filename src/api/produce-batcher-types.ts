// The produce batcher's options, its queue entries, and how a submit fails
// (the API turns each failure into a 503 that says whether anything may have
// been written).
import type { OutgoingMessage } from "../kafka/client.ts";

/** Too many messages already wait: the caller should shed load (503). */
export class OverloadedError extends Error {
  constructor(readonly queuedMessagesMax: number) {
    super(`more than ${queuedMessagesMax} messages are waiting for Kafka`);
    this.name = "OverloadedError";
  }
}

/** Kafka did not acknowledge a submit in time. */
export class AcceptTimeoutError extends Error {
  constructor(
    readonly timeoutMs: number,
    /** True when its produce request had left: Kafka may still write it. False: withdrawn unsent. */
    readonly sent: boolean,
  ) {
    super(
      sent
        ? `Kafka did not acknowledge within ${timeoutMs} ms`
        : `no produce request could take it within ${timeoutMs} ms; it was withdrawn unsent`,
    );
    this.name = "AcceptTimeoutError";
  }
}

export interface ProduceBatcherOptions {
  /** Sends one produce request and resolves when the broker acknowledged all of it. */
  send(messages: OutgoingMessage[]): Promise<unknown>;
  /** How long the first message of a request waits for more, milliseconds. */
  lingerMs: number;
  /** Messages in one produce request at most (a larger submit that fits requestBytesMax goes alone). */
  batchMessagesMax: number;
  /** Record bytes (recordBytesMax) in one produce request at most; a larger submit is split. */
  requestBytesMax: number;
  /** Produce requests outstanding at once at most. */
  inFlightMax: number;
  /** Messages waiting for a request at most; more are refused with OverloadedError. */
  queuedMessagesMax: number;
  /** Longest wait from submit to Kafka's acknowledgement, milliseconds; then AcceptTimeoutError. */
  acceptTimeoutMs: number;
  /** Told of every produce request answered: its messages, milliseconds to the answer, and whether Kafka acknowledged it. */
  onAnswer?(messages: number, answerMs: number, acknowledged: boolean): void;
}

export interface Waiting {
  messages: OutgoingMessage[];
  /** recordBytesMax of its messages, summed. */
  bytes: number;
  /** performance.now() when it was submitted. */
  queuedAtMs: number;
  /** Set once it failed with AcceptTimeoutError while in flight. */
  timedOut?: true;
  /** Set once its produce request left. */
  sent?: true;
  resolve(): void;
  reject(error: unknown): void;
}
