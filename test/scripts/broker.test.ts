import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ensureBroker,
  freePort,
  type NodeAddress,
  type NodeRoles,
  newClusterId,
  nodeProperties,
} from "../../scripts/broker.ts";
import { clusterReplication } from "../../scripts/cluster.ts";
import { kafkaAnswers } from "../../src/kafka/admin.ts";

test("the broker helper starts a real Kafka broker that answers, reuses it, and stops it", async () => {
  const address = `127.0.0.1:${await freePort()}`;
  const connection = { brokers: [address], clientId: "txlog-broker-test", timeoutMs: 2000 };
  const dataDir = join(tmpdir(), `txlog-broker-test-${process.env.TXLOG_TEST_RUN}`);
  expect(await kafkaAnswers(connection)).toBe(false);

  const broker = await ensureBroker({ broker: address, dataDir, ephemeral: true, log: () => {} });
  try {
    expect(broker.started).toBe(true);
    expect(broker.brokers).toEqual([address]);
    expect(await kafkaAnswers(connection)).toBe(true);
    expect(existsSync(broker.logFile as string)).toBe(true);

    // A second ensureBroker finds the running one and starts nothing.
    const again = await ensureBroker({ broker: address, dataDir: `${dataDir}-unused`, log: () => {} });
    expect(again.started).toBe(false);
    expect(existsSync(`${dataDir}-unused`)).toBe(false);
  } finally {
    await broker.stop();
  }
  expect(await kafkaAnswers(connection)).toBe(false);
  expect(existsSync(dataDir)).toBe(false);
}, 120_000);

test("a broker that is not on this machine is never started", async () => {
  await expect(
    ensureBroker({ broker: "192.0.2.1:9092", dataDir: join(tmpdir(), "txlog-never"), log: () => {} }),
  ).rejects.toThrow(/only a loopback address can be started/);
}, 30_000);

test("cluster ids are 22 URL-safe base64 characters and never start with '-', which the storage tool would take for an option", () => {
  const ids = new Set<string>();
  for (let i = 0; i < 20_000; i++) {
    const id = newClusterId();
    expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
    ids.add(id);
  }
  // 20,000 draws would start with "-" about 312 times if not redrawn; all distinct.
  expect(ids.size).toBe(20_000);
});

test("a cluster node's properties: its own listeners, every voter, replication 3 with 2 in sync, no unclean election", () => {
  const replication = clusterReplication(3);
  expect(replication).toEqual({ factor: 3, minInsync: 2 });
  expect(clusterReplication(1)).toEqual({ factor: 1, minInsync: 1 });
  const voters = [1, 2, 3].map((id) => ({ id, host: "127.0.0.1", port: 9000 + id, controllerPort: 9100 + id }));
  const lines = (roles: NodeRoles, node = voters[1] as NodeAddress) =>
    nodeProperties({ node, roles, voters, dataDir: "/data", replication, partitions: 3 }).split("\n");
  const combined = lines("broker,controller");
  expect(combined).toContain("node.id=2");
  expect(combined).toContain("controller.quorum.voters=1@127.0.0.1:9101,2@127.0.0.1:9102,3@127.0.0.1:9103");
  expect(combined).toContain("listeners=PLAINTEXT://127.0.0.1:9002,CONTROLLER://127.0.0.1:9102");
  for (const line of [
    "default.replication.factor=3",
    "min.insync.replicas=2",
    "unclean.leader.election.enable=false",
    "offsets.topic.replication.factor=3",
    "transaction.state.log.replication.factor=3",
    "transaction.state.log.min.isr=2",
  ]) {
    expect(combined).toContain(line);
  }
  expect(lines("broker")).toContain("listeners=PLAINTEXT://127.0.0.1:9002");
  // A controller-only node has no client listener; the topic defaults still apply (KRaft's controller uses them).
  const controller = lines("controller");
  expect(controller).toContain("listeners=CONTROLLER://127.0.0.1:9102");
  expect(controller.some((line) => line.startsWith("advertised.listeners"))).toBe(false);
  expect(controller).toContain("min.insync.replicas=2");
});

test("`bun run broker --nodes` takes 1 to 9 nodes", async () => {
  const child = Bun.spawn(["bun", "run", "scripts/broker.ts", "--nodes", "0"], { stdout: "pipe", stderr: "pipe" });
  const stderr = await new Response(child.stderr).text();
  expect(await child.exited).toBe(2);
  expect(stderr).toContain("--nodes must be an integer from 1 to 9 (got 0)");
});
