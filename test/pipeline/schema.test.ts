// Pure functions of the shared schema: exact money and strict message decoding.
import { expect, test } from "bun:test";
import fc from "fast-check";
import { newTransactionId } from "../../src/pipeline/ids.ts";
import { type AcceptedTransaction, canonicalMoney, decodeMessage, encodeMessage } from "../../src/pipeline/schema.ts";

const cents = fc.bigInt({ min: 0n, max: 10n ** 15n });
const text = (value: bigint) => `${value / 100n}.${String(value % 100n).padStart(2, "0")}`;

test("every amount from 0.00 to 10^13 in cents survives as itself", () => {
  fc.assert(fc.property(cents, (value) => canonicalMoney(text(value)) === text(value)));
});

test("a JSON number with at most 2 decimals maps to the same decimal as its text", () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: 10n ** 15n }), (value) => {
      const asNumber = Number(text(value));
      // Only numbers whose shortest form is that text are exact; those must match.
      if (String(asNumber) !== text(value).replace(/\.?0+$/, "")) return true;
      return canonicalMoney(asNumber) === text(value);
    }),
  );
});

test("anything past 10^13, negative, or finer than a cent is refused", () => {
  fc.assert(
    fc.property(
      fc.bigInt({ min: 10n ** 15n + 1n, max: 10n ** 18n }),
      (value) => canonicalMoney(text(value)) === undefined,
    ),
  );
  for (const bad of [
    -1,
    -0.01,
    "1.001",
    1.005,
    0.1 + 0.2,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    "1e3",
    " 1",
    "1,00",
    "",
    null,
    true,
  ]) {
    expect(canonicalMoney(bad)).toBeUndefined();
  }
});

const accepted: AcceptedTransaction = {
  transactionId: newTransactionId(),
  acceptedAt: "2026-11-24T06:00:00.000Z",
  step: 1,
  type: "PAYMENT",
  amount: "9839.64",
  nameOrig: "C1",
  oldbalanceOrg: "170136.00",
  newbalanceOrig: "160296.36",
  nameDest: "M1",
  oldbalanceDest: "0.00",
  newbalanceDest: "0.00",
  isFraud: false,
  isFlaggedFraud: false,
};

test("an encoded message decodes to the same transaction", () => {
  expect(decodeMessage(encodeMessage(accepted))).toEqual({ ok: true, value: accepted });
});

test("acceptedAt must be a real UTC time in ISO 8601, not whatever Date.parse takes", () => {
  for (const acceptedAt of ["2024-02-30T00:00:00.000Z", "1", "2024-01-01", "2024-01-01T00:00:00+01:00", "yesterday"]) {
    const decoded = decodeMessage(encodeMessage({ ...accepted, acceptedAt }));
    expect(decoded.ok).toBe(false);
    expect(!decoded.ok && decoded.errors.map((e) => e.field)).toEqual(["acceptedAt"]);
  }
});

test("a message of an unknown version or with a bad id is refused with the field named", () => {
  const value = JSON.parse(encodeMessage(accepted).toString());
  const wrongVersion = decodeMessage(Buffer.from(JSON.stringify({ ...value, v: 2 })));
  expect(!wrongVersion.ok && wrongVersion.errors[0]?.field).toBe("v");
  const badId = decodeMessage(Buffer.from(JSON.stringify({ ...value, transactionId: "X" })));
  expect(!badId.ok && badId.errors[0]?.field).toBe("transactionId");
  expect(decodeMessage(Buffer.from("")).ok).toBe(false);
});
