/** zlib raw deflate as OSTree's archive mode stores it. */
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import type { Transform } from 'node:stream';

const deflateRawAsync = promisify(zlib.deflateRaw);
const inflateRawAsync = promisify(zlib.inflateRaw);

export function deflateRaw(data: Uint8Array, level: number): Promise<Buffer> {
  return deflateRawAsync(data, { level });
}

export function inflateRaw(data: Uint8Array, maxOutputLength?: number): Promise<Buffer> {
  return inflateRawAsync(data, maxOutputLength ? { maxOutputLength } : {});
}

export function createDeflateRaw(level: number): Transform {
  return zlib.createDeflateRaw({ level });
}

export function createInflateRaw(): Transform {
  return zlib.createInflateRaw();
}
