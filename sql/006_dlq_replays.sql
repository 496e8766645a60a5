-- Who replayed what: `bun run dlq replay` re-submits a rejected transaction
-- to the transactions topic under its original id, and records each replay
-- here once Kafka acknowledged it. Append-only, like the log it audits.
CREATE TABLE dlq_replays (
  replay_id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  replayed_at        timestamptz NOT NULL DEFAULT now(),
  -- The operator's name as given with --by.
  replayed_by        text        NOT NULL CHECK (replayed_by ~ '^[A-Za-z0-9._@-]{1,64}$'),
  transaction_id     uuid        NOT NULL,
  -- The rejected message replayed (the rejection's Kafka position) and its reason.
  source_partition   integer     NOT NULL,
  source_offset      bigint      NOT NULL,
  reason             text        NOT NULL,
  -- Where the replay went in the transactions topic.
  target_topic       text        NOT NULL,
  target_partition   integer     NOT NULL,
  target_offset      bigint      NOT NULL,
  UNIQUE (target_topic, target_partition, target_offset)
);

CREATE INDEX dlq_replays_transaction_id_idx ON dlq_replays (transaction_id, replayed_at DESC);

CREATE FUNCTION dlq_replays_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'dlq_replays is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER dlq_replays_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON dlq_replays
  FOR EACH STATEMENT EXECUTE FUNCTION dlq_replays_append_only();
