// The consume path of the patched Kafka client
// (patches/@platformatic%2Fkafka@2.12.1.patch): records decoded with plain
// reads on the network chunk that holds them (the stock readRecord, left in
// place, for a record crossing chunks), and no diagnostics context, record
// copy or bound commit per message when nothing reads them. Checked twice:
// - in process, record batches cut into chunks at random places decode to
//   what the stock readRecord gives, field for field and at the same memory;
// - through the real broker, a varied set of messages (keys, null keys,
//   values from empty to several KB, headers or none, several partitions,
//   batches, compressions and fetch responses) comes back through txlog's
//   createConsumer/consume exactly as produced.
import { beforeAll, describe, expect, test } from "bun:test";
import {
  type CompressionAlgorithmValue,
  consumerReceivesChannel,
  createRecordsBatch,
  type MessageRecord,
  Reader,
  type RecordsBatch,
  readRecord,
  readRecordsBatches,
  Writer,
} from "@platformatic/kafka";
import fc from "fast-check";
import {
  consume,
  createConsumer,
  createProducer,
  type KafkaConnection,
  type KafkaConsumer,
  type KafkaMessage,
  type KafkaStream,
} from "../../src/kafka/client.ts";
import { ensureTopics } from "../../src/kafka/topics.ts";
import { eventually, kafkaConnection, testTopics } from "../support/run.ts";

/** Bytes of a record batch ahead of its records (magic 2), the last four being the record count. */
const batchHeaderBytes = 61;

/** The stock client's readRecordsBatches for uncompressed batches: its batch header, then readRecord per record. */
function stockBatches(reader: Reader): RecordsBatch[] {
  const batches: RecordsBatch[] = [];
  while (reader.remaining >= 12 && reader.remaining - 12 >= reader.peekInt32(reader.position + 8)) {
    const start = reader.position;
    const batch = {
      firstOffset: reader.readInt64(),
      length: reader.readInt32(),
      records: [],
    } as unknown as RecordsBatch;
    reader.skip(batchHeaderBytes - 4 - (reader.position - start));
    const count = reader.readInt32();
    for (let i = 0; i < count; i++) batch.records.push(readRecord(reader));
    batches.push(batch);
  }
  return batches;
}

/** Where a key or value's bytes live: which chunk and offset, or "copy" when in none of them. */
function place(bytes: Buffer | null, chunks: Buffer[]): string {
  if (bytes === null || bytes.length === 0) return String(bytes?.length);
  const chunk = chunks.findIndex((c) => c.buffer === bytes.buffer);
  return chunk < 0 ? "copy" : `${chunk}@${bytes.byteOffset}`;
}

/** `bytes` cut at `cuts` (fractions of its length) into chunks that own their memory, as socket reads do. */
function cutInChunks(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((f) => Math.floor(f * bytes.length)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const to of [...points, bytes.length]) {
    if (to <= from) continue;
    const chunk = Buffer.allocUnsafeSlow(to - from);
    bytes.copy(chunk, 0, from, to);
    chunks.push(chunk);
    from = to;
  }
  return chunks;
}

const bytes = (maxLength: number) => fc.uint8Array({ maxLength }).map((array) => Buffer.from(array));
const baseTimestamp = 1_764_000_000_000n;
// Timestamp deltas from one byte to past 2^49 (beyond the Number fast path).
const timestampDelta = fc.oneof(
  fc.integer({ min: -60, max: 60 }),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 }),
  fc.constantFrom(2 ** 48, -(2 ** 48), 2 ** 52, 2 ** 53 - 1),
);
const messageRecord = fc.record({
  key: fc.option(bytes(40), { nil: undefined, freq: 4 }),
  value: fc.oneof(bytes(200), bytes(17_000), fc.constant(undefined)),
  headers: fc.array(fc.tuple(bytes(20), bytes(40)), { maxLength: 3 }).map((pairs) => new Map<Buffer, Buffer>(pairs)),
  timestamp: timestampDelta.map((delta) => baseTimestamp + BigInt(delta)),
});

