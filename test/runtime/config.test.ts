import { expect, test } from "bun:test";
import { ConfigError, configWarnings, loadConfig, settings } from "../../src/runtime/config.ts";
import { parseLogLine } from "../../src/runtime/log-lines.ts";

test("defaults apply when nothing is set", () => {
  const config = loadConfig({});
  expect(config.port).toBe(8000);
  expect(config.kafkaBrokers).toEqual(["127.0.0.1:9092"]);
  expect(config.topic).toBe("transactions");
  expect(config.dlqTopic).toBe("transactions.dlq");
  expect(config.databaseUrl).toBe("postgres://postgres@127.0.0.1:5432/txlog");
});

test("set values are parsed", () => {
  const config = loadConfig({ PORT: "9001", KAFKA_BROKERS: "a:1, b:2", BATCH_ROWS_MAX: "250" });
  expect(config.port).toBe(9001);
  expect(config.kafkaBrokers).toEqual(["a:1", "b:2"]);
  expect(config.batchRowsMax).toBe(250);
});

test("renamed settings: the new name is read, the former one still works, and two different values are refused", () => {
  expect(loadConfig({ WORKER_BATCH_ROWS_MAX: "300" }).batchRowsMax).toBe(300);
  expect(loadConfig({ BATCH_ENDPOINT_ROWS_MAX: "7" }).requestTransactionsMax).toBe(7);
  expect(loadConfig({ PRODUCE_BATCH_MESSAGES_MAX: "9" }).produceRequestMessagesMax).toBe(9);
  expect(loadConfig({ WORKER_BATCH_LINGER_MS: "5", BATCH_LINGER_MS: "5" }).batchLingerMs).toBe(5);
  expect(() => loadConfig({ WORKER_BATCH_LINGER_MS: "5", BATCH_LINGER_MS: "6" })).toThrow(
    /^BATCH_LINGER_MS: is the former name of WORKER_BATCH_LINGER_MS/,
  );
});

test("replication: 1 copy and 1 in sync by default (the single local broker); 3 and 2 for a cluster", () => {
  const single = loadConfig({});
  expect([single.replicationFactor, single.minInsyncReplicas]).toEqual([1, 1]);
  const cluster = loadConfig({ KAFKA_REPLICATION_FACTOR: "3", KAFKA_MIN_INSYNC_REPLICAS: "2" });
  expect([cluster.replicationFactor, cluster.minInsyncReplicas]).toEqual([3, 2]);
  expect(loadConfig({ KAFKA_REPLICATION_FACTOR: "3", KAFKA_MIN_INSYNC_REPLICAS: "3" }).minInsyncReplicas).toBe(3);
});

test("more replicas in sync than there are replicas is refused, naming both settings", () => {
  for (const env of [
    { KAFKA_MIN_INSYNC_REPLICAS: "2" },
    { KAFKA_REPLICATION_FACTOR: "3", KAFKA_MIN_INSYNC_REPLICAS: "4" },
  ]) {
    let caught: unknown;
    try {
      loadConfig(env);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).variable).toBe("KAFKA_MIN_INSYNC_REPLICAS");
    expect((caught as Error).message).toMatch(
      new RegExp(
        `^KAFKA_MIN_INSYNC_REPLICAS: must be at most KAFKA_REPLICATION_FACTOR \\(${env.KAFKA_REPLICATION_FACTOR ?? 1}\\).*\\(got "${env.KAFKA_MIN_INSYNC_REPLICAS}"\\)$`,
      ),
    );
  }
});

test("a single replica is warned about in one line; a cluster's 3 and 2 are not; min ISR = RF is", () => {
  const single = configWarnings(loadConfig({}));
  expect(single).toHaveLength(1);
  expect(single[0]).toContain("KAFKA_REPLICATION_FACTOR=1");
  expect(single[0]).toContain("lost if that broker's disk is lost");
  expect(configWarnings(loadConfig({ KAFKA_REPLICATION_FACTOR: "3", KAFKA_MIN_INSYNC_REPLICAS: "2" }))).toEqual([]);
  expect(configWarnings(loadConfig({ KAFKA_REPLICATION_FACTOR: "3", KAFKA_MIN_INSYNC_REPLICAS: "3" }))).toEqual([
    expect.stringContaining("with one broker down, no transaction can be accepted"),
  ]);
});

