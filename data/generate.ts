// Deterministic PaySim-shaped data: the published type mix and fraud rates,
// balances that follow from the amounts (integer cents, never float
// arithmetic on money), steps rising 1..743 across the output, and a pool of
// accounts reused with a few hot ones. Same options, same bytes.
//
//   bun run data:gen -- --rows 1000000 --out /tmp/paysim.csv [--seed 42]
//
// Memory is bounded by the account pool (at most accountsMax balances), not
// by the number of rows.
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { parseArgs } from "node:util";
import { paysimHeader } from "../src/transaction/paysim-csv.ts";
import type { TransactionType } from "../src/transaction/rules.ts";
import { exactExp, Random } from "./random.ts";

export const defaultSeed = 42;

/** PaySim's published counts (6,362,620 rows): the generator's targets. */
export const paysimCounts = {
  rows: 6_362_620,
  types: { CASH_OUT: 2_237_500, PAYMENT: 2_151_495, CASH_IN: 1_399_284, TRANSFER: 532_909, DEBIT: 41_432 },
  /** Fraud appears only in TRANSFER and CASH_OUT (8,213 rows in all). */
  fraud: { TRANSFER: 4_097, CASH_OUT: 4_116 },
  /** isFlaggedFraud: fraudulent TRANSFERs above flaggedAmountCentsMin. */
  flaggedFraud: 16,
  stepMax: 743,
} as const;

/** The business rule behind isFlaggedFraud: a TRANSFER above 200,000.00. */
export const flaggedAmountCentsMin = 200_000_00;
/** PaySim's largest amount, 92,445,516.64. */
export const amountCentsMax = 9_244_551_664;
/** PaySim's fraud empties an account in TRANSFERs of 10,000,000.00 at most. */
const fraudAmountCentsMax = 10_000_000_00;
/** The schema's ceiling for any money value (10^13.00 in cents). */
const moneyCentsMax = 1_000_000_000_000_000;

/** Customer accounts in the pool at most: bounds memory (8 bytes each). */
export const accountsMax = 2_000_000;
const accountsMin = 1_000;
const merchantsMax = 1_000_000;
const merchantsMin = 100;
/** Share of picks that go to the hot accounts, and how many are hot. */
const hotShare = 0.05;
const hotAccountsMin = 10;
const hotAccountsPerAccount = 1 / 10_000;

/**
 * Log-normal amounts per type: median (cents) and spread in log space, close
 * to PaySim's per-type medians (approximate; the real file's are not bundled).
 */
const amountShape: Record<TransactionType, { medianCents: number; sigma: number; capCents: number }> = {
  CASH_IN: { medianCents: 143_400_00, sigma: 0.8, capCents: amountCentsMax },
  CASH_OUT: { medianCents: 147_100_00, sigma: 0.8, capCents: amountCentsMax },
  DEBIT: { medianCents: 3_050_00, sigma: 1.1, capCents: amountCentsMax },
  PAYMENT: { medianCents: 9_480_00, sigma: 0.9, capCents: 238_637_98 },
  TRANSFER: { medianCents: 486_300_00, sigma: 1.1, capCents: amountCentsMax },
};
/** Opening balance of an account the first time it appears. */
const openingBalance = { zeroShare: 0.3, medianCents: 60_000_00, sigma: 1.4 };

/**
 * Which way money moves for the origin and destination of each type (+1 in,
 * -1 out, 0 untouched). CASH_IN: the customer's balance grows and the cash
 * agent's (destination) shrinks. PAYMENT destinations are merchants, whose
 * balances PaySim leaves at 0.
 */
const flows: Record<TransactionType, { orig: 1 | -1; dest: 1 | -1 | 0 }> = {
  CASH_IN: { orig: 1, dest: -1 },
  CASH_OUT: { orig: -1, dest: 1 },
  DEBIT: { orig: -1, dest: 1 },
  PAYMENT: { orig: -1, dest: 0 },
  TRANSFER: { orig: -1, dest: 1 },
};

/** A generated row: TransactionInput-shaped (money as 2-decimal strings, flags 0/1). */
export interface PaySimRow {
  step: number;
  type: TransactionType;
  amount: string;
  nameOrig: string;
  oldbalanceOrg: string;
  newbalanceOrig: string;
  nameDest: string;
  oldbalanceDest: string;
  newbalanceDest: string;
  isFraud: 0 | 1;
  isFlaggedFraud: 0 | 1;
}

