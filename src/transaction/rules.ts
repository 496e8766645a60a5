// The one definition of a transaction, used by the API (validation and
// OpenAPI), the worker (decoding Kafka messages) and the CSV reader. Plain
// TypeBox, so the worker never loads the HTTP framework; Elysia reads the
// same schemas (and their `error` texts) for the OpenAPI document.

import { type Static, Type } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { Value } from "@sinclair/typebox/value";
import { canonicalMoney, moneyInputPattern, moneyRule } from "./money.ts";

export const transactionTypes = ["CASH_IN", "CASH_OUT", "DEBIT", "PAYMENT", "TRANSFER"] as const;
export type TransactionType = (typeof transactionTypes)[number];

export const stepMin = 1;
export const stepMax = 10_000;
/** Account names: printable ASCII without spaces, this long at most. */
export const nameLengthMax = 64;
export const namePattern = "^[\\x21-\\x7E]+$";

/** A lowercase UUID, as txlog writes ids. */
export const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

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

const moneyFields = ["amount", "oldbalanceOrg", "newbalanceOrig", "oldbalanceDest", "newbalanceDest"] as const;
type MoneyField = (typeof moneyFields)[number];

const Money = (description: string, example: number) =>
  Type.Union([Type.Number({ minimum: 0, maximum: 1e13 }), Type.String({ pattern: moneyInputPattern, maxLength: 17 })], {
    description: `${description}; ${moneyRule}`,
    examples: [example],
    error: moneyRule,
  });

const Flag = (description: string) =>
  Type.Optional(
    Type.Union([Type.Literal(0), Type.Literal(1), Type.Boolean()], {
      description: `${description}: 0/1 or false/true, default 0`,
      default: 0,
      error: "must be 0, 1, true or false",
    }),
  );

const Name = (description: string, example: string) =>
  Type.String({
    minLength: 1,
    maxLength: nameLengthMax,
    pattern: namePattern,
    description: `${description}: 1 to ${nameLengthMax} printable ASCII characters, no spaces`,
    examples: [example],
    error: `must be 1 to ${nameLengthMax} printable ASCII characters without spaces`,
  });

/** A transaction as clients send it (PaySim's column names). */
export const TransactionInput = Type.Object(
  {
    // An integer, never a string: "-1" once slipped through a string-accepting integer type.
    step: Type.Integer({
      minimum: stepMin,
      maximum: stepMax,
      description: "hour of the simulation the transaction belongs to",
      examples: [1],
      error: `must be an integer from ${stepMin} to ${stepMax}`,
    }),
    // A union of literals, not an enum type with a default: a missing type must not become CASH_IN.
    type: Type.Union(
      transactionTypes.map((type) => Type.Literal(type)),
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
  /** The id of the API key it was sent with (never the secret); absent without keys. */
  apiKeyId?: string;
}

export interface FieldError {
  /** Field name, with the array index for batches ("[3].amount"). */
  field: string;
  rule: string;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

/** "amount: must be …; step: must be …" for an error message. */
export function describeErrors(errors: FieldError[]): string {
  return errors.map((error) => `${error.field}: ${error.rule}`).join("; ");
}

function flag(value: unknown): boolean {
  return value === 1 || value === true;
}

/**
 * The one place a Transaction is built: from a value whose shape the schema
 * accepted, with its money canonical. Undefined when some money is not exact.
 */
export function buildTransaction(raw: Record<string, unknown>): Transaction | undefined {
  const money = {} as Record<MoneyField, string>;
  for (const field of moneyFields) {
    const canonical = canonicalMoney(raw[field]);
    if (canonical === undefined) return undefined;
    money[field] = canonical;
  }
  return {
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
  };
}

// Compiled once: checking a valid transaction costs a fraction of walking
// Value.Errors, which is kept for the (rare) invalid ones to name every error.
const compiledTransactionInput = TypeCompiler.Compile(TransactionInput);

/** Validates anything against the transaction schema; never throws. */
export function checkTransaction(input: unknown, fieldPrefix = ""): Checked<Transaction> {
  if (compiledTransactionInput.Check(input)) {
    const value = buildTransaction(input);
    if (value !== undefined) return { ok: true, value };
    // Shape is right but some money is not exact: the full pass names it.
  }
  const errors = transactionErrors(input);
  if (errors.length === 0) {
    // The full pass found nothing the fast one refused: build from what it let through.
    const value = buildTransaction(input as Record<string, unknown>);
    if (value !== undefined) return { ok: true, value };
  }
  return { ok: false, errors: errors.map((error) => ({ field: `${fieldPrefix}${error.field}`, rule: error.rule })) };
}

function fieldOf(path: string): string {
  // TypeBox paths look like "/amount"; unknown properties carry the name too.
  return path.replace(/^\//, "").split("/")[0] || "(body)";
}

/** Every field error of `input`, each field and rule once, unknown fields and inexact money included. */
function transactionErrors(input: unknown): FieldError[] {
  const errors: FieldError[] = [];
  const seen = new Set<string>();
  const add = (field: string, rule: string) => {
    const key = `${field}\u0000${rule}`;
    if (seen.has(key)) return;
    seen.add(key);
    errors.push({ field, rule });
  };
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    add("(body)", "must be a JSON object");
    return errors;
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
  for (const field of moneyFields) {
    if (errors.some((error) => error.field === field)) continue;
    if (canonicalMoney(raw[field]) === undefined) add(field, moneyRule);
  }
  return errors;
}

/** A batch body checked element by element: all valid, or the field errors ("[i].field"). */
export function checkBatch(body: unknown, rowsMax: number): Checked<Transaction[]> {
  if (!Array.isArray(body))
    return { ok: false, errors: [{ field: "(body)", rule: "must be a JSON array of transactions" }] };
  if (body.length === 0 || body.length > rowsMax) {
    return {
      ok: false,
      errors: [{ field: "(body)", rule: `must hold 1 to ${rowsMax} transactions (got ${body.length})` }],
    };
  }
  const values: Transaction[] = [];
  const errors: FieldError[] = [];
  body.forEach((item, index) => {
    const checked = checkTransaction(item, `[${index}].`);
    if (checked.ok) values.push(checked.value);
    else errors.push(...checked.errors);
  });
  return errors.length === 0 ? { ok: true, value: values } : { ok: false, errors };
}
