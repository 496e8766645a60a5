-- The other final status: a transaction the worker can never write (its
-- message does not decode, or PostgreSQL refuses its row) is recorded here,
-- with why, before the offsets of its batch move. An accepted id ends as a row
-- in transactions or here; GET /transactions/{id} answers either.
CREATE TABLE rejections (
  transaction_id  uuid        PRIMARY KEY,
  -- Machine-readable: invalid_message, database_refused.
  reason          text        NOT NULL CHECK (reason ~ '^[a-z_]{1,64}$'),
  -- One line naming each field and rule, or PostgreSQL's error.
  message         text        NOT NULL,
  -- [{field, rule}] when the message broke the transaction rules.
  errors          jsonb       NOT NULL DEFAULT '[]',
  kafka_partition integer     NOT NULL,
  kafka_offset    bigint      NOT NULL,
  -- Milliseconds, as the pages' cursors carry them.
  rejected_at     timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now())
);

-- GET /rejections: newest first, keyset pagination, optionally one reason.
CREATE INDEX rejections_rejected_at_idx ON rejections (rejected_at DESC, transaction_id DESC);
CREATE INDEX rejections_reason_idx ON rejections (reason, rejected_at DESC, transaction_id DESC);
