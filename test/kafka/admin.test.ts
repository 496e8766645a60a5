// ensureTopics against the run's single broker: the durability settings it
// creates topics with, and the topics it refuses. The three-node cases are in
// test/scripts/cluster.test.ts.
import { expect, test } from "bun:test";
import { liveBrokerIds } from "../../src/kafka/admin.ts";
import { ensureTopics, TopicSettingsError, topicSettings, txlogTopics } from "../../src/kafka/topics.ts";
import { kafkaConnection, testConfig, testTopics } from "../support/run.ts";

const config = testConfig();
const connection = kafkaConnection(config);
const topics = testTopics("admin");

test("txlog's topics carry the configured replication, min.insync.replicas, max.message.bytes and no unclean leader election", async () => {
  const specs = txlogTopics({ ...config, ...topics, topicPartitions: 2 });
  const maxMessageBytes = config.messageBytesMax;
  expect(specs).toEqual([
    { name: topics.topic, partitions: 2, replicationFactor: 1, minInsyncReplicas: 1, maxMessageBytes },
    { name: topics.dlqTopic, partitions: 1, replicationFactor: 1, minInsyncReplicas: 1, maxMessageBytes },
  ]);
  await ensureTopics(connection, specs);
  const found = await topicSettings(connection, [topics.topic, topics.dlqTopic]);
  for (const name of [topics.topic, topics.dlqTopic]) {
    expect(found.get(name)).toEqual({
      replicationFactor: 1,
      minInsyncReplicas: 1,
      uncleanLeaderElection: false,
      maxMessageBytes,
    });
  }
});

test("an existing topic taking smaller messages than KAFKA_MESSAGE_BYTES_MAX is refused: requests sized for it would fail there", async () => {
  const name = `${topics.topic}.small`;
  await ensureTopics(connection, [{ name, partitions: 1, maxMessageBytes: 100_000 }]);
  await expect(ensureTopics(connection, [{ name, partitions: 1, maxMessageBytes: 100_001 }])).rejects.toThrow(
    `topic ${name} has max.message.bytes 100000, wanted 100001 or more (KAFKA_MESSAGE_BYTES_MAX)`,
  );
  // More than wanted is fine.
  await ensureTopics(connection, [{ name, partitions: 1, maxMessageBytes: 99_999 }]);
});

test("an existing topic with fewer replicas than configured is refused, naming topic, found and wanted", async () => {
  const name = `${topics.topic}.few`;
  await ensureTopics(connection, [{ name, partitions: 1 }]);
  let caught: unknown;
  try {
    await ensureTopics(connection, [{ name, partitions: 1, replicationFactor: 2, minInsyncReplicas: 2 }]);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(TopicSettingsError);
  expect((caught as TopicSettingsError).problems).toEqual([
    `topic ${name} has replication factor 1, wanted 2 (KAFKA_REPLICATION_FACTOR)`,
    `topic ${name} has min.insync.replicas 1, wanted 2 (KAFKA_MIN_INSYNC_REPLICAS)`,
  ]);
});

test("a topic is not created with more replicas than there are brokers", async () => {
  expect(await liveBrokerIds(connection)).toHaveLength(1);
  const name = `${topics.topic}.too-many`;
  await expect(ensureTopics(connection, [{ name, partitions: 1, replicationFactor: 3 }])).rejects.toThrow(
    `cannot create topic ${name} with replication factor 3 (KAFKA_REPLICATION_FACTOR): 1 broker(s) are alive`,
  );
});
