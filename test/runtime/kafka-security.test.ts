// The Kafka security settings: what each combination gives the clients, what
// is refused (naming the variable and the rule), the clear-text warning, and
// a password that never shows in a config error, JSON or console output.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "bun";
import { clientOptions } from "../../src/kafka/client.ts";
import { kafkaConnection } from "../../src/kafka/connection.ts";
import { ConfigError, configWarnings, loadConfig } from "../../src/runtime/config.ts";
import { repoRoot } from "../support/processes.ts";

const password = "pw-Kafka-7Hq2x";
const scram = { KAFKA_SASL_MECHANISM: "SCRAM-SHA-512", KAFKA_SASL_USERNAME: "txlog", KAFKA_SASL_PASSWORD: password };
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "txlog-kafka-security-"));
  await writeFile(join(dir, "password"), `${password}\n`);
  await writeFile(join(dir, "empty"), "");
  await writeFile(join(dir, "ca.pem"), "-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n");
  await writeFile(join(dir, "key.pem"), "-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n");
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** The ConfigError `env` is refused with. */
function refusal(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`accepted: ${JSON.stringify(env)}`);
}

test("by default nothing is sent: no SASL, no TLS", () => {
  const options = clientOptions(kafkaConnection(loadConfig({})));
  expect(options).not.toHaveProperty("sasl");
  expect(options).not.toHaveProperty("tls");
});

test("SASL settings reach the client options; the mechanism is matched without case; the password only through its provider", () => {
  for (const mechanism of ["PLAIN", "scram-sha-256", "SCRAM-SHA-512"]) {
    const connection = kafkaConnection(loadConfig({ ...scram, KAFKA_SASL_MECHANISM: mechanism }), "api");
    const { sasl, clientId } = clientOptions(connection) as { sasl: Record<string, unknown>; clientId: string };
    expect(clientId).toBe("txlog-api");
    expect(sasl.mechanism).toBe(mechanism.toUpperCase());
    expect(sasl.username).toBe("txlog");
    expect((sasl.password as () => string)()).toBe(password);
    expect(JSON.stringify(connection)).not.toContain(password);
  }
});

test("a password file is read at start, its final newline dropped", () => {
  const env = { ...scram, KAFKA_SASL_PASSWORD: "", KAFKA_SASL_PASSWORD_FILE: join(dir, "password") };
  expect(kafkaConnection(loadConfig(env)).sasl?.password.reveal()).toBe(password);
});

test("TLS settings reach the client options: CA, client certificate and key, server name", () => {
  const tls = loadConfig({
    KAFKA_TLS: "true",
    KAFKA_TLS_CA_FILE: join(dir, "ca.pem"),
    KAFKA_TLS_CERT_FILE: join(dir, "ca.pem"),
    KAFKA_TLS_KEY_FILE: join(dir, "key.pem"),
    KAFKA_TLS_SERVERNAME: "kafka.example.com",
  });
  const options = clientOptions(kafkaConnection(tls)) as { tls: Record<string, string>; tlsServerName: string };
  expect(options.tls.ca).toContain("BEGIN CERTIFICATE");
  expect(options.tls.cert).toContain("BEGIN CERTIFICATE");
  expect(options.tls.key).toContain("BEGIN PRIVATE KEY");
  expect(options.tlsServerName).toBe("kafka.example.com");
  // KAFKA_TLS alone: the system's CAs, each broker's own host name.
  const plain = clientOptions(kafkaConnection(loadConfig({ KAFKA_TLS: "TRUE" }))) as { tls: Record<string, unknown> };
  expect(plain.tls.ca).toBeUndefined();
  expect(plain).not.toHaveProperty("tlsServerName");
});

