// Streaming reader of PaySim CSV files (the 6.36M-row Kaggle file, its
// samples and data/generate.ts output): one row in memory at a time, each
// checked with the same schema as the API, so a bad row is reported with its
// line and field instead of stopping the read. Money stays a decimal string
// from the file to the Transaction, never a float.
import { createReadStream } from "node:fs";
import { parse } from "@fast-csv/parse";
import { type Checked, checkTransaction, describeErrors, type Transaction, transactionFields } from "./rules.ts";

/** PaySim's columns, in the order of its header line: our transaction's fields. */
export const paysimColumns = transactionFields;
export const paysimHeader = paysimColumns.join(",");

/** Field name of the error yielded for a header that is not PaySim's. */
export const headerField = "(header)";
/** Field name of the error yielded for a row with the wrong number of columns. */
export const rowField = "(row)";

export interface PaySimRecord {
  /** 1-based line of the file the row starts on (the header is line 1). */
  line: number;
  checked: Checked<Transaction>;
}

/** The file could not be read or is not CSV at all (an unclosed quote): the read cannot go on. */
export class PaySimCsvError extends Error {
  constructor(
    readonly path: string,
    /** The last line read before the failure (0: none). */
    readonly lineBefore: number,
    override readonly cause: Error,
  ) {
    super(`${path}: ${cause.message} (after line ${lineBefore})`);
    this.name = "PaySimCsvError";
  }
}

export interface ReadOptions {
  /** Data rows to read at most (the header does not count); all when absent. */
  rowsMax?: number;
}

/**
 * The rows of a PaySim CSV file, in order. Never throws for bad content: a
 * header that is not PaySim's yields one error at line 1 and ends the read
 * (no row can be interpreted without it); a bad row yields its errors and the
 * read goes on. A missing or unreadable file, or text that is not CSV (an
 * unclosed quote), throws PaySimCsvError: the framing of later rows is lost.
 */
export async function* readPaySimCsv(path: string, options: ReadOptions = {}): AsyncGenerator<PaySimRecord> {
  const rowsMax = options.rowsMax ?? Number.POSITIVE_INFINITY;
  if (!(rowsMax >= 0)) throw new RangeError(`rowsMax must be >= 0 (got ${rowsMax})`);
  // headers: false keeps the header an ordinary row we judge ourselves, and
  // ignoreEmpty: false keeps an empty line a row, so line numbers stay right.
  const file = createReadStream(path);
  const stream = parse<string[], string[]>({ headers: false, ignoreEmpty: false });
  // fast-csv's parseFile leaves a read error (missing file) unhandled and the
  // parser open forever; forwarding it ends the iteration with the error.
  file.on("error", (error) => stream.destroy(error));
  file.pipe(stream);
  let line = 0;
  let rows = 0;
  try {
    for await (const fields of stream as AsyncIterable<string[]>) {
      line += 1;
      if (line === 1) {
        const header = fields.join(",").replace(/^\uFEFF/, "");
        if (header !== paysimHeader) {
          yield {
            line,
            checked: {
              ok: false,
              errors: [{ field: headerField, rule: `must be ${paysimHeader} (got ${JSON.stringify(header)})` }],
            },
          };
          return;
        }
        continue;
      }
      if (rows >= rowsMax) return;
      rows += 1;
      const checked = checkRow(fields);
      yield { line, checked };
      // A quoted field may span lines; only an invalid row can hold a newline
      // (no PaySim field allows one), so only those pay for the count.
      if (!checked.ok) line += newlinesIn(fields);
      if (rows >= rowsMax) return;
    }
  } catch (error) {
    // Only the stream fails here (for-await never throws into a generator);
    // its message alone says neither which file nor where.
    throw new PaySimCsvError(path, line, error as Error);
  } finally {
    // Leaving early (limit, caller's break) must not leave the file open.
    file.destroy();
    stream.destroy();
  }
}

function checkRow(fields: string[]): Checked<Transaction> {
  if (fields.length !== paysimColumns.length) {
    return {
      ok: false,
      errors: [{ field: rowField, rule: `has ${fields.length} columns, expected ${paysimColumns.length}` }],
    };
  }
  // CSV gives strings; the schema wants numbers for step and the flags. A
  // value that is not a plain integer stays a string so the schema names it.
  return checkTransaction({
    step: integerOrText(fields[0] as string),
    type: fields[1],
    amount: fields[2],
    nameOrig: fields[3],
    oldbalanceOrg: fields[4],
    newbalanceOrig: fields[5],
    nameDest: fields[6],
    oldbalanceDest: fields[7],
    newbalanceDest: fields[8],
    isFraud: integerOrText(fields[9] as string),
    isFlaggedFraud: integerOrText(fields[10] as string),
  });
}

function integerOrText(text: string): number | string {
  return /^[0-9]{1,9}$/.test(text) ? Number(text) : text;
}

function newlinesIn(fields: string[]): number {
  let count = 0;
  for (const field of fields) {
    for (let i = field.indexOf("\n"); i !== -1; i = field.indexOf("\n", i + 1)) count += 1;
  }
  return count;
}

/** "line 7: amount: must be …" for a log line. */
export function describeRecord(record: PaySimRecord): string {
  if (record.checked.ok) return `line ${record.line}: ok`;
  return `line ${record.line}: ${describeErrors(record.checked.errors)}`;
}
