// `bun run api`: the HTTP edge. Validates, hands transactions to Kafka and
// answers 202 after the broker's ack; serves reports read from PostgreSQL.

import { createApp, createDashboard } from "./api/app.ts";
import { keyringLine, loadKeyring } from "./api/keyring.ts";
import { ApiMetrics } from "./api/metrics.ts";
import { ProduceBatcher } from "./api/produce-batcher.ts";
import { healthCheckTimeoutMs } from "./api/routes/health.ts";
import { createProducer, produce, produceRecordBytesMax, producerAnswers } from "./kafka/client.ts";
import { kafkaConnection } from "./kafka/connection.ts";
import { ensureTopics, txlogTopics } from "./kafka/topics.ts";
import { openDatabase } from "./postgres/connection.ts";
import { openProcessDatabase, processDatabaseUrl } from "./postgres/process-database.ts";
import type { Config } from "./runtime/config.ts";
import { type Running, runProcess } from "./runtime/lifecycle.ts";
import { logProduceSummary } from "./runtime/log-lines.ts";
import { roleLogger } from "./runtime/logger.ts";

export interface RunningApi extends Running {
  url: string;
  port: number;
  batcher: ProduceBatcher;
  /** Whether API keys are asked for, and which: printed at start. */
  keysLine: string;
}

/**
 * Bun's own request body limit: past any body. Bun answers a body over it
 * with an empty 413 before any handler runs; txlog refuses bodies over
 * BODY_BYTES_MAX itself, with its error body (src/api/json-body.ts), and Bun
 * holds nothing of a body no handler reads.
 */
const serverBodyBytesMax = Number.MAX_SAFE_INTEGER;

/** How often a stopping API looks whether its requests in flight are answered, milliseconds. */
const requestsPollMs = 5;
/** Time past ACCEPT_TIMEOUT_MS that requests in flight get to be answered on stop, milliseconds. */
const requestsFinishMsExtra = 1000;

/** Until the server has no request in flight (each answered and written), or `timeoutMs` passed. */
async function waitForRequests(server: { pendingRequests: number } | null, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (server !== null && server.pendingRequests > 0 && Date.now() < deadline) await Bun.sleep(requestsPollMs);
}

export async function startApi(config: Config): Promise<RunningApi> {
  const keyring = await loadKeyring(config);
  const connection = kafkaConnection(config, "api");
  // Every statement of the API is a read, so each is bounded by READ_STATEMENT_TIMEOUT_MS.
  const statementTimeoutMs = config.readStatementTimeoutMs;
  const warn = (line: string) => roleLogger("api").warn(`API: warning: ${line}`);
  // Lookups on the write path (Idempotency-Key, a transaction's status) and /ready.
  const sql = await openProcessDatabase(config, "api", { poolMax: config.databasePoolMax, statementTimeoutMs }, warn);
  // Reports wait for one of these few instead of taking the lookups' connections.
  const reads = openDatabase(processDatabaseUrl(config, "api"), {
    poolMax: config.databaseReadPoolMax,
    statementTimeoutMs,
  });
  await ensureTopics(connection, txlogTopics(config));
  const producer = createProducer(connection);
  const metrics = new ApiMetrics();
  const batcher = new ProduceBatcher({
    send: (messages) => produce(producer, messages),
    lingerMs: config.produceLingerMs,
    batchMessagesMax: config.produceRequestMessagesMax,
    requestBytesMax: produceRecordBytesMax(config.messageBytesMax),
    inFlightMax: config.produceInFlightMax,
    queuedMessagesMax: config.produceQueuedMessagesMax,
    acceptTimeoutMs: config.acceptTimeoutMs,
    onAnswer: (messages, answerMs, acknowledged) => metrics.produceAnswered(messages, answerMs, acknowledged),
  });
  metrics.watchProduceQueue(() => batcher.queuedMessages);
  const shutdown = { requested: false };
  const dashboard = createDashboard(config, sql);
  let listening: { pendingRequests: number } | undefined;
  const app = createApp({
    dashboard,
    config,
    sql,
    reads,
    batcher,
    shutdown,
    metrics,
    // The producer's own connection: a probe opens nothing new.
    kafkaAnswers: () => producerAnswers(producer, healthCheckTimeoutMs),
    keyring,
    // Bun's own count: every request received and not yet answered, bodies
    // still arriving included, with nothing to keep in step by hand.
    requestsInFlight: () => listening?.pendingRequests ?? 0,
  }).listen({ hostname: config.host, port: config.port, maxRequestBodySize: serverBodyBytesMax });
  const server = app.server;
  listening = server ?? undefined;
  const port = server?.port ?? config.port;
  const stopped = Promise.withResolvers<void>();
  async function stop(): Promise<void> {
    if (shutdown.requested) return stopped.promise;
    // New work is refused from now (503, and /ready says so), while the
    // listener stays open for SHUTDOWN_DRAIN_MS so a load balancer can
    // notice; then no new connections, and every request in flight is
    // answered (202 or 503) before anything closes.
    shutdown.requested = true;
    await Bun.sleep(config.shutdownDrainMs);
    const closing = app.stop(false);
    await batcher.close();
    await waitForRequests(server, config.acceptTimeoutMs + requestsFinishMsExtra);
    await closing;
    const answerMsMean = batcher.requestsAnswered === 0 ? 0 : batcher.answerMsTotal / batcher.requestsAnswered;
    logProduceSummary(roleLogger("api"), {
      requests: batcher.requestsSent,
      messages: batcher.messagesSent,
      answerMsMean,
    });
    await producer.close();
    await dashboard.close();
    await Promise.all([sql.end(), reads.end()]);
    stopped.resolve();
  }
  return {
    url: `http://${config.host === "0.0.0.0" ? "127.0.0.1" : config.host}:${port}`,
    port,
    batcher,
    keysLine: keyringLine(keyring, config),
    done: stopped.promise,
    stop,
  };
}

if (import.meta.main) {
  await runProcess({
    name: "API",
    role: "api",
    start: startApi,
    logStarted: (log, api, config) => {
      log.info(
        { url: api.url },
        `txlog API listening on ${api.url}${config.apiDocs ? ` (Swagger UI: ${api.url}/swagger)` : ""}`,
      );
      log.info(api.keysLine);
    },
  });
}
