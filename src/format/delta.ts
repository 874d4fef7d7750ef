/**
 * Static deltas, as libostree lays them out: names and paths, the superblock,
 * part headers, part payloads and their byte-code, and the bsdiff patch
 * stream. Pure: buffers in, buffers out.
 *
 * A delta turns commit FROM (or nothing: "from scratch") into commit TO. Its
 * superblock embeds TO's commit and lists parts; each part is a compression
 * byte followed by a payload `(a(uuu)aa(ayay)ayay)`: a mode table, an xattr
 * table, a blob, and operations that build objects from the blob (and, for
 * modified files, from objects the client already has).
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { bytesToHex, checksumToModifiedBase64, hexToBytes, isChecksum, modifiedBase64ToChecksum, sha256Hex } from './checksum.js';
import { parse, parseNormal, parseType, serialize, type VarDict } from './gvariant.js';
import { COMMIT_TYPE, S_IFLNK, S_IFMT, S_IFREG, swap32, swap64, xattrsFromGv, xattrsToGv, type ObjectType, type Xattr } from './objects.js';

export const DELTA_SUPERBLOCK_TYPE = parseType('(a{sv}tayay(a{sv}aya(say)sstayay)aya(uayttay)a(yaytt))');
export const DELTA_PAYLOAD_TYPE = parseType('(a(uuu)aa(ayay)ayay)');
export const DELTA_PART_HEADER_TYPE = parseType('(uayttay)');
export const DELTA_SIGNED_TYPE = parseType('(taya{sv})');
/** "OSTSGNDT", the magic of a signed superblock wrapper. */
export const DELTA_SIGNED_MAGIC = 0x4f535453474e4454n;
export const DELTA_INDEX_KEY = 'ostree.static-deltas';

/** Object type numbers, as in the part object lists and fallbacks. */
const TYPE_NUMBERS: Record<string, number> = { file: 1, dirtree: 2, dirmeta: 3, commit: 4 };
const NUMBER_TYPES: Record<number, ObjectType> = { 1: 'file', 2: 'dirtree', 3: 'dirmeta', 4: 'commit' };

export const Op = {
  OPEN_SPLICE_AND_CLOSE: 0x53, // 'S'
  OPEN: 0x6f, // 'o'
  WRITE: 0x77, // 'w'
  SET_READ_SOURCE: 0x72, // 'r'
  UNSET_READ_SOURCE: 0x52, // 'R'
  CLOSE: 0x63, // 'c'
  BSPATCH: 0x42, // 'B'
} as const;

function invalid(message: string, data: Record<string, unknown> = {}): OstreeTsError {
  return new OstreeTsError(Codes.DELTA_INVALID, message, data);
}

// ---------------------------------------------------------------------------
// Names and paths

/** `FROM-TO` or `TO` (from scratch). */
export function deltaName(from: string | null, to: string): string {
  return from ? `${from}-${to}` : to;
}

export function parseDeltaName(name: string): { from: string | null; to: string } {
  const parts = name.split('-');
  const ok = (parts.length === 1 || parts.length === 2) && parts.every(isChecksum);
  if (!ok) throw invalid(`'${name}' is not a static delta name (TO or FROM-TO, 64-digit hex checksums).`, { name });
  return parts.length === 2 ? { from: parts[0], to: parts[1] } : { from: null, to: parts[0] };
}

/** `deltas/XX/REST[-TO]`, the directory of a delta inside the repository. */
export function deltaDir(from: string | null, to: string): string {
  const t = checksumToModifiedBase64(to);
  if (!from) return `deltas/${t.slice(0, 2)}/${t.slice(2)}`;
  const f = checksumToModifiedBase64(from);
  return `deltas/${f.slice(0, 2)}/${f.slice(2)}-${t}`;
}

/** The delta a `deltas/XX/REST` directory holds (XX and REST as found on disk). */
export function deltaFromDir(prefix: string, rest: string): { from: string | null; to: string } | null {
  const joined = prefix + rest;
  const pieces = joined.split('-');
  if (pieces.length > 2 || pieces.some((p) => p.length !== 43 || !/^[A-Za-z0-9+_]+$/.test(p))) return null;
  const sums = pieces.map(modifiedBase64ToChecksum);
  return sums.length === 2 ? { from: sums[0], to: sums[1] } : { from: null, to: sums[0] };
}

