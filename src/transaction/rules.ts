// The one definition of a transaction, used by the API (validation and
// OpenAPI), the worker (decoding Kafka messages) and the CSV reader.
//
// Money is exact: an amount is accepted as a JSON number or a decimal string
// with at most two fractional digits, 0 <= value <= 10^13, and is carried as
// a canonical decimal string ("9839.64") from here to PostgreSQL's NUMERIC.
// No arithmetic is ever done on a float amount.

import { Type } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { Value } from "@sinclair/typebox/value";
import { type Static, t } from "elysia";

export const transactionTypes = ["CASH_IN", "CASH_OUT", "DEBIT", "PAYMENT", "TRANSFER"] as const;
export type TransactionType = (typeof transactionTypes)[number];

export const stepMin = 1;
export const stepMax = 10_000;
/** Account names: printable ASCII without spaces, this long at most. */
export const nameLengthMax = 64;
export const namePattern = "^[\\x21-\\x7E]+$";
/** 10^13 in cents: the largest amount or balance accepted. */
export const moneyCentsMax = 10n ** 15n;
export const moneyRule =
  "must be a number or decimal string with at most 2 fractional digits, from 0 to 10000000000000";

const moneyFields = ["amount", "oldbalanceOrg", "newbalanceOrig", "oldbalanceDest", "newbalanceDest"] as const;
type MoneyField = (typeof moneyFields)[number];

const Money = (description: string, example: number) =>
  t.Union(
    [t.Number({ minimum: 0, maximum: 1e13 }), t.String({ pattern: "^[0-9]{1,14}(\\.[0-9]{1,2})?$", maxLength: 17 })],
    { description: `${description}; ${moneyRule}`, examples: [example], error: moneyRule },
  );

const Flag = (description: string) =>
  t.Optional(
    t.Union([t.Literal(0), t.Literal(1), t.Boolean()], {
      description: `${description}: 0/1 or false/true, default 0`,
      default: 0,
      error: "must be 0, 1, true or false",
    }),
  );

const Name = (description: string, example: string) =>
  t.String({
    minLength: 1,
    maxLength: nameLengthMax,
    pattern: namePattern,
    description: `${description}: 1 to ${nameLengthMax} printable ASCII characters, no spaces`,
    examples: [example],
    error: `must be 1 to ${nameLengthMax} printable ASCII characters without spaces`,
  });

/** A transaction as clients send it (PaySim's column names). */
export const TransactionInput = t.Object(
  {
    // TypeBox's own Integer: Elysia's t.Integer also accepts any string of
    // digits (for query strings) and checks no bounds on it, so "-1" passed.
    step: Type.Integer({
      minimum: stepMin,
      maximum: stepMax,
      description: "hour of the simulation the transaction belongs to",
      examples: [1],
      error: `must be an integer from ${stepMin} to ${stepMax}`,
    }),
    // t.Union of literals, not t.UnionEnum: UnionEnum defaults to its first
    // value, which would turn a missing type into CASH_IN.
    type: t.Union(
      transactionTypes.map((type) => t.Literal(type)),
      {
        description: "kind of transaction",
        examples: ["PAYMENT"],
        error: `must be one of ${transactionTypes.join(", ")}`,
      },
    ),
    amount: Money("amount moved", 9839.64),
    nameOrig: Name("account the transaction starts from", "C1231006815"),
    oldbalanceOrg: Money("origin balance before", 170136),
    newbalanceOrig: Money("origin balance after", 160296.36),
    nameDest: Name("account the transaction goes to", "M1979787155"),
    oldbalanceDest: Money("destination balance before", 0),
    newbalanceDest: Money("destination balance after", 0),
    isFraud: Flag("marked as fraud in the data set"),
    isFlaggedFraud: Flag("flagged by the business rule"),
  },
  { additionalProperties: false, description: "one PaySim-shaped transaction" },
);
export type TransactionInput = Static<typeof TransactionInput>;

