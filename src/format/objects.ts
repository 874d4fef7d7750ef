/**
 * OSTree object encodings: commit, dirtree, dirmeta, the content-object
 * header and the archive (.filez) header, as libostree writes them.
 * Pure: buffers in, buffers out.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { parseNormal, parseType, serialize, type GType, type VarDict } from './gvariant.js';
import { bytesToHex, hexToBytes, isChecksum } from './checksum.js';

export type ObjectType = 'file' | 'dirtree' | 'dirmeta' | 'commit' | 'tombstone-commit' | 'commitmeta';

export const COMMIT_TYPE = parseType('(a{sv}aya(say)sstayay)');
export const DIRTREE_TYPE = parseType('(a(say)a(sayay))');
export const DIRMETA_TYPE = parseType('(uuua(ayay))');
export const FILE_HEADER_TYPE = parseType('(uuuusa(ayay))');
export const ARCHIVE_HEADER_TYPE = parseType('(tuuuusa(ayay))');
export const XATTRS_TYPE = parseType('a(ayay)');
export const METADATA_TYPE = parseType('a{sv}');

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;

/** An extended attribute: `name` without its trailing NUL. */
export interface Xattr {
  name: string;
  value: Uint8Array;
}

export interface Commit {
  metadata: VarDict;
  parent: string | null;
  related: Array<[string, string]>;
  subject: string;
  body: string;
  timestamp: bigint;
  rootTree: string;
  rootMeta: string;
}

export interface DirTree {
  files: Array<{ name: string; checksum: string }>;
  dirs: Array<{ name: string; tree: string; meta: string }>;
}

export interface DirMeta {
  uid: number;
  gid: number;
  mode: number;
  xattrs: Xattr[];
}

export interface FileHeader {
  uid: number;
  gid: number;
  mode: number;
  rdev: number;
  symlinkTarget: string;
  xattrs: Xattr[];
}

function bad(what: string, message: string, data: Record<string, unknown> = {}): OstreeTsError {
  return new OstreeTsError(Codes.OBJECT_INVALID, `Invalid ${what}: ${message}`, data);
}

/**
 * Parse an object's GVariant strictly; what is wrong with it is reported as
 * an invalid `what` (the object named), not as a bare GVariant error.
 */
function parseObject(type: GType, data: Uint8Array, what: string, facts: Record<string, unknown> = {}): unknown {
  try {
    return parseNormal(type, data);
  } catch (e) {
    if (e instanceof OstreeTsError && e.code === Codes.GVARIANT_INVALID) {
      throw new OstreeTsError(Codes.OBJECT_INVALID, `Invalid ${what}: ${e.message}`, { ...e.data, ...facts }, { cause: e });
    }
    throw e;
  }
}

export function swap32(n: number): number {
  return (((n & 0xff) << 24) | ((n & 0xff00) << 8) | ((n >>> 8) & 0xff00) | ((n >>> 24) & 0xff)) >>> 0;
}

export function swap64(n: bigint): bigint {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64LE(n);
  return b.readBigUInt64BE();
}

// --------------------------------------------------------------------------
// Names

/**
 * libostree's filename rule (ot_util_filename_validate) plus ours: no empty
 * names, no '/', no NUL, not '.' or '..'. Returns what is wrong, as a phrase.
 */
export function validateFilename(name: string): string | null {
  if (name.length === 0) return 'an empty name';
  if (name === '.') return "the name '.' (a self-reference)";
  if (name === '..') return "the name '..' (a path uplink)";
  if (name.includes('/')) return `a name containing '/' (${JSON.stringify(name)})`;
  if (name.includes('\0')) return `a name containing a NUL byte (${JSON.stringify(name)})`;
  return null;
}

function checkFilename(name: string, what: string, entry: string, data: Record<string, unknown>): void {
  const why = validateFilename(name);
  if (why) throw bad(what, `its ${entry} has ${why}.`, { ...data, name });
}

// --------------------------------------------------------------------------
// Extended attributes

const enc = new TextEncoder();

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

