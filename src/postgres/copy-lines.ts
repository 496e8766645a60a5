// A batch's COPY text, built as bytes. A version 2 or 3 message value that
// passes copyReadyKeyLength is already the front of its COPY line (the same
// fields, tab-separated, in copyColumns order): its bytes are copied into the
// chunk as they are, and only the Kafka position and the key id are written
// around them. The worker then never makes a string or an object of a
// well-formed message; anything else arrives as a line copyLine encoded.

/** Bytes of one chunk of the COPY stream (a chunk holds whole lines; a longer line gets a chunk of its own). */
const chunkBytes = 256 * 1024;

const newline = 0x0a;

export class CopyLinesBuilder {
  readonly #chunks: Buffer[] = [];
  #chunk = Buffer.allocUnsafe(chunkBytes);
  #used = 0;
  /** Lines added so far. */
  lines = 0;

  /**
   * The COPY line of a message value that copyReadyKeyLength passed:
   * `value` without its version ("2\t" or "3\t") and key id field, then
   * the partition, the offset and the key id (\N without one).
   */
  addMessage(value: Buffer, keyLength: number, partition: number, offset: bigint): void {
    const fieldsEnd = value.length - keyLength;
    const position = `\t${partition}\t${offset}\t`;
    // Version and tab (2) out; position, "\N" and newline (3 at most) in.
    this.#reserve(value.length + position.length + 1);
    const chunk = this.#chunk;
    let at = this.#used;
    at += value.copy(chunk, at, 2, fieldsEnd);
    at += chunk.write(position, at, "latin1");
    if (keyLength === 0) {
      chunk[at++] = 0x5c; // "\"
      chunk[at++] = 0x4e; // "N"
    } else {
      // The key id after its tab.
      at += value.copy(chunk, at, fieldsEnd + 1);
    }
    chunk[at++] = newline;
    this.#used = at;
    this.lines++;
  }

  /** A line encoded elsewhere (copyLine), newline included. */
  addLine(line: string): void {
    const bytes = Buffer.byteLength(line);
    this.#reserve(bytes);
    this.#used += this.#chunk.write(line, this.#used);
    this.lines++;
  }

  /** The chunks, in order; the builder is spent. */
  finish(): Buffer[] {
    if (this.#used > 0) this.#chunks.push(this.#chunk.subarray(0, this.#used));
    this.#used = 0;
    return this.#chunks;
  }

  /** Room for `bytes` more in the current chunk: else it is closed and a new one opened. */
  #reserve(bytes: number): void {
    if (this.#used + bytes <= this.#chunk.length) return;
    if (this.#used > 0) this.#chunks.push(this.#chunk.subarray(0, this.#used));
    this.#chunk = Buffer.allocUnsafe(Math.max(chunkBytes, bytes));
    this.#used = 0;
  }
}
