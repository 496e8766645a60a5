// A real three-broker Kafka cluster (scripts/cluster.ts) on free ports, with the
// API running in this process against it (KAFKA_REPLICATION_FACTOR=3,
// KAFKA_MIN_INSYNC_REPLICAS=2): the topics txlog creates carry those settings;
// with one broker killed (kill -9) every partition still takes transactions
// (202); with two killed, none is ever answered 202; restarted, the cluster
// takes them again and every 202 is in the topic. The metadata quorum is a
// controller of its own that is never killed: with the controllers on the
// brokers, two brokers down would also lose the quorum, and that alone
// would stop every write, whatever the topics' settings; here what refuses
// the writes is min.insync.replicas. The tests run in order on one cluster,
// each leaving it as the next expects.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigResourceTypes, ConfigSources } from "@platformatic/kafka";
import { spawn } from "bun";
import { freePort } from "../../scripts/broker.ts";
import { type ClusterNode, type LocalCluster, startCluster } from "../../scripts/cluster.ts";
import { type RunningApi, startApi } from "../../src/api.ts";
import { liveBrokerIds, withAdmin } from "../../src/kafka/admin.ts";
import { consume, createConsumer, createProducer, type KafkaConnection, produce } from "../../src/kafka/client.ts";
import { kafkaConnection } from "../../src/kafka/connection.ts";
import { keyPartition } from "../../src/kafka/partitioner.ts";
import { ensureTopics } from "../../src/kafka/topics.ts";
import type { Config } from "../../src/runtime/config.ts";
import { withTimeout } from "../../src/runtime/timeout.ts";
import { decodeMessage } from "../../src/transaction/message.ts";
import { startWorker, type WorkerHandle } from "../../src/worker.ts";
import { silentLog } from "../support/logs.ts";
import { eventually, freshDatabase, type TestDatabase, testConfig, testTopics } from "../support/run.ts";

const partitions = 3;
const topics = testTopics("cluster");
let cluster: LocalCluster;
let config: Config;
let connection: KafkaConnection;
let api: RunningApi | undefined;
/** A worker writing through every broker failure, never restarted. */
let worker: WorkerHandle | undefined;
let db: TestDatabase;
/** Transactions a replay sends while the leader of a partition is killed. */
const replayRequests = 100;
const replayRequestRows = 100;
/** Every transaction id the API answered 202 for. */
const accepted: string[] = [];
/** Nodes killed by the tests, in order. */
const killed: ClusterNode[] = [];

beforeAll(async () => {
  const started = performance.now();
  cluster = await startCluster({
    nodes: 3,
    dataDir: join(tmpdir(), `txlog-cluster-test-${process.env.TXLOG_TEST_RUN}`),
    ephemeral: true,
    partitions,
    dedicatedController: true,
    log: () => {},
  });
  console.error(
    `3-node Kafka cluster up at ${cluster.brokers.join(",")} in ${Math.round(performance.now() - started)} ms`,
  );
  db = await freshDatabase("cluster");
  config = testConfig({
    port: 0,
    databaseUrl: db.url,
    ...topics,
    kafkaBrokers: cluster.brokers,
    topicPartitions: partitions,
    replicationFactor: 3,
    minInsyncReplicas: 2,
  });
  connection = kafkaConnection(config);
}, 180_000);

afterAll(async () => {
  await api?.stop().catch(() => {});
  await worker?.stop().catch(() => {});
  await cluster?.stop();
  await db?.drop();
}, 60_000);

/** A PaySim transaction whose account (the Kafka key) lands on `partition`. */
function transactionOn(partition: number, serial: number) {
  for (let n = serial * 1000; ; n++) {
    const nameOrig = `C${n}`;
    if (keyPartition(Buffer.from(nameOrig)) % partitions === partition) {
      return {
        step: 1,
        type: "PAYMENT",
        amount: "9839.64",
        nameOrig,
        oldbalanceOrg: "170136.00",
        newbalanceOrig: "160296.36",
        nameDest: "M1979787155",
        oldbalanceDest: "0.00",
        newbalanceDest: "0.00",
      };
    }
  }
}

