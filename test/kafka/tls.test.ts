// TLS to Kafka against a broker of this file's own with a SASL_SSL listener
// (a certificate for 127.0.0.1 signed by a CA the test makes): with the CA
// given, txlog's clients and the API get in; with the system's CAs, another
// server name or no TLS at all, they fail with a line naming the setting.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBroker, freePort, type LocalBroker } from "../../scripts/broker.ts";
import { deleteGroups } from "../../src/kafka/admin.ts";
import { consume, createConsumer, createProducer, type KafkaMessage, produce } from "../../src/kafka/client.ts";
import { kafkaConnection } from "../../src/kafka/connection.ts";
import { ensureTopics } from "../../src/kafka/topics.ts";
import { loadConfig } from "../../src/runtime/config.ts";
import { paymentBody, processEnv, startProcess, type TxlogProcess } from "../support/processes.ts";
import { eventually, freshDatabase, type TestDatabase, testTopics } from "../support/run.ts";
import { makeTestCertificates, type TestCertificates } from "../support/tls.ts";

const username = "txlog";
const password = `pw-${crypto.randomUUID()}`;
const topics = testTopics("tls");
let dir: string;
let certificates: TestCertificates;
let broker: LocalBroker;
let db: TestDatabase;
let api: TxlogProcess | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "txlog-test-tls-"));
  certificates = await makeTestCertificates(dir);
  broker = await ensureBroker({
    broker: `127.0.0.1:${await freePort()}`,
    dataDir: join(dir, "kafka"),
    security: { sasl: { username, password }, tls: certificates },
    log: () => {},
  });
  db = await freshDatabase("tls");
}, 120_000);

afterAll(async () => {
  api?.child.kill("SIGTERM");
  await api?.child.exited;
  await db?.drop();
  await broker?.stop();
  await rm(dir, { recursive: true, force: true });
}, 60_000);

/** SASL_SSL settings as a process's environment would give them; `extra` overrides. */
function tlsEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    KAFKA_BROKERS: broker.brokers.join(","),
    KAFKA_SASL_MECHANISM: "SCRAM-SHA-512",
    KAFKA_SASL_USERNAME: username,
    KAFKA_SASL_PASSWORD: password,
    KAFKA_TLS: "true",
    KAFKA_TLS_CA_FILE: certificates.caFile,
    ...extra,
  };
}

function connectionOf(env: Record<string, string>) {
  return kafkaConnection(loadConfig({ ...process.env, ...env }));
}

test("with the test's CA: txlog's producer and consumer make a round trip over SASL_SSL", async () => {
  const connection = connectionOf(tlsEnv({ KAFKA_TLS_SERVERNAME: "localhost" }));
  const topic = `${topics.topic}.roundtrip`;
  await ensureTopics(connection, [{ name: topic, partitions: 1 }]);
  const producer = createProducer(connection);
  const consumer = createConsumer(connection, { groupId: topics.groupId });
  try {
    await produce(producer, [{ topic, key: Buffer.from("k"), value: Buffer.from("over TLS") }]);
    const stream = await consume(consumer, [topic]);
    let received: KafkaMessage | undefined;
    for await (const message of stream as AsyncIterable<KafkaMessage>) {
      received = message;
      break;
    }
    await stream.close();
    expect(received?.value.toString()).toBe("over TLS");
  } finally {
    await producer.close();
    await consumer.close(true);
    await deleteGroups(connection, [topics.groupId]);
  }
}, 60_000);

test("the API process accepts a transaction over SASL_SSL (202 after the broker's ack)", async () => {
  const port = await freePort();
  api = startProcess("src/api.ts", processEnv(topics, db.url, { ...tlsEnv(), PORT: String(port) }));
  const url = `http://127.0.0.1:${port}`;
  const started = api;
  await eventually(
    async () =>
      (await fetch(`${url}/health`).then(
        (r) => r.ok,
        () => false,
      ))
        ? true
        : undefined,
    60_000,
    `API healthy (output: ${started.output.text})`,
  );
  const response = await fetch(`${url}/transaction`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(paymentBody),
  });
  expect(response.status).toBe(202);
  expect(api.output.text).not.toContain(password);
}, 90_000);

const refused: [string, Record<string, string>, RegExp][] = [
  [
    "the system's CAs only",
    { KAFKA_TLS_CA_FILE: "" },
    /could not be verified over TLS: unable to verify the first certificate; check KAFKA_TLS_CA_FILE/,
  ],
  [
    "another server name",
    { KAFKA_TLS_SERVERNAME: "kafka.example.com" },
    /could not be verified over TLS: Hostname\/IP does not match/,
  ],
  [
    "SASL without TLS",
    { KAFKA_TLS: "false", KAFKA_TLS_CA_FILE: "" },
    /closed every connection during the SASL login, as a TLS listener \(SASL_SSL\) does to a client without TLS; if it is one, set KAFKA_TLS=true/,
  ],
  [
    "neither SASL nor TLS",
    {
      KAFKA_TLS: "false",
      KAFKA_TLS_CA_FILE: "",
      KAFKA_SASL_MECHANISM: "none",
      KAFKA_SASL_USERNAME: "",
      KAFKA_SASL_PASSWORD: "",
    },
    /requires TLS: set KAFKA_TLS=true/,
  ],
];

for (const [what, extra, reason] of refused) {
  test(`refused with ${what}, the reason naming the setting`, async () => {
    const connection = { ...connectionOf(tlsEnv(extra)), timeoutMs: 2000 };
    const failure = await ensureTopics(connection, [{ name: `${topics.topic}.refused`, partitions: 1 }]).then(
      () => undefined,
      (error: Error) => error,
    );
    expect(failure?.message).toMatch(reason);
    expect(failure?.message).toStartWith(`Kafka at ${broker.brokers[0]} `);
  }, 60_000);
}
