// The workers' consumer lag during the measured phase: each worker's /metrics
// (its status port, read from its started line) is scraped every
// lagSampleMs and once more at the end; the report gives the largest total
// lag seen (messages not yet committed, summed over the partitions).
import { metricSum, parseMetricsText } from "../src/runtime/metrics.ts";

/** How often the workers' /metrics are scraped, milliseconds (the workers poll Kafka as often: WORKER_LAG_POLL_MS). */
export const lagSampleMs = 1000;
/** Wait after the last commit before the last scrape, milliseconds: a worker's lag poll begun after that commit has answered by then. */
export const lagSettleMs = 2 * lagSampleMs;
/** Longest wait for one scrape, milliseconds. */
const scrapeTimeoutMs = 2000;

/** The total lag of one worker, or undefined when it does not answer. */
async function workerLag(port: number): Promise<number | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(scrapeTimeoutMs) });
    if (!response.ok) return undefined;
    return metricSum(parseMetricsText(await response.text()), "txlog_worker_consumer_lag_messages");
  } catch {
    return undefined;
  }
}

/** The workers' consumer lag during the phase, from their /metrics. */
export interface LagFigures {
  /** Largest total lag seen (messages not yet committed, all partitions), messages. */
  maxMessages: number;
  /** At the last scrape, after the last commit (undefined: no scrape answered). */
  lastMessages: number | undefined;
  samples: number;
  failedSamples: number;
  sampleMs: number;
}

export class LagSampler {
  #maxMessages = 0;
  #samples = 0;
  #failed = 0;
  #lastMessages: number | undefined;
  #timer: ReturnType<typeof setInterval>;

  /** `ports()`: the status ports the workers announced so far. */
  constructor(private readonly ports: () => number[]) {
    this.#timer = setInterval(() => void this.sample(), lagSampleMs);
    // A run that fails midway exits without stop(): the timer must not hold it.
    this.#timer.unref();
  }

  /** One scrape of every worker; their lags summed. */
  async sample(): Promise<void> {
    const ports = this.ports();
    if (ports.length === 0) return;
    const lags = await Promise.all(ports.map(workerLag));
    if (lags.some((lag) => lag === undefined)) {
      this.#failed++;
      return;
    }
    const total = (lags as number[]).reduce((sum, lag) => sum + lag, 0);
    this.#samples++;
    this.#lastMessages = total;
    this.#maxMessages = Math.max(this.#maxMessages, total);
  }

  /** Stops sampling after one last scrape (the workers still running). */
  async stop(): Promise<LagFigures> {
    clearInterval(this.#timer);
    await this.sample();
    return {
      maxMessages: this.#maxMessages,
      lastMessages: this.#lastMessages,
      samples: this.#samples,
      failedSamples: this.#failed,
      sampleMs: lagSampleMs,
    };
  }
}
