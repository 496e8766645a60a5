-- The log is append-only, enforced here for every role, the owner and
-- superusers included: UPDATE, DELETE and TRUNCATE on transactions and
-- rejections raise. The one way to remove rows is txlog_retention_delete(),
-- which writes an audit row first; the guard lets a DELETE through only in a
-- transaction that holds such a row, so no deletion goes unaudited.
-- ENABLE ALWAYS: the guard fires even with session_replication_role = replica.

CREATE TABLE retention_audit (
  audit_id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- The transaction that deleted: the guard looks for its own.
  xact_id              xid8        NOT NULL DEFAULT pg_current_xact_id(),
  -- Who asked (the caller, not the function's owner) and when.
  requested_by         text        NOT NULL DEFAULT session_user,
  requested_at         timestamptz NOT NULL DEFAULT now(),
  -- Rows accepted (transactions) or rejected (rejections) before this were removed.
  deleted_before       timestamptz NOT NULL,
  transactions_deleted bigint      NOT NULL,
  rejections_deleted   bigint      NOT NULL,
  reason               text        NOT NULL CHECK (length(reason) BETWEEN 1 AND 500)
);

CREATE FUNCTION txlog_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND TG_TABLE_NAME <> 'retention_audit' AND EXISTS (
    SELECT 1 FROM retention_audit WHERE xact_id = pg_current_xact_id()
  ) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'txlog: % on % refused: the log is append-only', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'rows leave only through txlog_retention_delete(before, reason), which is audited in retention_audit';
END $$;

CREATE TRIGGER txlog_append_only BEFORE UPDATE OR DELETE ON transactions
  FOR EACH ROW EXECUTE FUNCTION txlog_refuse_change();
CREATE TRIGGER txlog_append_only_truncate BEFORE TRUNCATE ON transactions
  FOR EACH STATEMENT EXECUTE FUNCTION txlog_refuse_change();
CREATE TRIGGER txlog_append_only BEFORE UPDATE OR DELETE ON rejections
  FOR EACH ROW EXECUTE FUNCTION txlog_refuse_change();
CREATE TRIGGER txlog_append_only_truncate BEFORE TRUNCATE ON rejections
  FOR EACH STATEMENT EXECUTE FUNCTION txlog_refuse_change();
CREATE TRIGGER txlog_append_only BEFORE UPDATE OR DELETE ON retention_audit
  FOR EACH ROW EXECUTE FUNCTION txlog_refuse_change();
CREATE TRIGGER txlog_append_only_truncate BEFORE TRUNCATE ON retention_audit
  FOR EACH STATEMENT EXECUTE FUNCTION txlog_refuse_change();

ALTER TABLE transactions ENABLE ALWAYS TRIGGER txlog_append_only;
ALTER TABLE transactions ENABLE ALWAYS TRIGGER txlog_append_only_truncate;
ALTER TABLE rejections ENABLE ALWAYS TRIGGER txlog_append_only;
ALTER TABLE rejections ENABLE ALWAYS TRIGGER txlog_append_only_truncate;
ALTER TABLE retention_audit ENABLE ALWAYS TRIGGER txlog_append_only;
ALTER TABLE retention_audit ENABLE ALWAYS TRIGGER txlog_append_only_truncate;

-- Retention: removes transactions accepted and rejections recorded before
-- `before`, records who, when, the range, the counts and why, and returns the
-- audit row's id. Runs as its owner (SECURITY DEFINER); callable only by the
-- owner unless a DBA grants EXECUTE. Writers are held off (SHARE lock) so the
-- counts recorded are the rows removed.
CREATE FUNCTION txlog_retention_delete(before timestamptz, reason text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  audit bigint;
  old_transactions bigint;
  old_rejections bigint;
  removed bigint;
BEGIN
  IF before IS NULL OR before > now() THEN
    RAISE EXCEPTION 'txlog_retention_delete: before must be a time in the past (got %)', before
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF reason IS NULL OR length(btrim(reason)) NOT BETWEEN 1 AND 500 THEN
    RAISE EXCEPTION 'txlog_retention_delete: reason must be 1 to 500 characters'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  LOCK TABLE transactions, rejections IN SHARE MODE;
  SELECT count(*) INTO old_transactions FROM transactions WHERE accepted_at < before;
  SELECT count(*) INTO old_rejections FROM rejections WHERE rejected_at < before;
  INSERT INTO retention_audit (deleted_before, transactions_deleted, rejections_deleted, reason)
    VALUES (before, old_transactions, old_rejections, btrim(reason))
    RETURNING audit_id INTO audit;
  DELETE FROM transactions WHERE accepted_at < before;
  GET DIAGNOSTICS removed = ROW_COUNT;
  IF removed <> old_transactions THEN
    RAISE EXCEPTION 'txlog_retention_delete: counted % transactions, deleted %', old_transactions, removed;
  END IF;
  DELETE FROM rejections WHERE rejected_at < before;
  GET DIAGNOSTICS removed = ROW_COUNT;
  IF removed <> old_rejections THEN
    RAISE EXCEPTION 'txlog_retention_delete: counted % rejections, deleted %', old_rejections, removed;
  END IF;
  RETURN audit;
END $$;

REVOKE ALL ON FUNCTION txlog_retention_delete(timestamptz, text) FROM PUBLIC;
