// `bun run reconcile [--json]`: proves that every transaction in the Kafka
// log (from its earliest retained offset up to the end offsets taken at
// start) is stored or rejected in PostgreSQL. Per partition it prints
// messages, stored, rejected, duplicates absorbed, foreign messages and gaps,
// with partition/offset/id of the first gaps. Exit 0 only with no gap.
import { parseArgs } from "node:util";
import { kafkaConnection } from "./kafka/connection.ts";
import { readLog } from "./kafka/log-reader.ts";
import { databaseName, openDatabase } from "./postgres/connection.ts";
import { type LoggedMessage, type Reconciliation, reconcileLog } from "./postgres/reconcile.ts";
import { type Config, loadConfigOrExit } from "./runtime/config.ts";
import { errorText } from "./runtime/error-text.ts";
import { roleLogger } from "./runtime/logger.ts";
import { messageTransactionId } from "./transaction/message.ts";

/** Gaps listed by partition/offset/id at most. */
const firstGapsMax = 10;
/** Longest wait for the next message before the read gives up, milliseconds. */
const readIdleMsMax = 30_000;

export interface ReconcileResult extends Reconciliation {
  topic: string;
  database: string;
  /** End offsets the log was read up to, by partition. */
  endOffsets: Record<string, string>;
  seconds: { read: number; judge: number };
}

export async function reconcile(config: Config): Promise<ReconcileResult> {
  const connection = kafkaConnection(config, "reconcile");
  // The database first: a wrong one fails now, not after reading the whole log.
  const sql = openDatabase(config.databaseUrl, { poolMax: 1 });
  try {
    await sql`SELECT 1 FROM transactions, rejections LIMIT 0`;
    const messages: LoggedMessage[] = [];
    const readStartedMs = performance.now();
    const ends = await readLog({
      connection,
      topic: config.topic,
      groupId: `${config.groupId}-reconcile-${process.pid}-${Date.now()}`,
      idleMsMax: readIdleMsMax,
      onMessage: (message) =>
        messages.push({
          partition: message.partition,
          offset: message.offset,
          transactionId: messageTransactionId(message.value),
        }),
    });
    const judgeStartedMs = performance.now();
    const result = await reconcileLog(sql, messages, firstGapsMax);
    return {
      ...result,
      topic: config.topic,
      database: databaseName(config.databaseUrl),
      endOffsets: Object.fromEntries([...ends].map(([partition, offset]) => [String(partition), offset.toString()])),
      seconds: {
        read: (judgeStartedMs - readStartedMs) / 1000,
        judge: (performance.now() - judgeStartedMs) / 1000,
      },
    };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** The report as text: one line per partition, then the first gaps. */
export function reconcileText(result: ReconcileResult): string {
  const lines = [
    `reconcile ${result.topic} against database ${result.database} (read ${result.seconds.read.toFixed(1)} s, judged ${result.seconds.judge.toFixed(1)} s)`,
    ...result.partitions.map(
      (p) =>
        `partition ${p.partition}: ${p.messages} messages, ${p.stored} stored, ${p.rejected} rejected, ${p.duplicates} duplicates absorbed, ${p.foreign} foreign, ${p.gaps} gaps`,
    ),
    ...result.firstGaps.map((g) => `gap: partition ${g.partition} offset ${g.offset} id ${g.transactionId}`),
    result.ok ? "ok: every transaction in the log is stored or rejected" : "NOT reconciled: the gaps above are missing",
  ];
  return lines.join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { json: { type: "boolean", default: false } }, strict: true });
  const config = loadConfigOrExit();
  try {
    const result = await reconcile(config);
    console.log(values.json ? JSON.stringify(result, null, 2) : reconcileText(result));
    process.exit(result.ok ? 0 : 1);
  } catch (error) {
    roleLogger("reconcile").error({ err: error }, `reconcile failed: ${errorText(error)}`);
    process.exit(2);
  }
}
