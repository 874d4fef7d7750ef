/** zlib raw deflate as OSTree's archive mode stores it (zlib is loaded on first use). */
import type { Transform } from 'node:stream';
import { createRequire } from 'node:module';

const requireHere = createRequire(import.meta.url);

function zlib(): typeof import('node:zlib') {
  return requireHere('node:zlib') as typeof import('node:zlib');
}

export function deflateRaw(data: Uint8Array, level: number): Promise<Buffer> {
  return new Promise((resolve, reject) => zlib().deflateRaw(data, { level }, (e, out) => (e ? reject(e) : resolve(out))));
}

export function inflateRaw(data: Uint8Array, maxOutputLength?: number): Promise<Buffer> {
  const opts = maxOutputLength ? { maxOutputLength } : {};
  return new Promise((resolve, reject) => zlib().inflateRaw(data, opts, (e, out) => (e ? reject(e) : resolve(out))));
}

export function createDeflateRaw(level: number): Transform {
  return zlib().createDeflateRaw({ level });
}

export function createInflateRaw(): Transform {
  return zlib().createInflateRaw();
}
