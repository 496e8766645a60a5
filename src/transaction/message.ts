// The Kafka message value: how an accepted transaction travels from the API
// to the worker, and back to an AcceptedTransaction, re-validated with the
// same rules as the API.
//
//
// Version 2, what the API writes: one line of ASCII text, "2" and the fields
// separated by tabs, in the order of the worker's COPY line (src/postgres/
// stored-row.ts copyColumns), money canonical, flags t/f:
//   2<TAB>transactionId<TAB>step<TAB>type<TAB>amount<TAB>nameOrig<TAB>oldbalanceOrg<TAB>newbalanceOrig
//    <TAB>nameDest<TAB>oldbalanceDest<TAB>newbalanceDest<TAB>isFraud<TAB>isFlaggedFraud<TAB>acceptedAt
// Version 3, what the API writes for a transaction sent with an API key:
// version 2's fields, then the key's id (never the secret), which the COPY
// line carries after the Kafka position:
//   3<TAB>…version 2's fields…<TAB>apiKeyId
// No field can hold a tab or a newline (names are printable ASCII without
// spaces), so nothing is escaped. Version 1 was a JSON object {"v":1, ...};
// the worker still reads it, so a topic written by an older API drains.
// Why text: the worker's COPY line is the same text, so decoding is one
// anchored pattern instead of JSON.parse, a schema check and a re-encoding,
// and the value is less than half the JSON's size (README, performance).
import { Type } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { apiKeyIdPattern, apiKeyIdRule } from "./ids.ts";
import { canonicalMoneyPattern } from "./money.ts";
import {
  type AcceptedTransaction,
  buildTransaction,
  type Checked,
  checkTransaction,
  type FieldError,
  nameLengthMax,
  namePattern,
  stepMax,
  type Transaction,
  TransactionInput,
  type TransactionType,
  transactionFields,
  transactionTypes,
  uuidPattern,
} from "./rules.ts";

/** Version of the message value layout the API writes (2: tab-separated text; 1: JSON, still read). */
export const messageVersion = 2;
/** Version 2 and the API key's id after it: what the API writes for a transaction sent with a key. */
export const keyedMessageVersion = 3;
const jsonMessageVersion = 1;

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
  // the bytes UTF-8 would, and Bun encodes latin1 several times faster.
  const text = transactionText(accepted);
  if (accepted.apiKeyId === undefined) return Buffer.from(`${messageVersion}\t${text}`, "latin1");
  return Buffer.from(`${keyedMessageVersion}\t${text}\t${accepted.apiKeyId}`, "latin1");
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

/** A whole message value in one compiled check: the worker's common case. */
const compiledMessageValue = TypeCompiler.Compile(
  Type.Object(
    {
      v: Type.Literal(jsonMessageVersion),
      transactionId: Type.String({ pattern: uuidPattern.source }),
      acceptedAt: Type.String(),
      ...TransactionInput.properties,
    },
    { additionalProperties: false },
  ),
);

/** Canonical money below 10^13, or exactly 10^13 (the largest allowed). */
const moneyText = `(?:${canonicalMoneyPattern.source.slice(1, -1)}|10000000000000\\.00)`;
const nameText = namePattern.slice(1, -1).replace("]+", `]{1,${nameLengthMax}}`);
const uuidText = uuidPattern.source.slice(1, -1);
const typeText = transactionTypes.join("|");
const keyText = apiKeyIdPattern.source.slice(1, -1);

/**
 * A version 2 or 3 value that needs no further look: every field in its canonical
 * form (step still needs its upper bound, acceptedAt its calendar check).
 * Anything it refuses is judged again field by field with the schema, so this
 * pattern may only ever be stricter than the schema, never looser.
 */
export const textMessagePattern = new RegExp(
  `^[${messageVersion}${keyedMessageVersion}]\\t(${uuidText})\\t([1-9][0-9]{0,4})\\t(${typeText})\\t(${moneyText})\\t(${nameText})\\t(${moneyText})\\t(${moneyText})\\t(${nameText})\\t(${moneyText})\\t(${moneyText})\\t([tf])\\t([tf])\\t([^\\t]*)(?:\\t(${keyText}))?$`,
);

/** A name without the backslash, the one character of a name COPY escapes. */
const plainNameText = nameText.replace("\\x21-\\x7E]", "\\x21-\\x5B\\x5D-\\x7E]");

/**
 * A version 2 or 3 value whose text can go into the worker's COPY stream as
 * it is: textMessagePattern with two more limits, so that nothing it passes
 * needs escaping or a closer look. Names leave out the backslash and
 * acceptedAt is spelled out (year, month and day captured; hours to 23), so
 * only the month's length and the step's bound are left to check. It
 * captures only what copyReadyKeyLength reads. Whatever it refuses goes
 * through decodeMessage, so it may only ever be stricter than
 * textMessagePattern, never looser.
 */
export const copyReadyPattern = new RegExp(
  `^[${messageVersion}${keyedMessageVersion}]\\t${uuidText}\\t([1-9][0-9]{0,4})\\t(?:${typeText})\\t${moneyText}\\t${plainNameText}\\t${moneyText}\\t${moneyText}\\t${plainNameText}\\t${moneyText}\\t${moneyText}\\t[tf]\\t[tf]\\t([0-9]{4})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{1,3})?Z(?:\\t(${keyText}))?$`,
);

