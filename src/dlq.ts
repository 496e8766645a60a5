// `bun run dlq`: the dead letters an operator can act on.
//   bun run dlq [--reason R] [--id ID]... [--limit N] [--json]
//     lists rejected transactions newest first (id, reason, message, time,
//     partition/offset), whether the dead-letter topic holds the original
//     message, whether the id is stored since, and its latest replay.
//   bun run dlq replay (--id ID... | --reason R) --by NAME [--dry-run] [--limit N] [--json]
//     re-submits the latest rejected message of each chosen id, once the
//     cause is fixed, under its original id (see src/dlq/replay.ts), and
//     records who replayed what in dlq_replays.
// The report goes to stdout (text, or JSON with --json); logs to stderr.
// Exit 0 when done, 1 when Kafka or PostgreSQL failed it, 2 for bad arguments.
import { parseArgs } from "node:util";
import { listDeadLetters } from "./dlq/list.ts";
import { type ReplayItem, replayDeadLetters } from "./dlq/replay.ts";
import { dlqText, replayText } from "./dlq/report.ts";
import { createProducer } from "./kafka/client.ts";
import { kafkaConnection } from "./kafka/connection.ts";
import { openDatabase } from "./postgres/connection.ts";
import type { DeadLetterFilter } from "./postgres/dlq-replays.ts";
import { migrate } from "./postgres/migrate.ts";
import { type Config, loadConfigOrExit } from "./runtime/config.ts";
import { errorText } from "./runtime/error-text.ts";
import { roleLogger } from "./runtime/logger.ts";
import { uuidPattern } from "./transaction/rules.ts";

/** Rejections listed or replayed in one run at most. */
export const dlqLimitMax = 10_000;
const dlqLimitDefault = 100;
const reasonPattern = /^[a-z_]{1,64}$/;
const operatorPattern = /^[A-Za-z0-9._@-]{1,64}$/;

export class UsageError extends Error {}

export interface DlqCommand {
  replay: boolean;
  filter: DeadLetterFilter;
  replayedBy: string | undefined;
  dryRun: boolean;
  json: boolean;
}

/** The command line as a command; UsageError names the argument and its rule. */
export function parseDlqArgs(args: string[]): DlqCommand {
  let parsed: ReturnType<typeof parseWith>;
  try {
    parsed = parseWith(args);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const [verb, ...rest] = positionals;
  if (rest.length > 0 || (verb !== undefined && verb !== "replay")) {
    throw new UsageError(`unknown command ${JSON.stringify(positionals.join(" "))}: the one command is "replay"`);
  }
  const ids = values.id ?? [];
  for (const id of ids)
    if (!uuidPattern.test(id))
      throw new UsageError(`--id: must be a transaction id (a UUID), got ${JSON.stringify(id)}`);
  if (values.reason !== undefined && !reasonPattern.test(values.reason)) {
    throw new UsageError(
      `--reason: must be 1 to 64 of a-z and _ (say database_refused), got ${JSON.stringify(values.reason)}`,
    );
  }
  const limit = values.limit === undefined ? dlqLimitDefault : Number(values.limit);
  if (!/^\d+$/.test(values.limit ?? "1") || !Number.isSafeInteger(limit) || limit < 1 || limit > dlqLimitMax) {
    throw new UsageError(`--limit: must be an integer from 1 to ${dlqLimitMax}, got ${JSON.stringify(values.limit)}`);
  }
  const replay = verb === "replay";
  if (replay && ids.length === 0 && values.reason === undefined) {
    throw new UsageError("replay: choose what to replay with --id (repeatable) or --reason");
  }
  if (replay && (values.by === undefined || !operatorPattern.test(values.by))) {
    throw new UsageError(
      `replay: --by: must name who replays, 1 to 64 of letters, digits, '.', '_', '@', '-' (got ${JSON.stringify(values.by ?? null)})`,
    );
  }
  if (!replay && (values.by !== undefined || values["dry-run"])) {
    throw new UsageError("--by and --dry-run belong to replay: bun run dlq replay … --by NAME");
  }
  return {
    replay,
    filter: { reason: values.reason, ids, limit },
    replayedBy: values.by,
    dryRun: values["dry-run"] ?? false,
    json: values.json ?? false,
  };
}

function parseWith(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      id: { type: "string", multiple: true },
      reason: { type: "string" },
      limit: { type: "string" },
      by: { type: "string" },
      "dry-run": { type: "boolean" },
      json: { type: "boolean" },
    },
  });
}

/** Runs the command; returns the report for stdout. */
export async function runDlq(config: Config, command: DlqCommand): Promise<{ text: string; items?: ReplayItem[] }> {
  const connection = kafkaConnection(config, "dlq");
  const sql = openDatabase(config.databaseUrl, { poolMax: 1 });
  const common = {
    sql,
    connection,
    topic: config.topic,
    dlqTopic: config.dlqTopic,
    readGroupId: `${config.groupId}-dlq-${process.pid}-${Date.now()}`,
    filter: command.filter,
  };
  try {
    // The audit table may be newer than the database: the API and workers migrate it too.
    await migrate(sql);
    if (!command.replay) {
      const list = await listDeadLetters(common);
      return { text: command.json ? JSON.stringify(list, null, 2) : dlqText(list, config) };
    }
    const producer = createProducer(connection);
    try {
      const items = await replayDeadLetters({
        ...common,
        producer,
        replayedBy: command.replayedBy as string,
        dryRun: command.dryRun,
      });
      return { text: command.json ? JSON.stringify({ replays: items }, null, 2) : replayText(items, command), items };
    } finally {
      await producer.close();
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}

if (import.meta.main) {
  let command: DlqCommand;
  try {
    command = parseDlqArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    // For the person who typed it: plain text, as the usage above says it.
    process.stderr.write(`dlq: ${error.message}\n`);
    process.exit(2);
  }
  const config = loadConfigOrExit();
  try {
    const { text } = await runDlq(config, command);
    console.log(text);
    process.exit(0);
  } catch (error) {
    roleLogger("dlq").error({ err: error }, `dlq failed: ${errorText(error)}`);
    process.exit(1);
  }
}
