// A failure episode: while a dependency is down every request (or every
// retry) fails the same way, and a line for each would bury the log and cost
// the API its throughput in an outage. An episode logs one line when it
// starts (with the cause), at most one summary per summaryMs while it lasts
// (the count so far, the latest cause), and one line when it ends (how long,
// how many failures).
import type { Logger } from "./logger.ts";

export interface EpisodeOptions {
  log: Logger;
  /** What fails, for the lines: "kafka produce", "database read", "database write". */
  name: string;
  /** Longest time between summary lines while the episode lasts, milliseconds. */
  summaryMs: number;
  /** Milliseconds; a test passes a fake clock. */
  now?: () => number;
}

interface Running {
  startedAtMs: number;
  lastSummaryAtMs: number;
  failures: number;
}

export class Episode {
  readonly #options: EpisodeOptions;
  readonly #now: () => number;
  #running: Running | undefined;

  constructor(options: EpisodeOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** True while failures have not been followed by a success. */
  get active(): boolean {
    return this.#running !== undefined;
  }

  /** One more failure: the first of an episode is logged with its cause, later ones by the periodic summary. */
  failed(cause: string): void {
    const now = this.#now();
    const { log, name, summaryMs } = this.#options;
    const running = this.#running;
    if (running === undefined) {
      this.#running = { startedAtMs: now, lastSummaryAtMs: now, failures: 1 };
      log.warn({ episode: name, cause }, `${name} failing: ${cause}`);
      return;
    }
    running.failures++;
    if (now - running.lastSummaryAtMs < summaryMs) return;
    const seconds = secondsSince(running.startedAtMs, now);
    log.warn(
      { episode: name, failures: running.failures, seconds, cause },
      `${name} still failing after ${seconds} s: ${running.failures} failures so far, latest: ${cause}`,
    );
    running.lastSummaryAtMs = now;
  }

  /** A success: ends the running episode, if any, with one line. */
  succeeded(): void {
    const running = this.#running;
    if (running === undefined) return;
    this.#running = undefined;
    const { log, name } = this.#options;
    const seconds = secondsSince(running.startedAtMs, this.#now());
    log.info(
      { episode: name, failures: running.failures, seconds },
      `${name} recovered after ${seconds} s and ${running.failures} failures`,
    );
  }
}

/** One episode per name, made on first use: the steps of one process that fail on their own. */
export class Episodes {
  readonly #byName = new Map<string, Episode>();

  constructor(readonly options: Omit<EpisodeOptions, "name">) {}

  of(name: string): Episode {
    let episode = this.#byName.get(name);
    if (episode === undefined) {
      episode = new Episode({ ...this.options, name });
      this.#byName.set(name, episode);
    }
    return episode;
  }
}

function secondsSince(startMs: number, nowMs: number): number {
  return Number(((nowMs - startMs) / 1000).toFixed(1));
}
