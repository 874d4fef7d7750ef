/**
 * xz (liblzma) for static delta parts: libostree writes them with liblzma's
 * easy encoder, preset 8, CRC64 check. lzma-native binds liblzma itself and
 * ships a prebuilt binary, so reading and writing use the same library as
 * libostree. Loaded on first use.
 */
import { createRequire } from 'node:module';
import { Codes, OstreeTsError } from '../errors/index.js';

const requireHere = createRequire(import.meta.url);

interface LzmaStream {
  on(event: 'data', fn: (b: Buffer) => void): void;
  on(event: 'error', fn: (e: Error) => void): void;
  on(event: 'end', fn: () => void): void;
  end(data?: Uint8Array): void;
  destroy(): void;
}
interface Lzma {
  createStream(coder: string, options?: Record<string, unknown>): LzmaStream;
  CHECK_CRC64: number;
}

let lib: Lzma | null = null;
function lzma(): Lzma {
  lib ??= requireHere('lzma-native') as Lzma;
  return lib;
}

function run(stream: LzmaStream, data: Uint8Array, maxBytes: number, what: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let failed = false;
    stream.on('data', (b) => {
      if (failed) return;
      total += b.length;
      if (total > maxBytes) {
        failed = true;
        stream.destroy();
        reject(new OstreeTsError(Codes.DELTA_INVALID, `${what} decompresses to more than ${maxBytes} bytes; refusing it.`, { maxBytes }));
        return;
      }
      chunks.push(b);
    });
    stream.on('error', (e) => {
      if (failed) return;
      failed = true;
      reject(new OstreeTsError(Codes.DELTA_INVALID, `${what} is not valid xz data: ${e.message}.`));
    });
    stream.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks, total));
    });
    stream.end(data);
  });
}

/** xz-compress as libostree does (preset 8 unless given, CRC64). `threads` > 1 uses liblzma's multi-threaded encoder. */
export function xzCompress(data: Uint8Array, opts: { preset?: number; threads?: number } = {}): Promise<Buffer> {
  const l = lzma();
  const options: Record<string, unknown> = { preset: opts.preset ?? 8, check: l.CHECK_CRC64 };
  if (opts.threads && opts.threads > 1) options.threads = opts.threads;
  return run(l.createStream('easyEncoder', options), data, Number.MAX_SAFE_INTEGER, 'xz input');
}

/** Decompress one xz stream, refusing output larger than `maxBytes`. */
export function xzDecompress(data: Uint8Array, maxBytes: number, what = 'xz data'): Promise<Buffer> {
  return run(lzma().createStream('streamDecoder', {}), data, maxBytes, what);
}