/** A validated transaction: money as canonical decimal strings, flags as booleans. */
export interface Transaction {
  step: number;
  type: TransactionType;
  amount: string;
  nameOrig: string;
  oldbalanceOrg: string;
  newbalanceOrig: string;
  nameDest: string;
  oldbalanceDest: string;
  newbalanceDest: string;
  isFraud: boolean;
  isFlaggedFraud: boolean;
}

/** What travels on Kafka: the transaction, its id and when the API accepted it. */
export interface AcceptedTransaction extends Transaction {
  transactionId: string;
  /** ISO 8601, UTC. */
  acceptedAt: string;
}

export interface FieldError {
  /** Field name, with the array index for batches ("[3].amount"). */
  field: string;
  rule: string;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

/** "0.00" to "9999999999999.99": canonical and below 10^13 by its form alone. */
const canonicalMoneyPattern = /^(?:0|[1-9][0-9]{0,12})\.[0-9]{2}$/;

/**
 * Money to its canonical decimal string, or undefined when it breaks the rule.
 * A JSON number is judged by its shortest decimal form (what JSON.stringify
 * prints), so 0.1 + 0.2 (0.30000000000000004) is rejected, not rounded.
 */
export function canonicalMoney(value: unknown): string | undefined {
  // Already canonical (as every message the API wrote is): one test, no rebuild.
  if (typeof value === "string" && canonicalMoneyPattern.test(value)) return value;
  let text: string;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return undefined;
    text = String(value);
  } else if (typeof value === "string") {
    text = value;
  } else {
    return undefined;
  }
  const match = /^([0-9]{1,14})(?:\.([0-9]{1,2}))?$/.exec(text);
  if (!match) return undefined;
  const whole = (match[1] as string).replace(/^0+(?=\d)/, "");
  const cents = (match[2] ?? "").padEnd(2, "0");
  // Up to 13 whole digits is always below 10^13; only 14 digits need the exact test.
  if (whole.length === 14 && BigInt(whole) * 100n + BigInt(cents) > moneyCentsMax) return undefined;
  return `${whole}.${cents}`;
}

function flag(value: unknown): boolean {
  return value === 1 || value === true;
}

function fieldOf(path: string): string {
  // TypeBox paths look like "/amount"; unknown properties carry the name too.
  return path.replace(/^\//, "").split("/")[0] || "(body)";
}

// Compiled once: checking a valid transaction costs a fraction of walking
// Value.Errors, which is kept for the (rare) invalid ones to name every error.
const compiledTransactionInput = TypeCompiler.Compile(TransactionInput);

/**
 * The validated transaction of a value the compiled schema accepted, with
 * `extra` fields in front; undefined when some money is not exact.
 */
function exactTransaction<E extends object>(raw: TransactionInput, extra: E): (E & Transaction) | undefined {
  const amount = canonicalMoney(raw.amount);
  const oldbalanceOrg = canonicalMoney(raw.oldbalanceOrg);
  const newbalanceOrig = canonicalMoney(raw.newbalanceOrig);
  const oldbalanceDest = canonicalMoney(raw.oldbalanceDest);
  const newbalanceDest = canonicalMoney(raw.newbalanceDest);
  if (
    amount === undefined ||
    oldbalanceOrg === undefined ||
    newbalanceOrig === undefined ||
    oldbalanceDest === undefined ||
    newbalanceDest === undefined
  ) {
    return undefined;
  }
  return {
    ...extra,
    step: raw.step,
    type: raw.type,
    amount,
    nameOrig: raw.nameOrig,
    oldbalanceOrg,
    newbalanceOrig,
    nameDest: raw.nameDest,
    oldbalanceDest,
    newbalanceDest,
    isFraud: flag(raw.isFraud),
    isFlaggedFraud: flag(raw.isFlaggedFraud),
  };
}

/** Validates anything against the transaction schema; never throws. */
export function checkTransaction(input: unknown, fieldPrefix = ""): Checked<Transaction> {
  if (compiledTransactionInput.Check(input)) {
    const value = exactTransaction(input, {});
    if (value !== undefined) return { ok: true, value };
    // Shape is right but some money is not exact: the full pass names it.
  }
  return checkTransactionSlowly(input, fieldPrefix);
}

function checkTransactionSlowly(input: unknown, fieldPrefix: string): Checked<Transaction> {
  const errors: FieldError[] = [];
  const seen = new Set<string>();
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    add("(body)", "must be a JSON object");
    return { ok: false, errors };
  }
  const raw = input as Record<string, unknown>;
  const properties = TransactionInput.properties as Record<string, { error?: unknown }>;
  for (const key of Object.keys(raw)) {
    if (!(key in properties)) add(key, "is not a field of a transaction");
  }
  for (const error of Value.Errors(TransactionInput, input)) {
    const field = fieldOf(error.path);
    if (!(field in properties)) continue; // reported above
    if (raw[field] === undefined) {
      add(field, "is required");
      continue;
    }
    const rule = properties[field]?.error;
    add(field, typeof rule === "string" ? rule : error.message.toLowerCase());
  }
  // Exactness is checked on every money field the schema let through.
  const money = {} as Record<MoneyField, string>;
  for (const field of moneyFields) {
    if (errors.some((error) => error.field === `${fieldPrefix}${field}`)) continue;
    const canonical = canonicalMoney(raw[field]);
    if (canonical === undefined) add(field, moneyRule);
    else money[field] = canonical;
  }
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    value: {
      step: raw.step as number,
      type: raw.type as TransactionType,
      amount: money.amount,
      nameOrig: raw.nameOrig as string,
      oldbalanceOrg: money.oldbalanceOrg,
      newbalanceOrig: money.newbalanceOrig,
      nameDest: raw.nameDest as string,
      oldbalanceDest: money.oldbalanceDest,
      newbalanceDest: money.newbalanceDest,
      isFraud: flag(raw.isFraud),
      isFlaggedFraud: flag(raw.isFlaggedFraud),
    },
  };

  function add(field: string, rule: string) {
    const key = `${field}\u0000${rule}`;
    if (seen.has(key)) return;
    seen.add(key);
    errors.push({ field: `${fieldPrefix}${field}`, rule });
  }
}

