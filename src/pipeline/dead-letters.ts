// Dead-letter topic: a message that can never be written is produced there
// byte for byte (key and value as read), with headers saying why and where it
// came from, so it neither blocks its partition nor disappears. Replaying it
// is producing its value back to the source topic once the cause is fixed.
//
// A batch's dead letters go out in as many produce requests as it takes to
// keep each within the topic's max.message.bytes: one request for thousands
// of them would be refused by the broker, and refused again on every retry,
// so the partition would never move. A single dead letter too large for a
// record batch (a message near the limit plus the headers added here) is cut
// to fit, and says so: the reason and source stay, the value keeps its head,
// and its SHA-256 identifies the whole.
import { createHash } from "node:crypto";
import {
  type KafkaMessage,
  type KafkaProducer,
  type OutgoingMessage,
  produce,
  produceChunks,
  recordBytesMax,
} from "../kafka/client.ts";

/** Header names txlog adds; the message's own headers are kept alongside. */
export const dlqHeaders = {
  reason: "txlog-dlq-reason",
  sourceTopic: "txlog-dlq-source-topic",
  sourcePartition: "txlog-dlq-source-partition",
  sourceOffset: "txlog-dlq-source-offset",
  deadLetteredAt: "txlog-dlq-at",
  /** Only on a dead letter cut to fit: what was cut, of "value", "headers" (the message's own), "key". */
  cut: "txlog-dlq-cut",
  /** With cut: SHA-256 (hex) of the whole value as read. */
  valueSha256: "txlog-dlq-value-sha256",
  /** With cut: length of the whole value as read, bytes. */
  valueBytes: "txlog-dlq-value-bytes",
  /** With a cut key: SHA-256 (hex) of the whole key as read. */
  keySha256: "txlog-dlq-key-sha256",
} as const;

/**
 * Characters of a reason kept at most: a reason says what is wrong in far
 * less, and a bounded one leaves room in the smallest allowed
 * KAFKA_MESSAGE_BYTES_MAX for every header txlog adds.
 */
export const reasonLengthMax = 4096;

export interface DeadLetter {
  message: KafkaMessage;
  /** Why it can never be written, e.g. describeErrors() of decodeMessage. */
  reason: string;
}

const noBytes = Buffer.alloc(0);

function sha256Hex(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function boundedReason(reason: string): string {
  return reason.length <= reasonLengthMax ? reason : `${reason.slice(0, reasonLengthMax - 5)}[cut]`;
}

/** The headers txlog adds to a dead letter. */
function ownHeaders(letter: DeadLetter, now: Date): Record<string, string> {
  const { message } = letter;
  return {
    [dlqHeaders.reason]: boundedReason(letter.reason),
    [dlqHeaders.sourceTopic]: message.topic,
    [dlqHeaders.sourcePartition]: String(message.partition),
    [dlqHeaders.sourceOffset]: message.offset.toString(),
    [dlqHeaders.deadLetteredAt]: now.toISOString(),
  };
}

/**
 * The message to produce for one dead letter, within `recordBytesLimit`
 * (recordBytesMax of it; see produceRecordBytesMax).
 */
export function deadLetterMessage(
  dlqTopic: string,
  letter: DeadLetter,
  recordBytesLimit: number,
  now = new Date(),
): OutgoingMessage {
  const { message } = letter;
  const original: Record<string, string> = {};
  for (const [name, value] of message.headers) original[name] = value;
  const own = ownHeaders(letter, now);
  const full: OutgoingMessage = {
    topic: dlqTopic,
    // A message without key or value is kept as empty bytes: the producer needs bytes.
    key: message.key ?? noBytes,
    value: message.value ?? noBytes,
    headers: { ...original, ...own },
  };
  if (recordBytesMax(full) <= recordBytesLimit) return full;
  return cutToFit(full, original, own, recordBytesLimit);
}

/**
 * A dead letter too large for one record batch, cut until it fits: first the
 * value's tail, then the message's own headers, then the key's tail. What
 * txlog adds (reason, source, what was cut, hashes) always stays.
 */
function cutToFit(
  full: OutgoingMessage,
  original: Record<string, string>,
  own: Record<string, string>,
  recordBytesLimit: number,
): OutgoingMessage {
  const valueMarks = {
    [dlqHeaders.valueSha256]: sha256Hex(full.value),
    [dlqHeaders.valueBytes]: String(full.value.length),
  };
  for (const keepHeaders of [true, false]) {
    const headers = {
      ...(keepHeaders ? original : {}),
      ...own,
      ...valueMarks,
      [dlqHeaders.cut]: keepHeaders ? "value" : "value,headers",
    };
    const room = recordBytesLimit - recordBytesMax({ ...full, value: noBytes, headers });
    if (room >= 0) return { ...full, value: full.value.subarray(0, room), headers };
  }
  const headers = {
    ...own,
    ...valueMarks,
    [dlqHeaders.keySha256]: sha256Hex(full.key),
    [dlqHeaders.cut]: "value,headers,key",
  };
  const room = recordBytesLimit - recordBytesMax({ ...full, key: noBytes, value: noBytes, headers });
  return { ...full, key: full.key.subarray(0, Math.max(0, room)), value: noBytes, headers };
}

/**
 * Kafka refused dead letters for their records, try after try (the sizes
 * txlog computed do not match the topic, or it was changed under it): the
 * worker stops instead of retrying them for ever.
 */
export class DeadLetterRefusedError extends Error {
  constructor(
    /** Kafka's error code, e.g. MESSAGE_TOO_LARGE. */
    readonly refusal: string,
    tries: number,
    cause: unknown,
  ) {
    super(
      `Kafka refused the dead letters ${tries} times with ${refusal}: check the dead-letter topic's max.message.bytes against KAFKA_MESSAGE_BYTES_MAX; the batch's offsets stay uncommitted`,
      { cause },
    );
    this.name = "DeadLetterRefusedError";
  }
}

/** A batch's dead letters as produce requests in order, each within a record-bytes limit, and how many Kafka acknowledged. */
export interface DeadLetterRequests {
  readonly requests: OutgoingMessage[][];
  acknowledged: number;
}

export function deadLetterRequests(
  dlqTopic: string,
  letters: DeadLetter[],
  recordBytesLimit: number,
  now = new Date(),
): DeadLetterRequests {
  const messages = letters.map((letter) => deadLetterMessage(dlqTopic, letter, recordBytesLimit, now));
  return { requests: produceChunks(messages, recordBytesLimit), acknowledged: 0 };
}

/**
 * Produces the requests not yet acknowledged, one after the other (acks=all):
 * called again after a failure, it resumes at the one that failed, so a retry
 * does not write the acknowledged ones a second time.
 */
export async function sendDeadLetters(producer: KafkaProducer, pending: DeadLetterRequests): Promise<void> {
  while (pending.acknowledged < pending.requests.length) {
    await produce(producer, pending.requests[pending.acknowledged] as OutgoingMessage[]);
    pending.acknowledged++;
  }
}
