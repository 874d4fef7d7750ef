/**
 * Inputs for the parsers: random bytes, valid encodings made by the
 * project's own encoders, and those encodings damaged the ways torn writes
 * and hostile servers damage them (bit flips, truncation, cuts, splices,
 * duplicated runs, edited length fields and framing offsets).
 */
import fc from 'fast-check';

/** Integers that length fields, framing offsets and counts are tried with. */
const INTERESTING = [
  0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 33, 63, 64, 0x7f, 0x80, 0xff, 0x100, 0x1ff, 0x200, 0x7fff, 0x8000, 0xffff, 0x10000,
  0x7fffffff, 0x80000000, 0xffffffff, 2 ** 32, 2 ** 53 - 1, 2 ** 53,
].map(BigInt).concat([2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n]);

export type Mutation =
  | { op: 'flip'; pos: number; end: boolean; bit: number }
  | { op: 'set'; pos: number; end: boolean; value: number }
  | { op: 'truncate'; keep: number }
  | { op: 'cut'; pos: number; len: number }
  | { op: 'insert'; pos: number; end: boolean; bytes: Uint8Array }
  | { op: 'token'; pos: number; end: boolean; token: number }
  | { op: 'duplicate'; pos: number; len: number; at: number }
  | { op: 'splice'; pos: number; from: number }
  | { op: 'number'; pos: number; end: boolean; width: 1 | 2 | 4 | 8; big: boolean; value: number; delta: number }
  | { op: 'varint'; pos: number; end: boolean; value: number };

/** A position counted from the start or (for framing offsets, which GVariant puts last) from the end. */
function at(pos: number, end: boolean, length: number): number {
  if (length === 0) return 0;
  const p = pos % length;
  return end ? length - 1 - p : p;
}

const position = fc.nat({ max: 1 << 16 });

function mutationArb(dictionary: readonly Uint8Array[]): fc.Arbitrary<Mutation> {
  const arbs: Array<fc.WeightedArbitrary<Mutation>> = [
    { weight: 4, arbitrary: fc.record({ op: fc.constant('flip' as const), pos: position, end: fc.boolean(), bit: fc.nat({ max: 7 }) }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('set' as const), pos: position, end: fc.boolean(), value: fc.oneof(fc.constantFrom(0, 1, 0x7f, 0x80, 0xff), fc.nat({ max: 255 })) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('truncate' as const), keep: position }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('cut' as const), pos: position, len: fc.nat({ max: 64 }) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('insert' as const), pos: position, end: fc.boolean(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('duplicate' as const), pos: position, len: fc.integer({ min: 1, max: 256 }), at: position }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('splice' as const), pos: position, from: position }) },
    {
      weight: 4,
      arbitrary: fc.record({
        op: fc.constant('number' as const), pos: position, end: fc.boolean(), width: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const),
        big: fc.boolean(), value: fc.nat({ max: INTERESTING.length + 2 }), delta: fc.integer({ min: -9, max: 9 }),
      }),
    },
    // LEB128 numbers (delta operations, ostree.sizes): the one at a position replaced by another.
    { weight: 2, arbitrary: fc.record({ op: fc.constant('varint' as const), pos: position, end: fc.boolean(), value: fc.nat({ max: INTERESTING.length - 1 }) }) },
  ];
  if (dictionary.length) {
    arbs.push({ weight: 4, arbitrary: fc.record({ op: fc.constant('token' as const), pos: position, end: fc.boolean(), token: fc.nat({ max: dictionary.length - 1 }) }) });
  }
  return fc.oneof(...arbs);
}

function readNumber(b: Buffer, p: number, width: number, big: boolean): bigint {
  switch (width) {
    case 1: return BigInt(b[p]);
    case 2: return BigInt(big ? b.readUInt16BE(p) : b.readUInt16LE(p));
    case 4: return BigInt(big ? b.readUInt32BE(p) : b.readUInt32LE(p));
    default: return big ? b.readBigUInt64BE(p) : b.readBigUInt64LE(p);
  }
}

function writeNumber(b: Buffer, p: number, width: number, big: boolean, v: bigint): void {
  const n = BigInt.asUintN(width * 8, v);
  switch (width) {
    case 1: b[p] = Number(n); return;
    case 2: if (big) b.writeUInt16BE(Number(n), p); else b.writeUInt16LE(Number(n), p); return;
    case 4: if (big) b.writeUInt32BE(Number(n), p); else b.writeUInt32LE(Number(n), p); return;
    default: if (big) b.writeBigUInt64BE(n, p); else b.writeBigUInt64LE(n, p);
  }
}