/** `delta-indexes/XX/REST.index`. */
export function deltaIndexPath(to: string): string {
  const t = checksumToModifiedBase64(to);
  return `delta-indexes/${t.slice(0, 2)}/${t.slice(2)}.index`;
}

// ---------------------------------------------------------------------------
// Superblock

export interface DeltaObjectRef {
  type: ObjectType;
  checksum: string;
}

export interface DeltaPartHeader {
  version: number;
  /** SHA-256 of the whole part file (compression byte included). */
  checksum: string;
  /** Size of the part file. */
  size: bigint;
  /** Sum of the sizes of the objects it creates (informational). */
  uncompressedSize: bigint;
  objects: DeltaObjectRef[];
}

export interface DeltaFallback {
  type: ObjectType;
  checksum: string;
  compressedSize: bigint;
  uncompressedSize: bigint;
}

export interface DeltaSuperblock {
  metadata: VarDict;
  timestamp: bigint;
  from: string | null;
  to: string;
  /** TO's commit object, exactly as stored. */
  commit: Buffer;
  parts: DeltaPartHeader[];
  fallbacks: DeltaFallback[];
}

function objectsToBytes(objects: DeltaObjectRef[]): Buffer {
  const out = Buffer.alloc(objects.length * 33);
  objects.forEach((o, i) => {
    const n = TYPE_NUMBERS[o.type];
    if (!n) throw invalid(`A delta cannot carry a ${o.type} object.`);
    out[i * 33] = n;
    hexToBytes(o.checksum).copy(out, i * 33 + 1);
  });
  return out;
}

function objectsFromBytes(b: Uint8Array, what: string): DeltaObjectRef[] {
  if (b.length % 33 !== 0) throw invalid(`${what}: its object list is ${b.length} bytes, not a multiple of 33.`);
  const out: DeltaObjectRef[] = [];
  for (let i = 0; i < b.length; i += 33) {
    const type = NUMBER_TYPES[b[i]];
    if (!type) throw invalid(`${what}: object ${i / 33} has type ${b[i]}, which is not a file, dirtree, dirmeta or commit.`);
    out.push({ type, checksum: bytesToHex(b.subarray(i + 1, i + 33)) });
  }
  return out;
}

/** Encode a superblock, little-endian (`ostree.endianness` = 'l'). */
export function encodeSuperblock(sb: DeltaSuperblock): Buffer {
  const metadata: VarDict = sb.metadata.filter(([k]) => k !== 'ostree.endianness');
  // Caller metadata first, then the endianness, then the rest (as libostree orders them).
  const callerKeys = metadata.filter(([k]) => !k.startsWith('deltas/'));
  const deltaKeys = metadata.filter(([k]) => k.startsWith('deltas/'));
  const dict: VarDict = [...callerKeys, ['ostree.endianness', { type: 'y', value: 0x6c }], ...deltaKeys];
  const commit = parseNormal(COMMIT_TYPE, sb.commit);
  return serialize(DELTA_SUPERBLOCK_TYPE, [
    dict,
    swap64(sb.timestamp),
    sb.from ? hexToBytes(sb.from) : new Uint8Array(0),
    hexToBytes(sb.to),
    commit,
    new Uint8Array(0),
    sb.parts.map((p) => [p.version, hexToBytes(p.checksum), p.size, p.uncompressedSize, objectsToBytes(p.objects)]),
    sb.fallbacks.map((f) => [TYPE_NUMBERS[f.type], hexToBytes(f.checksum), f.compressedSize, f.uncompressedSize]),
  ]);
}