let serial = 0;
/** POSTs one transaction to each partition in one request; returns the status, ids kept on 202. */
async function postToEveryPartition(): Promise<number> {
  return postBatch(Array.from({ length: partitions }, (_, p) => transactionOn(p, serial++)));
}

async function postBatch(batch: unknown[]): Promise<number> {
  const response = await fetch(`${api?.url}/transactions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(batch),
  });
  const body = (await response.json()) as { transactionIds?: string[] };
  if (response.status === 202) accepted.push(...(body.transactionIds ?? []));
  return response.status;
}

/** POSTs to every partition until one is answered 202; returns the answers, "503,503,202". */
async function until202(timeoutMs: number): Promise<string> {
  const started = performance.now();
  const statuses: number[] = [];
  for (;;) {
    const status = await postToEveryPartition();
    statuses.push(status);
    if (status === 202) return `${statuses}`;
    expect(status).toBe(503);
    if (performance.now() - started > timeoutMs) throw new Error(`no 202 within ${timeoutMs} ms: ${statuses}`);
  }
}

/** The node leading `partition` of `topic`, from the cluster's metadata. */
async function leaderOf(topic: string, partition: number): Promise<ClusterNode> {
  const metadata = await withAdmin(connection, (client) => client.metadata({ topics: [topic], forceUpdate: true }));
  const leader = metadata.topics.get(topic)?.partitions[partition]?.leader;
  const node = cluster.nodes.find((n) => n.id === leader);
  if (node === undefined) throw new Error(`partition ${partition} of ${topic} has no live leader (${leader})`);
  return node;
}

/** Kafka error names (apiId) or codes anywhere in a client error, for the test's log. */
function errorNames(error: unknown): string[] {
  const e = error as { apiId?: string; code?: string; errors?: unknown[]; cause?: unknown } | undefined;
  if (e === undefined || e === null) return [];
  const own = e.apiId ?? e.code;
  const nested = [...(e.errors ?? []), ...(e.cause === undefined ? [] : [e.cause])].flatMap(errorNames);
  return [...new Set([...(own === undefined ? [] : [own]), ...nested])];
}

test("the API creates its topics with replication factor 3, min.insync.replicas 2 and no unclean leader election, as topic configs", async () => {
  api = await startApi(config);
  // A second pair of topics with other values shows the values are txlog's,
  // not the cluster's defaults (which are 3 and 2 too).
  const other = { name: `${topics.topic}.rf2`, partitions: 2, replicationFactor: 2, minInsyncReplicas: 1 };
  await ensureTopics(connection, [other]);

  const names = [topics.topic, topics.dlqTopic, other.name];
  const [metadata, described] = await withAdmin(connection, (client) =>
    Promise.all([
      client.metadata({ topics: names, forceUpdate: true }),
      client.describeConfigs({
        resources: names.map((name) => ({ resourceType: ConfigResourceTypes.TOPIC, resourceName: name })),
      }),
    ]),
  );
  const read = (name: string) => {
    const configs = described.find((d) => d.resourceName === name)?.configs ?? [];
    const config = (key: string) => configs.find((c) => c.name === key);
    return {
      replicas: (metadata.topics.get(name)?.partitions ?? []).map((p) => new Set(p.replicas).size),
      minInsync: [config("min.insync.replicas")?.value, config("min.insync.replicas")?.configSource],
      unclean: [
        config("unclean.leader.election.enable")?.value,
        config("unclean.leader.election.enable")?.configSource,
      ],
    };
  };
  const topicConfig = ConfigSources.DYNAMIC_TOPIC_CONFIG;
  expect(read(topics.topic)).toEqual({
    replicas: [3, 3, 3],
    minInsync: ["2", topicConfig],
    unclean: ["false", topicConfig],
  });
  expect(read(topics.dlqTopic)).toEqual({
    replicas: [3],
    minInsync: ["2", topicConfig],
    unclean: ["false", topicConfig],
  });
  expect(read(other.name)).toEqual({
    replicas: [2, 2],
    minInsync: ["1", topicConfig],
    unclean: ["false", topicConfig],
  });
  // The first produce to a fresh cluster took 3.6 s here (cold JVMs): up to
  // that, 503 is a fair answer.
  expect(await until202(30_000)).toMatch(/202$/);
}, 60_000);

test("an existing topic with fewer replicas or a lower min.insync.replicas stops the API at start, naming topic, found and wanted", async () => {
  const weak = `${topics.topic}.weak`;
  await ensureTopics(connection, [{ name: weak, partitions: 1, replicationFactor: 1, minInsyncReplicas: 1 }]);
  await expect(
    ensureTopics(connection, [{ name: weak, partitions: 1, replicationFactor: 3, minInsyncReplicas: 2 }]),
  ).rejects.toThrow(
    `topic ${weak} has replication factor 1, wanted 3 (KAFKA_REPLICATION_FACTOR); topic ${weak} has min.insync.replicas 1, wanted 2 (KAFKA_MIN_INSYNC_REPLICAS)`,
  );

  // The API process as a deployment starts it, with that topic as its DLQ.
  const child = spawn(["bun", "run", "src/api.ts"], {
    cwd: join(import.meta.dir, "..", ".."),
    env: {
      ...process.env,
      PORT: String(await freePort()),
      KAFKA_BROKERS: cluster.brokers.join(","),
      KAFKA_TOPIC: topics.topic,
      KAFKA_DLQ_TOPIC: weak,
      KAFKA_REPLICATION_FACTOR: "3",
      KAFKA_MIN_INSYNC_REPLICAS: "2",
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  // Without the check it would start and serve: stop it, so the test fails instead of hanging.
  const timer = setTimeout(() => child.kill(), 30_000);
  const [stderr, code] = await Promise.all([new Response(child.stderr).text(), child.exited]);
  clearTimeout(timer);
  expect(code).toBe(1);
  expect(stderr).toContain(`topic ${weak} has replication factor 1, wanted 3`);
  // No replication warning: the settings ask for 3 (other warnings, such as the owner connection, may come).
  expect(stderr).not.toContain("each transaction is on one broker only");
}, 60_000);

/** POSTs `replayRequests` batches, each to every partition; 503s (during the election) are left unretried. */
async function replay(): Promise<void> {
  for (let i = 0; i < replayRequests; i++) {
    const rows = Array.from({ length: replayRequestRows }, (_, r) => transactionOn(r % partitions, serial++));
    const status = await postBatch(rows);
    expect([202, 503]).toContain(status);
  }
}

test("with one node killed (kill -9) during a replay, every partition takes transactions again once leaders are elected", async () => {
  worker = await startWorker(config, { log: silentLog });
  const replaying = replay();
  await Bun.sleep(1000);
  const victim = await leaderOf(topics.topic, 0);
  victim.kill("SIGKILL");
  killed.push(victim);
  const killedAt = performance.now();
  const answers = await until202(60_000);
  console.error(
    `node ${victim.id} killed: first 202 after ${Math.round(performance.now() - killedAt)} ms (${answers})`,
  );
  // And it stays so: every partition, every time.
  for (let i = 0; i < 5; i++) expect(await postToEveryPartition()).toBe(202);
  expect((await leaderOf(topics.topic, 0)).id).not.toBe(victim.id);
  await replaying;
}, 120_000);

test("with two nodes killed, no transaction is ever answered 202, on any partition: Kafka answers NOT_ENOUGH_REPLICAS", async () => {
  const victim = cluster.nodes.find((node) => !killed.includes(node)) as ClusterNode;
  const survivor = cluster.nodes.find((node) => node !== victim && !killed.includes(node)) as ClusterNode;
  victim.kill("SIGKILL");
  killed.push(victim);
  // One request per partition, from the kill until two rounds after the
  // cluster has noticed (the controller fenced the broker, leaders moved).
  const killedAt = performance.now();
  const statuses: number[] = [];
  for (let roundsAfterFence = 0; roundsAfterFence < 2; ) {
    const round = await Promise.all(
      Array.from({ length: partitions }, (_, p) => postBatch([transactionOn(p, serial++)])),
    );
    statuses.push(...round);
    const live = await liveBrokerIds(connection).catch(() => []);
    if (live.length === 1 && live[0] === survivor.id) roundsAfterFence++;
    if (performance.now() - killedAt > 60_000) throw new Error(`brokers not fenced within 60 s (live: ${live})`);
  }
  expect(statuses.filter((status) => status !== 503)).toEqual([]);

  // The client itself, acks=all, one partition at a time: the survivor leads
  // them all now, with itself alone in sync, and refuses.
  const producer = createProducer({ ...connection, timeoutMs: 3000 });
  try {
    const outcomes: string[] = [];
    for (let p = 0; p < partitions; p++) {
      const message = {
        topic: topics.topic,
        key: Buffer.from(transactionOn(p, serial++).nameOrig),
        value: Buffer.from("x"),
      };
      outcomes.push(
        await withTimeout(produce(producer, [message]), 15_000, "produce").then(
          () => "acknowledged",
          (error: unknown) => `refused: ${errorNames(error).join(", ") || String(error)}`,
        ),
      );
    }
    console.error(
      `two nodes down: ${statuses.length} POSTs over ${Math.round(performance.now() - killedAt)} ms, all 503; produce per partition: ${outcomes.join(" | ")}`,
    );
    expect(outcomes.filter((outcome) => outcome === "acknowledged")).toEqual([]);
    for (const outcome of outcomes) expect(outcome).toContain("NOT_ENOUGH_REPLICAS");
  } finally {
    await producer.close(true).catch(() => {});
  }
}, 120_000);

test("with the nodes restarted, transactions are taken again, and every one answered 202 is in the topic", async () => {
  const restartedAt = performance.now();
  await Promise.all(killed.map((node) => node.start()));
  const answers = await until202(60_000);
  console.error(
    `nodes ${killed.map((n) => n.id)} restarted: first 202 after ${Math.round(performance.now() - restartedAt)} ms (${answers})`,
  );

  const consumer = createConsumer(connection, { groupId: `${topics.groupId}-reader` });
  const stream = await consume(consumer, [topics.topic]);
  const wanted = new Set(accepted);
  const timer = setTimeout(() => void stream.close(), 30_000);
  try {
    for await (const message of stream) {
      const decoded = decodeMessage(message.value);
      if (decoded.ok) wanted.delete(decoded.value.transactionId);
      if (wanted.size === 0) break;
    }
  } finally {
    clearTimeout(timer);
    await stream.close().catch(() => {});
    await consumer.close(true).catch(() => {});
  }
  expect(accepted.length).toBeGreaterThan(0);
  expect([...wanted]).toEqual([]);
}, 150_000);

test("the worker wrote through the leader changes and the outage without a restart: every 202 is stored", async () => {
  await eventually(
    async () => {
      const [row] = await db.sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM transactions WHERE transaction_id = ANY(${accepted}::uuid[])`;
      return row?.n === accepted.length ? true : undefined;
    },
    120_000,
    "every 202 stored",
  );
  expect(accepted.length).toBeGreaterThan((replayRequests * replayRequestRows) / 2);
  // The client's retries during the leader changes mark Kafka failing until
  // none came for a few seconds (the lag poll's requests too): then running.
  await eventually(async () => (worker?.status().state === "running" ? true : undefined), 30_000, "worker running");
  expect(worker?.status().problems ?? {}).toEqual({});
}, 180_000);
