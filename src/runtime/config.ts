// Every setting of txlog, read from the environment once at start.
// Each entry names its unit, its default and what is allowed; a bad value
// stops the process with a ConfigError naming the variable and the rule.
// README.md's configuration table is checked against this list by a test.
import { apiKeyEntries } from "./api-keys.ts";
import { logSettings, rootLogger } from "./logger.ts";
import {
  brokerList,
  ConfigError,
  flag,
  integer,
  onOff,
  optionalPostgresUrl,
  postgresUrl,
  text,
} from "./setting-types.ts";

export { ConfigError };

import { checkKafkaSecurity, kafkaSecurityWarnings, saslMechanisms } from "./kafka-security.ts";
import { choice, fileText, optionalText, secret } from "./security-setting-types.ts";

const topicName = /^[A-Za-z0-9._-]{1,249}$/;
const topicRule = "must be 1 to 249 characters of letters, digits, '.', '_' or '-'";

/** The settings, in the order README.md lists them. */
export const settings = {
  port: integer("PORT", 8000, 1, 65535, "HTTP port of the API"),
  host: text(
    "HOST",
    "127.0.0.1",
    /^\S+$/,
    "must be a host name or address",
    "address the API and the worker's status port listen on (0.0.0.0 in containers)",
  ),
  workerPort: integer(
    "WORKER_PORT",
    8001,
    0,
    65535,
    "HTTP port of the worker's /health, /ready and /metrics (0: any free port)",
  ),
  databaseUrl: postgresUrl(
    "DATABASE_URL",
    "postgres://postgres@127.0.0.1:5432/txlog",
    "PostgreSQL to write and read; the database is created when missing",
  ),
  databasePoolMax: integer("DATABASE_POOL_MAX", 10, 1, 1000, "connections per process"),
  // Least privilege (README, Database roles): unset, a process connects as
  // DATABASE_URL's user, the owner, and migrates; set, it only checks the schema.
  databaseApiUrl: optionalPostgresUrl(
    "DATABASE_API_URL",
    "API: PostgreSQL as a role that may only SELECT (`bun run db:roles`); empty: DATABASE_URL",
  ),
  databaseWorkerUrl: optionalPostgresUrl(
    "DATABASE_WORKER_URL",
    "worker: PostgreSQL as a role that may only INSERT and SELECT (`bun run db:roles`); empty: DATABASE_URL",
  ),
  // Reports get a small pool of their own, so a flood of them waits there
  // instead of taking the connections of the write path's lookups.
  databaseReadPoolMax: integer(
    "DATABASE_READ_POOL_MAX",
    4,
    1,
    100,
    "API: connections for report reads (/reports, /reports/summary, /rejections) at most",
  ),
  readStatementTimeoutMs: integer(
    "READ_STATEMENT_TIMEOUT_MS",
    5000,
    10,
    600000,
    "API: longest a read may run in PostgreSQL (`statement_timeout`) before it is cancelled and answered 503 `read_timeout`, milliseconds",
  ),
  kafkaBrokers: brokerList(
    "KAFKA_BROKERS",
    "127.0.0.1:9092",
    "Kafka bootstrap brokers; `npm start` and the tests start a local broker when none answers",
  ),
  kafkaClientId: text(
    "KAFKA_CLIENT_ID",
    "txlog",
    /^[A-Za-z0-9._-]{1,100}$/,
    "must be 1 to 100 of letters, digits, '.', '_' or '-'",
    "client id sent to Kafka",
  ),
  topic: text("KAFKA_TOPIC", "transactions", topicName, topicRule, "topic the API produces to and the worker consumes"),
  dlqTopic: text(
    "KAFKA_DLQ_TOPIC",
    "transactions.dlq",
    topicName,
    topicRule,
    "dead-letter topic for messages that can never be written",
  ),
  topicPartitions: integer("KAFKA_TOPIC_PARTITIONS", 3, 1, 1000, "partitions of the topic when txlog creates it"),
  // Both checked against existing topics at start too: a topic with less is
  // refused (src/kafka/admin.ts, ensureTopics).
  replicationFactor: integer(
    "KAFKA_REPLICATION_FACTOR",
    1,
    1,
    32767,
    "copies of each partition of both topics, each on its own broker, when txlog creates them (1 suits the single local broker; 3 on a cluster); at start an existing topic with fewer stops the process",
  ),
  minInsyncReplicas: integer(
    "KAFKA_MIN_INSYNC_REPLICAS",
    1,
    1,
    32767,
    "copies that must have a transaction before Kafka acknowledges it and the API answers 202 (topic config `min.insync.replicas`); at most `KAFKA_REPLICATION_FACTOR`; at start an existing topic with a lower value stops the process",
  ),
  // Also the size the API splits a batch POST and the worker its dead letters
  // by: a produce request whose records outgrow it is refused by the broker,
  // and retrying it could never pass.
  messageBytesMax: integer(
    "KAFKA_MESSAGE_BYTES_MAX",
    1024 * 1024,
    64 * 1024,
    64 * 1024 * 1024,
    "largest record batch Kafka takes on either topic (topic config `max.message.bytes`), bytes; the API splits a large POST /transactions and the worker its dead letters into produce requests within it; at start an existing topic with a lower value stops the process",
  ),
  groupId: text(
    "KAFKA_GROUP_ID",
    "txlog-worker",
    /^[A-Za-z0-9._-]{1,249}$/,
    topicRule,
    "consumer group of the workers",
  ),
  kafkaTimeoutMs: integer("KAFKA_TIMEOUT_MS", 5000, 100, 600000, "Kafka request timeout, milliseconds"),
  // Kafka security: every client (API, worker, reconcile, bench, tests) gets
  // these through kafkaConnection() in src/kafka/connection.ts.
  kafkaSaslMechanism: choice(
    "KAFKA_SASL_MECHANISM",
    "none",
    ["none", ...saslMechanisms],
    "SASL authentication to Kafka: `none`, `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`; with any but `none`, `KAFKA_SASL_USERNAME` and a password are required",
  ),
  kafkaSaslUsername: optionalText(
    "KAFKA_SASL_USERNAME",
    /^[ -~]{1,255}$/,
    "must be 1 to 255 printable ASCII characters",
    "SASL user name (on Confluent Cloud, the API key)",
  ),
  kafkaSaslPassword: secret("KAFKA_SASL_PASSWORD", "SASL password; never printed"),
  kafkaSaslPasswordFile: fileText(
    "KAFKA_SASL_PASSWORD_FILE",
    "file holding the SASL password instead (a mounted secret), read at start; one final newline is dropped",
    true,
  ),
  kafkaTls: flag(
    "KAFKA_TLS",
    false,
    "TLS to the brokers (SASL_SSL or SSL listeners), checked against the system's CAs",
  ),
  kafkaTlsCaFile: fileText("KAFKA_TLS_CA_FILE", "PEM file of the CAs to trust instead of the system's (a private CA)"),
  kafkaTlsCertFile: fileText("KAFKA_TLS_CERT_FILE", "PEM client certificate for mutual TLS; with `KAFKA_TLS_KEY_FILE`"),
  kafkaTlsKeyFile: fileText("KAFKA_TLS_KEY_FILE", "PEM private key of `KAFKA_TLS_CERT_FILE`; never printed", true),
  kafkaTlsServername: optionalText(
    "KAFKA_TLS_SERVERNAME",
    /^[A-Za-z0-9.-]{1,253}$/,
    "must be a DNS name",
    "name to send (SNI) and to check the brokers' certificates against instead of each broker's host",
  ),
  // 5 ms, as Kafka's own producer since 4.0 (KIP-1030) and librdkafka since
  // 1.5: long enough for one request to carry a whole round of closed-loop
  // clients instead of two alternating halves (README, performance).
  produceLingerMs: integer(
    "PRODUCE_LINGER_MS",
    5,
    0,
    1000,
    "API: longest a produce request waits for more transactions (it leaves sooner once as many wait as the last answer released), milliseconds",
  ),
  produceRequestMessagesMax: integer(
    "PRODUCE_REQUEST_MESSAGES_MAX",
    2000,
    1,
    100000,
    "API: transactions in one produce request at most",
  ),
  produceInFlightMax: integer("PRODUCE_IN_FLIGHT_MAX", 1, 1, 5, "API: produce requests outstanding at once at most"),
  produceQueuedMessagesMax: integer(
    "PRODUCE_QUEUED_MESSAGES_MAX",
    100000,
    1,
    10000000,
    "API: transactions waiting for a produce request at most; more are refused with 503",
  ),
  acceptTimeoutMs: integer(
    "ACCEPT_TIMEOUT_MS",
    5000,
    100,
    600000,
    "API: longest wait for Kafka's ack before answering 503, milliseconds",
  ),
  shutdownDrainMs: integer(
    "SHUTDOWN_DRAIN_MS",
    0,
    0,
    600000,
    "API: on SIGTERM, how long it keeps answering (new work with 503, /ready with 503) before it closes its listener, milliseconds",
  ),
  bodyBytesMax: integer(
    "BODY_BYTES_MAX",
    8 * 1024 * 1024,
    1024,
    256 * 1024 * 1024,
    "API: request body size at most, bytes",
  ),
  requestTransactionsMax: integer(
    "REQUEST_TRANSACTIONS_MAX",
    10000,
    1,
    100000,
    "API: transactions in one POST /transactions at most",
  ),
  apiDocs: onOff(
    "API_DOCS",
    true,
    "API: Swagger UI at /swagger and the OpenAPI document at /swagger/json (`off`: both answer 404); turn off in production, or keep them behind the network",
  ),
  // API keys (README, API keys): with none configured the API is open and
  // refuses to listen beyond loopback unless TXLOG_ALLOW_OPEN_API says so.
  apiKeys: apiKeyEntries(
    "TXLOG_API_KEYS",
    "API: keys as comma-separated `id:scopes:sha256hex` entries (`bun run keys new` prints one); none here or in `TXLOG_API_KEYS_FILE`: no key is asked for and the API listens on loopback only",
  ),
  apiKeysFile: text(
    "TXLOG_API_KEYS_FILE",
    "",
    /^[^\0\n]*$/,
    "must be a file path",
    "API: a file of key entries, one a line (`#` comments), read at start; adds to `TXLOG_API_KEYS`",
  ),
  allowOpenApi: flag(
    "TXLOG_ALLOW_OPEN_API",
    false,
    "API: `true` lets an API without keys listen on an address other than loopback (behind something else that authenticates, or a port published to loopback only)",
  ),
  apiKeyRequestsPerS: integer(
    "API_KEY_REQUESTS_PER_S",
    10000,
    1,
    1000000,
    "API: requests per second one key may make, sustained (token bucket; all clients share one bucket without keys); more answer 429",
  ),
  apiKeyBurstRequests: integer(
    "API_KEY_BURST_REQUESTS",
    20000,
    1,
    10000000,
    "API: requests one key may make at once above its rate (the bucket's size)",
  ),
  requestsInFlightMax: integer(
    "API_REQUESTS_IN_FLIGHT_MAX",
    1024,
    1,
    1000000,
    "API: requests being answered at once at most; past it the routes that need a key answer 503 (`/health`, `/ready` never do)",
  ),
  batchRowsMax: integer("WORKER_BATCH_ROWS_MAX", 5000, 1, 1000000, "worker: rows in one COPY batch at most"),
  batchBytesMax: integer(
    "WORKER_BATCH_BYTES_MAX",
    4 * 1024 * 1024,
    1024,
    1024 * 1024 * 1024,
    "worker: message bytes in one batch at most",
  ),
  batchLingerMs: integer(
    "WORKER_BATCH_LINGER_MS",
    100,
    0,
    60000,
    "worker: how long a batch waits to fill, milliseconds",
  ),
  writesInFlightMax: integer(
    "WORKER_WRITES_IN_FLIGHT_MAX",
    2,
    1,
    16,
    "worker: batches written to PostgreSQL at once at most (one connection each); offsets still commit in order",
  ),
  workerFetchBytesMin: integer(
    "WORKER_FETCH_BYTES_MIN",
    256 * 1024,
    1,
    64 * 1024 * 1024,
    "worker: bytes the broker gathers before it answers a fetch (or WORKER_FETCH_WAIT_MS_MAX passes)",
  ),
  workerFetchWaitMsMax: integer(
    "WORKER_FETCH_WAIT_MS_MAX",
    50,
    // Not 0: with nothing to read, every fetch would come back at once and
    // the worker would poll the broker in a tight loop.
    10,
    10000,
    "worker: longest the broker holds a fetch for WORKER_FETCH_BYTES_MIN, milliseconds (latency it may add)",
  ),
  workerRssBytesSoftMax: integer(
    "WORKER_RSS_BYTES_SOFT_MAX",
    224 * 1024 * 1024,
    32 * 1024 * 1024,
    64 * 1024 * 1024 * 1024,
    "worker: resident memory past which it runs a full garbage collection after a batch, bytes",
  ),
  retryBackoffMsMax: integer(
    "RETRY_BACKOFF_MS_MAX",
    10000,
    10,
    600000,
    "worker: longest wait between retries of a failed write, milliseconds",
  ),
  dashboardChartSeconds: integer(
    "DASHBOARD_CHART_SECONDS",
    300,
    10,
    3600,
    "API: seconds of ingest and commit rate the dashboard at / charts (the API keeps one counter per second)",
  ),
  ...logSettings,
  logEpisodeSummaryMs: integer(
    "LOG_EPISODE_SUMMARY_MS",
    60000,
    1000,
    3600000,
    "during an outage, how often the one running failure episode logs a summary (count so far), milliseconds; it logs one line when it starts and one when it ends",
  ),
  workerLagPollMs: integer(
    "WORKER_LAG_POLL_MS",
    5000,
    100,
    600000,
    "worker: how often it asks Kafka for the end offsets of its partitions, for the lag in /metrics and /ready, milliseconds",
  ),
  workerReadyLagMax: integer(
    "WORKER_READY_LAG_MAX",
    100000,
    0,
    Number.MAX_SAFE_INTEGER,
    "worker: /ready answers 503 while more messages than this wait uncommitted on its partitions",
  ),
  workerReadyWriteAgeMsMax: integer(
    "WORKER_READY_WRITE_AGE_MS_MAX",
    60000,
    1000,
    86400000,
    "worker: /ready answers 503 while messages wait and no batch was written for this long (an idle worker stays ready), milliseconds",
  ),
} as const;