/** Unwrap a signed superblock (`(taya{sv})` with the OSTSGNDT magic); returns the inner bytes and signatures. */
export function unwrapSignedSuperblock(data: Uint8Array, what = 'delta superblock'): { superblock: Uint8Array; signatures: VarDict | null } {
  if (data.length >= 8 && Buffer.from(data.buffer, data.byteOffset, 8).readBigUInt64BE(0) === DELTA_SIGNED_MAGIC) {
    try {
      const [, inner, sigs] = parseNormal(DELTA_SIGNED_TYPE, data) as [bigint, Uint8Array, VarDict];
      return { superblock: inner, signatures: sigs };
    } catch (e) {
      throw invalid(`${what} is signed, but its signature wrapper is malformed: ${(e as Error).message}`);
    }
  }
  return { superblock: data, signatures: null };
}

/**
 * Decode and check a superblock: normal form, checksums of the right length,
 * the embedded commit hashing to TO, sane part headers.
 */
export function decodeSuperblock(data: Uint8Array, what = 'delta superblock'): DeltaSuperblock {
  let v: unknown[];
  try {
    v = parseNormal(DELTA_SUPERBLOCK_TYPE, data) as unknown[];
  } catch (e) {
    throw invalid(`${what} is malformed: ${(e as Error).message}`);
  }
  const [metadata, ts, from, to, commitValue, , partsV, fallbacksV] = v as [
    VarDict, bigint, Uint8Array, Uint8Array, unknown, Uint8Array, Array<[number, Uint8Array, bigint, bigint, Uint8Array]>, Array<[number, Uint8Array, bigint, bigint]>,
  ];
  if (from.length !== 0 && from.length !== 32) throw invalid(`${what}: the FROM checksum is ${from.length} bytes.`);
  if (to.length !== 32) throw invalid(`${what}: the TO checksum is ${to.length} bytes.`);
  const toHex = bytesToHex(to);
  const commit = serialize(COMMIT_TYPE, commitValue);
  if (sha256Hex(commit) !== toHex) throw invalid(`${what}: the embedded commit does not hash to ${toHex}.`, { checksum: toHex });
  const endian = metadata.find(([k]) => k === 'ostree.endianness')?.[1];
  let swap: boolean;
  if (endian && endian.type === 'y' && endian.value === 0x42) swap = true;
  else if (endian && endian.type === 'y' && endian.value === 0x6c) swap = false;
  else {
    // No declaration: guess as libostree does, from implausible sizes.
    const implausible = (p: [number, Uint8Array, bigint, bigint, Uint8Array]): boolean => p[2] > 0xffffffffffn || p[3] > 0xffffffffffn;
    swap = partsV.some(implausible) && !partsV.map((p) => [p[0], p[1], swap64(p[2]), swap64(p[3]), p[4]] as typeof p).some(implausible);
  }
  const u32 = (n: number): number => (swap ? swap32(n) : n);
  const u64 = (n: bigint): bigint => (swap ? swap64(n) : n);
  const parts = partsV.map(([version, csum, size, usize, objs], i) => {
    const pw = `${what}, part ${i}`;
    if (csum.length !== 32) throw invalid(`${pw}: its checksum is ${csum.length} bytes.`);
    const ver = u32(version);
    if (ver !== 0) throw invalid(`${pw}: version ${ver} is not supported (only 0).`);
    return { version: ver, checksum: bytesToHex(csum), size: u64(size), uncompressedSize: u64(usize), objects: objectsFromBytes(objs, pw) };
  });
  const fallbacks = fallbacksV.map(([type, csum, size, usize], i) => {
    const t = NUMBER_TYPES[type];
    if (!t || csum.length !== 32) throw invalid(`${what}: fallback ${i} is malformed.`);
    return { type: t, checksum: bytesToHex(csum), compressedSize: u64(size), uncompressedSize: u64(usize) };
  });
  return {
    metadata, timestamp: swap64(ts), from: from.length ? bytesToHex(from) : null, to: toHex, commit, parts, fallbacks,
  };
}

/** An inline part carried in the superblock's metadata, if any. */
export function inlinePart(sb: DeltaSuperblock, index: number): Buffer | null {
  const key = `${deltaDir(sb.from, sb.to)}/${index}`;
  const entry = sb.metadata.find(([k]) => k === key)?.[1];
  if (!entry || entry.type !== '(yay)') return null;
  const [c, payload] = entry.value as [number, Uint8Array];
  return Buffer.concat([Buffer.from([c]), payload]);
}

