// One shape for every error body, so clients handle them alike:
// { error: <code>, message: <one line naming each field and rule>, errors?: [{ field, rule }] }
import { t } from "elysia";
import {
  type Checked,
  checkTransaction,
  describeErrors,
  type FieldError,
  type Transaction,
} from "../transaction/rules.ts";

export const ErrorBody = t.Object(
  {
    error: t.String({ description: "machine-readable code", examples: ["invalid_transaction"] }),
    message: t.String({ description: "what is wrong, naming each field and its rule" }),
    errors: t.Optional(t.Array(t.Object({ field: t.String(), rule: t.String() }))),
  },
  { description: "an error; nothing was changed" },
);
export type ErrorBody = typeof ErrorBody.static;

export function invalid(errors: FieldError[], code = "invalid_transaction"): ErrorBody {
  return { error: code, message: describeErrors(errors), errors };
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

/** A client mistake found in a handler: answered with `status` and an ErrorBody. */
export class RequestError extends Error {
  constructor(
    readonly status: 400 | 404 | 413 | 422,
    readonly body: ErrorBody,
  ) {
    super(body.message);
    this.name = "RequestError";
  }
}
