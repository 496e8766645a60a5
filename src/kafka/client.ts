// All of txlog's Kafka access, through @platformatic/kafka (pure TypeScript;
// the librdkafka binding does not load under Bun). Nothing else imports the
// client, so swapping it is a change to this file alone.
import {
  Admin,
  Consumer,
  findErrorBy,
  type Message,
  type MessagesStream,
  ProduceAcks,
  type ProduceResult,
  Producer,
  stringDeserializer,
  stringSerializer,
} from "@platformatic/kafka";
import { withTimeout } from "../runtime/timeout.ts";

// Keys and values stay raw bytes (txlog encodes them itself); header names and
// values are short strings.
export type KafkaMessage = Message<Buffer, Buffer, string, string>;
export type KafkaStream = MessagesStream<Buffer, Buffer, string, string>;
export type KafkaProducer = Producer<Buffer, Buffer, string, string>;
export type KafkaConsumer = Consumer<Buffer, Buffer, string, string>;

/** Retries of a failed produce or admin request before it fails. */
const requestRetriesMax = 3;
/** How often a consumer tells the group coordinator it is alive, milliseconds. */
const heartbeatIntervalMs = 1000;

export interface KafkaConnection {
  brokers: string[];
  clientId: string;
  /** Per-request timeout, milliseconds. */
  timeoutMs: number;
}

export interface TopicSpec {
  name: string;
  partitions: number;
}

/** One message to produce; key and value are already encoded. */
export interface OutgoingMessage {
  topic: string;
  key: Buffer;
  value: Buffer;
  headers?: Record<string, string>;
}

function admin(connection: KafkaConnection, retries: number | boolean = requestRetriesMax): Admin {
  return new Admin({
    clientId: `${connection.clientId}-admin`,
    bootstrapBrokers: connection.brokers,
    timeout: connection.timeoutMs,
    retries,
  });
}

/** True when a broker answers a metadata request within the timeout. */
export async function kafkaAnswers(connection: KafkaConnection): Promise<boolean> {
  const client = admin(connection, false);
  try {
    await withTimeout(client.metadata({ topics: [] }), connection.timeoutMs, "metadata");
    return true;
  } catch {
    return false;
  } finally {
    await client.close().catch(() => {});
  }
}

/**
 * txlog's two topics, as both the API and the worker create them when missing:
 * the log with its configured partitions, and a one-partition dead-letter
 * topic (dead letters are rare, and one partition keeps them in one order).
 */
export function txlogTopics(names: { topic: string; dlqTopic: string; topicPartitions: number }): TopicSpec[] {
  return [
    { name: names.topic, partitions: names.topicPartitions },
    { name: names.dlqTopic, partitions: 1 },
  ];
}

/** Creates the topics that are missing; existing ones are left as they are. */
export async function ensureTopics(connection: KafkaConnection, topics: TopicSpec[]): Promise<void> {
  const client = admin(connection);
  try {
    const existing = new Set(await client.listTopics());
    for (const topic of topics) {
      if (existing.has(topic.name)) continue;
      try {
        await client.createTopics({ topics: [topic.name], partitions: topic.partitions, replicas: -1 });
      } catch (error) {
        // Another process (the API and the worker start together) created it
        // since we listed. Its name may not be in the broker's metadata yet,
        // so the error code is what tells, not a second listing.
        if (findErrorBy(error as Error, "apiId", "TOPIC_ALREADY_EXISTS") === null) throw error;
      }
    }
    await waitForLeaders(
      client,
      topics.map((topic) => topic.name),
      connection.timeoutMs * 2,
    );
  } finally {
    await client.close();
  }
}

/** A new topic has no leader for a moment; producing then fails. */
async function waitForLeaders(client: Admin, topics: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const metadata = await client.metadata({ topics, forceUpdate: true });
    const ready = topics.every((name) => {
      const topic = metadata.topics.get(name);
      return topic !== undefined && topic.partitionsCount > 0 && [...topic.partitions].every((p) => p.leader >= 0);
    });
    if (ready) return;
    if (Date.now() > deadline) throw new Error(`topics ${topics.join(", ")} have no leader after ${timeoutMs} ms`);
    await Bun.sleep(100);
  }
}

export async function deleteTopics(connection: KafkaConnection, topics: string[]): Promise<void> {
  const client = admin(connection);
  try {
    const existing = new Set(await client.listTopics());
    const present = topics.filter((topic) => existing.has(topic));
    if (present.length > 0) await client.deleteTopics({ topics: present });
  } finally {
    await client.close();
  }
}

/** Topics and consumer groups whose names start with `prefix`. */
export async function namesWithPrefix(
  connection: KafkaConnection,
  prefix: string,
): Promise<{ topics: string[]; groups: string[] }> {
  const client = admin(connection);
  try {
    const topics = (await client.listTopics()).filter((topic) => topic.startsWith(prefix));
    const groups = [...(await client.listGroups()).keys()].filter((group) => group.startsWith(prefix));
    return { topics, groups };
  } finally {
    await client.close();
  }
}

export async function deleteGroups(connection: KafkaConnection, groups: string[]): Promise<void> {
  const client = admin(connection);
  try {
    await client.deleteGroups({ groups }).catch(() => {});
  } finally {
    await client.close();
  }
}

