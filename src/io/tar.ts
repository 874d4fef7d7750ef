/**
 * Tar streams, read and written one entry at a time.
 *
 * node-tar's `Header` decodes and encodes each 512-byte header block (checksum,
 * octal and base-256 numbers, the ustar name prefix). Extended headers (PAX
 * records, GNU long names) are handled here, on raw bytes: node-tar's own PAX
 * reader decodes values as UTF-8 text and cuts them at the first NUL, which
 * would destroy binary extended attributes such as `security.capability`.
 */
import { Header } from 'tar/header';
import { Codes, InternalError, OstreeTsError } from '../errors/index.js';

export type TarEntryType = 'file' | 'hardlink' | 'symlink' | 'directory' | 'chardev' | 'blockdev' | 'fifo' | 'other';

export interface TarXattr {
  name: string;
  value: Uint8Array;
}

export interface TarEntry {
  /** The name as the archive gives it (PAX `path`, GNU long name, or the header's). */
  path: string;
  type: TarEntryType;
  /** The tar type flag's name, for messages about unsupported types. */
  typeName: string;
  /** Permission bits (07777). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  linkpath: string;
  /** In the order the archive lists them. */
  xattrs: TarXattr[];
  /** Offset of the entry's header in the (uncompressed) stream. */
  offset: number;
  /**
   * The entry's data, in chunks that total `size`. Read it (or not) before
   * asking for the next entry; what is left unread is skipped.
   */
  body(): AsyncGenerator<Buffer>;
}

export interface TarReadOptions {
  /** Largest extended header (PAX record set or GNU long name) accepted, in bytes. */
  maxMetaSize?: number;
  /** Name of the archive, for messages. */
  name?: string;
}

const BLOCK = 512;
const EMPTY = Buffer.alloc(0);

/** Exact reads and chunked passes over an async stream of buffers. */
class ByteReader {
  private readonly it: AsyncIterator<Buffer>;
  private buf: Buffer = EMPTY;
  private off = 0;
  position = 0;

  constructor(source: AsyncIterable<Buffer>) {
    this.it = source[Symbol.asyncIterator]();
  }

  private async fill(): Promise<boolean> {
    while (this.off >= this.buf.length) {
      const r = await this.it.next();
      if (r.done) return false;
      this.buf = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as Uint8Array);
      this.off = 0;
    }
    return true;
  }

  /** Exactly n bytes; null at a clean end of input; an error when the input stops part-way. */
  async exact(n: number): Promise<Buffer | null> {
    if (!(await this.fill())) return null;
    if (this.buf.length - this.off >= n) {
      const out = this.buf.subarray(this.off, this.off + n);
      this.off += n;
      this.position += n;
      return out;
    }
    const parts: Buffer[] = [];
    let got = 0;
    while (got < n) {
      if (!(await this.fill())) throw new ShortRead(got, n);
      const take = Math.min(n - got, this.buf.length - this.off);
      parts.push(this.buf.subarray(this.off, this.off + take));
      this.off += take;
      got += take;
    }
    this.position += n;
    return Buffer.concat(parts, n);
  }

  /** The next n bytes, in the chunks they arrive in. */
  async *chunks(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (!(await this.fill())) throw new ShortRead(n - left, n);
      const take = Math.min(left, this.buf.length - this.off);
      const out = this.buf.subarray(this.off, this.off + take);
      this.off += take;
      this.position += take;
      left -= take;
      yield out;
    }
  }

  /** Read past n bytes: the unread rest of an entry's data, and its padding. */
  async discard(n: number): Promise<void> {
    for await (const _ of this.chunks(n)) { /* discard */ }
  }

  async close(): Promise<void> {
    await this.it.return?.();
  }
}

class ShortRead extends Error {
  constructor(readonly got: number, readonly wanted: number) {
    super(`short read: ${got} of ${wanted} bytes`);
  }
}

const TYPE_NAMES: Record<string, TarEntryType> = {
  File: 'file', OldFile: 'file', ContiguousFile: 'file',
  Link: 'hardlink', SymbolicLink: 'symlink', Directory: 'directory',
  CharacterDevice: 'chardev', BlockDevice: 'blockdev', FIFO: 'fifo',
};

