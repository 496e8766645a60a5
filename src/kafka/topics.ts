// txlog's topics: created with the partitions, replication factor, min
// in-sync replicas and message size txlog is configured with, and checked
// against them at every start: a topic weaker than configured stops the
// process instead of quietly weakening what a 202 means.
import {
  type Admin,
  ConfigResourceTypes,
  findErrorBy,
  IncrementalAlterConfigOperationTypes,
} from "@platformatic/kafka";
import { withAdmin } from "./admin.ts";
import type { KafkaConnection } from "./client.ts";

export interface TopicSpec {
  name: string;
  partitions: number;
  /** Copies of each partition, on as many brokers (1 when absent). */
  replicationFactor?: number;
  /** Copies that must have a write before acks=all acknowledges it (1 when absent). */
  minInsyncReplicas?: number;
  /** Largest record batch the topic takes, bytes (max.message.bytes; the broker's default when absent). */
  maxMessageBytes?: number;
}

/** What a topic is, as read back from the cluster. */
export interface TopicSettings {
  /** The fewest copies any of its partitions has. */
  replicationFactor: number;
  minInsyncReplicas: number;
  uncleanLeaderElection: boolean;
  /** max.message.bytes in effect, bytes. */
  maxMessageBytes: number;
}

/**
 * txlog's two topics, as both the API and the worker create them when missing:
 * the log with its configured partitions, and a one-partition dead-letter
 * topic (dead letters are rare, and one partition keeps them in one order).
 * Both with the configured replication (a dead letter is an accepted
 * transaction too) and the configured max.message.bytes, the size the API and
 * the worker split their produce requests by.
 */
export function txlogTopics(names: {
  topic: string;
  dlqTopic: string;
  topicPartitions: number;
  replicationFactor: number;
  minInsyncReplicas: number;
  messageBytesMax: number;
}): TopicSpec[] {
  const { replicationFactor, minInsyncReplicas } = names;
  const maxMessageBytes = names.messageBytesMax;
  return [
    { name: names.topic, partitions: names.topicPartitions, replicationFactor, minInsyncReplicas, maxMessageBytes },
    { name: names.dlqTopic, partitions: 1, replicationFactor, minInsyncReplicas, maxMessageBytes },
  ];
}

/**
 * Creates the topics that are missing, with their replication factor,
 * min.insync.replicas, max.message.bytes and no unclean leader election. Then
 * checks every one against its spec: a topic with fewer copies, a lower
 * min.insync.replicas or unclean leader election enabled (created by someone
 * else, or before the settings were raised) is refused with an error naming
 * it, what it has and what is wanted, because a 202 would not be as durable as
 * configured; so is one with a lower max.message.bytes, because produce
 * requests sized for the configured one would be refused there, every time.
 */
export function ensureTopics(connection: KafkaConnection, topics: TopicSpec[]): Promise<void> {
  return withAdmin(connection, async (client) => {
    const existing = new Set(await client.listTopics());
    const missing = topics.filter((topic) => !existing.has(topic.name));
    if (missing.length > 0) await createTopics(client, missing);
    const names = topics.map((topic) => topic.name);
    await waitForLeaders(client, names, connection.timeoutMs * 2);
    const found = await readTopicSettings(client, names, connection.timeoutMs * 2);
    const problems = topics.flatMap((topic) => settingProblems(topic, found.get(topic.name) as TopicSettings));
    if (problems.length > 0) throw new TopicSettingsError(problems);
  });
}

export class TopicSettingsError extends Error {
  constructor(readonly problems: string[]) {
    super(`Kafka topics weaker than configured: ${problems.join("; ")}`);
    this.name = "TopicSettingsError";
  }
}

async function createTopics(client: Admin, topics: TopicSpec[]): Promise<void> {
  const live = (await client.metadata({ topics: [], forceUpdate: true })).brokers.size;
  for (const topic of topics) {
    const replicationFactor = topic.replicationFactor ?? 1;
    if (replicationFactor > live) {
      throw new Error(
        `cannot create topic ${topic.name} with replication factor ${replicationFactor} (KAFKA_REPLICATION_FACTOR): ${live} broker(s) are alive`,
      );
    }
    try {
      await client.createTopics({
        topics: [topic.name],
        partitions: topic.partitions,
        replicas: replicationFactor,
        configs: [
          { name: "min.insync.replicas", value: String(topic.minInsyncReplicas ?? 1) },
          { name: "unclean.leader.election.enable", value: "false" },
          ...(topic.maxMessageBytes === undefined
            ? []
            : [{ name: "max.message.bytes", value: String(topic.maxMessageBytes) }]),
        ],
      });
    } catch (error) {
      // Another process (the API and the worker start together) created it
      // since we listed. Its name may not be in the broker's metadata yet,
      // so the error code is what tells, not a second listing.
      if (findErrorBy(error as Error, "apiId", "TOPIC_ALREADY_EXISTS") === null) throw error;
    }
  }
}

