// Money is exact: an amount is accepted as a JSON number or a decimal string
// with at most two fractional digits, 0 <= value <= 10^13, and is carried as
// a canonical decimal string ("9839.64") from here to PostgreSQL's NUMERIC.
// No arithmetic is ever done on a float amount.

/** 10^13 in cents: the largest amount or balance accepted. */
export const moneyCentsMax = 10n ** 15n;

export const moneyRule =
  "must be a number or decimal string with at most 2 fractional digits, from 0 to 10000000000000";

/** What a client may send as a money string (the number form is bounded by the schema). */
export const moneyInputPattern = "^[0-9]{1,14}(\\.[0-9]{1,2})?$";

/** "0.00" to "9999999999999.99": canonical and below 10^13 by its form alone. */
export const canonicalMoneyPattern = /^(?:0|[1-9][0-9]{0,12})\.[0-9]{2}$/;

/**
 * Money to its canonical decimal string, or undefined when it breaks the rule.
 * A JSON number is judged by its shortest decimal form (what JSON.stringify
 * prints), so 0.1 + 0.2 (0.30000000000000004) is rejected, not rounded.
 */
export function canonicalMoney(value: unknown): string | undefined {
  // Already canonical (as every message the API wrote is): one test, no rebuild.
  if (typeof value === "string" && canonicalMoneyPattern.test(value)) return value;
  let text: string;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return undefined;
    text = String(value);
  } else if (typeof value === "string") {
    text = value;
  } else {
    return undefined;
  }
  const match = /^([0-9]{1,14})(?:\.([0-9]{1,2}))?$/.exec(text);
  if (!match) return undefined;
  const whole = (match[1] as string).replace(/^0+(?=\d)/, "");
  const cents = (match[2] ?? "").padEnd(2, "0");
  // Up to 13 whole digits is always below 10^13; only 14 digits need the exact test.
  if (whole.length === 14 && BigInt(whole) * 100n + BigInt(cents) > moneyCentsMax) return undefined;
  return `${whole}.${cents}`;
}