const refused: [string, Record<string, string>, string, RegExp][] = [
  [
    "an unknown mechanism",
    { KAFKA_SASL_MECHANISM: "GSSAPI" },
    "KAFKA_SASL_MECHANISM",
    /must be one of none, PLAIN, SCRAM-SHA-256, SCRAM-SHA-512/,
  ],
  [
    "a mechanism without a user",
    { ...scram, KAFKA_SASL_USERNAME: "" },
    "KAFKA_SASL_USERNAME",
    /must be set when KAFKA_SASL_MECHANISM is SCRAM-SHA-512/,
  ],
  [
    "a mechanism without a password",
    { ...scram, KAFKA_SASL_PASSWORD: "" },
    "KAFKA_SASL_PASSWORD",
    /or KAFKA_SASL_PASSWORD_FILE must be set/,
  ],
  [
    "credentials without a mechanism",
    { ...scram, KAFKA_SASL_MECHANISM: "none" },
    "KAFKA_SASL_MECHANISM",
    /when KAFKA_SASL_USERNAME is set/,
  ],
  [
    "a password without a mechanism",
    { KAFKA_SASL_PASSWORD: password },
    "KAFKA_SASL_MECHANISM",
    /when KAFKA_SASL_PASSWORD is set/,
  ],
  [
    "both a password and a password file",
    { ...scram, KAFKA_SASL_PASSWORD_FILE: "" },
    "KAFKA_SASL_PASSWORD",
    /must not be set together/,
  ],
  [
    "a password of two lines",
    { ...scram, KAFKA_SASL_PASSWORD: `${password}\nmore` },
    "KAFKA_SASL_PASSWORD",
    /must be one line/,
  ],
  [
    "a missing password file",
    { ...scram, KAFKA_SASL_PASSWORD: "", KAFKA_SASL_PASSWORD_FILE: "/nonexistent/pw" },
    "KAFKA_SASL_PASSWORD_FILE",
    /must name a readable file \(ENOENT\)/,
  ],
  [
    "an empty password file",
    { ...scram, KAFKA_SASL_PASSWORD: "", KAFKA_SASL_PASSWORD_FILE: "" },
    "KAFKA_SASL_PASSWORD_FILE",
    /must name a file that is not empty/,
  ],
  [
    "a user name with a control character",
    { ...scram, KAFKA_SASL_USERNAME: "tx\u0001log" },
    "KAFKA_SASL_USERNAME",
    /printable ASCII/,
  ],
  ["KAFKA_TLS not a boolean", { KAFKA_TLS: "yes" }, "KAFKA_TLS", /must be true or false/],
  ["a CA file without KAFKA_TLS", { KAFKA_TLS_CA_FILE: "" }, "KAFKA_TLS_CA_FILE", /is set, but KAFKA_TLS is false/],
  [
    "a server name without KAFKA_TLS",
    { KAFKA_TLS_SERVERNAME: "kafka.example.com" },
    "KAFKA_TLS_SERVERNAME",
    /KAFKA_TLS is false/,
  ],
  [
    "a client key without its certificate",
    { KAFKA_TLS: "true", KAFKA_TLS_KEY_FILE: "" },
    "KAFKA_TLS_CERT_FILE",
    /must be set when KAFKA_TLS_KEY_FILE is/,
  ],
];

for (const [what, env, variable, rule] of refused) {
  test(`refused: ${what}, naming ${variable}, never the password`, () => {
    // Paths filled in here: `dir` exists only once the files are written.
    const files: Record<string, string> = {
      KAFKA_SASL_PASSWORD_FILE: join(dir, what.includes("empty") ? "empty" : "password"),
      KAFKA_TLS_CA_FILE: join(dir, "ca.pem"),
      KAFKA_TLS_KEY_FILE: join(dir, "key.pem"),
    };
    const filled = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === "" && k in files ? files[k] : v]));
    const error = refusal(filled as Record<string, string>);
    expect(error.variable).toBe(variable);
    expect(error.message).toStartWith(`${variable}: `);
    expect(error.message).toMatch(rule);
    expect(error.message).not.toContain(password);
  });
}

test("PLAIN without TLS to a broker off this machine is warned about; on loopback, with TLS or with SCRAM it is not", () => {
  const plain = { ...scram, KAFKA_SASL_MECHANISM: "PLAIN" };
  const remote = configWarnings(loadConfig({ ...plain, KAFKA_BROKERS: "127.0.0.1:9092,kafka.example.com:9092" }));
  expect(remote.filter((line) => line.includes("crosses the network in clear"))).toEqual([
    expect.stringContaining("to kafka.example.com:9092; set KAFKA_TLS=true"),
  ]);
  for (const env of [
    { ...plain, KAFKA_BROKERS: "127.0.0.1:9092,localhost:9093,[::1]:9094" },
    { ...plain, KAFKA_BROKERS: "kafka.example.com:9092", KAFKA_TLS: "true" },
    { ...scram, KAFKA_BROKERS: "kafka.example.com:9092" },
  ]) {
    expect(configWarnings(loadConfig(env)).join("\n")).not.toContain("in clear");
  }
});

test("the loaded config shows no password in JSON, string or console form", () => {
  const config = loadConfig({
    ...scram,
    KAFKA_TLS: "true",
    KAFKA_TLS_CERT_FILE: join(dir, "ca.pem"),
    KAFKA_TLS_KEY_FILE: join(dir, "key.pem"),
  });
  for (const text of [JSON.stringify(config), Bun.inspect(config), `${config.kafkaSaslPassword}`]) {
    expect(text).not.toContain(password);
    expect(text).not.toContain("BEGIN PRIVATE KEY");
  }
});

test("a process refused for its SASL settings exits 2 with the rule and without the password", async () => {
  const child = spawn(["bun", "run", "src/api.ts"], {
    cwd: repoRoot,
    env: { ...(process.env as Record<string, string>), ...scram, KAFKA_SASL_PASSWORD_FILE: join(dir, "password") },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  expect(out + err).toContain(
    "bad configuration: KAFKA_SASL_PASSWORD: must not be set together with KAFKA_SASL_PASSWORD_FILE",
  );
  expect(out + err).not.toContain(password);
  expect(code).toBe(2);
}, 30_000);
