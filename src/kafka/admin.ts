// Kafka administration: probing a broker, deleting topics and groups,
// reading committed and end offsets (txlog's own topics: topics.ts). Each
// call opens an admin client through withAdmin and closes it, whatever
// happens; the read* functions take a client the caller keeps open.
import { Admin } from "@platformatic/kafka";
import { withTimeout } from "../runtime/timeout.ts";
import { explainAccessFailure } from "./access-errors.ts";
import { clientOptions, type KafkaConnection, requestRetriesMax } from "./client.ts";

/** Runs `use` with an admin client of its own, closed afterwards. */
export async function withAdmin<T>(
  connection: KafkaConnection,
  use: (client: Admin) => Promise<T>,
  retries: number | boolean = requestRetriesMax,
): Promise<T> {
  const client = new Admin({ ...clientOptions({ ...connection, clientId: `${connection.clientId}-admin` }), retries });
  try {
    return await use(client);
  } catch (error) {
    throw explainAccessFailure(error, connection);
  } finally {
    await client.close().catch(() => {});
  }
}

/** True when a broker answers a metadata request within the timeout. */
export async function kafkaAnswers(connection: KafkaConnection): Promise<boolean> {
  try {
    await withAdmin(
      connection,
      (client) => withTimeout(client.metadata({ topics: [] }), connection.timeoutMs, "metadata"),
      false,
    );
    return true;
  } catch {
    return false;
  }
}

/** Ids of the brokers the cluster's metadata lists as alive. */
export function liveBrokerIds(connection: KafkaConnection): Promise<number[]> {
  return withAdmin(
    connection,
    async (client) => [...(await client.metadata({ topics: [], forceUpdate: true })).brokers.keys()],
    false,
  );
}

export function deleteTopics(connection: KafkaConnection, topics: string[]): Promise<void> {
  return withAdmin(connection, async (client) => {
    const existing = new Set(await client.listTopics());
    const present = topics.filter((topic) => existing.has(topic));
    if (present.length > 0) await client.deleteTopics({ topics: present });
  });
}

/** Topics and consumer groups whose names start with `prefix`. */
export function namesWithPrefix(
  connection: KafkaConnection,
  prefix: string,
): Promise<{ topics: string[]; groups: string[] }> {
  return withAdmin(connection, async (client) => {
    const topics = (await client.listTopics()).filter((topic) => topic.startsWith(prefix));
    const groups = [...(await client.listGroups()).keys()].filter((group) => group.startsWith(prefix));
    return { topics, groups };
  });
}

export function deleteGroups(connection: KafkaConnection, groups: string[]): Promise<void> {
  return withAdmin(connection, (client) => client.deleteGroups({ groups }).catch(() => {}));
}

/** Committed offsets of `groupId` on `topic`, by partition (absent: none). */
export function committedOffsets(
  connection: KafkaConnection,
  groupId: string,
  topic: string,
): Promise<Map<number, bigint>> {
  return withAdmin(connection, (client) => readCommittedOffsets(client, groupId, topic));
}

/** The next offset to be written on each partition of `topic`. */
export function endOffsets(connection: KafkaConnection, topic: string): Promise<Map<number, bigint>> {
  return withAdmin(connection, (client) => readEndOffsets(client, topic));
}

/** committedOffsets through an admin client the caller keeps open. */
export async function readCommittedOffsets(
  client: Admin,
  groupId: string,
  topic: string,
): Promise<Map<number, bigint>> {
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
}

/** endOffsets through an admin client the caller keeps open. */
export async function readEndOffsets(client: Admin, topic: string): Promise<Map<number, bigint>> {
  const metadata = await client.metadata({ topics: [topic] });
  const count = metadata.topics.get(topic)?.partitionsCount ?? 0;
  const partitions = Array.from({ length: count }, (_, partitionIndex) => ({ partitionIndex, timestamp: -1n }));
  const listed = await client.listOffsets({ topics: [{ name: topic, partitions }] });
  const result = new Map<number, bigint>();
  for (const t of listed) for (const p of t.partitions) result.set(p.partitionIndex, p.offset);
  return result;
}

/** An admin client kept open by its caller (closed with `close()`), for reads repeated often. */
export function openAdmin(connection: KafkaConnection): Admin {
  return new Admin({ ...clientOptions({ ...connection, clientId: `${connection.clientId}-admin` }), retries: false });
}
