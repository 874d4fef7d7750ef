/** zlib raw deflate as OSTree's archive mode stores it (zlib is loaded on first use). */
import type { Transform } from 'node:stream';
import { createRequire } from 'node:module';
import { Codes, InternalError, OstreeTsError } from '../errors/index.js';

const requireHere = createRequire(import.meta.url);

function zlib(): typeof import('node:zlib') {
  return requireHere('node:zlib') as typeof import('node:zlib');
}

/** Below this many bytes, compressing in place costs less than a trip to the thread pool. */
const INLINE_DEFLATE_LIMIT = 16 * 1024;

export function deflateRaw(data: Uint8Array, level: number): Promise<Buffer> {
  if (data.length <= INLINE_DEFLATE_LIMIT) {
    try {
      return Promise.resolve(zlib().deflateRawSync(data, { level }));
    } catch (e) {
      return Promise.reject(e);
    }
  }
  return new Promise((resolve, reject) => zlib().deflateRaw(data, { level }, (e, out) => (e ? reject(e) : resolve(out))));
}

/** Below this many compressed bytes, inflating in place costs less than a trip to the thread pool. */
const INLINE_INFLATE_LIMIT = 64 * 1024;

export function inflateRaw(data: Uint8Array, maxOutputLength?: number): Promise<Buffer> {
  const opts = maxOutputLength ? { maxOutputLength } : {};
  if (data.length <= INLINE_INFLATE_LIMIT && (maxOutputLength ?? Infinity) <= 16 * INLINE_INFLATE_LIMIT) {
    try {
      return Promise.resolve(zlib().inflateRawSync(data, opts));
    } catch (e) {
      return Promise.reject(e);
    }
  }
  return new Promise((resolve, reject) => zlib().inflateRaw(data, opts, (e, out) => (e ? reject(e) : resolve(out))));
}

export function createDeflateRaw(level: number): Transform {
  return zlib().createDeflateRaw({ level });
}

export function createInflateRaw(): Transform {
  return zlib().createInflateRaw();
}

export type Compression = 'none' | 'gzip' | 'zstd' | 'xz' | 'bzip2';

