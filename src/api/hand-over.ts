// Hands accepted transactions to Kafka through the produce batcher and says
// what the client is told: ok only after the broker's ack (acks=all), or a
// 503 that says whether anything may have been written.
import type { Config } from "../runtime/config.ts";
import { errorText } from "../runtime/error-text.ts";
import { encodeMessage } from "../transaction/message.ts";
import type { AcceptedTransaction } from "../transaction/rules.ts";
import type { ErrorBody } from "./models.ts";
import { AcceptTimeoutError, OverloadedError, type ProduceBatcher } from "./produce-batcher.ts";

export type Outcome = { ok: true } | { ok: false; status: 503; body: ErrorBody };

function unavailable(error: string, message: string): Outcome {
  return { ok: false, status: 503, body: { error, message } };
}

/** Hands transactions to Kafka, all in one produce request; ok only after the ack. */
export async function handOver(
  config: Config,
  batcher: ProduceBatcher,
  transactions: AcceptedTransaction[],
): Promise<Outcome> {
  const messages = transactions.map((transaction) => ({
    topic: config.topic,
    // One account's transactions share a partition, so they stay in order.
    // Names are printable ASCII: latin1 gives the UTF-8 bytes, faster.
    key: Buffer.from(transaction.nameOrig, "latin1"),
    value: encodeMessage(transaction),
  }));
  try {
    await batcher.submit(messages);
    return { ok: true };
  } catch (error) {
    if (error instanceof OverloadedError) {
      return unavailable("overloaded", `${error.message}; nothing was accepted, retry later`);
    }
    console.error(`produce failed: ${errorText(error)}`);
    if (error instanceof AcceptTimeoutError && !error.sent) {
      return unavailable(
        "kafka_unavailable",
        `Kafka could not take the write within ${config.acceptTimeoutMs} ms; nothing was accepted, retry later`,
      );
    }
    return unavailable(
      "kafka_unavailable",
      `Kafka did not acknowledge within ${config.acceptTimeoutMs} ms (${(error as Error).message}); the transaction may or may not be accepted: retry with the same Idempotency-Key`,
    );
  }
}
