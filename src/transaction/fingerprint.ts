// A fingerprint of what a request asked for: the same Idempotency-Key with
// the same transaction is a retry; with another transaction it is a conflict.
// Taken over the canonical fields (money as canonical decimals, flags as t/f),
// so 12.5 and "12.50" are the same request.
import { createHash } from "node:crypto";
import type { Transaction } from "./rules.ts";

export function fingerprint(t: Transaction): string {
  const text = `${t.step}\t${t.type}\t${t.amount}\t${t.nameOrig}\t${t.oldbalanceOrg}\t${t.newbalanceOrig}\t${t.nameDest}\t${t.oldbalanceDest}\t${t.newbalanceDest}\t${t.isFraud ? "t" : "f"}\t${t.isFlaggedFraud ? "t" : "f"}`;
  return createHash("sha256").update(text).digest("hex");
}
