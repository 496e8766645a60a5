// The API's reads from PostgreSQL. The API never writes transactions: that is
// the worker's job, after Kafka.
import type { Sql } from "../postgres/connection.ts";
import { type StoredTransaction, type TransactionRow, toStoredTransaction } from "../postgres/stored-row.ts";
import { type TransactionType, uuidPattern } from "../transaction/rules.ts";

export async function findTransaction(sql: Sql, id: string): Promise<StoredTransaction | undefined> {
  const rows = await sql<TransactionRow[]>`SELECT * FROM transactions WHERE transaction_id = ${id}`;
  return rows[0] ? toStoredTransaction(rows[0]) : undefined;
}

/** Position in the newest-first order: the last row of the previous page. */
export interface Cursor {
  acceptedAt: string;
  transactionId: string;
}

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(`${cursor.acceptedAt}|${cursor.transactionId}`).toString("base64url");
}

export function decodeCursor(text: string): Cursor | undefined {
  const [acceptedAt, transactionId, extra] = Buffer.from(text, "base64url").toString("utf8").split("|");
  if (extra !== undefined || !acceptedAt || !transactionId) return undefined;
  // Exactly as encodeCursor wrote it: Date.parse takes 2024-02-30 (rolling it
  // over to March), and a cursor no page could have made matches nothing.
  const time = Date.parse(acceptedAt);
  if (Number.isNaN(time) || new Date(time).toISOString() !== acceptedAt) return undefined;
  if (!uuidPattern.test(transactionId)) return undefined;
  return { acceptedAt, transactionId };
}

export interface ReportFilter {
  type?: TransactionType;
  /** Matches nameOrig or nameDest. */
  account?: string;
  isFraud?: boolean;
  stepMin?: number;
  stepMax?: number;
}

export interface ReportPage {
  transactions: StoredTransaction[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

/** Newest first (accepted_at, then id), keyset-paginated so deep pages cost the same as the first. */
export async function listTransactions(
  sql: Sql,
  filter: ReportFilter,
  limit: number,
  after: Cursor | undefined,
): Promise<ReportPage> {
  const conditions = [];
  if (filter.type !== undefined) conditions.push(sql`type = ${filter.type}`);
  if (filter.account !== undefined) {
    conditions.push(sql`(name_orig = ${filter.account} OR name_dest = ${filter.account})`);
  }
  if (filter.isFraud !== undefined) conditions.push(sql`is_fraud = ${filter.isFraud}`);
  if (filter.stepMin !== undefined) conditions.push(sql`step >= ${filter.stepMin}`);
  if (filter.stepMax !== undefined) conditions.push(sql`step <= ${filter.stepMax}`);
  if (after !== undefined) {
    conditions.push(
      sql`(accepted_at, transaction_id) < (${after.acceptedAt}::timestamptz, ${after.transactionId}::uuid)`,
    );
  }
  const where = conditions.reduce((all, condition) => sql`${all} AND ${condition}`, sql`TRUE`);
  // One row more than asked tells whether another page exists.
  const rows = await sql<TransactionRow[]>`
    SELECT * FROM transactions WHERE ${where}
    ORDER BY accepted_at DESC, transaction_id DESC
    LIMIT ${limit + 1}`;
  const page = rows.slice(0, limit).map(toStoredTransaction);
  const last = page.at(-1);
  return {
    transactions: page,
    nextCursor:
      rows.length > limit && last
        ? encodeCursor({ acceptedAt: last.acceptedAt, transactionId: last.transactionId })
        : null,
  };
}

export interface TypeSummary {
  type: TransactionType;
  count: number;
  totalAmount: string;
  fraudCount: number;
  flaggedFraudCount: number;
}

export interface Summary {
  count: number;
  totalAmount: string;
  fraudCount: number;
  flaggedFraudCount: number;
  byType: TypeSummary[];
}

/**
 * From transaction_summary, which the worker's batch transactions keep exact
 * (sql/005_transaction_summary.sql): five rows, whatever the log's size.
 */
export async function summarize(sql: Sql): Promise<Summary> {
  // Sums stay NUMERIC in PostgreSQL and travel as text: exact at any size.
  // ROLLUP adds the all-types row (type NULL) in the same read.
  const rows = await sql<
    { type: TransactionType | null; count: string; total: string; fraud: string; flagged: string }[]
  >`
    SELECT type,
           sum(count) AS count,
           sum(total_amount)::text AS total,
           sum(fraud_count) AS fraud,
           sum(flagged_fraud_count) AS flagged
    FROM transaction_summary WHERE count > 0 GROUP BY ROLLUP (type) ORDER BY type NULLS LAST`;
  const all = rows.find((row) => row.type === null);
  const byType = rows
    .filter((row): row is typeof row & { type: TransactionType } => row.type !== null)
    .map((row) => ({
      type: row.type,
      count: Number(row.count),
      totalAmount: row.total,
      fraudCount: Number(row.fraud),
      flaggedFraudCount: Number(row.flagged),
    }));
  return {
    count: Number(all?.count ?? 0),
    totalAmount: all?.total ?? "0",
    fraudCount: Number(all?.fraud ?? 0),
    flaggedFraudCount: Number(all?.flagged ?? 0),
    byType,
  };
}
