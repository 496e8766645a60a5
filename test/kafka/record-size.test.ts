// The sizes txlog splits produce requests by, against the Kafka client's own
// encoder: recordBytesMax is an upper bound of a record's bytes, and records
// cut by produceChunks make record batches the topic's max.message.bytes takes.
import { expect, test } from "bun:test";
import { createRecord, createRecordsBatch, type MessageRecord } from "@platformatic/kafka";
import fc from "fast-check";
import { type OutgoingMessage, produceChunks, produceRecordBytesMax, recordBytesMax } from "../../src/kafka/client.ts";

const bytes = (maxLength: number) => fc.uint8Array({ maxLength }).map((array) => Buffer.from(array));
// Around 128 and 16,384 bytes a varint length gains a byte.
const outgoing = fc.record({
  topic: fc.constant("t"),
  key: bytes(300),
  value: fc.oneof(bytes(200), bytes(20_000)),
  headers: fc.option(fc.dictionary(fc.string({ maxLength: 30 }), fc.string({ unit: "binary", maxLength: 300 })), {
    nil: undefined,
  }),
});

/** The message as the client encodes it: header names and values as UTF-8, as its stringSerializer writes them. */
function asRecord(message: OutgoingMessage, timestamp: bigint): MessageRecord {
  const headers = new Map<Buffer, Buffer>();
  for (const [name, value] of Object.entries(message.headers ?? {})) headers.set(Buffer.from(name), Buffer.from(value));
  return { topic: message.topic, partition: 0, key: message.key, value: message.value, headers, timestamp };
}

test("recordBytesMax is never below the bytes the client writes for the record", () => {
  const first = 1_764_000_000_000n;
  fc.assert(
    fc.property(
      fc.array(fc.tuple(outgoing, fc.integer({ min: 0, max: 2_000_000_000 })), { minLength: 1, maxLength: 40 }),
      (generated) => {
        generated.forEach(([message, delta], index) => {
          const written = createRecord(asRecord(message, first + BigInt(delta)), index, first).buffer.length;
          expect(recordBytesMax(message)).toBeGreaterThanOrEqual(written);
        });
      },
    ),
  );
});

test("records cut by produceChunks make record batches within the topic's max.message.bytes, in order", () => {
  const messageBytesMax = 64 * 1024;
  fc.assert(
    fc.property(fc.array(outgoing, { minLength: 1, maxLength: 60 }), (messages) => {
      const limit = produceRecordBytesMax(messageBytesMax);
      const chunks = produceChunks(messages, limit);
      expect(chunks.flat()).toEqual(messages);
      for (const chunk of chunks) {
        const batch = createRecordsBatch(chunk.map((message) => asRecord(message, 1_764_000_000_000n)));
        // A single record over the limit goes alone (dead letters are cut to fit first).
        const alone = chunk.length === 1 && recordBytesMax(chunk[0] as OutgoingMessage) > limit;
        if (!alone) expect(batch.length).toBeLessThanOrEqual(messageBytesMax);
      }
    }),
    { numRuns: 50 },
  );
});
