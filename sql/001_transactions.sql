-- The log itself: one row per accepted transaction, written only by the worker.
-- Append-only; transaction_id is chosen by the API before Kafka sees the
-- transaction, so writing the same message twice leaves one row.
CREATE TABLE transactions (
  transaction_id   uuid          PRIMARY KEY,
  step             integer       NOT NULL CHECK (step BETWEEN 1 AND 10000),
  type             text          NOT NULL CHECK (type IN ('CASH_IN', 'CASH_OUT', 'DEBIT', 'PAYMENT', 'TRANSFER')),
  -- Money is exact: two fractional digits, 0 <= value <= 10^13.
  amount           numeric(16,2) NOT NULL CHECK (amount >= 0 AND amount <= 10000000000000),
  name_orig        text          NOT NULL CHECK (length(name_orig) BETWEEN 1 AND 64),
  oldbalance_org   numeric(16,2) NOT NULL CHECK (oldbalance_org >= 0 AND oldbalance_org <= 10000000000000),
  newbalance_orig  numeric(16,2) NOT NULL CHECK (newbalance_orig >= 0 AND newbalance_orig <= 10000000000000),
  name_dest        text          NOT NULL CHECK (length(name_dest) BETWEEN 1 AND 64),
  oldbalance_dest  numeric(16,2) NOT NULL CHECK (oldbalance_dest >= 0 AND oldbalance_dest <= 10000000000000),
  newbalance_dest  numeric(16,2) NOT NULL CHECK (newbalance_dest >= 0 AND newbalance_dest <= 10000000000000),
  is_fraud         boolean       NOT NULL,
  is_flagged_fraud boolean       NOT NULL,
  status           text          NOT NULL DEFAULT 'Completed' CHECK (status = 'Completed'),
  accepted_at      timestamptz   NOT NULL,
  committed_at     timestamptz   NOT NULL DEFAULT now(),
  -- Where the worker read it (NULL for seeded rows): lets reconcile and audits
  -- walk back from a row to its Kafka message.
  kafka_partition  integer,
  kafka_offset     bigint
);

-- GET /reports: newest first, keyset pagination on (accepted_at, transaction_id).
CREATE INDEX transactions_accepted_at_idx ON transactions (accepted_at DESC, transaction_id DESC);
-- GET /reports?account=: an account appears as origin or destination.
CREATE INDEX transactions_name_orig_idx ON transactions (name_orig);
CREATE INDEX transactions_name_dest_idx ON transactions (name_dest);