/** TO's detached metadata carried in the superblock, if any (raw `a{sv}` bytes). */
export function superblockCommitMeta(sb: DeltaSuperblock): Buffer | null {
  const key = `${deltaDir(sb.from, sb.to)}/commitmeta`;
  const entry = sb.metadata.find(([k]) => k === key)?.[1];
  if (!entry || entry.type !== 'a{sv}') return null;
  return serialize('a{sv}', entry.value);
}

/**
 * Encode a delta index file: `{ostree.static-deltas: {name: <ay digest>}}`.
 * `order` arranges a dictionary as the writer's hash table would.
 */
export function encodeDeltaIndex(deltas: Array<[string, string]>, order: (d: VarDict) => VarDict = (d) => d): Buffer {
  const inner = order(deltas.map(([n, d]) => [n, { type: 'ay', value: hexToBytes(d) }]));
  return serialize('a{sv}', order([[DELTA_INDEX_KEY, { type: 'a{sv}', value: inner }]]));
}

/** name → superblock digest, from a delta index or a summary's metadata value. */
export function parseDeltaDigests(value: unknown): Map<string, string> {
  const out = new Map<string, string>();
  if (!Array.isArray(value)) return out;
  for (const [name, v] of value as VarDict) {
    if (v.type === 'ay' && (v.value as Uint8Array).length === 32) out.set(name, bytesToHex(v.value as Uint8Array));
  }
  return out;
}

// ---------------------------------------------------------------------------
// Parts

export const COMPRESSION_NONE = 0x00;
export const COMPRESSION_XZ = 0x78; // 'x'

export interface DeltaPayload {
  modes: Array<{ uid: number; gid: number; mode: number }>;
  xattrs: Xattr[][];
  blob: Uint8Array;
  ops: Uint8Array;
}

export function encodePayload(p: DeltaPayload): Buffer {
  return serialize(DELTA_PAYLOAD_TYPE, [
    p.modes.map((m) => [swap32(m.uid), swap32(m.gid), swap32(m.mode)]),
    p.xattrs.map(xattrsToGv),
    p.blob,
    p.ops,
  ]);
}

export function decodePayload(data: Uint8Array, what: string): DeltaPayload {
  let v: [Array<[number, number, number]>, unknown[], Uint8Array, Uint8Array];
  try {
    v = parse(DELTA_PAYLOAD_TYPE, data) as typeof v;
  } catch (e) {
    throw invalid(`${what} is malformed: ${(e as Error).message}`);
  }
  const [modes, xattrs, blob, ops] = v;
  return {
    modes: modes.map(([u, g, m]) => ({ uid: swap32(u), gid: swap32(g), mode: swap32(m) })),
    xattrs: xattrs.map((x) => xattrsFromGv(x, what)),
    blob,
    ops,
  };
}

/** LEB128, as libostree's varuint64. */
export function writeVarint(out: number[], n: number): void {
  let v = n;
  do {
    let b = v % 128;
    v = Math.floor(v / 128);
    if (v > 0) b |= 0x80;
    out.push(b);
  } while (v > 0);
}

function readVarint(ops: Uint8Array, pos: number, what: string): [number, number] {
  let result = 0;
  let mult = 1;
  for (let i = 0; i < 10; i++) {
    if (pos + i >= ops.length) throw invalid(`${what}: the operations end inside a number.`);
    const b = ops[pos + i];
    result += (b & 0x7f) * mult;
    if (!Number.isSafeInteger(result)) throw invalid(`${what}: a number in the operations is too large.`);
    mult *= 128;
    if ((b & 0x80) === 0) return [result, pos + i + 1];
  }
  throw invalid(`${what}: a number in the operations is longer than 10 bytes.`);
}

/** Where the bytes of an object being built come from. */
export type Piece =
  | { kind: 'blob'; data: Uint8Array }
  | { kind: 'source'; source: string; offset: number; length: number }
  | { kind: 'bspatch'; source: string; patch: Uint8Array };

