// Kafka security against a broker of this file's own whose only client
// listener wants SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512): txlog's clients
// get in with the configured credentials, the real API, worker and reconcile
// processes carry a transaction through it, and a wrong password or none at
// all fails with a line that names the settings and never shows a password.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "bun";
import { ensureBroker, freePort, type LocalBroker } from "../../scripts/broker.ts";
import { deleteGroups } from "../../src/kafka/admin.ts";
import { consume, createConsumer, createProducer, type KafkaMessage, produce } from "../../src/kafka/client.ts";
import { kafkaConnection } from "../../src/kafka/connection.ts";
import { ensureTopics } from "../../src/kafka/topics.ts";
import { loadConfig } from "../../src/runtime/config.ts";
import { paymentBody, processEnv, repoRoot, startProcess, type TxlogProcess } from "../support/processes.ts";
import { eventually, freshDatabase, type TestDatabase, testTopics } from "../support/run.ts";

const runId = process.env.TXLOG_TEST_RUN ?? "local";
const username = "txlog";
const password = `pw-${randomBytes(12).toString("hex")}`;
const wrongPassword = `wrong-${randomBytes(12).toString("hex")}`;
const dataDir = join(tmpdir(), `txlog-test-${runId}-sasl-kafka`);
const passwordFile = join(tmpdir(), `txlog-test-${runId}-sasl-password`);
const topics = testTopics("sasl");
const processes: TxlogProcess[] = [];
let broker: LocalBroker;
let db: TestDatabase;

beforeAll(async () => {
  broker = await ensureBroker({
    broker: `127.0.0.1:${await freePort()}`,
    dataDir,
    ephemeral: true,
    security: { sasl: { username, password } },
    log: () => {},
  });
  // A mounted secret ends in a newline; txlog drops it.
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  db = await freshDatabase("sasl");
}, 120_000);

afterAll(async () => {
  for (const { child } of processes) child.kill("SIGTERM");
  await Promise.all(processes.map(({ child }) => child.exited));
  await db?.drop();
  await broker?.stop();
  await Bun.file(passwordFile)
    .delete()
    .catch(() => {});
}, 60_000);

/** Settings of a txlog process that talks to the SASL broker, as its environment would give them. */
function saslEnv(mechanism: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    KAFKA_BROKERS: broker.brokers.join(","),
    KAFKA_SASL_MECHANISM: mechanism,
    KAFKA_SASL_USERNAME: username,
    KAFKA_SASL_PASSWORD: password,
    ...extra,
  };
}

/** Every line a process printed, checked for both passwords. */
function expectNoPassword(output: string, what: string): void {
  expect(output, `${what} printed the password`).not.toContain(password);
  expect(output, `${what} printed the wrong password`).not.toContain(wrongPassword);
}

