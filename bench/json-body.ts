// Micro-benchmark of the API's body parsing (src/api/json-body.ts) against
// the JSON.parse it replaced, on generated PaySim rows with money as JSON
// numbers: one transaction, a 1,000-row batch, the same batch with names of
// 20 digits (a long run of digits, but in strings: a second scan), and with
// amounts of 17 significant digits (numbers that lose digits: the reviver).
//
//   bun bench/json-body.ts [--seconds S]
import { paysimRows } from "../data/generate.ts";
import { parseJson } from "../src/api/json-body.ts";

const secondsArg = process.argv.indexOf("--seconds");
const secondsPerCase = secondsArg === -1 ? 5 : Number(process.argv[secondsArg + 1]);

function bodyRows(rows: number, nameOrig?: string) {
  return [...paysimRows({ rows, seed: 42 })].map((row) => ({
    ...row,
    nameOrig: nameOrig ?? row.nameOrig,
    amount: Number(row.amount),
    oldbalanceOrg: Number(row.oldbalanceOrg),
    newbalanceOrig: Number(row.newbalanceOrig),
    oldbalanceDest: Number(row.oldbalanceDest),
    newbalanceDest: Number(row.newbalanceDest),
  }));
}

/** Rounds of each parser, alternating, so that neither pays alone for the other's garbage; the best round counts. */
const rounds = 5;

/** Microseconds per call of `parse` on `text`, over one round of secondsPerCase / rounds seconds. */
function round(parse: (text: string) => unknown, text: string): number {
  let calls = 0;
  const started = Bun.nanoseconds();
  const until = started + (secondsPerCase / rounds) * 1e9;
  while (Bun.nanoseconds() < until) {
    for (let i = 0; i < 20; i++) parse(text);
    calls += 20;
  }
  return (Bun.nanoseconds() - started) / 1000 / calls;
}

/** Best microseconds per call of each parser on `text`, after a warm-up. */
function measure(parsers: ((text: string) => unknown)[], text: string): number[] {
  for (const parse of parsers) for (let i = 0; i < 200; i++) parse(text);
  const best = parsers.map(() => Number.POSITIVE_INFINITY);
  for (let r = 0; r < rounds; r++) {
    parsers.forEach((parse, index) => {
      best[index] = Math.min(best[index] as number, round(parse, text));
    });
  }
  return best;
}

const cases: [string, string][] = [
  ["1 transaction", JSON.stringify(bodyRows(1)[0])],
  ["1,000-row batch", JSON.stringify(bodyRows(1000))],
  ["1,000-row batch, names of 20 digits", JSON.stringify(bodyRows(1000, "C12345678901234567890"))],
  [
    "1,000-row batch, amounts of 17 digits",
    JSON.stringify(bodyRows(1000).map((row) => ({ ...row, amount: "@" }))).replaceAll('"@"', "100.0000000000000001"),
  ],
];

console.log(`| body | bytes | JSON.parse µs | parseJson µs | ratio |`);
console.log(`| --- | ---: | ---: | ---: | ---: |`);
for (const [name, text] of cases) {
  const [plain = 0, ours = 0] = measure([JSON.parse, parseJson], text);
  console.log(`| ${name} | ${text.length} | ${plain.toFixed(2)} | ${ours.toFixed(2)} | ${(ours / plain).toFixed(2)} |`);
}