/** One object a part creates, fully described and range-checked. */
export type PlannedObject =
  | { kind: 'metadata'; index: number; type: ObjectType; checksum: string; data: Uint8Array }
  | {
    kind: 'content'; index: number; checksum: string; uid: number; gid: number; mode: number; xattrs: Xattr[];
    /** Total size of the content (the symlink target's length for a symlink). */
    size: number;
    pieces: Piece[];
  };

/**
 * Read a part's operations into a list of objects to build, checking every
 * offset, index and length against the payload first, so a hostile part is
 * refused before anything is written. The caller builds each object and must
 * check it hashes to its checksum.
 */
export function planPart(payload: DeltaPayload, objects: DeltaObjectRef[], what: string, maxObjectSize = 2 ** 31, counts?: Map<number, number>): PlannedObject[] {
  const { ops, blob } = payload;
  const out: PlannedObject[] = [];
  let k = 0;
  let pos = 0;
  let source: string | null = null;
  let open: Extract<PlannedObject, { kind: 'content' }> | null = null;
  let written = 0;
  const range = (offset: number, length: number, opAt: number): Uint8Array => {
    if (offset + length > blob.length) {
      throw invalid(`${what}: the operation at byte ${opAt} reads bytes ${offset}..${offset + length} of a ${blob.length}-byte payload${k < objects.length ? ` (building ${objects[k].type} ${objects[k].checksum})` : ''}.`, { offset, length });
    }
    return blob.subarray(offset, offset + length);
  };
  const next = (opAt: number): DeltaObjectRef => {
    const o = objects[k];
    if (!o) throw invalid(`${what}: the operation at byte ${opAt} creates object ${k}, but the part lists only ${objects.length}.`);
    return o;
  };
  const modeAt = (i: number, opAt: number): { uid: number; gid: number; mode: number } => {
    const m = payload.modes[i];
    if (!m) throw invalid(`${what}: the operation at byte ${opAt} names mode ${i} of ${payload.modes.length} (building ${objects[k]?.checksum ?? '?'}).`);
    const fmt = m.mode & S_IFMT;
    if (fmt !== S_IFREG && fmt !== S_IFLNK) throw invalid(`${what}: mode ${i} (0${m.mode.toString(8)}) is neither a regular file nor a symlink.`);
    return m;
  };
  const xattrsAt = (i: number, opAt: number): Xattr[] => {
    const x = payload.xattrs[i];
    if (!x) throw invalid(`${what}: the operation at byte ${opAt} names xattr list ${i} of ${payload.xattrs.length} (building ${objects[k]?.checksum ?? '?'}).`);
    return x;
  };
  while (pos < ops.length) {
    const opAt = pos;
    const op = ops[pos++];
    counts?.set(op, (counts.get(op) ?? 0) + 1);
    let a: number;
    let b: number;
    switch (op) {
      case Op.OPEN_SPLICE_AND_CLOSE: {
        if (open) throw invalid(`${what}: open-splice-and-close at byte ${opAt} while object ${k} is open.`);
        const o = next(opAt);
        if (o.type !== 'file') {
          [a, pos] = readVarint(ops, pos, what);
          [b, pos] = readVarint(ops, pos, what);
          out.push({ kind: 'metadata', index: k, type: o.type, checksum: o.checksum, data: range(b, a, opAt) });
        } else {
          let mi: number;
          let xi: number;
          [mi, pos] = readVarint(ops, pos, what);
          [xi, pos] = readVarint(ops, pos, what);
          [a, pos] = readVarint(ops, pos, what);
          [b, pos] = readVarint(ops, pos, what);
          const m = modeAt(mi, opAt);
          out.push({ kind: 'content', index: k, checksum: o.checksum, ...m, xattrs: xattrsAt(xi, opAt), size: a, pieces: [{ kind: 'blob', data: range(b, a, opAt) }] });
        }
        k++;
        source = null;
        break;
      }
      case Op.OPEN: {
        if (open) throw invalid(`${what}: open at byte ${opAt} while object ${k} is open.`);
        const o = next(opAt);
        if (o.type !== 'file') throw invalid(`${what}: open at byte ${opAt} targets ${o.type} ${o.checksum}; only content objects can be opened.`);
        let mi: number;
        let xi: number;
        [mi, pos] = readVarint(ops, pos, what);
        [xi, pos] = readVarint(ops, pos, what);
        [a, pos] = readVarint(ops, pos, what);
        if (a > maxObjectSize) throw invalid(`${what}: object ${o.checksum} claims ${a} bytes, more than the ${maxObjectSize} a delta object may have.`);
        const m = modeAt(mi, opAt);
        if ((m.mode & S_IFMT) !== S_IFREG) throw invalid(`${what}: open at byte ${opAt} builds a symlink; only regular files can be opened.`);
        open = { kind: 'content', index: k, checksum: o.checksum, ...m, xattrs: xattrsAt(xi, opAt), size: a, pieces: [] };
        written = 0;
        break;
      }
      case Op.WRITE: {
        [a, pos] = readVarint(ops, pos, what);
        [b, pos] = readVarint(ops, pos, what);
        if (!open) throw invalid(`${what}: write at byte ${opAt} with no object open.`);
        if (written + a > open.size) throw invalid(`${what}: write at byte ${opAt} overruns object ${open.checksum} (${open.size} bytes).`);
        if (source) open.pieces.push({ kind: 'source', source, offset: b, length: a });
        else open.pieces.push({ kind: 'blob', data: range(b, a, opAt) });
        written += a;
        break;
      }
      case Op.SET_READ_SOURCE:
        [a, pos] = readVarint(ops, pos, what);
        source = bytesToHex(range(a, 32, opAt));
        break;
      case Op.UNSET_READ_SOURCE:
        source = null;
        break;
      case Op.BSPATCH: {
        [a, pos] = readVarint(ops, pos, what);
        [b, pos] = readVarint(ops, pos, what);
        if (!open) throw invalid(`${what}: bspatch at byte ${opAt} with no object open.`);
        if (!source) throw invalid(`${what}: bspatch at byte ${opAt} with no read source.`);
        if (written !== 0) throw invalid(`${what}: bspatch at byte ${opAt} after other writes to ${open.checksum}.`);
        open.pieces.push({ kind: 'bspatch', source, patch: range(a, b, opAt) });
        written = open.size;
        break;
      }
      case Op.CLOSE:
        if (!open) throw invalid(`${what}: close at byte ${opAt} with no object open.`);
        if (written !== open.size) throw invalid(`${what}: object ${open.checksum} is closed after ${written} of its ${open.size} bytes.`);
        out.push(open);
        open = null;
        source = null;
        k++;
        break;
      default:
        throw invalid(`${what}: unknown operation 0x${op.toString(16)} at byte ${opAt}.`, { op });
    }
  }
  if (open) throw invalid(`${what}: the operations end with object ${open.checksum} still open.`);
  if (k !== objects.length) throw invalid(`${what}: the operations create ${k} objects, but the part lists ${objects.length}.`);
  return out;
}

