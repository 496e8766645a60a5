// Hands accepted transactions to Kafka through the produce batcher and says
// what the client is told: ok only after the broker's ack (acks=all), or a
// 503 that says whether anything may have been written. A batch too large
// for one produce request goes in several (see produce-batcher.ts), so after
// a failure some of its transactions may be written and others not: the
// route lists every id in its 503, and a retry with the same Idempotency-Key
// writes no second row of those that were.
import type { Config } from "../runtime/config.ts";
import { Episode } from "../runtime/episodes.ts";
import { errorText } from "../runtime/error-text.ts";
import { roleLogger } from "../runtime/logger.ts";
import { encodeMessage } from "../transaction/message.ts";
import type { AcceptedTransaction } from "../transaction/rules.ts";
import type { ErrorBody } from "./models.ts";
import { AcceptTimeoutError, OverloadedError, type ProduceBatcher } from "./produce-batcher.ts";

export type Outcome = { ok: true } | { ok: false; status: 503; body: ErrorBody };

function unavailable(error: string, message: string): Outcome {
  return { ok: false, status: 503, body: { error, message } };
}

/** What may have been written, in the client's words, for one transaction or a batch of them. */
function mayBeAccepted(count: number): string {
  return count === 1
    ? "the transaction may or may not be accepted: retry with the same Idempotency-Key"
    : `some or all of the ${count} transactions may be accepted: retry with the same Idempotency-Key, or look each of transactionIds up`;
}

/**
 * One failure episode per batcher (the producer that fails): during a Kafka
 * outage every request fails the same way, and the log gets a line when it
 * starts, a summary now and then, and a line when a produce passes again.
 */
const produceEpisodes = new WeakMap<ProduceBatcher, Episode>();

function produceEpisode(config: Config, batcher: ProduceBatcher): Episode {
  let episode = produceEpisodes.get(batcher);
  if (episode === undefined) {
    episode = new Episode({ log: roleLogger("api"), name: "kafka produce", summaryMs: config.logEpisodeSummaryMs });
    produceEpisodes.set(batcher, episode);
  }
  return episode;
}

/** Hands transactions to Kafka; ok only after the ack of every one. */
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
    produceEpisode(config, batcher).succeeded();
    return { ok: true };
  } catch (error) {
    if (error instanceof OverloadedError) {
      return unavailable("overloaded", `${error.message}; nothing was accepted, retry later`);
    }
    produceEpisode(config, batcher).failed(errorText(error));
    if (error instanceof AcceptTimeoutError && !error.sent) {
      return unavailable(
        "kafka_unavailable",
        `Kafka could not take the write within ${config.acceptTimeoutMs} ms; nothing was accepted, retry later`,
      );
    }
    return unavailable(
      "kafka_unavailable",
      `Kafka did not acknowledge within ${config.acceptTimeoutMs} ms (${(error as Error).message}); ${mayBeAccepted(transactions.length)}`,
    );
  }
}
