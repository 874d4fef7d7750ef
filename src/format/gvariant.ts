/**
 * GVariant serialization, exactly as GLib writes it, and a strict parser:
 * `parse` refuses anything that is not a well-formed serialization, and
 * `parseNormal` also refuses what is not in normal form.
 *
 * Values map to JavaScript as follows:
 *   y n q i u h d -> number      x t -> bigint       b -> boolean
 *   s o g         -> string      ay  -> Uint8Array (a Buffer view)
 *   aT            -> T[]         mT  -> T | null     (..) {..} -> unknown[]
 *   v             -> Variant { type, value }
 *
 * Numbers are written little-endian. Fields that OSTree stores big-endian are
 * byte-swapped by the callers (see objects.ts), as libostree itself does.
 */
import { Codes, OstreeTsError } from '../errors/index.js';

export type GType =
  | { kind: 'basic'; code: string; align: number; fixed: number | null; str: string }
  | { kind: 'array'; elem: GType; align: number; fixed: null; str: string }
  | { kind: 'maybe'; elem: GType; align: number; fixed: null; str: string }
  | { kind: 'tuple'; members: GType[]; dict: boolean; align: number; fixed: number | null; str: string }
  | { kind: 'variant'; align: 8; fixed: null; str: 'v' };

export interface Variant {
  type: string;
  value: unknown;
}

const BASIC: Record<string, [number, number | null]> = {
  y: [1, 1], b: [1, 1], n: [2, 2], q: [2, 2], i: [4, 4], u: [4, 4], h: [4, 4],
  x: [8, 8], t: [8, 8], d: [8, 8], s: [1, null], o: [1, null], g: [1, null],
};

const MAX_DEPTH = 64;

function invalid(message: string, data: Record<string, unknown> = {}): OstreeTsError {
  return new OstreeTsError(Codes.GVARIANT_INVALID, message, data);
}

function alignUp(n: number, a: number): number {
  return (n + a - 1) & ~(a - 1);
}

const typeCache = new Map<string, GType>();

/** Parse a GVariant type string (one complete type). */
export function parseType(str: string): GType {
  const cached = typeCache.get(str);
  if (cached) return cached;
  const [t, end] = parseTypeAt(str, 0, 0);
  if (end !== str.length) throw invalid(`Invalid GVariant type string '${str}': trailing characters.`, { type: str });
  if (typeCache.size < 256) typeCache.set(str, t);
  return t;
}

function parseTypeAt(s: string, pos: number, depth: number): [GType, number] {
  if (depth > MAX_DEPTH) throw invalid(`GVariant type '${s}' nests deeper than ${MAX_DEPTH}.`, { type: s });
  const c = s[pos];
  if (c === undefined) throw invalid(`Invalid GVariant type string '${s}': it ends early.`, { type: s });
  const basic = BASIC[c];
  if (basic) return [{ kind: 'basic', code: c, align: basic[0], fixed: basic[1], str: c }, pos + 1];
  if (c === 'v') return [{ kind: 'variant', align: 8, fixed: null, str: 'v' }, pos + 1];
  if (c === 'a' || c === 'm') {
    const [elem, end] = parseTypeAt(s, pos + 1, depth + 1);
    const str = s.slice(pos, end);
    return [{ kind: c === 'a' ? 'array' : 'maybe', elem, align: elem.align, fixed: null, str } as GType, end];
  }
  if (c === '(' || c === '{') {
    const close = c === '(' ? ')' : '}';
    const members: GType[] = [];
    let p = pos + 1;
    while (s[p] !== close) {
      if (p >= s.length) throw invalid(`Invalid GVariant type string '${s}': unclosed '${c}'.`, { type: s });
      const [m, e] = parseTypeAt(s, p, depth + 1);
      members.push(m);
      p = e;
    }
    if (c === '{' && (members.length !== 2 || members[0].kind !== 'basic')) {
      throw invalid(`Invalid GVariant type string '${s}': a dict entry needs a basic key and one value.`, { type: s });
    }
    return [makeTuple(members, c === '{', s.slice(pos, p + 1)), p + 1];
  }
  throw invalid(`Invalid GVariant type string '${s}': unknown character '${c}'.`, { type: s });
}

