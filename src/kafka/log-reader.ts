// Reads a topic from its earliest retained offset up to end offsets taken
// when the read starts, as a throwaway consumer group that commits nothing:
// what reconcile proves is about the log as it stood then.
import { deleteGroups, endOffsets } from "./admin.ts";
import { consume, createConsumer, type KafkaConnection, type KafkaMessage } from "./client.ts";

/** Bytes one fetch of the read may carry: a whole-log read wants large fetches. */
const readFetchBytesMax = 8 * 1024 * 1024;
/** Messages the stream buffers ahead of the reader at most. */
const readBufferedMessagesMax = 8192;

export interface LogReadOptions {
  connection: KafkaConnection;
  topic: string;
  /** Group name for the read; deleted afterwards. */
  groupId: string;
  /** Called for every message below the end offsets, in partition order per partition. */
  onMessage(message: KafkaMessage): void;
  /** Longest time without a new message before the read gives up, milliseconds. */
  idleMsMax: number;
}

/** The end offsets read up to, by partition. */
export async function readLog(options: LogReadOptions): Promise<Map<number, bigint>> {
  const ends = await endOffsets(options.connection, options.topic);
  const remaining = new Set([...ends].filter(([, end]) => end > 0n).map(([partition]) => partition));
  if (remaining.size === 0) return ends;
  const consumer = createConsumer(options.connection, { groupId: options.groupId, fetchBytesMax: readFetchBytesMax });
  try {
    const stream = await consume(consumer, [options.topic], readBufferedMessagesMax);
    let idleTimer: ReturnType<typeof setTimeout> | undefined;
    const idle = () => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => void stream.close(), options.idleMsMax);
    };
    idle();
    try {
      for await (const message of stream as AsyncIterable<KafkaMessage>) {
        idle();
        const end = ends.get(message.partition) ?? 0n;
        if (message.offset < end) options.onMessage(message);
        if (message.offset >= end - 1n) remaining.delete(message.partition);
        if (remaining.size === 0) break;
      }
    } finally {
      clearTimeout(idleTimer);
      await stream.close().catch(() => {});
    }
    if (remaining.size > 0) {
      throw new Error(
        `no message for ${options.idleMsMax} ms before the end of partitions ${[...remaining].join(",")} of ${options.topic}`,
      );
    }
    return ends;
  } finally {
    await consumer.close(true).catch(() => {});
    await deleteGroups(options.connection, [options.groupId]).catch(() => {});
  }
}