// ---------------------------------------------------------------------------
// Writing parts

/** Builds one part's payload: deduplicated mode and xattr tables, a blob, operations. */
export class PartBuilder {
  readonly objects: DeltaObjectRef[] = [];
  private modes: DeltaPayload['modes'] = [];
  private modeIndex = new Map<string, number>();
  private xattrLists: Xattr[][] = [];
  private xattrIndex = new Map<string, number>();
  private chunks: Uint8Array[] = [];
  private blobLength = 0;
  private ops: number[] = [];
  /** Sum of the sizes of the objects added. */
  uncompressedSize = 0;

  /** Bytes of payload so far (blob plus operations), to decide when to cut a part. */
  get size(): number {
    return this.blobLength + this.ops.length;
  }

  private append(data: Uint8Array): number {
    const at = this.blobLength;
    this.chunks.push(data);
    this.blobLength += data.length;
    return at;
  }

  private mode(uid: number, gid: number, mode: number): number {
    const key = `${uid}:${gid}:${mode}`;
    let i = this.modeIndex.get(key);
    if (i === undefined) {
      i = this.modes.length;
      this.modes.push({ uid, gid, mode });
      this.modeIndex.set(key, i);
    }
    return i;
  }

  private xattrs(list: Xattr[]): number {
    const key = JSON.stringify(list.map((x) => [x.name, Buffer.from(x.value).toString('base64')]));
    let i = this.xattrIndex.get(key);
    if (i === undefined) {
      i = this.xattrLists.length;
      this.xattrLists.push(list);
      this.xattrIndex.set(key, i);
    }
    return i;
  }