function makeTuple(members: GType[], dict: boolean, str: string): GType {
  let align = 1;
  let fixed: number | null = 0;
  for (const m of members) {
    align = Math.max(align, m.align);
    if (fixed !== null && m.fixed !== null) fixed = alignUp(fixed, m.align) + m.fixed;
    else fixed = null;
  }
  if (fixed !== null) fixed = members.length === 0 ? 1 : alignUp(fixed, align);
  return { kind: 'tuple', members, dict, align, fixed, str };
}

// ---------------------------------------------------------------------------
// Serialization

function offsetWidth(bodyLen: number, count: number): number {
  if (bodyLen === 0 && count === 0) return 0;
  if (bodyLen + count <= 0xff) return 1;
  if (bodyLen + count * 2 <= 0xffff) return 2;
  if (bodyLen + count * 4 <= 0xffffffff) return 4;
  return 8;
}

function writeOffset(buf: Buffer, pos: number, value: number, w: number): void {
  switch (w) {
    case 1: buf.writeUInt8(value, pos); break;
    case 2: buf.writeUInt16LE(value, pos); break;
    case 4: buf.writeUInt32LE(value, pos); break;
    default: buf.writeBigUInt64LE(BigInt(value), pos);
  }
}

/** A growable byte buffer with GVariant-style padding. */
class Writer {
  buf: Buffer;
  len = 0;
  constructor(size = 256) {
    this.buf = Buffer.allocUnsafe(size);
  }
  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const nb = Buffer.allocUnsafe(size);
    this.buf.copy(nb, 0, 0, this.len);
    this.buf = nb;
  }
  pad(base: number, align: number): void {
    const target = base + alignUp(this.len - base, align);
    this.ensure(target - this.len);
    this.buf.fill(0, this.len, target);
    this.len = target;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  byte(v: number): void {
    this.ensure(1);
    this.buf[this.len++] = v;
  }
  /** Append framing offsets for the container that started at `base`. */
  offsets(base: number, ends: number[]): void {
    const w = offsetWidth(this.len - base, ends.length);
    this.ensure(ends.length * w);
    for (const e of ends) {
      writeOffset(this.buf, this.len, e, w);
      this.len += w;
    }
  }
}

/** Serialize `value` as GVariant type `type` (a type string or a parsed type). */
export function serialize(type: string | GType, value: unknown): Buffer {
  const t = typeof type === 'string' ? parseType(type) : type;
  const w = new Writer();
  writeValue(w, t, value);
  return Buffer.from(w.buf.subarray(0, w.len));
}

function writeValue(w: Writer, t: GType, v: unknown): void {
  const base = w.len;
  switch (t.kind) {
    case 'basic':
      writeBasic(w, t.code, v);
      return;
    case 'variant': {
      const vv = v as Variant;
      writeValue(w, parseType(vv.type), vv.value);
      w.byte(0);
      w.bytes(Buffer.from(vv.type, 'latin1'));
      return;
    }
    case 'maybe': {
      if (v === null || v === undefined) return;
      writeValue(w, t.elem, v);
      if (t.elem.fixed === null) w.byte(0);
      return;
    }
    case 'array': {
      if (t.elem.kind === 'basic' && t.elem.code === 'y') {
        w.bytes(v as Uint8Array);
        return;
      }
      const items = v as unknown[];
      if (t.elem.fixed !== null) {
        for (const item of items) {
          w.pad(base, t.elem.align);
          writeValue(w, t.elem, item);
        }
        return;
      }
      const ends: number[] = [];
      for (const item of items) {
        w.pad(base, t.elem.align);
        writeValue(w, t.elem, item);
        ends.push(w.len - base);
      }
      w.offsets(base, ends);
      return;
    }
    case 'tuple': {
      const items = v as unknown[];
      if (!Array.isArray(items) || items.length !== t.members.length) {
        throw invalid(`Cannot serialize a value as '${t.str}': expected ${t.members.length} members.`, { type: t.str });
      }
      const ends: number[] = [];
      const last = t.members.length - 1;
      t.members.forEach((m, i) => {
        w.pad(base, m.align);
        writeValue(w, m, items[i]);
        if (m.fixed === null && i !== last) ends.push(w.len - base);
      });
      if (t.fixed !== null) {
        if (t.members.length === 0) w.byte(0);
        else w.pad(base, t.align);
        return;
      }
      w.offsets(base, ends.reverse());
      return;
    }
  }
}

