/**
 * Is an object what its name says? Every object that comes from elsewhere (a
 * remote, another repository, a delta part) and every object fsck reads is
 * checked here, one way: a metadata object hashes to its name and parses
 * strictly as its type; a content object's header and content hash to its
 * name, and an archive-form `.filez` also has a sound header and inflates to
 * exactly the size the header gives.
 *
 * A failure is a BadObjectError whose `data` carries the facts (checksum,
 * type, why, and `actual` for a checksum mismatch): callers say where the
 * object came from and what to do, without reading the message back.
 *
 * The staging worker imports this module: only the I/O it needs comes in.
 */
import { createHash, type Hash } from 'node:crypto';
import { Codes, OstreeTsError } from '../errors/index.js';
import { sha256Hex } from '../format/checksum.js';
import { S_IFLNK, S_IFMT, S_IFREG, decodeArchiveHeader, decodeCommit, decodeDirMeta, decodeDirTree, encodeFileHeader, type FileHeader, type ObjectType } from '../format/objects.js';
import { createInflateRaw } from '../io/compress.js';
import { createReadStream, fsp, readInto } from '../io/fs.js';
import type { StoredFile } from './repo.js';

export interface BadObjectFacts {
  checksum: string;
  type: ObjectType;
  /** What is wrong, as a phrase ("its content does not match its name"). */
  why: string;
  /** For a checksum mismatch: what the object hashes to. */
  actual?: string;
}

/** An object that is not what its name says. */
export class BadObjectError extends OstreeTsError {
  declare readonly data: BadObjectFacts & Record<string, unknown>;

  constructor(facts: BadObjectFacts, options?: { cause?: unknown }) {
    super(Codes.OBJECT_CORRUPT, `Object ${facts.checksum}.${facts.type} is not what its name says: ${facts.why.replace(/\.$/, '')}.`, { ...facts }, options);
    this.name = 'BadObjectError';
  }

  get why(): string {
    return this.data.why;
  }
}

const MISMATCH = 'its content does not match its name';

/** The checksum of a content object with this header and content. */
export function contentChecksum(header: FileHeader, content: Uint8Array): string {
  return sha256Hex(encodeFileHeader(header), content);
}

/** A hash to feed a content object's content into: digest('hex') is its checksum. */
export function contentHasher(header: FileHeader): Hash {
  return createHash('sha256').update(encodeFileHeader(header));
}

/** Check a content object's header and content against its name. */
export function verifyContent(checksum: string, header: FileHeader, content: Uint8Array): void {
  const actual = contentChecksum(header, content);
  if (actual !== checksum) throw new BadObjectError({ checksum, type: 'file', why: MISMATCH, actual });
}

/** Check that a metadata object's bytes hash to its name (before they are trusted enough to be parsed, say). */
export function verifyMetadataChecksum(checksum: string, type: 'commit' | 'dirtree' | 'dirmeta', bytes: Uint8Array): void {
  const actual = sha256Hex(bytes);
  if (actual !== checksum) throw new BadObjectError({ checksum, type, why: MISMATCH, actual });
}

/** Check a metadata object against its name, and parse it strictly as its type. */
export function verifyMetadata(checksum: string, type: 'commit' | 'dirtree' | 'dirmeta', bytes: Uint8Array): void {
  verifyMetadataChecksum(checksum, type, bytes);
  try {
    if (type === 'commit') decodeCommit(bytes, checksum);
    else if (type === 'dirtree') decodeDirTree(bytes, checksum);
    else decodeDirMeta(bytes, `dirmeta ${checksum}`);
  } catch (e) {
    // Whatever the parser trips on (hostile bytes included), the object is bad.
    throw new BadObjectError({ checksum, type, why: (e as Error).message }, { cause: e });
  }
}

function decodeFilezHeader(checksum: string, data: Uint8Array): { header: FileHeader; size: bigint; length: number } {
  try {
    return decodeArchiveHeader(data, `file ${checksum}`);
  } catch (e) {
    throw new BadObjectError({ checksum, type: 'file', why: (e as Error).message }, { cause: e });
  }
}

function cannotInflate(checksum: string, e: unknown): BadObjectError {
  return new BadObjectError({ checksum, type: 'file', why: `its compressed content cannot be inflated (${(e as Error).message})` }, { cause: e });
}