/** "amount: must be …; step: must be …" for an error message. */
export function describeErrors(errors: FieldError[]): string {
  return errors.map((error) => `${error.field}: ${error.rule}`).join("; ");
}

// --- Kafka message value ----------------------------------------------------
//
// Version 2, what the API writes: one line of ASCII text, "2" and the fields
// separated by tabs, in the order of the worker's COPY line (sink.ts
// lineColumns), money canonical, flags t/f:
//   2<TAB>transactionId<TAB>step<TAB>type<TAB>amount<TAB>nameOrig<TAB>oldbalanceOrg<TAB>newbalanceOrig
//    <TAB>nameDest<TAB>oldbalanceDest<TAB>newbalanceDest<TAB>isFraud<TAB>isFlaggedFraud<TAB>acceptedAt
// No field can hold a tab or a newline (names are printable ASCII without
// spaces), so nothing is escaped. Version 1 was a JSON object {"v":1, ...};
// the worker still reads it, so a topic written by an older API drains.
// Why text: the worker spent ~2.3 µs per message on JSON.parse, the schema
// check and re-encoding the COPY line; one anchored pattern does the same
// check in ~0.5 µs, and the value is 136 bytes instead of 338.

/** Version of the message value layout the API writes (2: tab-separated text; 1: JSON, still read). */
export const messageVersion = 2;
const jsonMessageVersion = 1;

/** A transaction's fields in PaySim's column order (also the CSV header's). */
export const transactionFields = [
  "step",
  "type",
  "amount",
  "nameOrig",
  "oldbalanceOrg",
  "newbalanceOrig",
  "nameDest",
  "oldbalanceDest",
  "newbalanceDest",
  "isFraud",
  "isFlaggedFraud",
] as const;

/** The fields of a version 2 value after its version, in order. */
export const messageFields = ["transactionId", ...transactionFields, "acceptedAt"] as const;

const asIs = (value: string) => value;

/**
 * An accepted transaction's fields as tab-separated text, in messageFields
 * order: the body of a version 2 message value and the front of the worker's
 * COPY line (sink.ts stagingLine), one layout for both. `name` maps the two
 * account names: COPY escapes a backslash in them, the message carries them
 * as they are.
 */