export interface GenerateOptions {
  rows: number;
  seed?: number;
}

/** Integer cents to "123.45". */
export function centsText(cents: number): string {
  const rest = cents % 100;
  return `${(cents - rest) / 100}.${rest < 10 ? "0" : ""}${rest}`;
}

const typeOrder = Object.keys(paysimCounts.types) as TransactionType[];
const typeThresholds = (() => {
  let sum = 0;
  return typeOrder.map((type) => {
    sum += paysimCounts.types[type];
    return sum;
  });
})();

/** The rows, one at a time: constant memory for any `rows`. */
export function* paysimRows(options: GenerateOptions): Generator<PaySimRow> {
  const rows = options.rows;
  if (!Number.isSafeInteger(rows) || rows < 0) throw new RangeError(`rows must be an integer >= 0 (got ${rows})`);
  const random = new Random(options.seed ?? defaultSeed);
  // Names are a bijection of the pool index (odd multiplier mod 2^31), so
  // no name table is kept; the masks make them differ from seed to seed.
  const customerMask = random.uint32() & 0x7fff_ffff;
  const merchantMask = random.uint32() & 0x7fff_ffff;
  const accounts = Math.min(accountsMax, Math.max(accountsMin, rows));
  const merchants = Math.min(merchantsMax, Math.max(merchantsMin, Math.ceil(rows / 4)));
  const hotAccounts = Math.max(hotAccountsMin, Math.floor(accounts * hotAccountsPerAccount));
  const hotMerchants = Math.max(hotAccountsMin, Math.floor(merchants * hotAccountsPerAccount));
  // Balances in cents (exact: integers below 2^53); -1 until first seen.
  const balances = new Float64Array(accounts).fill(-1);
  // A fraudulent TRANSFER's destination, cashed out by the next fraudulent CASH_OUT.
  let mule = -1;

  const pick = (size: number, hot: number) => (random.unit() < hotShare ? random.below(hot) : random.below(size));
  const customerName = (index: number) => `C${Math.imul(index ^ customerMask, 0x2c92_77b5) & 0x7fff_ffff}`;
  const merchantName = (index: number) => `M${Math.imul(index ^ merchantMask, 0x5bd1_e995) & 0x7fff_ffff}`;
  const logNormalCents = (medianCents: number, sigma: number, capCents: number) =>
    Math.min(capCents, Math.max(1, Math.round(medianCents * exactExp(sigma * random.normal()))));
  const balanceOf = (index: number) => {
    let cents = balances[index] as number;
    if (cents < 0) {
      cents =
        random.unit() < openingBalance.zeroShare
          ? 0
          : logNormalCents(openingBalance.medianCents, openingBalance.sigma, amountCentsMax);
      balances[index] = cents;
    }
    return cents;
  };
  const moved = (cents: number, direction: number, amountCents: number) => {
    const after = direction > 0 ? cents + amountCents : direction < 0 ? Math.max(0, cents - amountCents) : cents;
    if (after > moneyCentsMax) throw new Error(`generator: balance ${after} cents exceeds the schema's maximum`);
    return after;
  };

  for (let row = 0; row < rows; row++) {
    // Steps rise evenly from 1 to 743 over the output.
    const step = 1 + Math.floor((row * paysimCounts.stepMax) / rows);
    const draw = random.below(paysimCounts.rows);
    let typeIndex = 0;
    while (draw >= (typeThresholds[typeIndex] as number)) typeIndex++;
    const type = typeOrder[typeIndex] as TransactionType;
    const fraudCount = type === "TRANSFER" || type === "CASH_OUT" ? paysimCounts.fraud[type] : 0;
    const isFraud = fraudCount > 0 && random.below(paysimCounts.types[type]) < fraudCount;
    const isFlaggedFraud =
      isFraud && type === "TRANSFER" && random.below(paysimCounts.fraud.TRANSFER) < paysimCounts.flaggedFraud;

    let orig = pick(accounts, hotAccounts);
    if (isFraud && type === "CASH_OUT" && mule >= 0) {
      orig = mule;
      mule = -1;
    }
    let dest = 0;
    if (type === "PAYMENT") {
      dest = pick(merchants, hotMerchants);
    } else {
      dest = pick(accounts, hotAccounts);
      if (dest === orig) dest = (dest + 1) % accounts;
    }

    const oldOrigCents = balanceOf(orig);
    const shape = amountShape[type];
    let amountCents = logNormalCents(shape.medianCents, shape.sigma, shape.capCents);
    if (isFraud && oldOrigCents > 0) amountCents = Math.min(oldOrigCents, fraudAmountCentsMax);
    if (isFlaggedFraud && amountCents <= flaggedAmountCentsMin) amountCents += flaggedAmountCentsMin;
    const flow = flows[type];
    const newOrigCents = moved(oldOrigCents, flow.orig, amountCents);
    balances[orig] = newOrigCents;

    let oldDestCents = 0;
    let newDestCents = 0;
    if (flow.dest !== 0) {
      oldDestCents = balanceOf(dest);
      newDestCents = moved(oldDestCents, flow.dest, amountCents);
      balances[dest] = newDestCents;
    }
    if (isFraud && type === "TRANSFER") mule = dest;

    yield {
      step,
      type,
      amount: centsText(amountCents),
      nameOrig: customerName(orig),
      oldbalanceOrg: centsText(oldOrigCents),
      newbalanceOrig: centsText(newOrigCents),
      nameDest: type === "PAYMENT" ? merchantName(dest) : customerName(dest),
      oldbalanceDest: centsText(oldDestCents),
      newbalanceDest: centsText(newDestCents),
      isFraud: isFraud ? 1 : 0,
      isFlaggedFraud: isFlaggedFraud ? 1 : 0,
    };
  }
}

