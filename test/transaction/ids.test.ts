// Transaction ids: time-ordered and unique for new transactions, stable for keys.
import { expect, test } from "bun:test";
import { newTransactionId, transactionIdForBatchElement, transactionIdForKey } from "../../src/transaction/ids.ts";
import { uuidPattern } from "../../src/transaction/rules.ts";

test("new ids are lowercase UUIDv7s, each greater than the one before (they append to the primary key)", () => {
  let previous = "";
  for (let i = 0; i < 200_000; i++) {
    const id = newTransactionId();
    if (!(id > previous)) throw new Error(`id ${i} (${id}) is not after ${previous}`);
    previous = id;
  }
  expect(previous).toMatch(uuidPattern);
  expect(previous[14]).toBe("7");
});

test("the id of a key is the same every time, and differs between keys", () => {
  expect(transactionIdForKey("order-1")).toBe(transactionIdForKey("order-1"));
  expect(transactionIdForKey("order-1")).not.toBe(transactionIdForKey("order-2"));
  expect(transactionIdForKey("order-1")).toMatch(uuidPattern);
});

test("an Idempotency-Key is scoped by the API key id: two clients' same key, two ids; without keys, ids stay as before", () => {
  // Fixed forever: ids derived before API keys existed must not move.
  expect(transactionIdForKey("order-1")).toBe("f830f2aa-1720-5640-b2c5-6e7b88023675");
  expect(transactionIdForBatchElement("order-1", 0)).toBe("f510b180-f7b4-5859-8211-75322fedde78");
  expect(transactionIdForKey("order-1", "a")).not.toBe(transactionIdForKey("order-1", "b"));
  expect(transactionIdForKey("order-1", "a")).toBe(transactionIdForKey("order-1", "a"));
  expect(transactionIdForKey("order-1", "a")).not.toBe(transactionIdForKey("order-1"));
  expect(transactionIdForBatchElement("order-1", 0, "a")).not.toBe(transactionIdForBatchElement("order-1", 0, "b"));
  expect(transactionIdForBatchElement("order-1", 0, "a")).not.toBe(transactionIdForBatchElement("order-1", 0));
  // An unscoped batch name holds one NUL, a scoped one two: "a\0order-1" as a key could never be sent (printable ASCII only).
  expect(transactionIdForBatchElement("order-1", 0, "a")).not.toBe(transactionIdForKey("order-1", "a"));
});