interface Pending {
  path?: string;
  linkpath?: string;
  size?: number;
  uid?: number;
  gid?: number;
  xattrs: TarXattr[];
  libarchiveXattrs: TarXattr[];
  /** GNU sparse-file records: the data is a map of holes, not the file. */
  sparse?: boolean;
  /** Bytes of extended headers gathered for the next entry. */
  metaBytes: number;
}

/** Parse PAX records (`LEN KEY=VALUE\n`) into `into`, keeping values as bytes. */
function parsePax(data: Buffer, into: Pending, where: string): void {
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break; // NUL padding after the last record
    const sp = data.indexOf(0x20, pos);
    const len = sp > pos ? Number(data.toString('latin1', pos, sp)) : NaN;
    if (!Number.isInteger(len) || len <= sp - pos + 1 || pos + len > data.length || data[pos + len - 1] !== 0x0a) {
      throw new OstreeTsError(Codes.ARCHIVE_INVALID, `${where}: malformed PAX extended header record at byte ${pos}.`, {});
    }
    const rec = data.subarray(sp + 1, pos + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq <= 0) throw new OstreeTsError(Codes.ARCHIVE_INVALID, `${where}: PAX record without a key at byte ${pos}.`, {});
    const key = rec.toString('utf8', 0, eq);
    const value = rec.subarray(eq + 1);
    pos += len;
    if (key === 'path') into.path = value.toString('utf8');
    else if (key === 'linkpath') into.linkpath = value.toString('utf8');
    else if (key === 'size' || key === 'uid' || key === 'gid') {
      const text = value.toString('latin1');
      const n = /^\d{1,16}$/.test(text) ? Number(text) : NaN;
      if (!Number.isSafeInteger(n)) throw new OstreeTsError(Codes.ARCHIVE_INVALID, `${where}: PAX ${key} is not a decimal number: ${JSON.stringify(text)}.`, {});
      into[key] = n;
    } else if (key.startsWith('SCHILY.xattr.')) {
      into.xattrs.push({ name: key.slice('SCHILY.xattr.'.length), value: Buffer.from(value) });
    } else if (key.startsWith('LIBARCHIVE.xattr.')) {
      let name: string;
      try {
        name = decodeURIComponent(key.slice('LIBARCHIVE.xattr.'.length));
      } catch {
        throw new OstreeTsError(Codes.ARCHIVE_INVALID, `${where}: the xattr name in PAX key ${JSON.stringify(key)} is not valid URL encoding.`, {});
      }
      into.libarchiveXattrs.push({ name, value: Buffer.from(value.toString('latin1'), 'base64') });
    } else if (key.startsWith('GNU.sparse.')) {
      into.sparse = true;
    }
  }
}

