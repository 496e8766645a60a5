// Kafka's client reports a refused login as "Listing topics failed." with
// the reason three levels down. A process that cannot get in says why at
// once, in words that name the settings to check, and never shows the
// password (it is not in the client's errors, and these texts take only the
// user name and the broker's and TLS layer's messages).
import type { KafkaConnection } from "./client.ts";

/** How deep a cause is looked for in the client's nested errors. */
const causeDepthMax = 8;

export class KafkaAccessError extends Error {
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.name = "KafkaAccessError";
  }
}

interface ErrorLike {
  code?: unknown;
  apiId?: unknown;
  message?: unknown;
  serverErrorMessage?: unknown;
  errors?: unknown;
  cause?: unknown;
}

/** `error` itself, or a KafkaAccessError explaining it when the broker did not let the client in. */
export function explainAccessFailure(error: unknown, connection: KafkaConnection): unknown {
  const errors = [...nested(error, 0)];
  const leaves = errors.filter((e) => !Array.isArray(e.errors) && e.cause === undefined);
  const reason = accessReason(connection, errors, leaves);
  return reason === undefined
    ? error
    : new KafkaAccessError(`Kafka at ${connection.brokers.join(",")} ${reason}`, error);
}

function accessReason(connection: KafkaConnection, errors: ErrorLike[], leaves: ErrorLike[]): string | undefined {
  const { sasl, tls } = connection;
  if (sasl !== undefined && errors.some((e) => e.apiId === "SASL_AUTHENTICATION_FAILED")) {
    const said = errors.map((e) => e.serverErrorMessage).find((m) => typeof m === "string" && m !== "");
    return `refused the SASL login of user "${sasl.username}" (${sasl.mechanism})${said ? `: ${said}` : ""}; check KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE) and KAFKA_SASL_MECHANISM`;
  }
  const tlsFailure = leaves.find(
    (e) => typeof e.code === "string" && /CERT|SELF_SIGNED|UNABLE_TO_|TLS|SSL/.test(e.code),
  );
  if (tls !== undefined && tlsFailure !== undefined) {
    return `could not be verified over TLS: ${tlsFailure.message}; check KAFKA_TLS_CA_FILE (the CAs that signed the brokers' certificates) and KAFKA_TLS_SERVERNAME`;
  }
  if (tls === undefined && leaves.some((e) => e.message === "Broker requires TLS.")) {
    return "requires TLS: set KAFKA_TLS=true";
  }
  const closed = leaves.length > 0 && leaves.every((e) => e.message === "Connection closed");
  if (closed && tls === undefined) {
    return sasl === undefined
      ? "closed every connection before answering, as a listener that requires SASL or TLS does to a client without them; if it does, set KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (and KAFKA_TLS=true for SASL_SSL)"
      : "closed every connection during the SASL login, as a TLS listener (SASL_SSL) does to a client without TLS; if it is one, set KAFKA_TLS=true";
  }
  return undefined;
}

function* nested(error: unknown, depth: number): Generator<ErrorLike> {
  if (error === null || typeof error !== "object" || depth > causeDepthMax) return;
  const e = error as ErrorLike;
  yield e;
  if (Array.isArray(e.errors)) for (const inner of e.errors) yield* nested(inner, depth + 1);
  if (e.cause !== undefined) yield* nested(e.cause, depth + 1);
}