/** What a stream's first bytes say it is compressed with. */
export function detectCompression(head: Uint8Array): Compression {
  const b = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
  if (b.length >= 4 && b.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (b.length >= 6 && b.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  if (b.length >= 3 && b.toString('latin1', 0, 3) === 'BZh') return 'bzip2';
  return 'none';
}

/** Compression chosen by a file name's ending, for writing. */
export function compressionForName(name: string): Compression {
  if (/\.(tar\.gz|tgz)$/.test(name)) return 'gzip';
  if (/\.(tar\.zst|tzst)$/.test(name)) return 'zstd';
  return 'none';
}

type ZstdModule = typeof import('zstd-napi');

function zstd(): ZstdModule {
  return requireHere('zstd-napi') as ZstdModule;
}

export function createZstdCompress(level = 3): Transform {
  return new (zstd().CompressStream)({ compressionLevel: level });
}

export function createZstdDecompress(): Transform {
  return new (zstd().DecompressStream)();
}

export function createGzip(level = 6): Transform {
  return zlib().createGzip({ level });
}

export function createGunzip(): Transform {
  return zlib().createGunzip();
}

/** A compressor for `kind`, or null for none. */
export function createCompressor(kind: Compression, level?: number): Transform | null {
  if (kind === 'gzip') return createGzip(level);
  if (kind === 'zstd') return createZstdCompress(level);
  if (kind === 'none') return null;
  throw new InternalError(`no compressor for '${kind}'`, { compression: kind });
}

export interface DecompressOptions {
  /** Stop with E_ARCHIVE_TOO_LARGE once the decompressed data passes this many bytes. */
  maxBytes?: number;
  /** For messages. */
  name?: string;
}

/**
 * The decompressed bytes of `source`, whose compression (none, gzip, zstd) is
 * detected from its first bytes. Output beyond `maxBytes` is refused, so a
 * small hostile input cannot expand without bound.
 */
export async function* decompressAuto(source: AsyncIterable<Buffer>, opts: DecompressOptions = {}): AsyncGenerator<Buffer> {
  const name = opts.name ?? 'input';
  const it = source[Symbol.asyncIterator]();
  // Enough bytes to recognise every supported magic number, however the input is chunked.
  const firstChunks: Buffer[] = [];
  let firstLen = 0;
  while (firstLen < 6) {
    const r = await it.next();
    if (r.done) break;
    firstChunks.push(r.value);
    firstLen += r.value.length;
  }
  if (!firstLen) return;
  const head = firstChunks.length === 1 ? firstChunks[0] : Buffer.concat(firstChunks);
  const rest = (async function* () {
    try {
      yield head;
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield r.value;
      }
    } finally {
      await it.return?.(); // close the source when the reader stops early
    }
  })();
  const kind = detectCompression(head);
  let out: AsyncIterable<Buffer>;
  if (kind === 'none') out = rest;
  else if (kind === 'gzip' || kind === 'zstd') {
    const dec = kind === 'gzip' ? createGunzip() : createZstdDecompress();
    const { Readable, pipeline } = requireHere('node:stream') as typeof import('node:stream');
    pipeline(Readable.from(rest, { objectMode: false }), dec, () => { /* errors surface through dec */ });
    out = dec as AsyncIterable<Buffer>;
  } else {
    await it.return?.(); // close the source: nothing more will be read
    throw new OstreeTsError(Codes.ARCHIVE_INVALID, `${name} is ${kind}-compressed, which is not supported. Recompress it with gzip or zstd (for example: ${kind === 'xz' ? 'xz -dc' : 'bzip2 -dc'} ${name} | zstd -o ${name.replace(/\.(xz|bz2)$/, '')}.zst).`, { archive: name, compression: kind });
  }
  const max = opts.maxBytes ?? Infinity;
  let total = 0;
  try {
    for await (const c of out) {
      total += c.length;
      if (total > max) {
        throw new OstreeTsError(Codes.ARCHIVE_TOO_LARGE, `${name} expands to more than ${max} bytes (the limit for decompressed input); it may be a decompression bomb. If it is genuine, raise the limit.`, { archive: name, limit: max });
      }
      yield c;
    }
  } catch (e) {
    if (e instanceof OstreeTsError || kind === 'none') throw e;
    throw new OstreeTsError(Codes.ARCHIVE_INVALID, `${name}: the ${kind} stream is corrupt or truncated (${(e as Error).message}). Fetch or build it again.`, { archive: name, compression: kind }, { cause: e });
  }
}

/** A byte sink into a file (written beside it, renamed into place by `finish`) or a stream the caller gives (such as stdout). */
export interface OutputSink {
  write(chunk: Buffer): Promise<void>;
  /** Flush, sync and move the file into place. */
  finish(): Promise<void>;
  /** Drop a partly written file. */
  abort(): Promise<void>;
}

export async function openOutput(dest: string | NodeJS.WritableStream, compression: Compression, level?: number): Promise<OutputSink> {
  const fs = requireHere('node:fs') as typeof import('node:fs');
  const fsp = requireHere('node:fs/promises') as typeof import('node:fs/promises');
  const { pipeline } = requireHere('node:stream/promises') as typeof import('node:stream/promises');
  const tmp = typeof dest === 'string' ? `${dest}.tmp-${process.pid}-${Date.now().toString(36)}` : null;
  const out = tmp ? fs.createWriteStream(tmp, { mode: 0o644, highWaterMark: 4 * 1024 * 1024 }) : dest as NodeJS.WritableStream;
  const comp = createCompressor(compression, level);
  const head: NodeJS.WritableStream = comp ?? out;
  const done = comp ? pipeline(comp, out) : null;
  done?.catch(() => undefined);
  let failed: Error | null = null;
  (head as import('node:stream').Writable).on('error', (e: Error) => { failed = e; });
  // Small pieces (tar headers, small files) are gathered into larger writes.
  const GATHER = 256 * 1024;
  let parts: Buffer[] = [];
  let gathered = 0;
  const flush = async (): Promise<void> => {
    if (failed) throw failed;
    if (!gathered) return;
    const chunk = parts.length === 1 ? parts[0] : Buffer.concat(parts, gathered);
    parts = [];
    gathered = 0;
    if (!head.write(chunk)) await drained(head as import('node:stream').Writable);
  };
  return {
    async write(chunk) {
      if (failed) throw failed;
      parts.push(chunk);
      gathered += chunk.length;
      if (gathered >= GATHER) await flush();
    },
    async finish() {
      await flush();
      if (comp) {
        comp.end();
        await done;
      } else if (tmp) {
        await new Promise<void>((resolve, reject) => (out as import('node:fs').WriteStream).end((e?: Error | null) => (e ? reject(e) : resolve())));
      }
      if (tmp && typeof dest === 'string') {
        const fh = await fsp.open(tmp, 'r');
        try { await fh.sync(); } finally { await fh.close(); }
        await fsp.rename(tmp, dest);
      }
    },
    async abort() {
      (head as import('node:stream').Writable).destroy();
      if (tmp) {
        // The file may still be opening: remove it only once the stream has closed, or the open would create it after.
        const ws = out as import('node:fs').WriteStream;
        ws.destroy();
        if (!ws.closed) await new Promise<void>((resolve) => ws.once('close', () => resolve()));
        await fsp.rm(tmp, { force: true });
      }
    },
  };
}

function outputClosed(): OstreeTsError {
  return new OstreeTsError(Codes.IO, 'The output stream closed before everything was written.');
}

/** Wait for a stream's 'drain' (or its failure), leaving no listener behind. */
export function drained(w: import('node:stream').Writable): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    // A stream that already failed emits nothing more: say so now rather than wait forever.
    if (w.errored) return reject(w.errored);
    if (w.destroyed || w.writableEnded) return reject(outputClosed());
    const done = (): void => { w.off('drain', ok); w.off('error', bad); w.off('close', closed); };
    const ok = (): void => { done(); resolve(); };
    const bad = (e: Error): void => { done(); reject(e); };
    const closed = (): void => { done(); reject(w.errored ?? outputClosed()); };
    w.once('drain', ok);
    w.once('error', bad);
    w.once('close', closed);
  });
}