/** Merge the two PAX spellings of xattrs; libarchive's base64 form wins where both name one attribute. */
function mergeXattrs(p: Pending): TarXattr[] {
  if (!p.libarchiveXattrs.length) return p.xattrs;
  const names = new Set(p.libarchiveXattrs.map((x) => x.name));
  return [...p.libarchiveXattrs, ...p.xattrs.filter((x) => !names.has(x.name))];
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

function invalid(name: string, msg: string, data: Record<string, unknown> = {}): OstreeTsError {
  return new OstreeTsError(Codes.ARCHIVE_INVALID, `${name}: ${msg}`, { archive: name, ...data });
}

/**
 * The entries of a tar stream, one at a time. The end-of-archive marker is
 * required: an input that stops before it is reported as truncated.
 */
export async function* readTar(source: AsyncIterable<Buffer>, opts: TarReadOptions = {}): AsyncGenerator<TarEntry> {
  const name = opts.name ?? 'archive';
  const maxMeta = opts.maxMetaSize ?? 1024 * 1024;
  const r = new ByteReader(source);
  let pending: Pending = { xattrs: [], libarchiveXattrs: [], metaBytes: 0 };
  let first = true;
  try {
    for (;;) {
      const offset = r.position;
      let block: Buffer | null;
      try {
        block = await r.exact(BLOCK);
      } catch (e) {
        if (e instanceof ShortRead) throw invalid(name, `truncated: the stream ends inside a header block at byte ${offset}. The file is incomplete; fetch or build it again.`);
        throw e;
      }
      if (block === null) {
        throw invalid(name, first
          ? 'empty input: this is not a tar archive.'
          : `truncated: the stream ends at byte ${offset} without the end-of-archive marker. The file is incomplete; fetch or build it again.`);
      }
      let h: Header;
      try {
        h = new Header(block);
      } catch (e) {
        // A number field the header codec cannot read (a base-256 size beyond 2^53, say).
        throw invalid(name, `corrupt header block at byte ${offset}: ${(e as Error).message}.`, { offset });
      }
      if (h.nullBlock) return;
      // [name, value, where the field is in the block]: a value the codec could not read (undefined) must come from an empty field.
      for (const [field, v, at, len] of [['size', h.size, 124, 12], ['uid', h.uid, 108, 8], ['gid', h.gid, 116, 8]] as const) {
        const blank = block.subarray(at, at + len).every((c) => c === 0 || c === 0x20);
        if (v === undefined ? !blank : !Number.isSafeInteger(v) || v < 0) {
          throw invalid(name, `corrupt header block at byte ${offset}: its ${field} field cannot be read${v === undefined ? '' : ` (${v})`}.`, { offset });
        }
      }
      if (!h.cksumValid) {
        throw invalid(name, first
          ? 'not a tar archive (the first header block has a bad checksum). Supported inputs: tar, tar.gz, tar.zst.'
          : `corrupt header block at byte ${offset} (bad checksum).`, { offset });
      }
      first = false;
      const typeName = h.type as string;
      const size = pending.size ?? h.size ?? 0;
      const where = `${name}, entry at byte ${offset}`;
      if (typeName === 'ExtendedHeader' || typeName === 'OldExtendedHeader' || typeName === 'GlobalExtendedHeader'
        || typeName === 'NextFileHasLongPath' || typeName === 'OldGnuLongPath' || typeName === 'NextFileHasLongLinkpath') {
        const metaSize = h.size ?? 0;
        pending.metaBytes += metaSize;
        // The limit holds for all extended headers before one entry together, not each alone.
        if (pending.metaBytes > maxMeta) throw invalid(name, `${where}: extended headers of ${pending.metaBytes} bytes for one entry (limit ${maxMeta}).`, { offset });
        let data: Buffer;
        try {
          data = (await r.exact(metaSize + padding(metaSize))) ?? EMPTY;
        } catch (e) {
          if (e instanceof ShortRead) throw invalid(name, `truncated: ${where} declares ${metaSize} bytes of extended header, but the stream ends first.`, { offset });
          throw e;
        }
        data = data.subarray(0, metaSize);
        if (typeName === 'GlobalExtendedHeader') continue; // defaults for later entries: none that we use
        if (typeName === 'ExtendedHeader' || typeName === 'OldExtendedHeader') parsePax(data, pending, where);
        else {
          const nul = data.indexOf(0);
          const text = data.subarray(0, nul < 0 ? data.length : nul).toString('utf8');
          if (typeName === 'NextFileHasLongLinkpath') pending.linkpath ??= text;
          else pending.path ??= text;
        }
        continue;
      }
      const type = pending.sparse ? 'other' : (TYPE_NAMES[typeName] ?? 'other');
      const path = pending.path ?? h.path ?? '';
      const entry: TarEntry = {
        path,
        type,
        typeName: pending.sparse ? 'GNU sparse file' : typeName,
        mode: (h.mode ?? 0) & 0o7777,
        uid: pending.uid ?? h.uid ?? 0,
        gid: pending.gid ?? h.gid ?? 0,
        // Directories, symlinks and devices carry no data whatever the header says. A hard link
        // carries data only when a PAX header gives its size (libarchive reads it then too).
        size: type === 'file' || type === 'other' || (type === 'hardlink' && pending.size !== undefined) ? size : 0,
        linkpath: pending.linkpath ?? h.linkpath ?? '',
        xattrs: mergeXattrs(pending),
        offset,
        body: async function* () { /* replaced below */ },
      };
      pending = { xattrs: [], libarchiveXattrs: [], metaBytes: 0 };
      const dataSize = entry.size;
      let consumed = false;
      entry.body = async function* () {
        if (consumed) throw new InternalError('a tar entry body was read twice', { archive: name, path });
        consumed = true;
        try {
          yield* r.chunks(dataSize);
        } catch (e) {
          if (e instanceof ShortRead) {
            throw new OstreeTsError(Codes.ARCHIVE_INVALID, `${name}: truncated: entry "${path}" declares ${dataSize} bytes, but the stream ends after ${e.got}. The file is incomplete; fetch or build it again.`, { archive: name, path, offset });
          }
          throw e;
        }
      };
      const before = r.position;
      yield entry;
      const read = r.position - before;
      try {
        if (read < dataSize) await r.discard(dataSize - read);
        await r.discard(padding(dataSize));
      } catch (e) {
        if (e instanceof ShortRead) throw invalid(name, `truncated: entry "${path}" declares ${dataSize} bytes, but the stream ends first. The file is incomplete; fetch or build it again.`, { path, offset });
        throw e;
      }
    }
  } finally {
    await r.close();
  }
}

export interface TarWriteEntry {
  path: string;
  type: 'file' | 'directory' | 'symlink' | 'hardlink';
  mode: number;
  uid: number;
  gid: number;
  size?: number;
  linkpath?: string;
  /** Seconds since the epoch. */
  mtime: number;
  xattrs?: TarXattr[];
}

const WRITE_TYPES = { file: 'File', directory: 'Directory', symlink: 'SymbolicLink', hardlink: 'Link' } as const;

function paxRecord(key: string, value: Uint8Array): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), value, Buffer.from('\n')]);
  // The length prefix counts itself.
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len), 'latin1'), body]);
}

