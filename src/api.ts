// `bun run api`: the HTTP edge. Validates, hands transactions to Kafka and
// answers 202 after the broker's ack; serves reports read from PostgreSQL.

import { createApp } from "./api/app.ts";
import { ProduceBatcher } from "./api/produce-batcher.ts";
import { healthCheckTimeoutMs } from "./api/routes/health.ts";
import {
  createProducer,
  ensureTopics,
  type KafkaConnection,
  kafkaAnswers,
  produce,
  txlogTopics,
} from "./kafka/client.ts";
import { ensureDatabase, openDatabase } from "./postgres/connection.ts";
import { migrate } from "./postgres/migrate.ts";
import { type Config, exitOnStartFailure, loadConfigOrExit } from "./runtime/config.ts";

export interface RunningApi {
  url: string;
  port: number;
  batcher: ProduceBatcher;
  stop(): Promise<void>;
}

/** One line on how the API's produce requests went, printed when it stops (the benchmark reads it). */
export function produceSummary(batcher: ProduceBatcher): string {
  const perRequest = batcher.requestsSent === 0 ? 0 : batcher.messagesSent / batcher.requestsSent;
  const answerMs = batcher.requestsAnswered === 0 ? 0 : batcher.answerMsTotal / batcher.requestsAnswered;
  return `Produce requests: ${batcher.requestsSent} carrying ${batcher.messagesSent} messages (${perRequest.toFixed(1)} per request), answered in ${answerMs.toFixed(2)} ms on average`;
}

export async function startApi(config: Config): Promise<RunningApi> {
  const connection: KafkaConnection = {
    brokers: config.kafkaBrokers,
    clientId: `${config.kafkaClientId}-api`,
    timeoutMs: config.kafkaTimeoutMs,
  };
  await ensureDatabase(config.databaseUrl);
  const sql = openDatabase(config.databaseUrl, { poolMax: config.databasePoolMax });
  await migrate(sql);
  await ensureTopics(connection, txlogTopics(config));
  const producer = createProducer(connection);
  const batcher = new ProduceBatcher({
    send: (messages) => produce(producer, messages),
    lingerMs: config.produceLingerMs,
    batchMessagesMax: config.produceBatchMessagesMax,
    inFlightMax: config.produceInFlightMax,
    queuedMessagesMax: config.produceQueuedMessagesMax,
    acceptTimeoutMs: config.acceptTimeoutMs,
  });
  const app = createApp({
    config,
    sql,
    batcher,
    kafkaAnswers: () => kafkaAnswers({ ...connection, timeoutMs: healthCheckTimeoutMs }),
  }).listen({ hostname: config.host, port: config.port, maxRequestBodySize: config.bodyBytesMax });
  const port = app.server?.port ?? config.port;
  return {
    url: `http://${config.host === "0.0.0.0" ? "127.0.0.1" : config.host}:${port}`,
    port,
    batcher,
    async stop() {
      // Stop taking requests, then let every accepted one reach Kafka.
      await app.stop();
      await batcher.close();
      console.log(produceSummary(batcher));
      await producer.close();
      await sql.end();
    },
  };
}

if (import.meta.main) {
  const config = loadConfigOrExit();
  const api = await startApi(config).catch((error: unknown) => exitOnStartFailure("API", config, error));
  console.log(`txlog API listening on ${api.url} (Swagger UI: ${api.url}/swagger)`);
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    await api.stop();
    process.exit(0);
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
}