function settingProblems(spec: TopicSpec, found: TopicSettings): string[] {
  const problems: string[] = [];
  const replicationFactor = spec.replicationFactor ?? 1;
  const minInsyncReplicas = spec.minInsyncReplicas ?? 1;
  if (found.replicationFactor < replicationFactor) {
    problems.push(
      `topic ${spec.name} has replication factor ${found.replicationFactor}, wanted ${replicationFactor} (KAFKA_REPLICATION_FACTOR)`,
    );
  }
  if (found.minInsyncReplicas < minInsyncReplicas) {
    problems.push(
      `topic ${spec.name} has min.insync.replicas ${found.minInsyncReplicas}, wanted ${minInsyncReplicas} (KAFKA_MIN_INSYNC_REPLICAS)`,
    );
  }
  if (found.uncleanLeaderElection) {
    problems.push(`topic ${spec.name} has unclean.leader.election.enable true, wanted false`);
  }
  if (spec.maxMessageBytes !== undefined && found.maxMessageBytes < spec.maxMessageBytes) {
    problems.push(
      `topic ${spec.name} has max.message.bytes ${found.maxMessageBytes}, wanted ${spec.maxMessageBytes} or more (KAFKA_MESSAGE_BYTES_MAX)`,
    );
  }
  return problems;
}

/** Replication and durability settings of existing topics, by name. */
export function topicSettings(connection: KafkaConnection, names: string[]): Promise<Map<string, TopicSettings>> {
  return withAdmin(connection, (client) => readTopicSettings(client, names, connection.timeoutMs * 2));
}

/**
 * Replicas from the metadata, the rest from DescribeConfigs (the value in
 * effect, the broker's default included). A topic created a moment ago may
 * not be known yet to the broker asked; it is asked again until `timeoutMs`.
 */
async function readTopicSettings(
  client: Admin,
  names: string[],
  timeoutMs: number,
): Promise<Map<string, TopicSettings>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let failure: unknown;
    const result = await describeTopics(client, names).catch((error: unknown) => {
      failure = error;
      return new Map<string, TopicSettings>();
    });
    if (result.size === names.length) return result;
    if (Date.now() > deadline) {
      const unknown = names.filter((name) => !result.has(name));
      throw new Error(`could not read the settings of topics ${unknown.join(", ")} in ${timeoutMs} ms`, {
        cause: failure,
      });
    }
    await Bun.sleep(100);
  }
}

/** The settings of those of `names` the broker asked knows already. */
async function describeTopics(client: Admin, names: string[]): Promise<Map<string, TopicSettings>> {
  const metadata = await client.metadata({ topics: names, forceUpdate: true });
  const described = await client.describeConfigs({
    resources: names.map((name) => ({
      resourceType: ConfigResourceTypes.TOPIC,
      resourceName: name,
      configurationKeys: ["min.insync.replicas", "unclean.leader.election.enable", "max.message.bytes"],
    })),
  });
  const result = new Map<string, TopicSettings>();
  for (const name of names) {
    const partitions = metadata.topics.get(name)?.partitions ?? [];
    const configs = described.find((d) => d.resourceName === name)?.configs ?? [];
    const value = (key: string) => configs.find((c) => c.name === key)?.value ?? undefined;
    const minInsync = value("min.insync.replicas");
    const maxMessageBytes = value("max.message.bytes");
    if (partitions.length === 0 || minInsync === undefined || maxMessageBytes === undefined) continue;
    result.set(name, {
      replicationFactor: Math.min(...partitions.map((p) => p.replicas.length)),
      minInsyncReplicas: Number(minInsync),
      uncleanLeaderElection: value("unclean.leader.election.enable") === "true",
      maxMessageBytes: Number(maxMessageBytes),
    });
  }
  return result;
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

/** Sets one config of an existing topic (as `kafka-configs.sh --alter --add-config` does). */
export function setTopicConfig(connection: KafkaConnection, topic: string, name: string, value: string): Promise<void> {
  return withAdmin(connection, (client) =>
    client.incrementalAlterConfigs({
      resources: [
        {
          resourceType: ConfigResourceTypes.TOPIC,
          resourceName: topic,
          configs: [{ name, configOperation: IncrementalAlterConfigOperationTypes.SET, value }],
        },
      ],
    }),
  );
}
