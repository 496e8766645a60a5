-- The id of the API key a transaction was sent with, for audit: never the
-- secret. NULL for transactions accepted without keys, seeded rows and
-- messages written before keys existed. A rejection carries the id of its
-- transaction's key, when the message was readable enough to tell it.
-- A nullable column without a default adds no rewrite; NOT VALID checks new
-- rows only, so existing rows (all NULL) are not scanned under the lock.
ALTER TABLE transactions ADD COLUMN api_key_id text;
ALTER TABLE transactions ADD CONSTRAINT transactions_api_key_id_check
  CHECK (api_key_id ~ '^[a-z0-9][a-z0-9-]{0,31}$') NOT VALID;
ALTER TABLE rejections ADD COLUMN api_key_id text;
ALTER TABLE rejections ADD CONSTRAINT rejections_api_key_id_check
  CHECK (api_key_id ~ '^[a-z0-9][a-z0-9-]{0,31}$') NOT VALID;
