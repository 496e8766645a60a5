// One shape for every error body, so clients handle them alike:
// { error: <code>, message: <one line naming each field and rule>, errors?: [{ field, rule }] }
import { describeErrors, type FieldError } from "../transaction/rules.ts";
import type { ErrorBody } from "./models.ts";

export function invalid(errors: FieldError[], code = "invalid_transaction"): ErrorBody {
  return { error: code, message: describeErrors(errors), errors };
}

/** A client mistake found in a handler: answered with `status` and an ErrorBody. */
export class RequestError extends Error {
  constructor(
    readonly status: 400 | 404 | 409 | 413 | 422,
    readonly body: ErrorBody,
  ) {
    super(body.message);
    this.name = "RequestError";
  }
}
