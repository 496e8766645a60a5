// Telling a database mistake from bad rows. PostgreSQL refusing a row now and
// then is a bad row: it is dead-lettered and its partition moves on. PostgreSQL
// refusing most rows with one SQLSTATE is the database disagreeing with every
// transaction (a constraint, a column type, a trigger added by mistake):
// dead-lettering would empty the whole stream into the DLQ, so the worker
// stops instead, names the SQLSTATE, and commits nothing of the batch.

/** Fewest rows a verdict is drawn on: below it, two bad rows in a row would look like a pattern. */
export const systematicRefusalRowsMin = 10;
/** Share of those rows refused with one SQLSTATE past which the database is wrong, not the rows (a fraction). */
export const systematicRefusalShareMax = 0.5;

/** PostgreSQL refuses most rows with one SQLSTATE: no retry or dead letter can fix that, a person must. */
export class SystematicRefusalError extends Error {
  constructor(
    readonly sqlstate: string,
    readonly refused: number,
    readonly rows: number,
    example: string,
  ) {
    super(
      `PostgreSQL refused ${refused} of ${rows} rows with SQLSTATE ${sqlstate} (${example}): the database refuses the stream, not a few bad rows; the worker stops instead of dead-lettering it, and the batch's offsets stay uncommitted. Fix the database (or the worker's version) and restart`,
    );
    this.name = "SystematicRefusalError";
  }
}

interface WatchedBatch {
  rows: number;
  refused: Map<string, number>;
}

/** Tells of one batch's refused rows; `restart` forgets them when the batch is written again. */
export interface BatchRefusals {
  refused(sqlstate: string, reason: string): void;
  restart(): void;
}

/**
 * Counts refused rows by SQLSTATE over the batches written lately, and throws
 * SystematicRefusalError from `refused` once more than
 * systematicRefusalShareMax of the rows in view were refused with one
 * SQLSTATE. The view is the batch itself when it has systematicRefusalRowsMin
 * rows, else it and the batches begun before it up to that many rows, so a
 * trickle of one-row batches is judged too.
 */
export class RefusalWatch {
  /** Batches in the order their writes began, the newest last; enough to gather systematicRefusalRowsMin rows. */
  readonly #recent: WatchedBatch[] = [];

  begin(rows: number): BatchRefusals {
    const batch: WatchedBatch = { rows, refused: new Map() };
    this.#recent.push(batch);
    if (this.#recent.length > systematicRefusalRowsMin) this.#recent.shift();
    return {
      refused: (sqlstate, reason) => {
        batch.refused.set(sqlstate, (batch.refused.get(sqlstate) ?? 0) + 1);
        this.#judge(batch, sqlstate, reason);
      },
      restart: () => batch.refused.clear(),
    };
  }

  #judge(batch: WatchedBatch, sqlstate: string, reason: string): void {
    let rows = batch.rows;
    let refused = batch.refused.get(sqlstate) ?? 0;
    // A batch that left the window while it was written is judged alone.
    for (let index = this.#recent.indexOf(batch) - 1; rows < systematicRefusalRowsMin && index >= 0; index--) {
      const earlier = this.#recent[index] as WatchedBatch;
      rows += earlier.rows;
      refused += earlier.refused.get(sqlstate) ?? 0;
    }
    if (rows >= systematicRefusalRowsMin && refused > rows * systematicRefusalShareMax) {
      throw new SystematicRefusalError(sqlstate, refused, rows, reason);
    }
  }
}
