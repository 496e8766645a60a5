// Kafka's client reports a refused login as "Listing topics failed." with
// the reason three levels down. A process that cannot get in says why at
// once, in words that name the settings to check, and never shows the
// password (it is not in the client's errors, and these texts take only the
// user name and the broker's message).
import type { KafkaConnection } from "./client.ts";

/** How deep a cause is looked for in the client's nested errors. */
const causeDepthMax = 8;

export class KafkaAccessError extends Error {
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.name = "KafkaAccessError";
  }
}

/** `error` itself, or a KafkaAccessError explaining it when it is a refused login or a listener that wants SASL. */
export function explainAccessFailure(error: unknown, connection: KafkaConnection): unknown {
  const errors = [...nested(error, 0)];
  const brokers = connection.brokers.join(",");
  const refused = errors.find((e) => e.code === "PLT_KFK_AUTHENTICATION");
  if (refused !== undefined && connection.sasl !== undefined) {
    const said = errors.map((e) => e.serverErrorMessage).find((m) => typeof m === "string" && m !== "");
    return new KafkaAccessError(
      `Kafka at ${brokers} refused the SASL login of user "${connection.sasl.username}" (${connection.sasl.mechanism})${said ? `: ${said}` : ""}; check KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE) and KAFKA_SASL_MECHANISM`,
      error,
    );
  }
  const leaves = errors.filter((e) => !Array.isArray(e.errors) && e.cause === undefined);
  const closed = leaves.length > 0 && leaves.every((e) => e.message === "Connection closed");
  if (closed && connection.sasl === undefined) {
    return new KafkaAccessError(
      `Kafka at ${brokers} closed every connection before answering, as a listener that requires SASL does to a client without it; if it does, set KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (and KAFKA_TLS=true for SASL_SSL)`,
      error,
    );
  }
  return error;
}

interface ErrorLike {
  code?: unknown;
  message?: unknown;
  serverErrorMessage?: unknown;
  errors?: unknown;
  cause?: unknown;
}

function* nested(error: unknown, depth: number): Generator<ErrorLike> {
  if (error === null || typeof error !== "object" || depth > causeDepthMax) return;
  const e = error as ErrorLike;
  yield e;
  if (Array.isArray(e.errors)) for (const inner of e.errors) yield* nested(inner, depth + 1);
  if (e.cause !== undefined) yield* nested(e.cause, depth + 1);
}
