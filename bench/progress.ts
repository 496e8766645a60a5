// Progress of a phase: a bar redrawn in place on a terminal, a plain line
// every few seconds otherwise (CI logs, files).

export interface ProgressState {
  /** Rows done by the phase's own measure (sent, produced, committed). */
  done: number;
  /** A short note after the figures ("committed 12,000"). */
  note?: string;
}

/** Redraw interval on a terminal, and line interval otherwise, milliseconds. */
const ttyIntervalMs = 200;
const plainIntervalMs = 5000;
const barWidth = 30;

export class Progress {
  readonly #tty: boolean;
  #timer: ReturnType<typeof setInterval> | undefined;
  #label = "";
  #total = 0;
  #startedMs = 0;
  #startDone = 0;
  #read: () => ProgressState = () => ({ done: 0 });

  constructor(tty = process.stdout.isTTY === true) {
    this.#tty = tty;
  }

  start(label: string, total: number, read: () => ProgressState): void {
    this.stop();
    this.#label = label;
    this.#total = total;
    this.#read = read;
    this.#startedMs = performance.now();
    // A phase may start with work already done (commits during the load): the rate counts only its own.
    this.#startDone = read().done;
    if (!this.#tty) console.log(`${label}: started (${total.toLocaleString("en-US")} rows)`);
    this.#timer = setInterval(() => this.#draw(false), this.#tty ? ttyIntervalMs : plainIntervalMs);
  }

  /** Ends the phase's display with a final line. */
  stop(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#draw(true);
  }

  #draw(final: boolean): void {
    const state = this.#read();
    const seconds = (performance.now() - this.#startedMs) / 1000;
    const share = this.#total > 0 ? Math.min(1, state.done / this.#total) : 1;
    const rate = seconds > 0 ? (state.done - this.#startDone) / seconds : 0;
    const figures =
      `${state.done.toLocaleString("en-US")}/${this.#total.toLocaleString("en-US")} ` +
      `${(share * 100).toFixed(1)}% ${Math.round(rate).toLocaleString("en-US")}/s ${seconds.toFixed(1)} s` +
      (state.note ? ` · ${state.note}` : "");
    if (this.#tty) {
      const filled = Math.round(share * barWidth);
      const bar = `${"█".repeat(filled)}${"░".repeat(barWidth - filled)}`;
      process.stdout.write(`\r${this.#label} ${bar} ${figures}\x1b[K${final ? "\n" : ""}`);
    } else {
      console.log(`${this.#label}: ${figures}${final ? " (done)" : ""}`);
    }
  }
}