describe("records decoded on the network chunks (patched client)", () => {
  test("give the stock readRecord's records, keys and values at the same memory, wherever the chunks are cut", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(messageRecord, { minLength: 1, maxLength: 40 }), { minLength: 1, maxLength: 4 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 60 }),
        (batches, cuts) => {
          const encoded = Buffer.concat(
            batches.map((generated) => {
              const messages = generated.map((m) => ({ ...m, topic: "t", partition: 0 }) as MessageRecord);
              return createRecordsBatch(messages).buffer;
            }),
          );
          const chunks = cutInChunks(encoded, cuts);
          const readerOf = () => Reader.from(chunks.reduce((writer, chunk) => writer.append(chunk), Writer.create()));
          const patched = readRecordsBatches(readerOf());
          const stock = stockBatches(readerOf());
          expect(patched.map((batch) => batch.records)).toEqual(stock.map((batch) => batch.records));
          const places = (all: RecordsBatch[]) =>
            all.flatMap((batch) => batch.records.flatMap((r) => [place(r.key, chunks), place(r.value, chunks)]));
          expect(places(patched)).toEqual(places(stock));
        },
      ),
      { numRuns: 300 },
    );
  });
});

/** A small deterministic generator (LCG), so a failure names the same messages again. */
function random(seed: number) {
  let state = seed >>> 0;
  return (below: number) => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state % below;
  };
}

interface Produced {
  partition: number;
  key: Buffer | undefined;
  value: Buffer | null;
  headers: [string, string][];
  timestamp: bigint;
}

/** Sizes around the varint steps (128, 16,384 bytes), empty, and a few KB. */
const valueSizes = [0, 1, 100, 127, 128, 129, 700, 2_000, 4_096, 7_000, 16_383, 16_384];

function producedMessages(count: number, partitions: number): Produced[] {
  const next = random(20_251_202);
  const now = BigInt(Date.now());
  const messages: Produced[] = [];
  for (let i = 0; i < count; i++) {
    const keyKind = next(6);
    const key = keyKind === 0 ? undefined : keyKind === 1 ? Buffer.alloc(0) : randomBytes(next, 1 + next(60));
    const value = i % 97 === 5 ? null : randomBytes(next, valueSizes[next(valueSizes.length)] as number);
    const headers: [string, string][] = [];
    if (next(3) === 0) {
      for (let h = next(3); h >= 0; h--) headers.push([`h-${h}-${next(1000)}`, h === 0 ? "" : `value ${next(1e9)} é`]);
    }
    // Up to three days back: deltas within a batch from zero to five-byte varints, either sign.
    const timestamp = now - BigInt(next(3 * 24 * 3600 * 1000));
    messages.push({ partition: next(partitions), key, value, headers, timestamp });
  }
  return messages;
}

function randomBytes(next: (below: number) => number, length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = next(256);
  return bytes;
}

/** Every message of `topic` through txlog's consumer, in a group of its own, once `count` have come. */
async function consumeAll(
  connection: KafkaConnection,
  topic: string,
  groupId: string,
  count: number,
  onStream: (consumer: KafkaConsumer, stream: KafkaStream) => void = () => {},
  beforeClose: (consumer: KafkaConsumer, received: KafkaMessage[]) => Promise<void> = async () => {},
): Promise<KafkaMessage[]> {
  // 100 KB fetches: the ~5 MB come back over many fetch responses.
  const consumer = createConsumer(connection, { groupId, fetchBytesMax: 100_000 });
  const stream = await consume(consumer, [topic]);
  onStream(consumer, stream);
  const received: KafkaMessage[] = [];
  stream.on("data", (message: KafkaMessage) => received.push(message));
  try {
    await eventually(async () => (received.length >= count ? true : undefined), 60_000, `${count} messages`);
    await beforeClose(consumer, received);
  } finally {
    await stream.close();
    await consumer.close(true);
  }
  return received;
}

