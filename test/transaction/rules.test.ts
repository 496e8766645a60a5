// Pure functions of the shared schema: exact money and strict message decoding.
import { expect, test } from "bun:test";
import fc from "fast-check";
import { copyColumns } from "../../src/postgres/stored-row.ts";
import { newTransactionId } from "../../src/transaction/ids.ts";
import {
  decodeMessage,
  encodeMessage,
  messageApiKeyId,
  messageFields,
  textMessagePattern,
} from "../../src/transaction/message.ts";
import { canonicalMoney } from "../../src/transaction/money.ts";
import type { AcceptedTransaction } from "../../src/transaction/rules.ts";

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
  const value = { v: 1, ...accepted };
  const wrongVersion = decodeMessage(Buffer.from(JSON.stringify({ ...value, v: 2 })));
  expect(!wrongVersion.ok && wrongVersion.errors[0]?.field).toBe("v");
  const badId = decodeMessage(Buffer.from(JSON.stringify({ ...value, transactionId: "X" })));
  expect(!badId.ok && badId.errors[0]?.field).toBe("transactionId");
  expect(decodeMessage(Buffer.from("")).ok).toBe(false);
});

// --- the version 2 text layout against the version 1 JSON one ---------------

const snake = (field: string) => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

test("a version 2 value is one tab-separated line, its fields in the order of the COPY line", () => {
  expect(encodeMessage(accepted).toString()).toBe(
    `2\t${accepted.transactionId}\t1\tPAYMENT\t9839.64\tC1\t170136.00\t160296.36\tM1\t0.00\t0.00\tf\tf\t2026-11-24T06:00:00.000Z`,
  );
  // transactionId → transaction_id … acceptedAt → accepted_at: the worker's COPY columns, same order.
  expect(messageFields.map(snake)).toEqual(copyColumns.slice(0, messageFields.length));
});

test("a version 1 JSON message, as earlier APIs wrote it, still decodes to the same transaction", () => {
  const v1 = Buffer.from(JSON.stringify({ v: 1, ...accepted, isFraud: 1, amount: 9839.64 }));
  expect(decodeMessage(v1)).toEqual({ ok: true, value: { ...accepted, isFraud: true } });
});

test("a bad version 2 field is named with its rule; what the schema allows but is not canonical is canonicalized", () => {
  const fields = (changes: Partial<Record<(typeof messageFields)[number], string>>) => {
    const values = encodeMessage(accepted).toString().split("\t");
    for (const [field, value] of Object.entries(changes)) {
      values[messageFields.indexOf(field as (typeof messageFields)[number]) + 1] = value;
    }
    return decodeMessage(Buffer.from(values.join("\t"), "latin1"));
  };
  const named = (decoded: ReturnType<typeof decodeMessage>) => (decoded.ok ? [] : decoded.errors.map((e) => e.field));
  expect(named(fields({ step: "0" }))).toEqual(["step"]);
  expect(named(fields({ step: "10001" }))).toEqual(["step"]);
  expect(named(fields({ type: "GIFT" }))).toEqual(["type"]);
  expect(named(fields({ isFraud: "1", isFlaggedFraud: "" }))).toEqual(["isFraud", "isFlaggedFraud"]);
  expect(named(fields({ nameDest: "M 1" }))).toEqual(["nameDest"]);
  expect(named(fields({ nameOrig: "C\u00e91" }))).toEqual(["nameOrig"]);
  expect(named(fields({ nameOrig: "C".repeat(65) }))).toEqual(["nameOrig"]);
  expect(named(fields({ amount: "1.001" }))).toEqual(["amount"]);
  expect(
    named(fields({ transactionId: accepted.transactionId.toUpperCase(), acceptedAt: "2024-02-30T00:00:00Z" })),
  ).toEqual(["transactionId", "acceptedAt"]);
  expect(fields({ amount: "007.5", step: "07" })).toEqual({
    ok: true,
    value: { ...accepted, amount: "7.50", step: 7 },
  });
  const short = decodeMessage(Buffer.from(encodeMessage(accepted).toString().split("\t").slice(0, 13).join("\t")));
  expect(!short.ok && short.errors).toEqual([
    { field: "(message)", rule: expect.stringContaining("must hold 13 tab-separated fields") },
  ]);
  expect(!decodeMessage(Buffer.from("4\tx")).ok && decodeMessage(Buffer.from("4\tx"))).toMatchObject({
    errors: [{ field: "v" }],
  });
});

