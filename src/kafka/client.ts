// txlog's Kafka clients, through @platformatic/kafka (pure TypeScript; the
// librdkafka binding does not load under Bun): the producer, the group
// consumer and its stream, offset commits. Only src/kafka/ imports the
// client library, so swapping it is a change to this folder alone.
import {
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
import type { SaslMechanism } from "../runtime/kafka-security.ts";
import type { Secret } from "../runtime/secret.ts";
import { withTimeout } from "../runtime/timeout.ts";
import { keyPartition } from "./partitioner.ts";

// Keys and values stay raw bytes (txlog encodes them itself); header names and
// values are short strings.
export type KafkaMessage = Message<Buffer, Buffer, string, string>;
export type KafkaStream = MessagesStream<Buffer, Buffer, string, string>;
export type KafkaProducer = Producer<Buffer, Buffer, string, string>;
export type KafkaConsumer = Consumer<Buffer, Buffer, string, string>;

/** Retries of a failed produce or admin request before it fails. */
export const requestRetriesMax = 3;
/** How often a consumer tells the group coordinator it is alive, milliseconds. */
const heartbeatIntervalMs = 1000;

export interface KafkaConnection {
  brokers: string[];
  clientId: string;
  /** Per-request timeout, milliseconds. */
  timeoutMs: number;
  /** SASL credentials; absent: none sent. */
  sasl?: KafkaSasl;
  /** TLS to the brokers; absent: plaintext. */
  tls?: KafkaTls;
}

export interface KafkaSasl {
  mechanism: SaslMechanism;
  username: string;
  password: Secret;
}

export interface KafkaTls {
  /** PEM CAs to trust instead of the system's. */
  ca?: string;
  /** PEM client certificate and its key, for mutual TLS. */
  cert?: string;
  key?: Secret;
  /** Name for SNI and the certificate check instead of each broker's host. */
  serverName?: string;
}

/**
 * The options every client of the library is built with, from one
 * connection: producer, consumer and admin alike, so none can miss the
 * credentials. The password stays a Secret until the client authenticates.
 */
export function clientOptions(connection: KafkaConnection) {
  const { sasl, tls } = connection;
  return {
    clientId: connection.clientId,
    bootstrapBrokers: connection.brokers,
    timeout: connection.timeoutMs,
    ...(sasl && {
      sasl: { mechanism: sasl.mechanism, username: sasl.username, password: () => sasl.password.reveal() },
    }),
    ...(tls && {
      tls: { ca: tls.ca, cert: tls.cert, key: tls.key?.reveal() },
      ...(tls.serverName !== undefined && { tlsServerName: tls.serverName }),
    }),
  };
}

/** One message to produce; key and value are already encoded. */
export interface OutgoingMessage {
  topic: string;
  key: Buffer;
  value: Buffer;
  headers?: Record<string, string>;
}

/**
 * A producer whose every send is acknowledged by all in-sync replicas and
 * deduplicated by the broker (idempotent), so a retried send cannot write twice.
 */
export function createProducer(connection: KafkaConnection): KafkaProducer {
  return new Producer({
    ...clientOptions(connection),
    idempotent: true,
    acks: ProduceAcks.ALL,
    serializers: { headerKey: stringSerializer, headerValue: stringSerializer },
    partitioner: (_message, key) => keyPartition(key),
    retries: requestRetriesMax,
  });
}

/**
 * True when a broker answers a metadata request on the producer's own
 * connections within `timeoutMs` (forced: cached metadata would say yes for
 * a broker that is gone).
 */
export async function producerAnswers(producer: KafkaProducer, timeoutMs: number): Promise<boolean> {
  return withTimeout(producer.metadata({ topics: [], forceUpdate: true }), timeoutMs, "metadata").then(
    () => true,
    () => false,
  );
}

export function produce(producer: KafkaProducer, messages: OutgoingMessage[]): Promise<ProduceResult> {
  return producer.send({ messages });
}

// Kafka refuses a record batch (the records of one partition in one produce
// request) larger than the topic's max.message.bytes, so whoever produces
// many messages at once splits them by these sizes first.

/** Bytes of a record batch's own header (magic 2), ahead of its records. */
export const recordBatchHeaderBytes = 61;
/**
 * Most bytes a record adds around its key, value and headers: attributes (1),
 * its length, offset delta, key length, value length and header count
 * (varints, 5 bytes at most each) and its timestamp delta (a varlong, 10).
 */
const recordFramingBytesMax = 1 + 5 * 5 + 10;
/** Most bytes a header adds around its name and value: their two lengths. */
const headerFramingBytesMax = 2 * 5;

/** An upper bound of the bytes `message` takes in a record batch. */
export function recordBytesMax(message: OutgoingMessage): number {
  let bytes = recordFramingBytesMax + message.key.length + message.value.length;
  if (message.headers !== undefined) {
    for (const name in message.headers) {
      bytes += headerFramingBytesMax + Buffer.byteLength(name) + Buffer.byteLength(message.headers[name] as string);
    }
  }
  return bytes;
}

/**
 * Record bytes (by recordBytesMax) one produce request may carry so that no
 * record batch in it outgrows `messageBytesMax` (KAFKA_MESSAGE_BYTES_MAX): a
 * request within it makes batches within it, whatever the partitions.
 */
export function produceRecordBytesMax(messageBytesMax: number): number {
  return messageBytesMax - recordBatchHeaderBytes;
}

/**
 * `messages` in order, cut into runs whose recordBytesMax sum to at most
 * `bytesMax`; a message larger than that on its own is a run of one.
 */
export function produceChunks(messages: OutgoingMessage[], bytesMax: number): OutgoingMessage[][] {
  const chunks: OutgoingMessage[][] = [];
  let chunk: OutgoingMessage[] = [];
  let bytes = 0;
  for (const message of messages) {
    const size = recordBytesMax(message);
    if (chunk.length > 0 && bytes + size > bytesMax) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(message);
    bytes += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/** Kafka's answers to a produce request that refuse the records themselves: sending them again cannot pass. */
const refusalCodes = ["MESSAGE_TOO_LARGE", "RECORD_LIST_TOO_LARGE", "INVALID_RECORD"] as const;

/** The error code when Kafka refused a produce for its records (see refusalCodes), else undefined. */
export function produceRefusal(error: unknown): string | undefined {
  return refusalCodes.find((code) => findErrorBy(error as Error, "apiId", code) !== null);
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
    ...clientOptions(connection),
    groupId: options.groupId,
    deserializers: { headerKey: stringDeserializer, headerValue: stringDeserializer },
    // 1 MiB per fetch: with a deep backlog, larger fetches only kept more
    // memory in the worker, for no gain in throughput (README, performance).
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

export interface PartitionProgress {
  partition: number;
  /** The group's committed offset (the next to read), as the consumer last knew or made it. */
  committed: bigint;
  /** The partition's end offset (high watermark): the next offset to be written. */
  end: bigint;
}

/**
 * Committed and end offsets of the partitions of `topic` this consumer owns
 * (lag = end − committed): end offsets from one ListOffsets round over the
 * consumer's own connections, committed ones from its stream's bookkeeping.
 */
export async function partitionProgress(
  consumer: KafkaConsumer,
  stream: KafkaStream,
  topic: string,
): Promise<PartitionProgress[]> {
  const ends = (await consumer.listOffsets({ topics: [topic] })).get(topic) ?? [];
  const progress: PartitionProgress[] = [];
  for (const [key, committed] of stream.offsetsCommitted) {
    const separator = key.lastIndexOf(":");
    if (key.slice(0, separator) !== topic) continue;
    const partition = Number(key.slice(separator + 1));
    const end = ends[partition];
    if (end === undefined || committed < 0n) continue;
    progress.push({ partition, committed, end });
  }
  return progress.sort((a, b) => a.partition - b.partition);
}