function writeBasic(w: Writer, code: string, v: unknown): void {
  switch (code) {
    case 'y': w.byte(Number(v) & 0xff); return;
    case 'b': w.byte(v ? 1 : 0); return;
    case 'n': w.ensure(2); w.buf.writeInt16LE(Number(v), w.len); w.len += 2; return;
    case 'q': w.ensure(2); w.buf.writeUInt16LE(Number(v), w.len); w.len += 2; return;
    case 'i': case 'h': w.ensure(4); w.buf.writeInt32LE(Number(v), w.len); w.len += 4; return;
    case 'u': w.ensure(4); w.buf.writeUInt32LE(Number(v) >>> 0, w.len); w.len += 4; return;
    case 'x': w.ensure(8); w.buf.writeBigInt64LE(BigInt(v as bigint), w.len); w.len += 8; return;
    case 't': w.ensure(8); w.buf.writeBigUInt64LE(BigInt(v as bigint), w.len); w.len += 8; return;
    case 'd': w.ensure(8); w.buf.writeDoubleLE(Number(v), w.len); w.len += 8; return;
    default: {
      const s = String(v);
      const b = Buffer.from(s, 'utf8');
      if (b.includes(0)) throw invalid(`Cannot serialize a string with an embedded NUL byte: ${JSON.stringify(s)}.`);
      w.bytes(b);
      w.byte(0);
    }
  }
}

// ---------------------------------------------------------------------------
// Strict parsing

const utf8 = new TextDecoder('utf-8', { fatal: true });