/**
 * The header blocks for one entry: a PAX extended header when a field does
 * not fit the ustar header or xattrs are present, then the ustar header.
 * The caller writes the entry's data, then `tarPadding(size)`.
 */
export function encodeTarHeader(e: TarWriteEntry): Buffer {
  const size = e.type === 'file' ? (e.size ?? 0) : 0;
  const h = new Header({
    path: e.path,
    mode: e.mode & 0o7777,
    uid: e.uid,
    gid: e.gid,
    size,
    mtime: new Date(e.mtime * 1000),
    type: WRITE_TYPES[e.type],
    linkpath: e.linkpath ?? '',
    uname: '',
    gname: '',
  });
  const block = Buffer.alloc(BLOCK);
  const needPax = h.encode(block, 0);
  const records: Buffer[] = [];
  if (needPax) {
    records.push(paxRecord('path', Buffer.from(e.path, 'utf8')));
    if (e.linkpath) records.push(paxRecord('linkpath', Buffer.from(e.linkpath, 'utf8')));
    if (size > 0o77777777777) records.push(paxRecord('size', Buffer.from(String(size))));
    if (e.uid > 0o7777777) records.push(paxRecord('uid', Buffer.from(String(e.uid))));
    if (e.gid > 0o7777777) records.push(paxRecord('gid', Buffer.from(String(e.gid))));
  }
  for (const x of e.xattrs ?? []) records.push(paxRecord(`SCHILY.xattr.${x.name}`, x.value));
  if (!records.length) return block;
  const pax = Buffer.concat(records);
  const ph = new Header({
    path: 'PaxHeader', mode: 0o644, uid: 0, gid: 0, size: pax.length,
    mtime: new Date(e.mtime * 1000), type: 'ExtendedHeader', uname: '', gname: '',
  });
  const pblock = Buffer.alloc(BLOCK);
  ph.encode(pblock, 0);
  return Buffer.concat([pblock, pax, Buffer.alloc(padding(pax.length)), block]);
}

export function tarPadding(size: number): Buffer {
  return Buffer.alloc(padding(size));
}

/** Two zero blocks end an archive. */
export function tarTrailer(): Buffer {
  return Buffer.alloc(BLOCK * 2);
}
