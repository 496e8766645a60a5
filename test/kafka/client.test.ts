import { afterAll, expect, test } from "bun:test";
import { kafkaAnswers } from "../../src/kafka/admin.ts";
import {
  commitOffsets,
  consume,
  createConsumer,
  createProducer,
  type KafkaMessage,
  produce,
} from "../../src/kafka/client.ts";
import { kafkaConnection } from "../../src/kafka/connection.ts";
import { ensureTopics } from "../../src/kafka/topics.ts";
import { loadConfig } from "../../src/runtime/config.ts";

const config = loadConfig();
const connection = kafkaConnection(config);
const topic = `${config.topic}.roundtrip`;
const producer = createProducer(connection);
afterAll(() => producer.close());

test("the broker answers a metadata request", async () => {
  expect(await kafkaAnswers(connection)).toBe(true);
});

test("nothing answers on a port with no broker", async () => {
  expect(await kafkaAnswers({ ...connection, brokers: ["127.0.0.1:1"], timeoutMs: 1000 })).toBe(false);
});

test("processes creating the same topics at once all succeed (the API and the worker start together)", async () => {
  // Several rounds: the race (one creates, the other is told TOPIC_ALREADY_EXISTS
  // before the name is in its metadata) made `npm start` fail once.
  for (let round = 0; round < 5; round++) {
    const topics = [
      { name: `${config.topic}.race-${round}`, partitions: 3 },
      { name: `${config.topic}.race-${round}.dlq`, partitions: 1 },
    ];
    const results = await Promise.allSettled(
      Array.from({ length: 4 }, () => ensureTopics({ ...connection, clientId: `race-${round}` }, topics)),
    );
    expect(results.map((r) => (r.status === "rejected" ? String(r.reason) : "ok"))).toEqual(["ok", "ok", "ok", "ok"]);
  }
});

test("a message produced through kafka.ts is consumed back with its key, value and headers", async () => {
  await ensureTopics(connection, [{ name: topic, partitions: 2 }]);
  // Creating again is a no-op, not an error.
  await ensureTopics(connection, [{ name: topic, partitions: 2 }]);

  const sent = Array.from({ length: 10 }, (_, i) => ({
    topic,
    key: Buffer.from(`account-${i % 3}`),
    value: Buffer.from(JSON.stringify({ i })),
    headers: { "x-run": config.kafkaClientId },
  }));
  const result = await produce(producer, sent);
  expect(result.offsets?.length).toBeGreaterThan(0);

  const consumer = createConsumer(connection, { groupId: `${config.groupId}-roundtrip` });
  const stream = await consume(consumer, [topic]);
  const received: KafkaMessage[] = [];
  for await (const message of stream) {
    received.push(message);
    if (received.length === sent.length) break;
  }
  const last = received.at(-1) as KafkaMessage;
  await commitOffsets(consumer, [
    { topic, partition: last.partition, offset: last.offset + 1n, leaderEpoch: last.leaderEpoch },
  ]);
  await stream.close();
  await consumer.close();

  const values = received.map((m) => JSON.parse(m.value.toString()).i).sort((a: number, b: number) => a - b);
  expect(values).toEqual([...Array(10).keys()]);
  for (const message of received) {
    const i = JSON.parse(message.value.toString()).i as number;
    expect(message.key.toString()).toBe(`account-${i % 3}`);
    expect(message.headers.get("x-run")).toBe(config.kafkaClientId);
  }
}, 60_000);