test("the text decoder accepts exactly what the JSON decoder accepts, with the same result", () => {
  // Each field mostly valid, sometimes one rule away from valid, so that many
  // records are wrong in one field only.
  const mostly = <T>(valid: fc.Arbitrary<T>, off: fc.Arbitrary<T>) =>
    fc.oneof({ weight: 5, arbitrary: valid }, { weight: 1, arbitrary: off });
  const field = {
    transactionId: mostly(fc.uuid({ version: 7 }), fc.constantFrom(accepted.transactionId.toUpperCase(), "x", "")),
    step: mostly(fc.integer({ min: 1, max: 10_000 }).map(String), fc.constantFrom("10001", "0", "07", "1.5", "", "-1")),
    type: mostly(fc.constantFrom("PAYMENT", "TRANSFER", "CASH_IN"), fc.constantFrom("payment", "GIFT", "")),
    money: mostly(
      cents.map(text),
      fc.constantFrom("0", "1.5", "00.10", "1.001", "", "1e3", "-1.00", "10000000000000.01", "10000000000000.00"),
    ),
    name: mostly(fc.stringMatching(/^[\x21-\x7E]{1,64}$/), fc.constantFrom("", "a b", "C".repeat(65), "\u00e9")),
    flag: mostly(fc.constantFrom("t", "f"), fc.constantFrom("1", "true", "", "T")),
    acceptedAt: mostly(
      fc
        .date({ min: new Date("2000-01-01"), max: new Date("2100-01-01"), noInvalidDate: true })
        .map((d) => d.toISOString()),
      fc.constantFrom("2026-11-24T06:00:00Z", "2024-02-30T00:00:00Z", "1", "2026-11-24T06:00:00+01:00"),
    ),
  };
  const record = fc.record({
    transactionId: field.transactionId,
    step: field.step,
    type: field.type,
    amount: field.money,
    nameOrig: field.name,
    oldbalanceOrg: field.money,
    newbalanceOrig: field.money,
    nameDest: field.name,
    oldbalanceDest: field.money,
    newbalanceDest: field.money,
    isFraud: field.flag,
    isFlaggedFraud: field.flag,
    acceptedAt: field.acceptedAt,
  });
  fc.assert(
    fc.property(record, (r) => {
      const asText = decodeMessage(Buffer.from(`2\t${messageFields.map((f) => r[f]).join("\t")}`, "latin1"));
      // The same values as JSON: a step of digits as a number, flags t/f as booleans.
      const json: Record<string, unknown> = { v: 1, ...r };
      if (/^[0-9]{1,5}$/.test(r.step)) json.step = Number(r.step);
      for (const f of ["isFraud", "isFlaggedFraud"] as const) {
        if (r[f] === "t" || r[f] === "f") json[f] = r[f] === "t";
      }
      const asJson = decodeMessage(Buffer.from(JSON.stringify(json)));
      expect(asText.ok).toBe(asJson.ok);
      if (asText.ok && asJson.ok) {
        expect(asText.value).toEqual(asJson.value);
        // And what the API writes for it takes the fast way, in the bytes UTF-8
        // would give (encodeMessage writes latin1), and reads back the same.
        const written = encodeMessage(asText.value);
        expect(textMessagePattern.test(written.toString())).toBe(true);
        expect(written.equals(Buffer.from(written.toString("latin1"), "utf8"))).toBe(true);
        expect(decodeMessage(written)).toEqual({ ok: true, value: asText.value });
      }
    }),
    { numRuns: 5000 },
  );
});

test("a transaction sent with an API key travels as version 3: version 2's fields, then the key id", () => {
  const keyed = { ...accepted, apiKeyId: "ci-1" };
  const written = encodeMessage(keyed);
  expect(written.toString()).toBe(`3\t${encodeMessage(accepted).toString().slice(2)}\tci-1`);
  expect(textMessagePattern.test(written.toString())).toBe(true);
  expect(decodeMessage(written)).toEqual({ ok: true, value: keyed });
  expect(messageApiKeyId(written)).toBe("ci-1");
  // Without a key: version 2, as before, and no key id read back.
  expect(decodeMessage(encodeMessage(accepted))).toEqual({ ok: true, value: accepted });
  expect(messageApiKeyId(encodeMessage(accepted))).toBeUndefined();
  const named = (text: string) => {
    const decoded = decodeMessage(Buffer.from(text, "latin1"));
    return decoded.ok ? [] : decoded.errors.map((e) => `${e.field}: ${e.rule}`);
  };
  expect(named(written.toString().replace(/ci-1$/, "CI_1"))).toEqual([
    expect.stringMatching(/^apiKeyId: must be 1 to 32/),
  ]);
  // The version says whether the id follows: 3 without it, or 2 with it, is refused.
  expect(named(`3${encodeMessage(accepted).toString().slice(1)}`)).toEqual([
    expect.stringMatching(/^\(message\): must hold 14 tab-separated fields after version 3/),
  ]);
  expect(named(`2${written.toString().slice(1)}`)).toEqual([
    expect.stringMatching(/^\(message\): must hold 13 tab-separated fields after version 2/),
  ]);
  // A bad field in a keyed message still yields its key id, for the rejection's audit.
  const bad = Buffer.from(written.toString().replace("\t9839.64\t", "\t9839.641\t"), "latin1");
  expect(decodeMessage(bad).ok).toBe(false);
  expect(messageApiKeyId(bad)).toBe("ci-1");
});
