/**
 * xz for static delta parts. libostree writes them with liblzma (preset 8,
 * CRC64 check) and reads any .xz stream liblzma decodes, filter chains
 * included.
 *
 * Decoding uses lzma-native, a binding of liblzma that ships a prebuilt
 * binary. Encoding is most of the cost of generating a delta, and the liblzma
 * bundled in lzma-native (5.2) is about 1.5 times slower than the one the
 * distribution ships; so when the system's `xz` program is present, parts are
 * compressed by it (one process per part, so parts compress in parallel), and
 * otherwise by lzma-native. Both write the same container: one .xz stream,
 * CRC64, the same filters.
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
  FILTER_X86: unknown;
  FILTER_LZMA2: unknown;
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
      reject(new OstreeTsError(Codes.DELTA_INVALID, `${what} is not a valid xz stream: ${e.message}.`));
    });
    stream.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks, total));
    });
    stream.end(data);
  });
}

export interface XzOptions {
  /** LZMA2 preset, 0–9 (libostree uses 8). */
  preset?: number;
  /** Put the x86 branch-call-jump filter before LZMA2: smaller output for x86 machine code. */
  x86?: boolean;
  /** Use lzma-native even when the system's xz is there. */
  inProcess?: boolean;
}

let systemXz: boolean | null = null;

async function compressWithSystemXz(data: Uint8Array, preset: number, x86: boolean): Promise<Buffer | null> {
  if (systemXz === false) return null;
  const { spawn } = requireHere('node:child_process') as typeof import('node:child_process');
  const args = ['--format=xz', '--check=crc64', '--threads=1', '--stdout', '--quiet', ...(x86 ? ['--x86'] : []), `--lzma2=preset=${preset}`];
  return new Promise((resolve, reject) => {
    const child = spawn('xz', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    let spawned = true;
    child.on('error', (e: NodeJS.ErrnoException) => {
      spawned = false;
      if (e.code === 'ENOENT') {
        systemXz = false;
        resolve(null);
      } else reject(e);
    });
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => { err += b.toString(); });
    child.stdin.on('error', () => undefined);
    child.on('close', (code) => {
      if (!spawned) return;
      if (code === 0) {
        systemXz = true;
        resolve(Buffer.concat(out));
      } else reject(new OstreeTsError(Codes.IO, `xz failed (exit ${code}): ${err.trim()}`));
    });
    child.stdin.end(data);
  });
}

/** Compress into one .xz stream with a CRC64 check, as libostree's parts are. */
export async function xzCompress(data: Uint8Array, opts: XzOptions = {}): Promise<Buffer> {
  const preset = opts.preset ?? 8;
  const x86 = opts.x86 ?? false;
  if (!opts.inProcess) {
    const out = await compressWithSystemXz(data, preset, x86);
    if (out) return out;
  }
  const l = lzma();
  const filters = [...(x86 ? [{ id: l.FILTER_X86 }] : []), { id: l.FILTER_LZMA2, options: { preset } }];
  return run(l.createStream('streamEncoder', { filters, check: l.CHECK_CRC64 }), data, Number.MAX_SAFE_INTEGER, 'xz input');
}

/** Decompress one xz stream, refusing output larger than `maxBytes`. */
export function xzDecompress(data: Uint8Array, maxBytes: number, what = 'xz data'): Promise<Buffer> {
  // A hostile stream cannot make the decoder allocate more than this (libostree's parts use 32 MiB dictionaries).
  return run(lzma().createStream('streamDecoder', { memlimit: 512 * 1024 * 1024 }), data, maxBytes, what);
}

/** CPUs available to this process: how many parts to compress at once. */
export function cpuCount(): number {
  const os = requireHere('node:os') as typeof import('node:os');
  return Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
}
