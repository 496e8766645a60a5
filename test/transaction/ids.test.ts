// Transaction ids: time-ordered and unique for new transactions, stable for keys.
import { expect, test } from "bun:test";
import { newTransactionId, transactionIdForKey } from "../../src/transaction/ids.ts";
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