  addMetadata(type: ObjectType, checksum: string, data: Uint8Array): void {
    const off = this.append(data);
    this.ops.push(Op.OPEN_SPLICE_AND_CLOSE);
    writeVarint(this.ops, data.length);
    writeVarint(this.ops, off);
    this.objects.push({ type, checksum });
    this.uncompressedSize += data.length;
  }

  /** A content object written whole from the blob (for a symlink, `data` is the target). */
  addContent(checksum: string, h: { uid: number; gid: number; mode: number; xattrs: Xattr[] }, data: Uint8Array): void {
    const mi = this.mode(h.uid, h.gid, h.mode);
    const xi = this.xattrs(h.xattrs);
    const off = this.append(data);
    this.ops.push(Op.OPEN_SPLICE_AND_CLOSE);
    writeVarint(this.ops, mi);
    writeVarint(this.ops, xi);
    writeVarint(this.ops, data.length);
    writeVarint(this.ops, off);
    this.objects.push({ type: 'file', checksum });
    this.uncompressedSize += data.length;
  }

  /**
   * A regular file built from an object the client has (`source`) and new
   * bytes: `copies` are [targetOffset, sourceOffset, length] in target order.
   */
  addCopied(checksum: string, h: { uid: number; gid: number; mode: number; xattrs: Xattr[] }, data: Uint8Array, source: string, copies: Array<[number, number, number]>): void {
    const mi = this.mode(h.uid, h.gid, h.mode);
    const xi = this.xattrs(h.xattrs);
    const srcOff = this.append(hexToBytes(source));
    this.ops.push(Op.OPEN);
    writeVarint(this.ops, mi);
    writeVarint(this.ops, xi);
    writeVarint(this.ops, data.length);
    let at = 0;
    let reading = false;
    const literal = (end: number): void => {
      if (end <= at) return;
      if (reading) {
        this.ops.push(Op.UNSET_READ_SOURCE);
        reading = false;
      }
      const off = this.append(data.subarray(at, end));
      this.ops.push(Op.WRITE);
      writeVarint(this.ops, end - at);
      writeVarint(this.ops, off);
      at = end;
    };
    for (const [to, from, len] of copies) {
      literal(to);
      if (!reading) {
        this.ops.push(Op.SET_READ_SOURCE);
        writeVarint(this.ops, srcOff);
        reading = true;
      }
      this.ops.push(Op.WRITE);
      writeVarint(this.ops, len);
      writeVarint(this.ops, from);
      at = to + len;
    }
    literal(data.length);
    if (reading) this.ops.push(Op.UNSET_READ_SOURCE);
    this.ops.push(Op.CLOSE);
    this.objects.push({ type: 'file', checksum });
    this.uncompressedSize += data.length;
  }

  payload(): Buffer {
    const blob = Buffer.concat(this.chunks, this.blobLength);
    return encodePayload({ modes: this.modes, xattrs: this.xattrLists, blob, ops: Uint8Array.from(this.ops) });
  }
}

/** The part header for a finished part file. */
export function partHeader(part: Uint8Array, builder: { objects: DeltaObjectRef[]; uncompressedSize: number }): DeltaPartHeader {
  return {
    version: 0, checksum: sha256Hex(part), size: BigInt(part.length), uncompressedSize: BigInt(builder.uncompressedSize), objects: builder.objects,
  };
}

/**
 * Regions of `next` that also occur in `prev`, as [nextOffset, prevOffset,
 * length] in `next` order, found with a rolling checksum over `block`-byte
 * windows (prev indexed at block boundaries) and extended both ways.
 */
