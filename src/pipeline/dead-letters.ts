// Dead-letter topic: a message that can never be written is produced there
// byte for byte (key and value as read), with headers saying why and where it
// came from, so it neither blocks its partition nor disappears. Replaying it
// is producing its value back to the source topic once the cause is fixed.
import { type KafkaMessage, type KafkaProducer, type OutgoingMessage, produce } from "../kafka/client.ts";

/** Header names txlog adds; the message's own headers are kept alongside. */
export const dlqHeaders = {
  reason: "txlog-dlq-reason",
  sourceTopic: "txlog-dlq-source-topic",
  sourcePartition: "txlog-dlq-source-partition",
  sourceOffset: "txlog-dlq-source-offset",
  deadLetteredAt: "txlog-dlq-at",
} as const;

export interface DeadLetter {
  message: KafkaMessage;
  /** Why it can never be written, e.g. describeErrors() of decodeMessage. */
  reason: string;
}

/** The message to produce for one dead letter. */
export function deadLetterMessage(dlqTopic: string, letter: DeadLetter, now = new Date()): OutgoingMessage {
  const { message } = letter;
  const headers: Record<string, string> = {};
  for (const [name, value] of message.headers) headers[name] = value;
  Object.assign(headers, {
    [dlqHeaders.reason]: letter.reason,
    [dlqHeaders.sourceTopic]: message.topic,
    [dlqHeaders.sourcePartition]: String(message.partition),
    [dlqHeaders.sourceOffset]: message.offset.toString(),
    [dlqHeaders.deadLetteredAt]: now.toISOString(),
  });
  return {
    topic: dlqTopic,
    // A message without key or value is kept as empty bytes: the producer needs bytes.
    key: message.key ?? Buffer.alloc(0),
    value: message.value ?? Buffer.alloc(0),
    headers,
  };
}

/** Produces `letters` in one request; resolves once every one is acknowledged (acks=all). */
export async function deadLetter(producer: KafkaProducer, dlqTopic: string, letters: DeadLetter[]): Promise<void> {
  if (letters.length === 0) return;
  const now = new Date();
  await produce(
    producer,
    letters.map((letter) => deadLetterMessage(dlqTopic, letter, now)),
  );
}
