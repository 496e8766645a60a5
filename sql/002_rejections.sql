-- The other final status: a transaction the worker can never write (its
-- message does not decode, PostgreSQL refuses its row, or its
-- Idempotency-Key was already used for another transaction) is recorded
-- here, with why, before the offsets of its batch move. An accepted id ends
-- as a row in transactions or here; GET /transactions/{id} answers either.
CREATE TABLE rejections (
  -- One rejection per Kafka message: a redelivered batch records nothing new.
  kafka_partition    integer     NOT NULL,
  kafka_offset       bigint      NOT NULL,
  transaction_id     uuid        NOT NULL,
  -- Machine-readable: invalid_message, database_refused, idempotency_key_reused.
  reason             text        NOT NULL CHECK (reason ~ '^[a-z_]{1,64}$'),
  -- One line naming each field and rule, or PostgreSQL's error.
  message            text        NOT NULL,
  -- [{field, rule}] when the message broke the transaction rules.
  errors             jsonb       NOT NULL DEFAULT '[]',
  -- idempotency_key_reused: the refused transaction's fingerprint and the stored one's.
  fingerprint        text,
  stored_fingerprint text,
  -- Milliseconds, as the pages' cursors carry them.
  rejected_at        timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
  PRIMARY KEY (kafka_partition, kafka_offset)
);

CREATE INDEX rejections_transaction_id_idx ON rejections (transaction_id);
-- GET /rejections: newest first, keyset pagination, optionally one reason.
CREATE INDEX rejections_rejected_at_idx ON rejections (rejected_at DESC, transaction_id DESC);
CREATE INDEX rejections_reason_idx ON rejections (reason, rejected_at DESC, transaction_id DESC);
