// What the dead-letter topic holds: each dead letter carries the original
// message (key and value byte for byte, unless it was cut to fit) and
// headers naming its source topic, partition and offset, which is the
// rejections table's key. Read from the earliest retained offset to the end
// offsets taken at start, keeping only what the caller asks for.
import type { KafkaConnection, KafkaMessage } from "../kafka/client.ts";
import { readLog } from "../kafka/log-reader.ts";
import { dlqHeaders } from "../pipeline/dead-letters.ts";
import { messageTransactionId } from "../transaction/message.ts";

/** Longest wait for the next dead letter before the read gives up, milliseconds. */
const readIdleMsMax = 30_000;

export interface DeadLetterRecord {
  /** Where the dead letter itself is in the dead-letter topic. */
  dlqPartition: number;
  dlqOffset: string;
  sourcePartition: number | undefined;
  sourceOffset: string | undefined;
  /** The worker's reason, as it said it then. */
  reason: string | undefined;
  deadLetteredAt: string | undefined;
  /** What was cut to fit the topic ("value", "value,headers", …); undefined: the whole message. */
  cut: string | undefined;
  key: Buffer;
  value: Buffer;
}

export interface DeadLetterRead {
  /** By source position, `partition/offset`, for the positions asked for. */
  bySource: Map<string, DeadLetterRecord>;
  /** Dead letters of the source topic without a readable transaction id (never given a 202), up to the limit. */
  withoutId: DeadLetterRecord[];
  /** Dead letters of the source topic without a readable id, all of them. */
  withoutIdCount: number;
}

export function sourceKey(partition: number, offset: string | bigint): string {
  return `${partition}/${offset}`;
}

function toRecord(message: KafkaMessage): DeadLetterRecord {
  const header = (name: string) => message.headers.get(name);
  const partition = header(dlqHeaders.sourcePartition);
  return {
    dlqPartition: message.partition,
    dlqOffset: message.offset.toString(),
    sourcePartition: partition === undefined ? undefined : Number(partition),
    sourceOffset: header(dlqHeaders.sourceOffset),
    reason: header(dlqHeaders.reason),
    deadLetteredAt: header(dlqHeaders.deadLetteredAt),
    cut: header(dlqHeaders.cut),
    key: message.key ?? Buffer.alloc(0),
    value: message.value ?? Buffer.alloc(0),
  };
}

export async function readDeadLetters(options: {
  connection: KafkaConnection;
  dlqTopic: string;
  sourceTopic: string;
  groupId: string;
  /** Source positions (sourceKey) whose dead letters to keep. */
  wanted: Set<string>;
  withoutIdMax: number;
}): Promise<DeadLetterRead> {
  const read: DeadLetterRead = { bySource: new Map(), withoutId: [], withoutIdCount: 0 };
  await readLog({
    connection: options.connection,
    topic: options.dlqTopic,
    groupId: options.groupId,
    idleMsMax: readIdleMsMax,
    onMessage(message) {
      if (message.headers.get(dlqHeaders.sourceTopic) !== options.sourceTopic) return;
      const partition = message.headers.get(dlqHeaders.sourcePartition);
      const offset = message.headers.get(dlqHeaders.sourceOffset);
      const key = sourceKey(Number(partition), offset ?? "");
      // A dead letter written again (a retried batch) is the same message: the first is kept.
      if (options.wanted.has(key) && !read.bySource.has(key)) read.bySource.set(key, toRecord(message));
      if (messageTransactionId(message.value) !== undefined) return;
      read.withoutIdCount++;
      if (read.withoutId.length < options.withoutIdMax) read.withoutId.push(toRecord(message));
    },
  });
  return read;
}