export function transactionText(a: AcceptedTransaction, name: (value: string) => string = asIs): string {
  return `${a.transactionId}\t${a.step}\t${a.type}\t${a.amount}\t${name(a.nameOrig)}\t${a.oldbalanceOrg}\t${a.newbalanceOrig}\t${name(a.nameDest)}\t${a.oldbalanceDest}\t${a.newbalanceDest}\t${a.isFraud ? "t" : "f"}\t${a.isFlaggedFraud ? "t" : "f"}\t${a.acceptedAt}`;
}

export function encodeMessage(accepted: AcceptedTransaction): Buffer {
  // Every character is printable ASCII (the schema's rules), so latin1 writes
  // the bytes UTF-8 would; for a short string built from parts it is several
  // times faster under Bun (0.08 against 0.3–0.9 µs).
  return Buffer.from(`${messageVersion}\t${transactionText(accepted)}`, "latin1");
}

/**
 * Strict: Date.parse takes "2024-02-30" and "1", PostgreSQL does not, and a
 * value the database refuses must be caught before a batch is written.
 */
function isUtcTimestamp(value: unknown): value is string {
  if (typeof value !== "string") return false;
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,3})?Z$/.exec(value);
  if (!match) return false;
  const date = new Date(value);
  return (
    !Number.isNaN(date.getTime()) &&
    date.getUTCFullYear() === Number(match[1]) &&
    date.getUTCMonth() + 1 === Number(match[2]) &&
    date.getUTCDate() === Number(match[3])
  );
}

/** A lowercase UUID, as txlog writes ids. */
export const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A whole message value in one compiled check: the worker's common case. */
const compiledMessageValue = TypeCompiler.Compile(
  t.Object(
    {
      v: t.Literal(jsonMessageVersion),
      transactionId: t.String({ pattern: uuidPattern.source }),
      acceptedAt: t.String(),
      ...TransactionInput.properties,
    },
    { additionalProperties: false },
  ),
);

/**
 * A version 2 value that needs no further look: every field in its canonical
 * form (step still needs its upper bound, acceptedAt its calendar check).
 * Anything it refuses is judged again field by field with the schema, so this
 * pattern may only ever be stricter than the schema, never looser.
 */
export const textMessagePattern = new RegExp(
  `^${messageVersion}\\tUUID\\t([1-9][0-9]{0,4})\\t(TYPE)\\t(MONEY)\\t(NAME)\\t(MONEY)\\t(MONEY)\\t(NAME)\\t(MONEY)\\t(MONEY)\\t([tf])\\t([tf])\\t([^\\t]*)$`
    .replace("UUID", `(${uuidPattern.source.slice(1, -1)})`)
    .replace("TYPE", transactionTypes.join("|"))
    // Canonical money below 10^13, or exactly 10^13 (the largest allowed).
    .replaceAll("MONEY", `(?:${canonicalMoneyPattern.source.slice(1, -1)}|10000000000000\\.00)`)
    .replaceAll("NAME", namePattern.slice(1, -1).replace("]+", `]{1,${nameLengthMax}}`)),
);