/**
 * Names settings had before "batch" came to mean only the worker's COPY
 * batch; still read when the new name is unset, so existing deployments keep
 * working.
 */
export const formerVariables: Readonly<Record<string, string>> = {
  PRODUCE_REQUEST_MESSAGES_MAX: "PRODUCE_BATCH_MESSAGES_MAX",
  REQUEST_TRANSACTIONS_MAX: "BATCH_ENDPOINT_ROWS_MAX",
  WORKER_BATCH_ROWS_MAX: "BATCH_ROWS_MAX",
  WORKER_BATCH_BYTES_MAX: "BATCH_BYTES_MAX",
  WORKER_BATCH_LINGER_MS: "BATCH_LINGER_MS",
};

type Settings = typeof settings;
export type Config = { readonly [K in keyof Settings]: ReturnType<Settings[K]["parse"]> };

/**
 * Reads every setting from `env`, using the default where a variable is unset
 * or empty. Throws ConfigError on the first bad value.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const config: Record<string, unknown> = {};
  for (const [key, setting] of Object.entries(settings)) {
    const [variable, raw] = rawValue(env, setting.variable);
    try {
      config[key] = setting.parse(raw ?? setting.defaultValue);
    } catch (error) {
      // Name the variable the value came from, former name included.
      if (error instanceof ConfigError && variable !== setting.variable) {
        throw new ConfigError(variable, error.rule, error.value);
      }
      throw error;
    }
  }
  checkAcrossSettings(config as Config);
  return config as Config;
}

/** Rules that tie settings together; the error names the variables involved. */
function checkAcrossSettings(config: Config): void {
  if (config.minInsyncReplicas > config.replicationFactor) {
    throw new ConfigError(
      settings.minInsyncReplicas.variable,
      `must be at most ${settings.replicationFactor.variable} (${config.replicationFactor}): Kafka could never have that many copies in sync`,
      String(config.minInsyncReplicas),
    );
  }
  checkKafkaSecurity(config);
}