/**
 * The client's default partitioner — murmur2 of the key as an unsigned 32-bit
 * number, which the client then takes modulo the partition count — in 32-bit
 * integer arithmetic. The client's own murmur2 works in BigInt: ~0.8 µs a key
 * here against ~0.02 µs. It must give the very same number, so an account's
 * messages keep their partition (and their order) across an upgrade; a
 * property test compares it with the client's function.
 */
export function keyPartition(key: Buffer | undefined): number {
  if (key === undefined) return 0;
  const m = 0x5bd1e995;
  const length = key.length;
  let h = 0x9747b28c ^ length;
  let i = 0;
  for (; i + 4 <= length; i += 4) {
    let k = key.readInt32LE(i);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const rest = length - i;
  if (rest > 0) {
    if (rest === 3) h ^= (key[i + 2] as number) << 16;
    if (rest >= 2) h ^= (key[i + 1] as number) << 8;
    h ^= key[i] as number;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h >>> 0;
}

/**
 * A producer whose every send is acknowledged by all in-sync replicas and
 * deduplicated by the broker (idempotent), so a retried send cannot write twice.
 */
export function createProducer(connection: KafkaConnection): KafkaProducer {
  return new Producer({
    clientId: connection.clientId,
    bootstrapBrokers: connection.brokers,
    timeout: connection.timeoutMs,
    idempotent: true,
    acks: ProduceAcks.ALL,
    serializers: { headerKey: stringSerializer, headerValue: stringSerializer },
    partitioner: (_message, key) => keyPartition(key),
    retries: requestRetriesMax,
  });
}

export function produce(producer: KafkaProducer, messages: OutgoingMessage[]): Promise<ProduceResult> {
  return producer.send({ messages });
}

export interface ConsumerOptions {
  groupId: string;
  /** Bytes one fetch response may carry at most. */
  fetchBytesMax?: number;
  /** Bytes the broker waits for (up to fetchWaitMsMax) before it answers a fetch. */
  fetchBytesMin?: number;
  /** How long the broker may hold a fetch waiting for data, milliseconds. */
  fetchWaitMsMax?: number;
  sessionTimeoutMs?: number;
}

export function createConsumer(connection: KafkaConnection, options: ConsumerOptions): KafkaConsumer {
  return new Consumer({
    clientId: connection.clientId,
    bootstrapBrokers: connection.brokers,
    timeout: connection.timeoutMs,
    groupId: options.groupId,
    deserializers: { headerKey: stringDeserializer, headerValue: stringDeserializer },
    // 1 MiB per fetch: with a deep backlog, 8 MiB fetches kept ~110 MB more
    // in the worker for no gain in throughput (bench, 1M-message drain).
    maxBytes: options.fetchBytesMax ?? 1024 * 1024,
    minBytes: options.fetchBytesMin ?? 1,
    maxWaitTime: options.fetchWaitMsMax ?? 500,
    sessionTimeout: options.sessionTimeoutMs ?? 10_000,
    heartbeatInterval: heartbeatIntervalMs,
    // The worker commits offsets itself, only after the database commit.
    autocommit: false,
  });
}

/** Consumes `topics` from the group's committed offsets (earliest when none). */
export function consume(
  consumer: KafkaConsumer,
  topics: string[],
  /** Messages the stream buffers ahead of its reader at most (the client's default is 1024). */
  bufferedMessagesMax = 1024,
): Promise<KafkaStream> {
  return consumer.consume({
    topics,
    mode: "committed",
    fallbackMode: "earliest",
    autocommit: false,
    highWaterMark: bufferedMessagesMax,
  });
}

export interface PartitionOffset {
  topic: string;
  partition: number;
  /** The next offset to read (last written + 1), as Kafka expects it. */
  offset: bigint;
  leaderEpoch: number;
}

export function commitOffsets(consumer: KafkaConsumer, offsets: PartitionOffset[]): Promise<void> {
  return consumer.commit({ offsets });
}

/** Committed offsets of `groupId` on `topic`, by partition (absent: none). */
export async function committedOffsets(
  connection: KafkaConnection,
  groupId: string,
  topic: string,
): Promise<Map<number, bigint>> {
  const client = admin(connection);
  try {
    const groups = await client.listConsumerGroupOffsets({ groups: [groupId] });
    const result = new Map<number, bigint>();
    for (const group of groups) {
      for (const t of group.topics) {
        if (t.name !== topic) continue;
        for (const p of t.partitions) {
          if (p.committedOffset >= 0n) result.set(p.partitionIndex, p.committedOffset);
        }
      }
    }
    return result;
  } finally {
    await client.close();
  }
}

/** The next offset to be written on each partition of `topic`. */
export async function endOffsets(connection: KafkaConnection, topic: string): Promise<Map<number, bigint>> {
  const client = admin(connection);
  try {
    const listed = await client.listOffsets({
      topics: [{ name: topic, partitions: await partitionIndexes(client, topic) }],
    });
    const result = new Map<number, bigint>();
    for (const t of listed) for (const p of t.partitions) result.set(p.partitionIndex, p.offset);
    return result;
  } finally {
    await client.close();
  }
}

async function partitionIndexes(client: Admin, topic: string) {
  const metadata = await client.metadata({ topics: [topic] });
  const count = metadata.topics.get(topic)?.partitionsCount ?? 0;
  return Array.from({ length: count }, (_, partitionIndex) => ({ partitionIndex, timestamp: -1n }));
}