export function findCopies(prev: Uint8Array, next: Uint8Array, block = 32): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  if (prev.length < block || next.length < block) return out;
  const index = new Map<number, number>();
  for (let i = 0; i + block <= prev.length; i += block) {
    let a = 0;
    let b = 0;
    for (let j = 0; j < block; j++) {
      a = (a + prev[i + j]) & 0xffff;
      b = (b + a) & 0xffff;
    }
    const h = (a | (b << 16)) >>> 0;
    if (!index.has(h)) index.set(h, i);
  }
  let a = 0;
  let b = 0;
  const init = (at: number): void => {
    a = 0;
    b = 0;
    for (let j = 0; j < block; j++) {
      a = (a + next[at + j]) & 0xffff;
      b = (b + a) & 0xffff;
    }
  };
  let i = 0;
  let lastEnd = 0;
  init(0);
  while (i + block <= next.length) {
    const cand = index.get((a | (b << 16)) >>> 0);
    if (cand !== undefined) {
      let same = true;
      for (let j = 0; j < block; j++) {
        if (prev[cand + j] !== next[i + j]) {
          same = false;
          break;
        }
      }
      if (same) {
        let s = i;
        let o = cand;
        while (s > lastEnd && o > 0 && next[s - 1] === prev[o - 1]) {
          s--;
          o--;
        }
        let e = i + block;
        let oe = cand + block;
        while (e < next.length && oe < prev.length && next[e] === prev[oe]) {
          e++;
          oe++;
        }
        out.push([s, o, e - s]);
        lastEnd = e;
        i = e;
        if (i + block <= next.length) init(i);
        continue;
      }
    }
    if (i + block >= next.length) break;
    // Roll: drop next[i], take next[i + block].
    const x = next[i];
    const y = next[i + block];
    a = (a - x + y) & 0xffff;
    b = (b - block * x + a) & 0xffff;
    i++;
  }
  return out;
}

// ---------------------------------------------------------------------------
// bspatch (the bare patch stream of the bsdiff library libostree uses)

function offtin(b: Uint8Array, at: number, what: string): number {
  let y = b[at + 7] & 0x7f;
  for (let i = 6; i >= 0; i--) y = y * 256 + b[at + i];
  if (!Number.isSafeInteger(y)) throw invalid(`${what}: a bsdiff control value at byte ${at} of the patch is too large.`);
  return b[at + 7] & 0x80 ? -y : y;
}

/** Apply a bsdiff patch stream to `old`, producing exactly `newSize` bytes. */
export function bspatch(old: Uint8Array, patch: Uint8Array, newSize: number, what: string): Buffer {
  // Every byte written comes from one byte of the patch (diff or extra), so a size the patch cannot
  // cover is refused before anything is allocated for it.
  if (newSize > patch.length) {
    throw invalid(`${what}: a ${patch.length}-byte bsdiff patch cannot produce the ${newSize} bytes the object claims.`, { size: newSize });
  }
  const out = Buffer.alloc(newSize);
  let p = 0;
  let newPos = 0;
  let oldPos = 0;
  const need = (n: number): void => {
    if (p + n > patch.length) throw invalid(`${what}: the bsdiff patch ends early.`);
  };
  while (newPos < newSize) {
    need(24);
    const c0 = offtin(patch, p, what);
    const c1 = offtin(patch, p + 8, what);
    const c2 = offtin(patch, p + 16, what);
    p += 24;
    if (c0 < 0 || c1 < 0 || newPos + c0 > newSize) throw invalid(`${what}: a bsdiff control block is out of range.`);
    need(c0);
    for (let i = 0; i < c0; i++) {
      const o = oldPos + i;
      out[newPos + i] = (patch[p + i] + (o >= 0 && o < old.length ? old[o] : 0)) & 0xff;
    }
    p += c0;
    newPos += c0;
    oldPos += c0;
    if (newPos + c1 > newSize) throw invalid(`${what}: a bsdiff control block is out of range.`);
    need(c1);
    out.set(patch.subarray(p, p + c1), newPos);
    p += c1;
    newPos += c1;
    oldPos += c2;
  }
  return out;
}

