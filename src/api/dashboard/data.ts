// What the dashboard shows, gathered in one read: rates, consumer lag, the
// summary, the latest transactions and rejections. Each section is read on
// its own and reports its own error, so PostgreSQL or Kafka being down
// blanks its sections only. One read serves every viewer for
// dashboardCacheMs, so many open pages cost what one does.
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
/** Longest wait for each PostgreSQL read of the dashboard, milliseconds. */
export const dashboardQueryTimeoutMs = 2000;
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
  summary: Section<Summary>;
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

async function section<T extends object>(what: string, read: () => Promise<T>): Promise<Section<T>> {
  try {
    return { ok: true, ...(await withTimeout(read(), dashboardQueryTimeoutMs, what)) };
  } catch (error) {
    return { ok: false, error: errorText(error) };
  }
}

export class Dashboard {
  readonly ingest: IngestRate;
  readonly #commits: CommitRate;
  readonly #lag: LagReader;
  #cached: { atMs: number; data: Promise<DashboardData> } | undefined;

  constructor(readonly options: DashboardOptions) {
    this.ingest = new IngestRate(options.chartSeconds);
    this.#commits = new CommitRate(options.chartSeconds);
    this.#lag = new LagReader(options.connection, options.topic, options.groupId);
  }

  /** The data, read at most once per dashboardCacheMs whatever the number of viewers. */
  read(nowMs = Date.now()): Promise<DashboardData> {
    if (this.#cached === undefined || nowMs - this.#cached.atMs >= dashboardCacheMs) {
      this.#cached = { atMs: nowMs, data: this.#gather() };
    }
    return this.#cached.data;
  }

  close(): Promise<void> {
    return this.#lag.close();
  }

  async #gather(): Promise<DashboardData> {
    const { sql } = this.options;
    const [lag, summary, latest, rejections] = await Promise.all([
      this.#readLag(),
      section("summary", () => summarize(sql)),
      section("latest transactions", async () => ({
        transactions: (await listTransactions(sql, {}, latestTransactionsMax, undefined)).transactions,
      })),
      section("rejections", async () => ({
        rejections: (await listRejections(sql, undefined, recentRejectionsMax, undefined)).rejections,
      })),
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
