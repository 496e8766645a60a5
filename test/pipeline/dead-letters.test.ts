// Dead letters on their own: sized into produce requests that fit, and cut
// (saying so) when one alone would not. Against the broker in worker.test.ts.
import { expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { type KafkaMessage, produceRecordBytesMax, recordBytesMax } from "../../src/kafka/client.ts";
import {
  type DeadLetter,
  deadLetterMessage,
  deadLetterRequests,
  dlqHeaders,
  reasonLengthMax,
} from "../../src/pipeline/dead-letters.ts";

const limit = produceRecordBytesMax(64 * 1024);

function letter(value: Buffer, options: { key?: Buffer; headers?: [string, string][]; reason?: string } = {}) {
  const message = {
    topic: "src",
    partition: 2,
    offset: 41n,
    key: options.key ?? Buffer.from("C1"),
    value,
    headers: new Map(options.headers ?? []),
  } as unknown as KafkaMessage;
  return { message, reason: options.reason ?? "(message): is not valid JSON" } satisfies DeadLetter;
}

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

test("a dead letter that fits is the message byte for byte, its headers kept, txlog's added, nothing marked cut", () => {
  const value = Buffer.from("{not json");
  const message = deadLetterMessage("dlq", letter(value, { headers: [["trace", "t-1"]] }), limit);
  expect(message.value.equals(value)).toBe(true);
  expect(message.key.toString()).toBe("C1");
  expect(message.headers).toMatchObject({
    trace: "t-1",
    [dlqHeaders.reason]: "(message): is not valid JSON",
    [dlqHeaders.sourceTopic]: "src",
    [dlqHeaders.sourcePartition]: "2",
    [dlqHeaders.sourceOffset]: "41",
  });
  expect(message.headers?.[dlqHeaders.cut]).toBeUndefined();
});

test("a dead letter too large for a record batch keeps headers and reason, its value cut to fit, with the whole value's SHA-256", () => {
  const value = Buffer.alloc(limit, "v");
  const message = deadLetterMessage("dlq", letter(value, { headers: [["trace", "t-1"]] }), limit);
  expect(recordBytesMax(message)).toBeLessThanOrEqual(limit);
  expect(message.value.length).toBeGreaterThan(limit - 1024);
  expect(message.value.equals(value.subarray(0, message.value.length))).toBe(true);
  expect(message.headers).toMatchObject({
    trace: "t-1",
    [dlqHeaders.reason]: "(message): is not valid JSON",
    [dlqHeaders.cut]: "value",
    [dlqHeaders.valueSha256]: sha256(value),
    [dlqHeaders.valueBytes]: String(value.length),
  });
});

test("when the message's own headers leave no room, they go too; then the key's tail", () => {
  const big = "h".repeat(limit);
  const headersCut = deadLetterMessage("dlq", letter(Buffer.from("v"), { headers: [["huge", big]] }), limit);
  expect(recordBytesMax(headersCut)).toBeLessThanOrEqual(limit);
  expect(headersCut.headers?.huge).toBeUndefined();
  expect(headersCut.headers?.[dlqHeaders.cut]).toBe("value,headers");
  expect(headersCut.headers?.[dlqHeaders.reason]).toBe("(message): is not valid JSON");

  const key = Buffer.alloc(limit, "k");
  const keyCut = deadLetterMessage("dlq", letter(Buffer.from("v"), { key }), limit);
  expect(recordBytesMax(keyCut)).toBeLessThanOrEqual(limit);
  expect(keyCut.headers?.[dlqHeaders.cut]).toBe("value,headers,key");
  expect(keyCut.headers?.[dlqHeaders.keySha256]).toBe(sha256(key));
  expect(keyCut.key.equals(key.subarray(0, keyCut.key.length))).toBe(true);
});

test("a reason is kept to reasonLengthMax characters", () => {
  const message = deadLetterMessage(
    "dlq",
    letter(Buffer.from("v"), { reason: "r".repeat(10 * reasonLengthMax) }),
    limit,
  );
  expect(message.headers?.[dlqHeaders.reason]?.length).toBe(reasonLengthMax);
});

test("a batch's dead letters go in produce requests that each fit, in order, every one once", () => {
  const letters = Array.from({ length: 500 }, (_, i) => letter(Buffer.from(`poison ${i} `.repeat(20))));
  const { requests, acknowledged } = deadLetterRequests("dlq", letters, limit);
  expect(acknowledged).toBe(0);
  expect(requests.length).toBeGreaterThan(1);
  for (const request of requests) {
    expect(request.reduce((sum, message) => sum + recordBytesMax(message), 0)).toBeLessThanOrEqual(limit);
  }
  expect(requests.flat().map((message) => message.value.toString())).toEqual(
    letters.map((l) => l.message.value.toString()),
  );
});
