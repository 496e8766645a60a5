import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBroker, freePort, newClusterId } from "../../scripts/broker.ts";
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
