// What the dashboard shows, gathered in one read: rates, consumer lag, the
// summary, the latest transactions and rejections. Each section is read on
// its own and reports its own error, so PostgreSQL or Kafka being down
// blanks its sections only. One read serves every viewer for
// dashboardCacheMs, so many open pages cost what one does. Each query runs
// under a statement_timeout, so a slow one is cancelled in PostgreSQL
// instead of piling up behind the next poll. The summary scans the whole
// table: it is refreshed in the background at most every summaryRefreshMs
// and the last one read is served meanwhile.
import type { KafkaConnection } from "../../kafka/client.ts";
import type { Sql } from "../../postgres/connection.ts";
import { listRejections, type StoredRejection } from "../../postgres/rejections.ts";
import type { StoredTransaction } from "../../postgres/stored-row.ts";
import { errorText } from "../../runtime/error-text.ts";
import { withTimeout } from "../../runtime/timeout.ts";
import { listTransactions, type Summary, summarize } from "../reads.ts";
import { LagReader, type PartitionLag } from "./lag.ts";
import { CommitRate, chartSeconds, IngestRate } from "./rates.ts";

/** How long one read of the dashboard's data serves every viewer, milliseconds. */
export const dashboardCacheMs = 1000;
/** How often the page asks for new data, milliseconds (sent to the page). */
export const dashboardPollMs = 2000;
/** Longest each PostgreSQL read of the dashboard may run (statement_timeout), milliseconds. */
export const dashboardQueryTimeoutMs = 2000;
/** Longest the summary's scan may run (statement_timeout), milliseconds. */
export const summaryTimeoutMs = 10000;
/** The summary is read again at most this often, milliseconds. */
export const summaryRefreshMs = 5000;
/** Time past a statement_timeout allowed for connecting and answering, milliseconds. */
const connectMsExtra = 1000;
/** Latest transactions shown. */
export const latestTransactionsMax = 20;
/** Latest rejections shown. */
export const recentRejectionsMax = 20;

/** A section: its value, or why it could not be read. */
export type Section<T> = ({ ok: true } & T) | { ok: false; error: string };

export interface DashboardData {
  generatedAt: string;
  pollMs: number;
  /** Per second from firstSecond (epoch seconds) on, oldest first, up to the last complete second. */
  rates: { firstSecond: number; ingest: number[]; commit: (number | null)[] };
  lag: Section<{ topic: string; groupId: string; partitions: PartitionLag[]; total: number }>;
  /** asOf: when the summary shown was read. */
  summary: Section<Summary & { asOf: string }>;
  latest: Section<{ transactions: StoredTransaction[] }>;
  rejections: Section<{ rejections: StoredRejection[] }>;
}

export interface DashboardOptions {
  sql: Sql;
  connection: KafkaConnection;
  topic: string;
  groupId: string;
  chartSeconds: number;
}

async function section<T extends object>(what: string, read: () => Promise<T>, timeoutMs: number): Promise<Section<T>> {
  try {
    return { ok: true, ...(await withTimeout(read(), timeoutMs + connectMsExtra, what)) };
  } catch (error) {
    return { ok: false, error: errorText(error) };
  }
}

/** `read` in a read-only transaction that PostgreSQL cancels after `timeoutMs`. */
export function bounded<T>(sql: Sql, timeoutMs: number, read: (tx: Sql) => Promise<T>): Promise<T> {
  return sql.begin("read only", async (tx) => {
    await tx`SELECT set_config('statement_timeout', ${String(timeoutMs)}, true)`;
    return read(tx as unknown as Sql);
  }) as Promise<T>;
}

/** The last value of a slow read, read again in the background at most every `intervalMs`, never twice at once. */
class Refreshed<T> {
  #last: T | undefined;
  #running: Promise<T> | undefined;
  #startedMs = Number.NEGATIVE_INFINITY;

  constructor(
    readonly intervalMs: number,
    readonly read: () => Promise<T>,
  ) {}

  /** The last value; the first call waits for the first read. */
  get(nowMs: number): Promise<T> {
    if (this.#running === undefined && nowMs - this.#startedMs >= this.intervalMs) {
      this.#startedMs = nowMs;
      const running = this.read().then((value) => {
        this.#last = value;
        return value;
      });
      this.#running = running;
      void running.finally(() => {
        if (this.#running === running) this.#running = undefined;
      });
    }
    return this.#last !== undefined ? Promise.resolve(this.#last) : (this.#running as Promise<T>);
  }
}

export class Dashboard {
  readonly ingest: IngestRate;
  readonly #commits: CommitRate;
  readonly #lag: LagReader;
  readonly #summary: Refreshed<DashboardData["summary"]>;
  #cached: { atMs: number; data: Promise<DashboardData> } | undefined;

  constructor(readonly options: DashboardOptions) {
    this.ingest = new IngestRate(options.chartSeconds);
    this.#commits = new CommitRate(options.chartSeconds);
    this.#lag = new LagReader(options.connection, options.topic, options.groupId);
    this.#summary = new Refreshed(summaryRefreshMs, () => {
      const asOf = new Date().toISOString();
      return section(
        "summary",
        async () => ({ ...(await bounded(options.sql, summaryTimeoutMs, summarize)), asOf }),
        summaryTimeoutMs,
      );
    });
  }

  /** The data, read at most once per dashboardCacheMs whatever the number of viewers. */
  read(nowMs = Date.now()): Promise<DashboardData> {
    if (this.#cached === undefined || nowMs - this.#cached.atMs >= dashboardCacheMs) {
      this.#cached = { atMs: nowMs, data: this.#gather(nowMs) };
    }
    return this.#cached.data;
  }

  close(): Promise<void> {
    return this.#lag.close();
  }

  async #gather(nowMs: number): Promise<DashboardData> {
    const { sql } = this.options;
    const timeoutMs = dashboardQueryTimeoutMs;
    const [lag, summary, latest, rejections] = await Promise.all([
      this.#readLag(),
      this.#summary.get(nowMs),
      section(
        "latest transactions",
        async () => ({
          transactions: (
            await bounded(sql, timeoutMs, (tx) => listTransactions(tx, {}, latestTransactionsMax, undefined))
          ).transactions,
        }),
        timeoutMs,
      ),
      section(
        "rejections",
        async () => ({
          rejections: (
            await bounded(sql, timeoutMs, (tx) => listRejections(tx, undefined, recentRejectionsMax, undefined))
          ).rejections,
        }),
        timeoutMs,
      ),
    ]);
    const seconds = chartSeconds(this.options.chartSeconds);
    return {
      generatedAt: new Date().toISOString(),
      pollMs: dashboardPollMs,
      rates: {
        firstSecond: seconds[0] as number,
        ingest: this.ingest.series(seconds),
        commit: this.#commits.series(seconds),
      },
      lag,
      summary,
      latest,
      rejections,
    };
  }

  async #readLag(): Promise<DashboardData["lag"]> {
    const { topic, groupId } = this.options;
    try {
      const reading = await this.#lag.read();
      this.#commits.add({ atMs: Date.now(), offsets: reading.committed });
      const total = reading.partitions.reduce((sum, p) => sum + p.lag, 0);
      return { ok: true, topic, groupId, partitions: reading.partitions, total };
    } catch (error) {
      return { ok: false, error: errorText(error) };
    }
  }
}
