// The two faster pieces of the produce path, each checked against the Kafka
// client's own code it stands in for:
// - patches/@platformatic%2Fkafka@2.12.1.patch encodes a produce request's
//   records in one buffer instead of the client's per-field Writer; the
//   client's per-record encoder (createRecord) is left in place, so the patch
//   is compared with it byte for byte, and read back with the client's reader;
// - keyPartition, our partitioner, against the client's default partitioner.
import { describe, expect, test } from "bun:test";
import {
  createRecord,
  createRecordsBatch,
  defaultPartitioner,
  encodeRecordsInOneBuffer,
  type MessageRecord,
  Reader,
  readRecordsBatch,
} from "@platformatic/kafka";
import fc from "fast-check";
import { keyPartition } from "../../src/kafka/partitioner.ts";

/** What the stock client writes for these records: createRecord of each, one after another. */
function stockRecords(messages: MessageRecord[], firstTimestamp: bigint): Buffer {
  return Buffer.concat(messages.map((message, index) => createRecord(message, index, firstTimestamp).buffer));
}

const bytes = (maxLength: number) => fc.uint8Array({ maxLength }).map((array) => Buffer.from(array));
const nullableBytes = (maxLength: number) => fc.option(bytes(maxLength), { nil: undefined, freq: 5 });
// Around 128 and 16,384 bytes a varint length gains a byte.
const valueBytes = fc.oneof(bytes(200), bytes(17_000));
const headers = fc
  .array(fc.tuple(bytes(20), bytes(40)), { maxLength: 3 })
  .map((pairs) => new Map<Buffer, Buffer>(pairs));
const baseTimestamp = 1_764_000_000_000n;

function messageRecords(deltaMax: number) {
  return fc.array(
    fc.record({
      key: nullableBytes(40),
      value: valueBytes,
      headers,
      timestamp: fc.integer({ min: -deltaMax, max: deltaMax }).map((delta) => baseTimestamp + BigInt(delta)),
    }),
    { minLength: 1, maxLength: 70 },
  );
}

function asRecords(messages: { key?: Buffer; value: Buffer; headers: Map<Buffer, Buffer>; timestamp: bigint }[]) {
  return messages.map((message) => ({ ...message, topic: "t", partition: 0 }) as MessageRecord);
}

describe("records of a produce request in one buffer (patched client)", () => {
  test("writes exactly the bytes of the client's own per-record encoder", () => {
    fc.assert(
      fc.property(messageRecords(100_000), (generated) => {
        const messages = asRecords(generated);
        const first = messages[0]?.timestamp as bigint;
        const fast = encodeRecordsInOneBuffer(messages, first);
        expect(fast).toBeInstanceOf(Buffer);
        expect((fast as Buffer).equals(stockRecords(messages, first))).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  test("leaves to the stock encoder what it does not handle, and the batch still reads back whole", () => {
    const value = Buffer.from("v");
    const cases: [string, MessageRecord[]][] = [
      ["a string value", [{ topic: "t", value: "text" as unknown as Buffer, timestamp: baseTimestamp }]],
      [
        "a timestamp 2^30 ms from the first",
        [
          { topic: "t", value, timestamp: baseTimestamp },
          { topic: "t", value, timestamp: baseTimestamp + 2n ** 30n },
        ],
      ],
      [
        "a header value that is a string",
        [{ topic: "t", value, headers: new Map([[Buffer.from("h"), "text" as unknown as Buffer]]), timestamp: 1n }],
      ],
    ];
    for (const [, messages] of cases) {
      const first = messages[0]?.timestamp as bigint;
      expect(encodeRecordsInOneBuffer(messages, first)).toBeUndefined();
    }
    const [, far] = cases[1] as [string, MessageRecord[]];
    const batch = readRecordsBatch(new Reader(createRecordsBatch(far).dynamicBuffer));
    expect(batch.records.map((record) => record.timestampDelta)).toEqual([0n, 2n ** 30n]);
  });

  test("a whole batch reads back with the client's reader: keys, values, headers, offsets and timestamps", () => {
    fc.assert(
      fc.property(messageRecords(5_000), (generated) => {
        const messages = asRecords(generated);
        // createRecordsBatch sets each message's timestamp; keep the originals to compare.
        const timestamps = messages.map((message) => message.timestamp as bigint);
        const batch = readRecordsBatch(new Reader(createRecordsBatch(messages).dynamicBuffer));
        const first = timestamps[0] as bigint;
        expect(batch.records.length).toBe(messages.length);
        batch.records.forEach((record, index) => {
          const message = generated[index] as (typeof generated)[number];
          expect(record.offsetDelta).toBe(index);
          expect(first + BigInt(record.timestampDelta)).toBe(timestamps[index] as bigint);
          const hex = (buffer: Buffer | null | undefined) => buffer?.toString("hex") ?? null;
          expect(hex(record.key)).toBe(hex(message.key));
          expect(hex(record.value)).toBe(hex(message.value));
          expect(record.headers.map(([k, v]) => [hex(k), hex(v)])).toEqual(
            [...message.headers].map(([k, v]) => [hex(k), hex(v)]),
          );
        });
      }),
      { numRuns: 100 },
    );
  });
});

describe("keyPartition", () => {
  test("gives the client's default partitioner's number for any key, so no account changes partition", () => {
    const partitioner = defaultPartitioner as unknown as (message: unknown, key: Buffer | undefined) => number;
    fc.assert(
      fc.property(
        fc.oneof(
          bytes(12),
          bytes(300),
          fc.string().map((text) => Buffer.from(text)),
        ),
        (key) => {
          expect(keyPartition(key)).toBe(partitioner(undefined, key));
        },
      ),
      { numRuns: 5_000 },
    );
    expect(keyPartition(undefined)).toBe(partitioner(undefined, undefined));
  });
});
