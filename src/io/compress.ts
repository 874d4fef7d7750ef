/** zlib raw deflate as OSTree's archive mode stores it (zlib is loaded on first use). */
import type { Transform } from 'node:stream';
import { createRequire } from 'node:module';

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