/**
 * Check an archive-form `.filez` held in memory against its name; returns its
 * header and inflated content. `inflate` inflates raw deflate data to at most
 * `max` bytes, synchronously (the staging worker's own; a symlink needs none).
 */
export function verifyFilez(checksum: string, data: Uint8Array, inflate: (data: Uint8Array, max: number) => Uint8Array): { header: FileHeader; content: Uint8Array } {
  const { header, size, length } = decodeFilezHeader(checksum, data);
  let content: Uint8Array = new Uint8Array(0);
  if ((header.mode & S_IFMT) !== S_IFLNK) {
    const n = Number(size);
    try {
      content = inflate(data.subarray(length), n + 1);
    } catch (e) {
      throw cannotInflate(checksum, e);
    }
    if (content.length !== n) throw new BadObjectError({ checksum, type: 'file', why: `it inflates to ${content.length} bytes, not ${size}` });
  }
  verifyContent(checksum, header, content);
  return { header, content };
}

/** A `.filez` in a file (too large to hold): its header, content size, and where the compressed content starts. */
export async function readFilezHeader(checksum: string, file: { path: string; size: number }): Promise<{ header: FileHeader; size: number; length: number }> {
  const fh = await fsp.open(file.path, 'r');
  try {
    const pre = Buffer.alloc(8);
    await fh.read(pre, 0, 8, 0);
    const len = pre.readUInt32BE(0);
    if (len > 16 * 1024 * 1024 || 8 + len > file.size) throw new BadObjectError({ checksum, type: 'file', why: `its header length ${len} does not fit` });
    const head = Buffer.alloc(8 + len);
    await fh.read(head, 0, head.length, 0);
    const { header, size, length } = decodeFilezHeader(checksum, head);
    return { header, size: Number(size), length };
  } finally {
    await fh.close();
  }
}

/**
 * The content of a `.filez` in a file, inflated as it is read and checked as
 * it goes: the stream fails (BadObjectError) when the data cannot be inflated,
 * inflates to another size than the header's, or does not hash to `checksum`.
 * Whoever reads it to the end has read a verified object.
 */
export async function* verifiedFilezContent(
  checksum: string, file: { path: string }, at: { header: FileHeader; size: number; length: number },
): AsyncGenerator<Buffer> {
  const inflate = createInflateRaw();
  const src = createReadStream(file.path, { start: at.length, highWaterMark: 256 * 1024 });
  src.on('error', (e) => inflate.destroy(e));
  src.pipe(inflate);
  const h = contentHasher(at.header);
  let n = 0;
  try {
    for await (const chunk of inflate) {
      const c = chunk as Buffer;
      n += c.length;
      if (n > at.size) throw new BadObjectError({ checksum, type: 'file', why: `it inflates to more than the ${at.size} bytes its header says` });
      h.update(c);
      yield c;
    }
  } catch (e) {
    if (e instanceof BadObjectError) throw e;
    throw cannotInflate(checksum, e);
  } finally {
    src.destroy();
  }
  if (n !== at.size) throw new BadObjectError({ checksum, type: 'file', why: `it inflates to ${n} bytes, not ${at.size}` });
  const actual = h.digest('hex');
  if (actual !== checksum) throw new BadObjectError({ checksum, type: 'file', why: MISMATCH, actual });
}

/**
 * What a stored content object (as the repository reads it back) hashes to.
 * `scratch`: a buffer to read small bare objects into, for walks over many.
 */
export async function storedContentChecksum(stored: StoredFile, opts: { archive: boolean; scratch?: Buffer }): Promise<string> {
  const h = contentHasher(stored.header);
  if ((stored.header.mode & S_IFMT) === S_IFREG) {
    if (opts.scratch && !opts.archive && stored.size <= opts.scratch.length) {
      const n = await readInto(stored.objectPath, opts.scratch, stored.size);
      h.update(opts.scratch.subarray(0, n));
    } else if (stored.size < 1 << 20) {
      h.update(await stored.read());
    } else {
      for await (const c of stored.open()) h.update(c as Buffer);
    }
  }
  return h.digest('hex');
}
