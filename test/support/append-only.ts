// The log is append-only (sql/004_append_only.sql). Tests that need an empty
// table or a gap lift the guard as only the owner can, inside one
// transaction that puts it back: ALTER TABLE … DISABLE TRIGGER, the way
// README's Database roles section says an owner or superuser gets around it.
import type postgres from "postgres";
import type { Sql } from "../../src/postgres/connection.ts";

/** Runs `change` on transactions with the append-only guard off, and turns it back on in the same transaction. */
export async function withGuardLifted(sql: Sql, change: (tx: postgres.TransactionSql) => Promise<unknown>) {
  await sql.begin(async (tx) => {
    await tx`ALTER TABLE transactions DISABLE TRIGGER txlog_append_only, DISABLE TRIGGER txlog_append_only_truncate`;
    await change(tx);
    await tx`ALTER TABLE transactions ENABLE ALWAYS TRIGGER txlog_append_only, ENABLE ALWAYS TRIGGER txlog_append_only_truncate`;
  });
}

/** Empties transactions and zeroes its summary (TRUNCATE fires no row trigger to do it). */
export function emptyTransactions(sql: Sql): Promise<void> {
  return withGuardLifted(sql, async (tx) => {
    await tx`TRUNCATE transactions`;
    await tx`UPDATE transaction_summary SET count = 0, total_amount = 0, fraud_count = 0, flagged_fraud_count = 0`;
  });
}
