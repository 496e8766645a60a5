// The Kafka client's CPU per consumed record, on its own: produces generated
// message values to a topic of its own (as the API would), then consumes them
// back --runs times, each in a fresh group, through the worker's consumer
// (createConsumer and consume, read() without a promise per message as
// src/pipeline/message-source.ts reads), and prints the CPU this process spent
// per record while consuming. It is the yardstick of the consume side of
// patches/@platformatic%2Fkafka@2.12.1.patch: run it on two checkouts, one
// after the other.
//
//   bun bench/consume.ts [--rows N] [--runs R]
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ensureBroker } from "../scripts/broker.ts";
import { deleteGroups, deleteTopics } from "../src/kafka/admin.ts";
import { consume, createConsumer, createProducer, type KafkaStream } from "../src/kafka/client.ts";
import { kafkaConnection } from "../src/kafka/connection.ts";
import { ensureTopics } from "../src/kafka/topics.ts";
import { loadConfig, settings } from "../src/runtime/config.ts";
import { produceRows } from "./ceilings.ts";
import { repoRoot } from "./children.ts";
import { generatedRows } from "./rows.ts";
import { produceSettings } from "./run.ts";

const { values } = parseArgs({
  options: { rows: { type: "string", default: "300000" }, runs: { type: "string", default: "3" } },
});
const rows = Number(values.rows);
const runs = Number(values.runs);
if (!Number.isSafeInteger(rows) || rows < 1 || !Number.isSafeInteger(runs) || runs < 1) {
  console.error("usage: bun bench/consume.ts [--rows N] [--runs R] (N, R: whole numbers ≥ 1)");
  process.exit(2);
}

const brokerAddress = (process.env.KAFKA_BROKERS || settings.kafkaBrokers.defaultValue).split(",")[0]?.trim() as string;
const broker = await ensureBroker({
  broker: brokerAddress,
  dataDir: join(repoRoot, ".txlog", "kafka"),
  log: (line) => console.error(line),
});
const config = loadConfig({ ...process.env, KAFKA_BROKERS: broker.brokers.join(",") });
const connection = kafkaConnection(config, "bench-consume");
const prefix = `txlog-consume-${randomBytes(3).toString("hex")}`;
const topic = `${prefix}.transactions`;
const groups: string[] = [];

/** Reads `count` messages off the stream the way the worker does; resolves with the CPU it took, µs per record. */
function readAll(stream: KafkaStream, count: number): Promise<number> {
  const cpu = process.cpuUsage();
  let read = 0;
  return new Promise((resolve) => {
    const drain = () => {
      for (let message = stream.read(); message !== null; message = stream.read()) {
        if (++read < count) continue;
        stream.off("readable", drain);
        const spent = process.cpuUsage(cpu);
        resolve((spent.user + spent.system) / count);
        return;
      }
    };
    stream.on("readable", drain);
    drain();
  });
}

try {
  await ensureTopics(connection, [{ name: topic, partitions: config.topicPartitions }]);
  const producer = createProducer(connection);
  try {
    await produceRows(producer, topic, generatedRows(rows, 42), produceSettings);
  } finally {
    await producer.close();
  }
  for (let run = 1; run <= runs; run++) {
    const groupId = `${prefix}-${run}`;
    groups.push(groupId);
    const consumer = createConsumer(connection, { groupId });
    try {
      const stream = await consume(consumer, [topic]);
      const micros = await readAll(stream, rows);
      console.log(`run ${run}: ${rows} records, client CPU ${micros.toFixed(2)} µs per record`);
      await stream.close();
    } finally {
      await consumer.close(true);
    }
  }
} finally {
  await deleteTopics(connection, [topic]).catch(() => {});
  await deleteGroups(connection, groups).catch(() => {});
  await broker.stop();
}