/** A command run to its end: exit code and everything it printed. */
async function run(file: string, env: Record<string, string>, timeoutMs = 60_000) {
  const child = spawn(["bun", "run", file], { cwd: repoRoot, env, stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const [out, err, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  clearTimeout(timer);
  // Log lines are JSON: quotes inside their messages arrive escaped.
  return { output: (out + err).replaceAll('\\"', '"'), code };
}

describe("with the right credentials", () => {
  for (const mechanism of ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]) {
    test(`${mechanism}: txlog's producer and consumer make a round trip`, async () => {
      const config = loadConfig({ ...process.env, ...saslEnv(mechanism) });
      const connection = kafkaConnection(config);
      const topic = `${topics.topic}.${mechanism.toLowerCase()}`;
      const groupId = `${topics.groupId}-${mechanism.toLowerCase()}`;
      await ensureTopics(connection, [{ name: topic, partitions: 1 }]);
      const producer = createProducer(connection);
      const consumer = createConsumer(connection, { groupId });
      try {
        const value = Buffer.from(`over ${mechanism}`);
        await produce(producer, [{ topic, key: Buffer.from("k"), value }]);
        const stream = await consume(consumer, [topic]);
        let received: KafkaMessage | undefined;
        for await (const message of stream as AsyncIterable<KafkaMessage>) {
          received = message;
          break;
        }
        await stream.close();
        expect(received?.value.toString()).toBe(value.toString());
      } finally {
        await producer.close();
        await consumer.close(true);
        await deleteGroups(connection, [groupId]);
      }
    }, 60_000);
  }

  test("the API and the worker (password from a file) carry a POST into PostgreSQL; reconcile agrees; no password in any output", async () => {
    const port = await freePort();
    const fromFile = { KAFKA_SASL_PASSWORD: "", KAFKA_SASL_PASSWORD_FILE: passwordFile };
    const env = processEnv(topics, db.url, { ...saslEnv("SCRAM-SHA-512", fromFile), PORT: String(port) });
    const api = startProcess("src/api.ts", env);
    const worker = startProcess("src/worker.ts", env);
    processes.push(api, worker);
    const url = `http://127.0.0.1:${port}`;
    await eventually(
      async () =>
        (await fetch(`${url}/health`).then(
          (r) => r.ok,
          () => false,
        ))
          ? true
          : undefined,
      60_000,
      `API healthy (output: ${api.output.text})`,
    );
    const response = await fetch(`${url}/transaction`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(paymentBody),
    });
    expect(response.status).toBe(202);
    const { transactionId } = (await response.json()) as { transactionId: string };
    await eventually(
      async () => {
        const [row] = await db.sql`SELECT 1 FROM transactions WHERE transaction_id = ${transactionId}`;
        return row;
      },
      60_000,
      `row stored (worker output: ${worker.output.text})`,
    );
    const reconciled = await run("src/reconcile.ts", env);
    expect(reconciled.output).toContain("ok: every transaction in the log is stored or rejected");
    expect(reconciled.code).toBe(0);
    for (const [what, output] of [
      ["the API", api.output.text],
      ["the worker", worker.output.text],
      ["reconcile", reconciled.output],
    ] as const) {
      expectNoPassword(output, what);
    }
  }, 120_000);
});

describe("refused", () => {
  test("a wrong password: the API exits 1 and the worker reports degraded, each naming the user and the settings, never a password", async () => {
    const env = processEnv(topics, db.url, {
      ...saslEnv("SCRAM-SHA-256", { KAFKA_SASL_PASSWORD: wrongPassword }),
      PORT: String(await freePort()),
    });
    const worker = startProcess("src/worker.ts", env);
    processes.push(worker);
    const api = await run("src/api.ts", env);
    expect(api.output).toContain(`refused the SASL login of user "${username}" (SCRAM-SHA-256)`);
    expect(api.output).toContain("check KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD");
    expect(api.code).toBe(1);
    expectNoPassword(api.output, "the API");
    // The worker keeps trying: a user a managed Kafka is still creating gets in once it exists.
    await eventually(
      async () => (worker.output.text.includes("refused the SASL login") ? true : undefined),
      60_000,
      `worker reports the refusal (output: ${worker.output.text})`,
    );
    expect(worker.output.text).toContain("worker: degraded: kafka");
    expect(worker.alive()).toBe(true);
    expectNoPassword(worker.output.text, "the worker");
  }, 120_000);

  test("no SASL against the SASL listener: the API exits 1 saying the listener may want SASL", async () => {
    const api = await run(
      "src/api.ts",
      processEnv(topics, db.url, { KAFKA_BROKERS: broker.brokers.join(","), PORT: String(await freePort()) }),
    );
    expect(api.output).toContain(
      "closed every connection before answering, as a listener that requires SASL or TLS does",
    );
    expect(api.code).toBe(1);
  }, 60_000);

  test("reconcile with a wrong PLAIN password exits non-zero with the broker's reason, no password", async () => {
    const reconciled = await run(
      "src/reconcile.ts",
      processEnv(topics, db.url, saslEnv("PLAIN", { KAFKA_SASL_PASSWORD: wrongPassword })),
    );
    expect(reconciled.output).toContain(`refused the SASL login of user "${username}" (PLAIN)`);
    expect(reconciled.code).not.toBe(0);
    expectNoPassword(reconciled.output, "reconcile");
  }, 60_000);
});
