// Transaction ids are chosen before Kafka sees a transaction, so every retry
// of a write carries the same id and the primary key absorbs duplicates.
import { v5 as uuidv5 } from "uuid";

/** Namespace of ids derived from client keys (fixed forever: changing it changes every derived id). */
export const idNamespace = "6f1c1f2e-3d4b-5a69-8c7d-2b1e0f9a4c35";

/**
 * A new time-ordered id (UUIDv7): consecutive ids land near each other in the
 * primary key. Bun's own is monotonic within a millisecond too, and half the
 * cost of the uuid package's on the API's hot path.
 */
export function newTransactionId(): string {
  return Bun.randomUUIDv7();
}

/**
 * The id for a client-chosen key (Idempotency-Key header, seed row): a
 * name-based UUIDv5, so the same key always yields the same id.
 */
export function transactionIdForKey(key: string, apiKeyId?: string): string {
  // Scoped by the API key: the same Idempotency-Key from two clients names two
  // transactions. A client key is printable ASCII, so no unscoped key (nor a
  // seed's) can hold the NUL that joins the two: no id is shared across them.
  return uuidv5(apiKeyId === undefined ? key : `${apiKeyId}\u0000${key}`, idNamespace);
}

/**
 * Namespace of the ids of POST /transactions elements: apart from single
 * POSTs', so no single key can name a batch element's id (key "K:0" once
 * gave element 0 of batch "K" its id).
 */
export const batchIdNamespace = "9a3e6c1d-2b7f-5e48-a1c9-4d8b0f6e2a57";

/** The id of element `index` of a batch sent with Idempotency-Key `key`. */
export function transactionIdForBatchElement(key: string, index: number, apiKeyId?: string): string {
  // Scoped as transactionIdForKey: an unscoped name holds one NUL, a scoped one two.
  const name = `${key}\u0000${index}`;
  return uuidv5(apiKeyId === undefined ? name : `${apiKeyId}\u0000${name}`, batchIdNamespace);
}

/**
 * An API key's public id: what a transaction and a rejection store for audit
 * and what an Idempotency-Key is scoped by. Never a secret.
 */
export const apiKeyIdPattern = /^[a-z0-9][a-z0-9-]{0,31}$/;
export const apiKeyIdRule = "must be 1 to 32 of a-z, 0-9 and '-', starting with a letter or digit";