/** One CSV line, without the newline. No field needs quoting. */
export function csvLine(row: PaySimRow): string {
  return `${row.step},${row.type},${row.amount},${row.nameOrig},${row.oldbalanceOrg},${row.newbalanceOrig},${row.nameDest},${row.oldbalanceDest},${row.newbalanceDest},${row.isFraud},${row.isFlaggedFraud}`;
}

/** Lines per chunk of CSV text: about 350 KiB, few writes and bounded memory. */
export const chunkLinesMax = 4_096;

/** The whole CSV (header first, "\n" line ends) as text chunks. */
export function* paysimCsvChunks(options: GenerateOptions): Generator<string> {
  let chunk = `${paysimHeader}\n`;
  let lines = 0;
  for (const row of paysimRows(options)) {
    chunk += `${csvLine(row)}\n`;
    if (++lines === chunkLinesMax) {
      yield chunk;
      chunk = "";
      lines = 0;
    }
  }
  if (chunk !== "") yield chunk;
}

/** Writes the CSV to `path`, waiting on the disk when it falls behind. */
export async function writePaySimCsv(path: string, options: GenerateOptions): Promise<{ bytes: number }> {
  const out = createWriteStream(path);
  let bytes = 0;
  try {
    for (const chunk of paysimCsvChunks(options)) {
      bytes += Buffer.byteLength(chunk);
      if (!out.write(chunk)) await once(out, "drain");
    }
  } finally {
    out.end();
    await once(out, "close");
  }
  return { bytes };
}

function cliInteger(name: string, value: string | undefined, min: number, max: number): number {
  if (value === undefined || !/^[0-9]+$/.test(value) || Number(value) < min || Number(value) > max) {
    console.error(`data:gen: --${name} must be an integer from ${min} to ${max} (got ${value ?? "nothing"})`);
    process.exit(2);
  }
  return Number(value);
}

if (import.meta.main) {
  const usage = "usage: bun run data:gen -- --rows N --out FILE [--seed S]";
  let values: { rows?: string; out?: string; seed?: string };
  try {
    ({ values } = parseArgs({
      options: { rows: { type: "string" }, out: { type: "string" }, seed: { type: "string" } },
      strict: true,
    }));
  } catch (error) {
    console.error(`data:gen: ${(error as Error).message}\n${usage}`);
    process.exit(2);
  }
  const rows = cliInteger("rows", values.rows, 0, Number.MAX_SAFE_INTEGER);
  const seed = values.seed === undefined ? defaultSeed : cliInteger("seed", values.seed, 0, 0xffff_ffff);
  if (!values.out) {
    console.error(usage);
    process.exit(2);
  }
  const startedMs = performance.now();
  const { bytes } = await writePaySimCsv(values.out, { rows, seed });
  const seconds = (performance.now() - startedMs) / 1000;
  console.error(
    `wrote ${rows} rows (${bytes} bytes, seed ${seed}) to ${values.out} in ${seconds.toFixed(2)} s: ${Math.round(rows / seconds)} rows/s`,
  );
}