const bad: [string, string, RegExp][] = [
  ["PORT", "eighty", /^PORT: must be an integer from 1 to 65535 \(got "eighty"\)$/],
  ["PORT", "70000", /^PORT: must be an integer from 1 to 65535/],
  ["PORT", "80.5", /^PORT: must be an integer/],
  ["BATCH_ROWS_MAX", "0", /^BATCH_ROWS_MAX: must be an integer from 1 to/],
  ["KAFKA_BROKERS", "localhost", /^KAFKA_BROKERS: must be a comma-separated list of host:port/],
  ["KAFKA_BROKERS", "host:99999", /^KAFKA_BROKERS: /],
  ["DATABASE_URL", "mysql://x/y", /^DATABASE_URL: must be a postgres:\/\/ or postgresql:\/\/ URL/],
  ["DATABASE_URL", "postgres://host:5432", /^DATABASE_URL: .*naming a database/],
  ["KAFKA_TOPIC", "bad topic!", /^KAFKA_TOPIC: must be 1 to 249 characters/],
  ["KAFKA_REPLICATION_FACTOR", "0", /^KAFKA_REPLICATION_FACTOR: must be an integer from 1 to 32767/],
  ["KAFKA_MIN_INSYNC_REPLICAS", "0", /^KAFKA_MIN_INSYNC_REPLICAS: must be an integer from 1 to 32767/],
];

for (const [variable, value, message] of bad) {
  test(`${variable}=${value} is rejected with a message naming the variable and the rule`, () => {
    let caught: unknown;
    try {
      loadConfig({ [variable]: value });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).variable).toBe(variable);
    expect((caught as Error).message).toMatch(message);
  });
}

test("a process started with one replica says so in one warning line at start", async () => {
  // No broker answers: the API stops right after the start, warning included.
  const child = Bun.spawn(["bun", "run", "src/api.ts"], {
    env: { ...process.env, KAFKA_BROKERS: "127.0.0.1:1", KAFKA_TIMEOUT_MS: "500", KAFKA_REPLICATION_FACTOR: "" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const stderr = await new Response(child.stderr).text();
  expect(await child.exited).toBe(1);
  const warnings = stderr
    .split("\n")
    .map(parseLogLine)
    .filter((entry) => entry?.level === 40);
  expect(warnings).toEqual([
    expect.objectContaining({
      role: "api",
      msg: expect.stringMatching(/^API: warning: KAFKA_REPLICATION_FACTOR=1: .*disk is lost/),
    }),
    expect.objectContaining({
      role: "api",
      msg: expect.stringMatching(
        /^API: warning: DATABASE_API_URL is unset: connecting as DATABASE_URL's user, the schema's owner/,
      ),
    }),
  ]);
}, 60_000);

test("a process started with min ISR above the replication factor exits 2 naming both", async () => {
  const child = Bun.spawn(["bun", "run", "src/api.ts"], {
    env: { ...process.env, KAFKA_REPLICATION_FACTOR: "2", KAFKA_MIN_INSYNC_REPLICAS: "3" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const stderr = await new Response(child.stderr).text();
  expect(await child.exited).toBe(2);
  expect(stderr).toContain("KAFKA_MIN_INSYNC_REPLICAS: must be at most KAFKA_REPLICATION_FACTOR (2)");
});

test("a process started with a bad value exits non-zero and names the variable", async () => {
  const child = Bun.spawn(["bun", "run", "src/postgres/migrate.ts"], {
    env: { ...process.env, BATCH_LINGER_MS: "-5" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const stderr = await new Response(child.stderr).text();
  expect(await child.exited).toBe(2);
  expect(stderr).toContain("BATCH_LINGER_MS: must be an integer from 0 to 60000");
});

test("README.md documents every setting with its default", async () => {
  const readme = await Bun.file(new URL("../../README.md", import.meta.url)).text();
  for (const setting of Object.values(settings)) {
    const row = readme.split("\n").find((line) => line.startsWith(`| \`${setting.variable}\``));
    expect(row, `README row for ${setting.variable}`).toBeDefined();
    expect(row).toContain(setting.defaultValue === "" ? "| (unset) |" : `\`${setting.defaultValue}\``);
  }
});

test("API_DOCS: on by default, off turns the docs off, anything else is refused naming the rule", () => {
  expect(loadConfig({}).apiDocs).toBe(true);
  expect(loadConfig({ API_DOCS: "off" }).apiDocs).toBe(false);
  expect(loadConfig({ API_DOCS: " on " }).apiDocs).toBe(true);
  for (const value of ["false", "0", "OFF", "yes"]) {
    expect(() => loadConfig({ API_DOCS: value })).toThrow(`API_DOCS: must be on or off (got "${value}")`);
  }
});
