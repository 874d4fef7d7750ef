/**
 * `ostree.sizes` commit metadata (`ostree commit --generate-sizes`): for each
 * file, dirtree and dirmeta object the commit reaches, its size as an
 * archive repository stores it and its unpacked size. Each entry is a byte
 * string: the 32-byte checksum, two unsigned LEB128 varints (archived, then
 * unpacked), then one object-type byte (older commits leave it out: file).
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { lookup, type VarDict } from './gvariant.js';
import type { ObjectType } from './objects.js';

export interface ObjectSize {
  checksum: string;
  type: ObjectType;
  /** Bytes as an archive repository stores (and a server sends) it. */
  archived: number;
  /** Bytes unpacked (content size for files). */
  unpacked: number;
}

const TYPES: Record<number, ObjectType> = { 1: 'file', 2: 'dirtree', 3: 'dirmeta', 4: 'commit' };

function readVarint(b: Uint8Array, pos: number, what: string): [number, number] {
  let v = 0;
  let mult = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= b.length) break;
    const byte = b[pos++];
    v += (byte & 0x7f) * mult;
    if ((byte & 0x80) === 0) return [v, pos];
    mult *= 128;
  }
  throw new OstreeTsError(Codes.OBJECT_INVALID, `Invalid ${what}: a size is cut short or longer than 10 bytes.`);
}

/** Decode one entry. */
export function decodeObjectSize(entry: Uint8Array, what = 'ostree.sizes entry'): ObjectSize {
  if (entry.length < 34) throw new OstreeTsError(Codes.OBJECT_INVALID, `Invalid ${what}: ${entry.length} bytes is too short.`);
  const checksum = Buffer.from(entry.subarray(0, 32)).toString('hex');
  const [archived, p1] = readVarint(entry, 32, what);
  const [unpacked, p2] = readVarint(entry, p1, what);
  let type: ObjectType = 'file';
  if (p2 < entry.length) {
    const t = TYPES[entry[p2]];
    if (!t || p2 + 1 !== entry.length) throw new OstreeTsError(Codes.OBJECT_INVALID, `Invalid ${what}: unknown object type ${entry[p2]} or trailing bytes.`);
    type = t;
  }
  return { checksum, type, archived, unpacked };
}

/**
 * The sizes a commit's metadata lists, keyed `CHECKSUM.TYPE`; null when the
 * commit has none (or they cannot be read: they are informational only).
 */
export function commitObjectSizes(metadata: VarDict): Map<string, ObjectSize> | null {
  const list = lookup(metadata, 'ostree.sizes', 'aay') as Uint8Array[] | undefined;
  if (!list) return null;
  const out = new Map<string, ObjectSize>();
  try {
    for (const e of list) {
      const s = decodeObjectSize(e);
      out.set(`${s.checksum}.${s.type}`, s);
    }
  } catch {
    return null;
  }
  return out;
}

const TYPE_BYTES: Partial<Record<ObjectType, number>> = { file: 1, dirtree: 2, dirmeta: 3, commit: 4 };

function pushVarint(out: number[], n: number): void {
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

/** Encode one entry, with its object-type byte (as libostree 2022.7 writes them). */
export function encodeObjectSize(s: ObjectSize): Buffer {
  const out: number[] = [...Buffer.from(s.checksum, 'hex')];
  pushVarint(out, s.archived);
  pushVarint(out, s.unpacked);
  const t = TYPE_BYTES[s.type];
  if (t === undefined) throw new OstreeTsError(Codes.USAGE, `ostree.sizes cannot list a ${s.type} object (${s.checksum}).`, { checksum: s.checksum });
  out.push(t);
  return Buffer.from(out);
}

/** The `ostree.sizes` value: entries sorted by checksum, one per object. */
export function encodeCommitSizes(sizes: ObjectSize[]): Uint8Array[] {
  const seen = new Set<string>();
  return [...sizes]
    .sort((a, b) => (a.checksum < b.checksum ? -1 : a.checksum > b.checksum ? 1 : 0))
    .filter((s) => (seen.has(s.checksum) ? false : (seen.add(s.checksum), true)))
    .map(encodeObjectSize);
}