const monthDays = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function dayExists(year: number, month: number, day: number): boolean {
  if (day <= 28) return true;
  if (month === 2) return day === 29 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return day <= (monthDays[month - 1] as number);
}

/**
 * For a value that copyReadyPattern passes and decodeMessage would accept as
 * it is: the length of its key id field ("\t" and the id; 0 for version 2),
 * which is the one part of the value that moves in its COPY line. -1 for
 * anything else (decodeMessage then judges it).
 */
export function copyReadyKeyLength(text: string): number {
  const m = copyReadyPattern.exec(text);
  if (m === null || Number(m[1]) > stepMax) return -1;
  const year = Number(m[2]);
  if (year === 0 || !dayExists(year, Number(m[3]), Number(m[4]))) return -1;
  const key = m[5];
  if ((text.charCodeAt(0) === keyedCharCode) !== (key !== undefined)) return -1;
  return key === undefined ? 0 : key.length + 1;
}

/** A version 2 or 3 value; the fast pattern first, the schema's own checks for anything it refuses. */
function decodeTextMessage(text: string): Checked<AcceptedTransaction> {
  const m = textMessagePattern.exec(text);
  // The version says whether the key's id follows: 3 with it, 2 without.
  const keyed = text.charCodeAt(0) === keyedCharCode;
  if (m !== null && Number(m[2]) <= stepMax && isUtcTimestamp(m[13]) && keyed === (m[14] !== undefined)) {
    const value: AcceptedTransaction = {
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
    };
    if (m[14] !== undefined) value.apiKeyId = m[14];
    return { ok: true, value };
  }
  return decodeTextFields(text);
}

const keyedCharCode = String(keyedMessageVersion).charCodeAt(0);
const keyedMessageFields = [...messageFields, "apiKeyId"] as const;

/** A version 2 or 3 value the fast pattern refused, taken apart to name every error. */
function decodeTextFields(text: string): Checked<AcceptedTransaction> {
  const parts = text.split("\t");
  if (parts[0] !== String(messageVersion) && parts[0] !== String(keyedMessageVersion)) {
    return { ok: false, errors: [{ field: "v", rule: versionRule }] };
  }
  const fieldNames = parts[0] === String(keyedMessageVersion) ? keyedMessageFields : messageFields;
  if (parts.length !== fieldNames.length + 1) {
    return {
      ok: false,
      errors: [
        {
          field: "(message)",
          rule: `must hold ${fieldNames.length} tab-separated fields after version ${parts[0]} (${fieldNames.join(", ")}), not ${parts.length - 1}`,
        },
      ],
    };
  }
  const raw = Object.fromEntries(fieldNames.map((field, index) => [field, parts[index + 1] as string])) as Record<
    (typeof keyedMessageFields)[number],
    string
  >;
  const { transactionId, acceptedAt, isFraud, isFlaggedFraud, step, apiKeyId, ...rest } = raw;
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
  if (apiKeyId !== undefined && !apiKeyIdPattern.test(apiKeyId)) errors.push({ field: "apiKeyId", rule: apiKeyIdRule });
  const checked = withEnvelopeChecks([], transactionId, acceptedAt, errors, checkTransaction(fields));
  return checked.ok && apiKeyId !== undefined ? { ok: true, value: { ...checked.value, apiKeyId } } : checked;
}

const versionRule = `must be ${messageVersion} or ${keyedMessageVersion} (tab-separated text) or a JSON object with "v": ${jsonMessageVersion}`;

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
    const transaction = buildTransaction(parsed);
    if (transaction !== undefined) {
      return {
        ok: true,
        value: { transactionId: parsed.transactionId, acceptedAt: parsed.acceptedAt, ...transaction },
      };
    }
  }
  // Something is wrong: take it apart to name every error.
  const { v, transactionId, acceptedAt, ...fields } = parsed as Record<string, unknown>;
  const versionErrors = v === jsonMessageVersion ? [] : [{ field: "v", rule: versionRule }];
  return withEnvelopeChecks(versionErrors, transactionId, acceptedAt, [], checkTransaction(fields));
}

/**
 * The transaction id a message value carries, even when the rest of it is
 * invalid: its rejection is recorded under that id, so the client that got
 * the 202 learns what became of it. Undefined when no valid id can be read.
 */
export function messageTransactionId(value: Buffer | undefined | null): string | undefined {
  if (!value || value.length === 0) return undefined;
  let id: unknown;
  if (value[0] === 0x7b /* "{" */) {
    try {
      id = (JSON.parse(value.toString("utf8")) as { transactionId?: unknown } | null)?.transactionId;
    } catch {
      return undefined;
    }
  } else {
    id = value.toString("latin1").split("\t", 2)[1];
  }
  return typeof id === "string" && uuidPattern.test(id) ? id : undefined;
}

/**
 * The API key id a message value carries, even when the rest of it is
 * invalid (for its rejection's audit). Undefined without one, or when it
 * cannot be read.
 */
export function messageApiKeyId(value: Buffer | undefined | null): string | undefined {
  if (!value || value[0] !== keyedCharCode) return undefined;
  const parts = value.toString("latin1").split("\t");
  const id = parts.length === keyedMessageFields.length + 1 ? parts.at(-1) : undefined;
  return id !== undefined && apiKeyIdPattern.test(id) ? id : undefined;
}