function readOffset(buf: Uint8Array, pos: number, w: number): number {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  switch (w) {
    case 1: return buf[pos];
    case 2: return dv.getUint16(pos, true);
    case 4: return dv.getUint32(pos, true);
    default: {
      const n = dv.getBigUint64(pos, true);
      if (n > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER;
      return Number(n);
    }
  }
}

function widthFor(size: number): number {
  if (size === 0) return 0;
  if (size <= 0xff) return 1;
  if (size <= 0xffff) return 2;
  if (size <= 0xffffffff) return 4;
  return 8;
}

function checkZero(buf: Uint8Array, from: number, to: number, t: GType): void {
  for (let i = from; i < to; i++) {
    if (buf[i] !== 0) throw invalid(`Non-zero padding byte in a '${t.str}' value at offset ${i}.`, { type: t.str, offset: i });
  }
}

/**
 * Parse GVariant bytes strictly: anything that is not a well-formed
 * serialization of `type` (sizes, framing offsets, padding, terminators,
 * UTF-8) throws E_GVARIANT_INVALID; nothing is defaulted. Offsets wider than
 * needed and non-canonical NaNs are accepted here; parseNormal refuses them.
 */
export function parse(type: string | GType, data: Uint8Array): unknown {
  const t = typeof type === 'string' ? parseType(type) : type;
  return readValue(t, data, 0, data.length, 0);
}

function readValue(t: GType, buf: Uint8Array, start: number, end: number, depth: number): unknown {
  if (depth > MAX_DEPTH) throw invalid(`GVariant value nests deeper than ${MAX_DEPTH}.`);
  const size = end - start;
  if (t.fixed !== null && size !== t.fixed) {
    throw invalid(`A '${t.str}' value must be ${t.fixed} bytes, found ${size}.`, { type: t.str, size });
  }
  switch (t.kind) {
    case 'basic':
      return readBasic(t.code, buf, start, end);
    case 'variant': {
      let sep = end - 1;
      while (sep >= start && buf[sep] !== 0) sep--;
      if (sep < start) throw invalid('A variant has no type separator.');
      const typeStr = Buffer.from(buf.subarray(sep + 1, end)).toString('latin1');
      let inner: GType;
      try {
        inner = parseType(typeStr);
      } catch {
        throw invalid(`A variant names an invalid type '${typeStr}'.`, { type: typeStr });
      }
      return { type: typeStr, value: readValue(inner, buf, start, sep, depth + 1) } satisfies Variant;
    }
    case 'maybe': {
      if (size === 0) return null;
      if (t.elem.fixed !== null) return readValue(t.elem, buf, start, end, depth + 1);
      if (buf[end - 1] !== 0) throw invalid(`A '${t.str}' value lacks its trailing zero byte.`, { type: t.str });
      return readValue(t.elem, buf, start, end - 1, depth + 1);
    }
    case 'array':
      return readArray(t, buf, start, end, depth);
    case 'tuple':
      return readTuple(t, buf, start, end, depth);
  }
}

function readArray(t: Extract<GType, { kind: 'array' }>, buf: Uint8Array, start: number, end: number, depth: number): unknown {
  const size = end - start;
  const elem = t.elem;
  if (elem.kind === 'basic' && elem.code === 'y') return Buffer.from(buf.buffer, buf.byteOffset + start, size);
  if (size === 0) return [];
  if (elem.fixed !== null) {
    if (size % elem.fixed !== 0) throw invalid(`A '${t.str}' value's size ${size} is not a multiple of ${elem.fixed}.`, { type: t.str });
    const out: unknown[] = [];
    for (let p = start; p < end; p += elem.fixed) out.push(readValue(elem, buf, p, p + elem.fixed, depth + 1));
    return out;
  }
  const w = widthFor(size);
  const tableStart = readOffset(buf, end - w, w);
  if (tableStart > size - w || (size - tableStart) % w !== 0) {
    throw invalid(`A '${t.str}' value has an invalid framing offset table.`, { type: t.str });
  }
  const n = (size - tableStart) / w;
  const out: unknown[] = new Array(n);
  let prev = 0;
  for (let i = 0; i < n; i++) {
    const elemEnd = readOffset(buf, start + tableStart + i * w, w);
    const elemStart = alignUp(prev, elem.align);
    if (elemEnd < elemStart || elemEnd > tableStart) {
      throw invalid(`A '${t.str}' value has an out-of-range framing offset.`, { type: t.str, index: i });
    }
    checkZero(buf, start + prev, start + elemStart, t);
    out[i] = readValue(elem, buf, start + elemStart, start + elemEnd, depth + 1);
    prev = elemEnd;
  }
  if (prev !== tableStart) throw invalid(`A '${t.str}' value has bytes between its last element and its offsets.`, { type: t.str });
  return out;
}

function readTuple(t: Extract<GType, { kind: 'tuple' }>, buf: Uint8Array, start: number, end: number, depth: number): unknown {
  const size = end - start;
  const out: unknown[] = [];
  if (t.members.length === 0) {
    if (buf[start] !== 0) throw invalid("A '()' value must be a single zero byte.");
    return out;
  }
  const w = t.fixed === null ? widthFor(size) : 0;
  let tail = size; // where the next framing offset ends (read backwards)
  let cursor = 0;
  const last = t.members.length - 1;
  for (let i = 0; i <= last; i++) {
    const m = t.members[i];
    const mStart = alignUp(cursor, m.align);
    let mEnd: number;
    if (m.fixed !== null) {
      mEnd = mStart + m.fixed;
    } else if (i === last) {
      mEnd = tail;
    } else {
      // An empty value has no room for an offset (GLib's offsets are 0 bytes wide then): too short, not a read past the end.
      if (w === 0 || tail - w < 0) throw invalid(`A '${t.str}' value is too short for its framing offsets.`, { type: t.str, size });
      tail -= w;
      mEnd = readOffset(buf, start + tail, w);
    }
    if (mStart > mEnd || mEnd > tail) {
      throw invalid(`A '${t.str}' value has an out-of-range member ${i}.`, { type: t.str, member: i });
    }
    checkZero(buf, start + cursor, start + mStart, t);
    out.push(readValue(m, buf, start + mStart, start + mEnd, depth + 1));
    cursor = mEnd;
  }
  if (t.fixed !== null) {
    checkZero(buf, start + cursor, end, t);
  } else if (cursor !== tail) {
    throw invalid(`A '${t.str}' value has unused bytes before its framing offsets.`, { type: t.str });
  }
  return out;
}

function readBasic(code: string, buf: Uint8Array, start: number, end: number): unknown {
  const dv = new DataView(buf.buffer, buf.byteOffset + start, end - start);
  switch (code) {
    case 'y': return buf[start];
    case 'b': {
      const b = buf[start];
      if (b > 1) throw invalid(`A boolean holds ${b}; only 0 and 1 are valid.`);
      return b === 1;
    }
    case 'n': return dv.getInt16(0, true);
    case 'q': return dv.getUint16(0, true);
    case 'i': case 'h': return dv.getInt32(0, true);
    case 'u': return dv.getUint32(0, true);
    case 'x': return dv.getBigInt64(0, true);
    case 't': return dv.getBigUint64(0, true);
    case 'd': return dv.getFloat64(0, true);
    default: {
      if (end <= start || buf[end - 1] !== 0) throw invalid('A string lacks its terminating zero byte.');
      const bytes = buf.subarray(start, end - 1);
      if (bytes.includes(0)) throw invalid('A string contains an embedded zero byte.');
      try {
        return utf8.decode(bytes);
      } catch {
        throw invalid('A string is not valid UTF-8.');
      }
    }
  }
}

/**
 * Parse and insist on normal form: re-serializing the result must give back
 * exactly the input bytes.
 */
export function parseNormal(type: string | GType, data: Uint8Array): unknown {
  const t = typeof type === 'string' ? parseType(type) : type;
  const value = parse(t, data);
  const again = serialize(t, value);
  if (!Buffer.from(data.buffer, data.byteOffset, data.byteLength).equals(again)) {
    throw invalid(`A '${t.str}' value is not in normal form.`, { type: t.str });
  }
  return value;
}

// ---------------------------------------------------------------------------
// Helpers for a{sv} dictionaries

export type VarDict = Array<[string, Variant]>;

/** First entry with `key` (and, when given, value type `type`), as GLib looks it up. */
export function lookup(dict: VarDict, key: string, type?: string): unknown {
  for (const [k, v] of dict) {
    if (k === key) {
      if (type !== undefined && v.type !== type) return undefined;
      return v.value;
    }
  }
  return undefined;
}

/** Text form of a value, as GLib's g_variant_print writes it (type annotations on first elements). */
export function printValue(type: string | GType, value: unknown, annotate = true): string {
  const t = typeof type === 'string' ? parseType(type) : type;
  switch (t.kind) {
    case 'basic':
      switch (t.code) {
        case 's': return quote(String(value));
        case 'o': return annotate ? `objectpath ${quote(String(value))}` : quote(String(value));
        case 'g': return annotate ? `signature ${quote(String(value))}` : quote(String(value));
        case 'b': return value ? 'true' : 'false';
        case 'y': return `${annotate ? 'byte ' : ''}0x${Number(value).toString(16).padStart(2, '0')}`;
        case 'i': return String(value);
        case 'd': return Number.isInteger(value) ? `${value}.0` : String(value);
        default: {
          const names: Record<string, string> = { u: 'uint32', t: 'uint64', x: 'int64', q: 'uint16', n: 'int16', h: 'handle' };
          return annotate ? `${names[t.code]} ${value}` : String(value);
        }
      }
    case 'variant': {
      const v = value as Variant;
      return `<${printValue(v.type, v.value, true)}>`;
    }
    case 'maybe':
      return value === null ? (annotate ? `@${t.str} nothing` : 'nothing') : printValue(t.elem, value, annotate);
    case 'array': {
      if (t.elem.kind === 'basic' && t.elem.code === 'y') {
        const b = value as Uint8Array;
        if (b.length === 0) return annotate ? '@ay []' : '[]';
        if (b[b.length - 1] === 0 && b.indexOf(0) === b.length - 1) return printBytestring(b.subarray(0, b.length - 1));
        return `[${Array.from(b, (x, i) => `${i === 0 && annotate ? 'byte ' : ''}0x${x.toString(16).padStart(2, '0')}`).join(', ')}]`;
      }
      const items = value as unknown[];
      if (items.length === 0) return annotate ? `@${t.str} []` : '[]';
      if (t.elem.kind === 'tuple' && t.elem.dict) {
        const d = t.elem;
        return `{${items.map((e, i) => { const [k, v] = e as unknown[]; return `${printValue(d.members[0], k, annotate && i === 0)}: ${printValue(d.members[1], v, annotate && i === 0)}`; }).join(', ')}}`;
      }
      return `[${items.map((x, i) => printValue(t.elem, x, annotate && i === 0)).join(', ')}]`;
    }
    case 'tuple': {
      const items = value as unknown[];
      return `(${items.map((x, i) => printValue(t.members[i], x, annotate)).join(', ')}${items.length === 1 ? ',' : ''})`;
    }
  }
}

/** Swap the byte order of every number in a value (GLib's g_variant_byteswap). */
export function byteswapValue(type: string | GType, value: unknown): unknown {
  const t = typeof type === 'string' ? parseType(type) : type;
  switch (t.kind) {
    case 'basic': {
      const size = t.fixed ?? 1;
      if (size === 1 || t.fixed === null) return value;
      const b = serialize(t, value);
      b.reverse();
      return parse(t, b);
    }
    case 'variant': {
      const v = value as Variant;
      return { type: v.type, value: byteswapValue(v.type, v.value) };
    }
    case 'maybe':
      return value === null ? null : byteswapValue(t.elem, value);
    case 'array':
      if (t.elem.kind === 'basic' && t.elem.code === 'y') return value;
      return (value as unknown[]).map((x) => byteswapValue(t.elem, x));
    case 'tuple':
      return (value as unknown[]).map((x, i) => byteswapValue(t.members[i], x));
  }
}

const BYTE_ESCAPES: Record<number, string> = { 0x08: '\\b', 0x09: '\\t', 0x0a: '\\n', 0x0b: '\\v', 0x0c: '\\f', 0x0d: '\\r', 0x22: '\\"', 0x5c: '\\\\' };

/**
 * A byte string (`ay` ending in its only zero byte) as GLib prints it: g_strescape's
 * escapes (short ones for \b \t \n \v \f \r \" \\, three octal digits for other bytes
 * below 0x20 or from 0x7f), in single quotes unless the bytes hold a `'`.
 */
function printBytestring(b: Uint8Array): string {
  let out = '';
  for (const x of b) {
    out += BYTE_ESCAPES[x] ?? (x < 0x20 || x >= 0x7f ? `\\${x.toString(8).padStart(3, '0')}` : String.fromCharCode(x));
  }
  return b.includes(0x27) ? `b"${out}"` : `b'${out}'`;
}

function quote(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;
}