/** A version 2 value; the fast pattern first, the schema's own checks for anything it refuses. */
function decodeTextMessage(text: string): Checked<AcceptedTransaction> {
  const m = textMessagePattern.exec(text);
  if (m !== null && Number(m[2]) <= stepMax && isUtcTimestamp(m[13])) {
    return {
      ok: true,
      value: {
        transactionId: m[1] as string,
        acceptedAt: m[13] as string,
        step: Number(m[2]),
        type: m[3] as TransactionType,
        amount: m[4] as string,
        nameOrig: m[5] as string,
        oldbalanceOrg: m[6] as string,
        newbalanceOrig: m[7] as string,
        nameDest: m[8] as string,
        oldbalanceDest: m[9] as string,
        newbalanceDest: m[10] as string,
        isFraud: m[11] === "t",
        isFlaggedFraud: m[12] === "t",
      },
    };
  }
  // Something is wrong: take it apart to name every error.
  const parts = text.split("\t");
  if (parts[0] !== String(messageVersion)) {
    return { ok: false, errors: [{ field: "v", rule: versionRule }] };
  }
  if (parts.length !== messageFields.length + 1) {
    return {
      ok: false,
      errors: [
        {
          field: "(message)",
          rule: `must hold ${messageFields.length} tab-separated fields after the version (${messageFields.join(", ")}), not ${parts.length - 1}`,
        },
      ],
    };
  }
  const raw = Object.fromEntries(messageFields.map((field, index) => [field, parts[index + 1] as string])) as Record<
    (typeof messageFields)[number],
    string
  >;
  const { transactionId, acceptedAt, isFraud, isFlaggedFraud, step, ...rest } = raw;
  // Digits become a number for the schema to bound; anything else stays text and is refused as such.
  const fields: Record<string, unknown> = { ...rest, step: /^[0-9]+$/.test(step) ? Number(step) : step };
  const errors: FieldError[] = [];
  for (const [field, value] of [
    ["isFraud", isFraud],
    ["isFlaggedFraud", isFlaggedFraud],
  ] as const) {
    if (value === "t" || value === "f") fields[field] = value === "t";
    else errors.push({ field, rule: "must be t or f" });
  }
  return withEnvelopeChecks([], transactionId, acceptedAt, errors, checkTransaction(fields));
}

const versionRule = `must be ${messageVersion} (tab-separated text) or a JSON object with "v": ${jsonMessageVersion}`;

/** The id and acceptedAt checks of both versions, added to the transaction's own. */
function withEnvelopeChecks(
  versionErrors: FieldError[],
  transactionId: unknown,
  acceptedAt: unknown,
  flagErrors: FieldError[],
  checked: Checked<Transaction>,
): Checked<AcceptedTransaction> {
  const errors = [...versionErrors];
  if (typeof transactionId !== "string" || !uuidPattern.test(transactionId)) {
    errors.push({ field: "transactionId", rule: "must be a lowercase UUID" });
  }
  if (!isUtcTimestamp(acceptedAt)) {
    errors.push({ field: "acceptedAt", rule: "must be an ISO 8601 UTC time like 2026-01-31T12:00:00.000Z" });
  }
  errors.push(...flagErrors);
  if (!checked.ok) errors.push(...checked.errors);
  if (errors.length > 0 || !checked.ok) return { ok: false, errors };
  return {
    ok: true,
    value: { transactionId: transactionId as string, acceptedAt: acceptedAt as string, ...checked.value },
  };
}

/**
 * A Kafka message value back to an AcceptedTransaction, re-validated with the
 * same rules as the API: a message written by anything else, or corrupted, is
 * rejected with the reason (the worker dead-letters it).
 */
export function decodeMessage(value: Buffer | undefined | null): Checked<AcceptedTransaction> {
  if (!value || value.length === 0) return { ok: false, errors: [{ field: "(message)", rule: "is empty" }] };
  // Version 2 is ASCII: latin1 maps each byte to one character, and any byte
  // outside printable ASCII then fails the field patterns.
  if (value[0] !== 0x7b /* "{" */) return decodeTextMessage(value.toString("latin1"));
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString("utf8"));
  } catch {
    return { ok: false, errors: [{ field: "(message)", rule: "is not valid JSON" }] };
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return { ok: false, errors: [{ field: "(message)", rule: "must be a JSON object" }] };
  }
  if (compiledMessageValue.Check(parsed) && isUtcTimestamp(parsed.acceptedAt)) {
    const value = exactTransaction(parsed, { transactionId: parsed.transactionId, acceptedAt: parsed.acceptedAt });
    if (value !== undefined) return { ok: true, value };
  }
  // Something is wrong: take it apart to name every error.
  const { v, transactionId, acceptedAt, ...fields } = parsed as Record<string, unknown>;
  const versionErrors = v === jsonMessageVersion ? [] : [{ field: "v", rule: versionRule }];
  return withEnvelopeChecks(versionErrors, transactionId, acceptedAt, [], checkTransaction(fields));
}
