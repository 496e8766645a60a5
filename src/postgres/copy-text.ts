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

/**
 * The fields of one COPY text line back (the inverse of copyRow, for tests and
 * audits). Accepts exactly what copyRow writes.
 */
export function parseCopyRow(line: string): Array<string | null> {
  if (!line.endsWith("\n")) throw new CopyTextError("a COPY row ends with a newline");
  return line
    .slice(0, -1)
    .split("\t")
    .map((field) => {
      if (field === "\\N") return null;
      return field.replace(/\\(.)/gs, (_, char: string) => {
        const unescaped = { "\\": "\\", t: "\t", n: "\n", r: "\r" }[char];
        if (unescaped === undefined) throw new CopyTextError(`unknown COPY escape \\${char}`);
        return unescaped;
      });
    });
}
