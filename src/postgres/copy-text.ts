// PostgreSQL COPY text format: one line per row, fields separated by a tab,
// NULL written as \N, and backslash, tab, newline and carriage return escaped
// with a backslash (https://www.postgresql.org/docs/15/sql-copy.html). Values
// are written as text and cast by PostgreSQL, never reformatted here.

export class CopyTextError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CopyTextError";
  }
}

const specials = /[\\\t\n\r]/g;
const escapes: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" };

/** One field in COPY text format; null is NULL. */
export function copyField(value: string | null): string {
  if (value === null) return "\\N";
  // PostgreSQL text cannot hold NUL; refuse rather than let COPY fail mid-batch.
  if (value.includes("\u0000")) throw new CopyTextError("a COPY field cannot contain the NUL character");
  return value.replace(specials, (char) => escapes[char] as string);
}

/** One row in COPY text format, newline included. */
export function copyRow(fields: ReadonlyArray<string | null>): string {
  return `${fields.map(copyField).join("\t")}\n`;
}
