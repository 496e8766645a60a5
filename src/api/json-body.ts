// POST bodies are read and parsed here rather than by Elysia, for two things
// its request.json() cannot do: judge a number by the digits the client sent,
// and answer a body over BODY_BYTES_MAX with txlog's error body (Bun's own
// limit answers a bare 413, so the server's is set past any body and this one
// applies instead, to bodies with and without Content-Length).
//
// JSON.parse turns 100.0000000000000001 into 100, and nothing after it can
// tell that the client sent more than a double holds. A number that lost
// digits on the way is kept as its source text instead, a string, which every
// field's rule then refuses with the field named (money: at most 2
// fractional digits; step: an integer; flags: 0 or 1). Only a number of 16
// significant digits or more can lose any (a double holds any 15), and such a
// number has a run of at least 16 digits and dots in the text: a body without
// one is parsed as it is, so the hot path costs one scan of the text. A body
// with one (a name of many digits) is looked at again for such a run where a
// value starts, and only then parsed with a reviver, which is far slower.
import { RequestError } from "./errors.ts";

/** Digits a double holds whatever they are; a number with more may lose some in parsing. */
const exactDigitsMax = 15;
/** Where a number that may lose digits could be: a run of more digits (and dots) than that. */
const mayLoseDigits = new RegExp(`[0-9.]{${exactDigitsMax + 1},}`);
/** The same run where a JSON value starts (not inside a string such as a name); slower to test. */
const valueMayLoseDigits = new RegExp(`(?:^|[:,[])\\s*-?[0-9.]{${exactDigitsMax + 1},}`);

/**
 * A JSON number's exact value in one spelling: its significant digits and
 * the power of ten of the first, so "0.0250", "2.5e-2" and "25E-3" all give
 * "25e-2". Text that is not a JSON number (String(Infinity)) comes back as it is.
 */
export function decimalValue(text: string): string {
  const match = /^(-?)([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?$/.exec(text);
  if (match === null) return text;
  const [, sign, whole = "", fraction = "", exponent = "0"] = match;
  const digits = whole + fraction;
  const first = digits.search(/[1-9]/);
  if (first === -1) return "0";
  const significant = digits.slice(first).replace(/0+$/, "");
  return `${sign}${significant}e${whole.length - first - 1 + Number(exponent)}`;
}

/** JSON.parse reviver: a number whose value differs from its source text is kept as that text. */
function keepLostDigits(_key: string, value: unknown, context?: { source?: string }): unknown {
  if (typeof value !== "number" || context?.source === undefined) return value;
  return decimalValue(context.source) === decimalValue(String(value)) ? value : context.source;
}

/** JSON.parse, but a number that does not survive parsing digit for digit becomes its source text. */
export function parseJson(text: string): unknown {
  if (!mayLoseDigits.test(text) || !valueMayLoseDigits.test(text)) return JSON.parse(text);
  return JSON.parse(text, keepLostDigits);
}

export function bodyTooLarge(bodyBytesMax: number): RequestError {
  const rule = `must be at most ${bodyBytesMax} bytes (BODY_BYTES_MAX)`;
  return new RequestError(413, {
    error: "body_too_large",
    message: `(body): ${rule}`,
    errors: [{ field: "(body)", rule }],
  });
}

/** Throws bodyTooLarge when the request's Content-Length says its body is over the limit. */
export function checkContentLength(request: Request, bodyBytesMax: number): void {
  const length = request.headers.get("content-length");
  if (length !== null && Number(length) > bodyBytesMax) throw bodyTooLarge(bodyBytesMax);
}

/**
 * The body as text, at most `bodyBytesMax` bytes. One with a Content-Length
 * was checked before its route ran (checkContentLength); one without is
 * counted as it arrives and refused as soon as it passes the limit.
 */
async function bodyText(request: Request, bodyBytesMax: number): Promise<string> {
  if (request.headers.get("content-length") !== null || request.body === null) return request.text();
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for await (const chunk of request.body) {
    bytes += chunk.byteLength;
    if (bytes > bodyBytesMax) throw bodyTooLarge(bodyBytesMax);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * A POST body, at most `bodyBytesMax` bytes: JSON (parseJson) when the
 * content type says so, else its text (which no route takes for a transaction).
 */
export async function readBody(request: Request, contentType: string, bodyBytesMax: number): Promise<unknown> {
  const text = await bodyText(request, bodyBytesMax);
  return contentType === "application/json" ? parseJson(text) : text;
}

/**
 * readBody for a route that reads its own body (`parse: "none"`): after the
 * guard, so a request without a valid key never has its body read. The
 * content type is taken as Elysia's parser takes it (up to the first ';').
 */
export function readRequestBody(request: Request, bodyBytesMax: number): Promise<unknown> {
  const header = request.headers.get("content-type") ?? "";
  const end = header.indexOf(";");
  return readBody(request, end === -1 ? header : header.slice(0, end), bodyBytesMax);
}
