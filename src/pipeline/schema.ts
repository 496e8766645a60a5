// The one definition of a transaction, used by the API (validation and
// OpenAPI), the worker (decoding Kafka messages) and the CSV reader.
//
// Money is exact: an amount is accepted as a JSON number or a decimal string
// with at most two fractional digits, 0 <= value <= 10^13, and is carried as
// a canonical decimal string ("9839.64") from here to PostgreSQL's NUMERIC.
// No arithmetic is ever done on a float amount.

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
    step: t.Integer({
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

/** Version of the message value layout; a consumer rejects what it does not know. */
export const messageVersion = 1;

export function encodeMessage(accepted: AcceptedTransaction): Buffer {
  return Buffer.from(JSON.stringify({ v: messageVersion, ...accepted }));
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
      v: t.Literal(messageVersion),
      transactionId: t.String({ pattern: uuidPattern.source }),
      acceptedAt: t.String(),
      ...TransactionInput.properties,
    },
    { additionalProperties: false },
  ),
);

/**
 * A Kafka message value back to an AcceptedTransaction, re-validated with the
 * same rules as the API: a message written by anything else, or corrupted, is
 * rejected with the reason (the worker dead-letters it).
 */
export function decodeMessage(value: Buffer | undefined | null): Checked<AcceptedTransaction> {
  if (!value || value.length === 0) return { ok: false, errors: [{ field: "(message)", rule: "is empty" }] };
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
  const errors: FieldError[] = [];
  if (v !== messageVersion) errors.push({ field: "v", rule: `must be ${messageVersion}` });
  if (typeof transactionId !== "string" || !uuidPattern.test(transactionId)) {
    errors.push({ field: "transactionId", rule: "must be a lowercase UUID" });
  }
  if (!isUtcTimestamp(acceptedAt)) {
    errors.push({ field: "acceptedAt", rule: "must be an ISO 8601 UTC time like 2026-01-31T12:00:00.000Z" });
  }
  const checked = checkTransaction(fields);
  if (!checked.ok) errors.push(...checked.errors);
  if (errors.length > 0 || !checked.ok) return { ok: false, errors };
  return {
    ok: true,
    value: { transactionId: transactionId as string, acceptedAt: acceptedAt as string, ...checked.value },
  };
}
