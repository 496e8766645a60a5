// The inverse of the COPY text encoder, to check what the worker writes.
import { CopyTextError } from "../../src/postgres/copy-text.ts";

/** The fields of one COPY text line back (the inverse of copyRow). Accepts exactly what copyRow writes. */
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