/** Apply mutations in order; `other` is a second valid input to splice from. */
export function applyMutations(base: Uint8Array, other: Uint8Array, muts: readonly Mutation[], dictionary: readonly Uint8Array[] = [], maxLength = 1 << 20): Uint8Array {
  let b = Buffer.from(base);
  for (const m of muts) {
    const n = b.length;
    switch (m.op) {
      case 'flip':
        if (n) b[at(m.pos, m.end, n)] ^= 1 << m.bit;
        break;
      case 'set':
        if (n) b[at(m.pos, m.end, n)] = m.value;
        break;
      case 'truncate':
        b = b.subarray(0, m.keep % (n + 1));
        break;
      case 'cut': {
        const p = at(m.pos, false, n);
        b = Buffer.concat([b.subarray(0, p), b.subarray(Math.min(n, p + m.len))]);
        break;
      }
      case 'insert':
      case 'token': {
        const p = n ? at(m.pos, m.end, n + 1) : 0;
        const bytes = m.op === 'insert' ? m.bytes : dictionary[m.token];
        b = Buffer.concat([b.subarray(0, p), bytes, b.subarray(p)]);
        break;
      }
      case 'duplicate': {
        if (!n) break;
        const p = at(m.pos, false, n);
        const run = b.subarray(p, Math.min(n, p + m.len));
        const q = at(m.at, false, n + 1);
        b = Buffer.concat([b.subarray(0, q), run, b.subarray(q)]);
        break;
      }
      case 'splice': {
        // The head of one valid input followed by the tail of another.
        const p = at(m.pos, false, n + 1);
        const q = other.length ? m.from % (other.length + 1) : 0;
        b = Buffer.concat([b.subarray(0, p), other.subarray(q)]);
        break;
      }
      case 'number': {
        if (n < m.width) break;
        const p = at(m.pos, m.end, n - m.width + 1);
        const cur = readNumber(b, p, m.width, m.big);
        let v: bigint;
        if (m.value < INTERESTING.length) v = INTERESTING[m.value];
        else if (m.value === INTERESTING.length) v = BigInt(n); // the whole input's length
        else v = cur; // the value itself, nudged by delta
        b = Buffer.from(b);
        writeNumber(b, p, m.width, m.big, v + BigInt(m.delta));
        break;
      }
      case 'varint': {
        if (!n) break;
        const p = at(m.pos, m.end, n);
        let q = p;
        while (q < n - 1 && b[q] & 0x80 && q - p < 9) q++;
        const out: number[] = [];
        let v = INTERESTING[m.value];
        do {
          out.push(Number(v & 0x7fn) | (v > 0x7fn ? 0x80 : 0));
          v >>= 7n;
        } while (v > 0n);
        b = Buffer.concat([b.subarray(0, p), Buffer.from(out), b.subarray(q + 1)]);
        break;
      }
    }
    if (b.length > maxLength) b = b.subarray(0, maxLength);
  }
  return b;
}

/**
 * The fuzzer's inputs for one parser: mostly damaged valid encodings, some
 * untouched valid ones, some plain random bytes. Valid encodings come mostly
 * from `corpus` (made once: building structured values costs more than most
 * parsers take), now and then freshly from `valid`.
 */
export function inputs(valid: fc.Arbitrary<Uint8Array>, opts: { dictionary?: readonly Uint8Array[]; maxLength?: number; corpus?: readonly Uint8Array[] } = {}): fc.Arbitrary<Uint8Array> {
  const dictionary = opts.dictionary ?? [];
  const maxLength = opts.maxLength ?? 1 << 16;
  const corpus = opts.corpus ?? [];
  const base = corpus.length
    ? fc.oneof({ weight: 15, arbitrary: fc.nat({ max: corpus.length - 1 }).map((i) => corpus[i]) }, { weight: 1, arbitrary: valid })
    : valid;
  const mutated = fc.tuple(base, base, fc.array(mutationArb(dictionary), { minLength: 1, maxLength: 8 }))
    .map(([a, b, muts]) => applyMutations(a, b, muts, dictionary, maxLength));
  return fc.oneof(
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 1024 }) },
    { weight: 1, arbitrary: base },
    { weight: 8, arbitrary: mutated },
  );
}

/** `size` valid encodings, the same for the same seed. */
export function makeCorpus(valid: fc.Arbitrary<Uint8Array>, size: number, seed: number): Uint8Array[] {
  return fc.sample(valid, { numRuns: size, seed });
}
