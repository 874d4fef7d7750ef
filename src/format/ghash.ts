/**
 * The order in which GLib's GHashTable (2.74) hands back string keys, for
 * dictionaries that libostree builds with GVariantDict (summary metadata,
 * delta lists): GVariantDict serializes its entries in bucket order, so the
 * bytes depend on it. Keys are given in insertion order; a repeated key keeps
 * its first place. Hash: g_str_hash (djb2 over signed chars); bucket index:
 * (hash * 11) mod prime_mod[shift]; quadratic probing; resize at 8 entries
 * and beyond as g_hash_table_resize does it in place.
 */

const PRIME_MOD = [1, 2, 3, 7, 13, 31, 61, 127, 251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071, 262139, 524287, 1048573];
const MIN_SHIFT = 3;

export function gStrHash(key: string): number {
  let h = 5381;
  for (const byte of Buffer.from(key, 'utf8')) {
    const c = byte >= 128 ? byte - 256 : byte; // signed char
    h = (Math.imul(h, 33) + c) >>> 0;
  }
  return h;
}

class Table {
  shift = MIN_SHIFT;
  size = 1 << MIN_SHIFT;
  mod = PRIME_MOD[MIN_SHIFT];
  mask = (1 << MIN_SHIFT) - 1;
  hashes: number[] = new Array<number>(1 << MIN_SHIFT).fill(0);
  keys: (string | null)[] = new Array<string | null>(1 << MIN_SHIFT).fill(null);
  nnodes = 0;
  noccupied = 0;

  private index(hash: number): number {
    return Number((BigInt(Math.imul(hash, 11) >>> 0)) % BigInt(this.mod));
  }

  private setShift(shift: number): void {
    this.shift = shift;
    this.size = 1 << shift;
    this.mod = PRIME_MOD[shift];
    this.mask = this.size - 1;
  }

  insert(key: string): void {
    let hash = gStrHash(key);
    if (hash < 2) hash = 2;
    let i = this.index(hash);
    let step = 0;
    while (this.hashes[i] !== 0) {
      if (this.hashes[i] === hash && this.keys[i] === key) return; // already there: keeps its place
      step++;
      i = (i + step) & this.mask;
    }
    this.hashes[i] = hash;
    this.keys[i] = key;
    this.nnodes++;
    this.noccupied++;
    if ((this.size > this.nnodes * 4 && this.size > 1 << MIN_SHIFT) || this.size <= this.noccupied + Math.trunc(this.noccupied / 16)) this.resize();
  }

  private resize(): void {
    const oldSize = this.size;
    let n = Math.trunc(this.nnodes * 1.333);
    let shift = 0;
    while (n) { n >>= 1; shift++; }
    this.setShift(Math.max(shift, MIN_SHIFT));
    if (this.size > oldSize) {
      this.hashes.length = this.size;
      this.keys.length = this.size;
      this.hashes.fill(0, oldSize);
      this.keys.fill(null, oldSize);
    }
    const moved = new Array<boolean>(Math.max(this.size, oldSize)).fill(false);
    for (let i = 0; i < oldSize; i++) {
      let nodeHash = this.hashes[i];
      if (nodeHash < 2) {
        this.hashes[i] = 0;
        continue;
      }
      if (moved[i]) continue;
      this.hashes[i] = 0;
      let key = this.keys[i];
      this.keys[i] = null;
      for (;;) {
        let at = this.index(nodeHash);
        let step = 0;
        while (moved[at]) {
          step++;
          at = (at + step) & this.mask;
        }
        moved[at] = true;
        const replacedHash = this.hashes[at];
        const replacedKey = this.keys[at];
        this.hashes[at] = nodeHash;
        this.keys[at] = key;
        if (replacedHash < 2) break;
        nodeHash = replacedHash;
        key = replacedKey;
      }
    }
    this.hashes.length = this.size;
    this.keys.length = this.size;
    this.noccupied = this.nnodes;
  }
}

/** Keys in the order g_hash_table iteration (and so GVariantDict) returns them. */
export function ghashOrder(keysInInsertionOrder: string[]): string[] {
  const t = new Table();
  for (const k of keysInInsertionOrder) t.insert(k);
  return t.keys.filter((k): k is string => k !== null);
}