/**
 * Settings that work but leave accepted transactions less safe than they
 * look; each process prints these lines once at start.
 */
export function configWarnings(config: Config): string[] {
  const warnings: string[] = [];
  if (config.replicationFactor === 1) {
    warnings.push(
      `${settings.replicationFactor.variable}=1: each transaction is on one broker only, so acknowledged (202) transactions are lost if that broker's disk is lost; use 3 on a Kafka cluster`,
    );
  } else if (config.minInsyncReplicas === config.replicationFactor) {
    warnings.push(
      `${settings.minInsyncReplicas.variable}=${settings.replicationFactor.variable}=${config.replicationFactor}: with one broker down, no transaction can be accepted (503); ${config.replicationFactor - 1} keeps accepting`,
    );
  }
  warnings.push(...kafkaSecurityWarnings(config));
  return warnings;
}

/** The variable a setting is read from (its name, else its former name) and its value, if set and not empty. */
function rawValue(env: Record<string, string | undefined>, variable: string): [string, string | undefined] {
  const set = (name: string | undefined) => name !== undefined && env[name] !== undefined && env[name] !== "";
  const former = formerVariables[variable];
  if (set(variable)) {
    if (former !== undefined && set(former) && env[former] !== env[variable]) {
      throw new ConfigError(
        former,
        `is the former name of ${variable}, which is set to another value`,
        env[former] as string,
      );
    }
    return [variable, env[variable]];
  }
  if (former !== undefined && set(former)) return [former, env[former]];
  return [variable, undefined];
}

/** loadConfig for a process entry point: a bad value exits with the message. */
export function loadConfigOrExit(env: Record<string, string | undefined> = process.env): Config {
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      rootLogger().fatal({ variable: error.variable }, `txlog: bad configuration: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
}