/** Sort by name bytes (strcmp order) and drop empty values, as libostree does. */
export function canonicalXattrs(xattrs: Xattr[]): Xattr[] {
  return xattrs
    .filter((x) => x.value.length > 0)
    .sort((a, b) => compareBytes(enc.encode(a.name), enc.encode(b.name)));
}

export function xattrsToGv(xattrs: Xattr[]): Array<[Uint8Array, Uint8Array]> {
  return xattrs.map((x) => [Buffer.concat([Buffer.from(x.name, 'utf8'), Buffer.from([0])]), x.value]);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function xattrsFromGv(v: unknown, what: string): Xattr[] {
  return (v as Array<[Uint8Array, Uint8Array]>).map(([n, value]) => {
    if (n.length === 0 || n[n.length - 1] !== 0 || n.subarray(0, n.length - 1).includes(0)) {
      throw bad(what, 'an extended attribute name is not a NUL-terminated byte string.');
    }
    // Names are kept as text: one that is not UTF-8 would be written back as other bytes (another object).
    let name: string;
    try {
      name = utf8.decode(n.subarray(0, n.length - 1));
    } catch {
      throw bad(what, `the extended attribute name ${JSON.stringify(Buffer.from(n.subarray(0, n.length - 1)).toString('latin1'))} is not valid UTF-8.`);
    }
    return { name, value: Buffer.from(value) };
  });
}

export function encodeXattrs(xattrs: Xattr[]): Buffer {
  return serialize(XATTRS_TYPE, xattrsToGv(xattrs));
}

// --------------------------------------------------------------------------
// dirmeta

export function encodeDirMeta(m: DirMeta): Buffer {
  return serialize(DIRMETA_TYPE, [swap32(m.uid), swap32(m.gid), swap32(m.mode), xattrsToGv(m.xattrs)]);
}

export function decodeDirMeta(data: Uint8Array, what = 'dirmeta'): DirMeta {
  const [uid, gid, mode, x] = parseObject(DIRMETA_TYPE, data, what) as [number, number, number, unknown];
  const m = { uid: swap32(uid), gid: swap32(gid), mode: swap32(mode), xattrs: xattrsFromGv(x, what) };
  if ((m.mode & S_IFMT) !== S_IFDIR) throw bad(what, `mode 0${m.mode.toString(8)} is not a directory.`);
  if ((m.mode & ~(S_IFMT | 0o7777)) !== 0) throw bad(what, `mode 0${m.mode.toString(8)} has unknown bits.`);
  return m;
}

// --------------------------------------------------------------------------
// dirtree

export function encodeDirTree(t: DirTree): Buffer {
  return serialize(DIRTREE_TYPE, [
    t.files.map((f) => [f.name, hexToBytes(f.checksum)]),
    t.dirs.map((d) => [d.name, hexToBytes(d.tree), hexToBytes(d.meta)]),
  ]);
}

function checkCsum(b: Uint8Array, what: string, name: string): string {
  if (b.length !== 32) throw bad(what, `the entry '${name}' has a checksum of ${b.length} bytes, not 32.`, { name });
  return bytesToHex(b);
}

/** Decode and validate a dirtree: names valid, sorted, unique across files and dirs. */
export function decodeDirTree(data: Uint8Array, checksum = ''): DirTree {
  const what = checksum ? `dirtree ${checksum}` : 'dirtree';
  const data2 = { checksum };
  const [files, dirs] = parseObject(DIRTREE_TYPE, data, what, data2) as [Array<[string, Uint8Array]>, Array<[string, Uint8Array, Uint8Array]>];
  const t: DirTree = {
    files: files.map(([name, c], i) => { checkFilename(name, what, `file entry ${i}`, data2); return { name, checksum: checkCsum(c, what, name) }; }),
    dirs: dirs.map(([name, tr, me], i) => { checkFilename(name, what, `directory entry ${i}`, data2); return { name, tree: checkCsum(tr, what, name), meta: checkCsum(me, what, name) }; }),
  };
  const seen = new Set<string>();
  for (const list of [t.files, t.dirs]) {
    let prev: Buffer | null = null;
    for (const e of list) {
      const nb = Buffer.from(e.name, 'utf8');
      if (prev && Buffer.compare(prev, nb) >= 0) throw bad(what, `the entries are not sorted by name ('${e.name}').`, data2);
      if (seen.has(e.name)) throw bad(what, `the name '${e.name}' appears twice.`, data2);
      seen.add(e.name);
      prev = nb;
    }
  }
  return t;
}

export function sortByName<T extends { name: string }>(entries: T[]): T[] {
  return entries.sort((a, b) => Buffer.compare(Buffer.from(a.name, 'utf8'), Buffer.from(b.name, 'utf8')));
}

// --------------------------------------------------------------------------
// commit

export function encodeCommit(c: Commit): Buffer {
  return serialize(COMMIT_TYPE, [
    c.metadata,
    c.parent ? hexToBytes(c.parent) : new Uint8Array(0),
    c.related.map(([name, csum]) => [name, hexToBytes(csum)]),
    c.subject,
    c.body,
    swap64(c.timestamp),
    hexToBytes(c.rootTree),
    hexToBytes(c.rootMeta),
  ]);
}

export function decodeCommit(data: Uint8Array, checksum = ''): Commit {
  const what = checksum ? `commit ${checksum}` : 'commit';
  const [metadata, parent, related, subject, body, ts, tree, meta] = parseObject(COMMIT_TYPE, data, what, { checksum }) as [
    VarDict, Uint8Array, Array<[string, Uint8Array]>, string, string, bigint, Uint8Array, Uint8Array,
  ];
  for (const [k] of metadata) if (k.length === 0) throw bad(what, 'a metadata key is empty.', { checksum });
  if (parent.length !== 0 && parent.length !== 32) throw bad(what, `the parent checksum has ${parent.length} bytes.`, { checksum });
  if (tree.length !== 32 || meta.length !== 32) throw bad(what, 'the root tree or root meta checksum is not 32 bytes.', { checksum });
  return {
    metadata,
    parent: parent.length ? bytesToHex(parent) : null,
    related: related.map(([n, c]) => [n, bytesToHex(c)]),
    subject,
    body,
    timestamp: swap64(ts),
    rootTree: bytesToHex(tree),
    rootMeta: bytesToHex(meta),
  };
}

export function encodeMetadata(dict: VarDict): Buffer {
  return serialize(METADATA_TYPE, dict);
}

/** Decode an `a{sv}` (detached metadata, summary.sig); `what` names it in errors. */
export function decodeMetadata(data: Uint8Array, what = 'metadata'): VarDict {
  return parseObject(METADATA_TYPE, data, what) as VarDict;
}

// --------------------------------------------------------------------------
// Content objects

function checkFileMode(mode: number, rdev: number, what: string): void {
  const fmt = mode & S_IFMT;
  if (fmt !== S_IFREG && fmt !== S_IFLNK) throw bad(what, `mode 0${mode.toString(8)} is neither a regular file nor a symlink.`);
  if ((mode & ~(S_IFMT | 0o7777)) !== 0) throw bad(what, `mode 0${mode.toString(8)} has unknown bits.`);
  if (rdev !== 0) throw bad(what, `rdev is ${rdev}, not 0.`);
}

/** The `(uuuusa(ayay))` header GVariant. */
export function encodeFileHeaderVariant(h: FileHeader): Buffer {
  return serialize(FILE_HEADER_TYPE, [swap32(h.uid), swap32(h.gid), swap32(h.mode), swap32(h.rdev), h.symlinkTarget, xattrsToGv(h.xattrs)]);
}

function frame(variant: Buffer): Buffer {
  const out = Buffer.alloc(8 + variant.length);
  out.writeUInt32BE(variant.length, 0);
  variant.copy(out, 8);
  return out;
}

/** The bytes that precede the content in the object stream (hash input). */
export function encodeFileHeader(h: FileHeader): Buffer {
  return frame(encodeFileHeaderVariant(h));
}

/** Decode a framed `(uuuusa(ayay))` header; returns the header and its framed length. */
export function decodeFileHeader(data: Uint8Array, what = 'file header'): { header: FileHeader; length: number } {
  const { variant, length } = unframe(data, what);
  const [uid, gid, mode, rdev, target, x] = parseObject(FILE_HEADER_TYPE, variant, what) as [number, number, number, number, string, unknown];
  const header = { uid: swap32(uid), gid: swap32(gid), mode: swap32(mode), rdev: swap32(rdev), symlinkTarget: target, xattrs: xattrsFromGv(x, what) };
  checkFileMode(header.mode, header.rdev, what);
  return { header, length };
}

function unframe(data: Uint8Array, what: string): { variant: Uint8Array; length: number } {
  if (data.length < 8) throw bad(what, 'it is shorter than its 8-byte length prefix.');
  const len = Buffer.from(data.buffer, data.byteOffset, 8).readUInt32BE(0);
  if (len === 0 || 8 + len > data.length) throw bad(what, `its header length ${len} does not fit in ${data.length} bytes.`);
  return { variant: data.subarray(8, 8 + len), length: 8 + len };
}

/** Archive (.filez) header: `(tuuuusa(ayay))` with the uncompressed size. */
export function encodeArchiveHeader(h: FileHeader, size: number | bigint): Buffer {
  return frame(serialize(ARCHIVE_HEADER_TYPE, [
    swap64(BigInt(size)), swap32(h.uid), swap32(h.gid), swap32(h.mode), swap32(h.rdev), h.symlinkTarget, xattrsToGv(h.xattrs),
  ]));
}

export function decodeArchiveHeader(data: Uint8Array, what = 'archive header'): { header: FileHeader; size: bigint; length: number } {
  const { variant, length } = unframe(data, what);
  const [size, uid, gid, mode, rdev, target, x] = parseObject(ARCHIVE_HEADER_TYPE, variant, what) as [bigint, number, number, number, number, string, unknown];
  const header = { uid: swap32(uid), gid: swap32(gid), mode: swap32(mode), rdev: swap32(rdev), symlinkTarget: target, xattrs: xattrsFromGv(x, what) };
  checkFileMode(header.mode, header.rdev, what);
  return { header, size: swap64(size), length };
}

/** `user.ostreemeta` xattr value in bare-user repositories: `(uuua(ayay))`. */
export function encodeUserMeta(uid: number, gid: number, mode: number, xattrs: Xattr[]): Buffer {
  return serialize(DIRMETA_TYPE, [swap32(uid), swap32(gid), swap32(mode), xattrsToGv(xattrs)]);
}

export function decodeUserMeta(data: Uint8Array, what = 'user.ostreemeta'): { uid: number; gid: number; mode: number; xattrs: Xattr[] } {
  const [uid, gid, mode, x] = parseObject(DIRMETA_TYPE, data, what) as [number, number, number, unknown];
  return { uid: swap32(uid), gid: swap32(gid), mode: swap32(mode), xattrs: xattrsFromGv(x, what) };
}

// --------------------------------------------------------------------------
// Object names and paths

export function objectSuffix(type: ObjectType, archive: boolean): string {
  return type === 'file' && archive ? 'filez' : type;
}

/** `XX/rest.type` relative to `objects/`. */
export function objectRelPath(checksum: string, type: ObjectType, archive: boolean): string {
  if (!isChecksum(checksum)) throw new OstreeTsError(Codes.INVALID_CHECKSUM, `'${checksum}' is not a valid checksum (64 lowercase hex digits).`, { checksum });
  return `${checksum.slice(0, 2)}/${checksum.slice(2)}.${objectSuffix(type, archive)}`;
}

/** ContentChecksum: SHA-256 of the root dirtree and dirmeta raw checksums (computed by the caller). */
export function contentChecksumInput(c: Commit): Buffer {
  return Buffer.concat([hexToBytes(c.rootTree), hexToBytes(c.rootMeta)]);
}
