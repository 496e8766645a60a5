// Which partition a message goes to: by its key (the account), so one
// account's transactions stay in one partition, in order.

/**
 * The client's default partitioner — murmur2 of the key as an unsigned 32-bit
 * number, which the client then takes modulo the partition count — in 32-bit
 * integer arithmetic, where the client's own murmur2 works in BigInt (much
 * slower on the API's hot path). It must give the very same number, so an account's
 * messages keep their partition (and their order) across an upgrade; a
 * property test compares it with the client's function.
 */
export function keyPartition(key: Buffer | undefined): number {
  if (key === undefined) return 0;
  const m = 0x5bd1e995;
  const length = key.length;
  let h = 0x9747b28c ^ length;
  let i = 0;
  for (; i + 4 <= length; i += 4) {
    let k = key.readInt32LE(i);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const rest = length - i;
  if (rest > 0) {
    if (rest === 3) h ^= (key[i + 2] as number) << 16;
    if (rest >= 2) h ^= (key[i + 1] as number) << 8;
    h ^= key[i] as number;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h >>> 0;
}
