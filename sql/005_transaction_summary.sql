-- GET /reports/summary reads this small table instead of scanning the log.
-- Statement-level triggers keep it in the writing transaction: the
-- transition table holds only the rows a statement really inserted (a
-- redelivered row skipped by ON CONFLICT DO NOTHING is not in it), so the
-- figures are exact and commit or roll back with the batch. One row per type,
-- created here, so a batch only ever updates rows, always in type order: two
-- workers committing at once wait for each other, never deadlock.
CREATE TABLE transaction_summary (
  type                text          PRIMARY KEY CHECK (type IN ('CASH_IN', 'CASH_OUT', 'DEBIT', 'PAYMENT', 'TRANSFER')),
  count               bigint        NOT NULL CHECK (count >= 0),
  total_amount        numeric       NOT NULL CHECK (total_amount >= 0),
  fraud_count         bigint        NOT NULL CHECK (fraud_count >= 0),
  flagged_fraud_count bigint        NOT NULL CHECK (flagged_fraud_count >= 0)
);

-- Backfill from the rows already stored (the log is locked against writers meanwhile).
LOCK TABLE transactions IN SHARE MODE;
INSERT INTO transaction_summary (type, count, total_amount, fraud_count, flagged_fraud_count)
SELECT t.type,
       count(x.type),
       coalesce(sum(x.amount), 0),
       count(*) FILTER (WHERE x.is_fraud),
       count(*) FILTER (WHERE x.is_flagged_fraud)
FROM unnest(ARRAY['CASH_IN', 'CASH_OUT', 'DEBIT', 'PAYMENT', 'TRANSFER']) AS t(type)
LEFT JOIN transactions x ON x.type = t.type
GROUP BY t.type;

-- SECURITY DEFINER: the worker's role may INSERT into transactions but has no
-- right to change the summary itself.
CREATE FUNCTION txlog_summary_add() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  d record;
BEGIN
  -- Row by row in type order: the lock order every writer shares.
  FOR d IN
    SELECT type, count(*) AS count, sum(amount) AS total,
           count(*) FILTER (WHERE is_fraud) AS fraud,
           count(*) FILTER (WHERE is_flagged_fraud) AS flagged
      FROM inserted GROUP BY type ORDER BY type
  LOOP
    UPDATE transaction_summary
       SET count = count + d.count,
           total_amount = total_amount + d.total,
           fraud_count = fraud_count + d.fraud,
           flagged_fraud_count = flagged_fraud_count + d.flagged
     WHERE type = d.type;
  END LOOP;
  RETURN NULL;
END $$;

-- Retention's DELETE takes its rows out of the figures in the same transaction.
CREATE FUNCTION txlog_summary_remove() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  d record;
BEGIN
  -- Row by row in type order: the lock order every writer shares.
  FOR d IN
    SELECT type, count(*) AS count, sum(amount) AS total,
           count(*) FILTER (WHERE is_fraud) AS fraud,
           count(*) FILTER (WHERE is_flagged_fraud) AS flagged
      FROM removed GROUP BY type ORDER BY type
  LOOP
    UPDATE transaction_summary
       SET count = count - d.count,
           total_amount = total_amount - d.total,
           fraud_count = fraud_count - d.fraud,
           flagged_fraud_count = flagged_fraud_count - d.flagged
     WHERE type = d.type;
  END LOOP;
  RETURN NULL;
END $$;

CREATE TRIGGER txlog_summary_add AFTER INSERT ON transactions
  REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION txlog_summary_add();
CREATE TRIGGER txlog_summary_remove AFTER DELETE ON transactions
  REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION txlog_summary_remove();
ALTER TABLE transactions ENABLE ALWAYS TRIGGER txlog_summary_add;
ALTER TABLE transactions ENABLE ALWAYS TRIGGER txlog_summary_remove;