describe("consuming from the broker (patched client)", () => {
  const connection = kafkaConnection();
  const { topic, groupId } = testTopics("consume-decoding");
  const partitions = 3;
  const produced = producedMessages(2_500, partitions);
  const expected = new Map<string, Produced & { offset: bigint }>();
  const nextOffset = Array.from({ length: partitions }, () => 0n);
  let leaderEpochs: number[] = [];

  beforeAll(async () => {
    await ensureTopics(connection, [{ name: topic, partitions }]);
    const producer = createProducer(connection);
    try {
      // Sends of 1 to 200 messages (a record batch per partition each), each compression in turn.
      const compressions: CompressionAlgorithmValue[] = ["none", "gzip", "snappy", "lz4", "zstd"];
      const next = random(7);
      for (let from = 0, send = 0; from < produced.length; send++) {
        const to = Math.min(produced.length, from + 1 + next(200));
        const messages = produced.slice(from, to).map((m) => ({
          topic,
          partition: m.partition,
          key: m.key,
          value: m.value as Buffer,
          headers: new Map(m.headers),
          timestamp: m.timestamp,
        }));
        await producer.send({ messages, compression: compressions[send % compressions.length] });
        from = to;
      }
      const metadata = await producer.metadata({ topics: [topic], forceUpdate: true });
      leaderEpochs = metadata.topics.get(topic)?.partitions.map((p) => p.leaderEpoch) ?? [];
    } finally {
      await producer.close();
    }
    for (const m of produced) {
      const offset = nextOffset[m.partition] as bigint;
      nextOffset[m.partition] = offset + 1n;
      expected.set(`${m.partition}:${offset}`, { ...m, offset });
    }
  }, 60_000);

  test("delivers every message's key, value, headers, partition, offset, timestamp and leader epoch as produced", async () => {
    expect(leaderEpochs).toHaveLength(partitions);
    // Each partition's last message commits itself; the group then resumes after it.
    let committed: bigint[] = [];
    const received = await consumeAll(connection, topic, groupId, produced.length, undefined, async (consumer, all) => {
      const last = new Map(all.map((message) => [message.partition, message]));
      await Promise.all([...last.values()].map((message) => message.commit()));
      const offsets = await consumer.listCommittedOffsets({ topics: [{ topic, partitions: [...last.keys()] }] });
      committed = offsets.get(topic) ?? [];
    });
    expect(committed).toEqual(nextOffset);
    expect(received).toHaveLength(produced.length);
    const lastOffset = Array.from({ length: partitions }, () => -1n);
    for (const message of received) {
      const want = expected.get(`${message.partition}:${message.offset}`);
      if (want === undefined) throw new Error(`unexpected message at ${message.partition}:${message.offset}`);
      expect(message.offset).toBeGreaterThan(lastOffset[message.partition] as bigint);
      lastOffset[message.partition] = message.offset;
      expect(message.topic).toBe(topic);
      expect(message.key as Buffer | undefined).toEqual(want.key);
      // A null value (tombstone) comes back undefined, as the stock client gives it.
      expect(message.value as Buffer | undefined).toEqual(want.value ?? undefined);
      expect([...message.headers]).toEqual(want.headers);
      expect(message.timestamp).toBe(want.timestamp);
      expect(message.leaderEpoch).toBe(leaderEpochs[message.partition] as number);
      expect(typeof message.commit).toBe("function");
    }
    expect(lastOffset).toEqual(nextOffset.map((n) => n - 1n));
  }, 90_000);

  test("with a consumer:receives subscriber, every message is still traced start, asyncStart, asyncEnd, end", async () => {
    // What each diagnostics context went through, in order.
    const traces = new Map<object, string[]>();
    const seen = (name: string) => (context: unknown) => {
      traces.set(context as object, [...(traces.get(context as object) ?? []), name]);
    };
    const subscriber = {
      start: seen("start"),
      end: seen("end"),
      asyncStart: seen("asyncStart"),
      asyncEnd: seen("asyncEnd"),
      error: seen("error"),
    };
    let client: unknown;
    let owner: unknown;
    consumerReceivesChannel.subscribe(subscriber);
    let received: KafkaMessage[];
    try {
      received = await consumeAll(connection, topic, `${groupId}-traced`, produced.length, (consumer, stream) => {
        client = consumer;
        owner = stream;
      });
    } finally {
      consumerReceivesChannel.unsubscribe(subscriber);
    }
    const byMessage = new Map(
      [...traces].map(([context, names]) => [(context as { result?: unknown }).result, { context, names }]),
    );
    for (const message of received) {
      const trace = byMessage.get(message);
      if (trace === undefined) throw new Error(`no diagnostics for ${message.partition}:${message.offset}`);
      expect(trace.names).toEqual(["start", "asyncStart", "asyncEnd", "end"]);
      expect(trace.context).toMatchObject({ client, stream: owner, operation: "receive" });
      const raw = (trace.context as { raw: { key: Buffer | null; offsetDelta: number } }).raw;
      expect(raw.key ?? undefined).toEqual(message.key);
      expect(raw.offsetDelta).toBeNumber();
    }
  }, 90_000);
});
