/**
 * xz for static delta parts. libostree writes them with liblzma (preset 8,
 * CRC64 check) and reads any .xz stream liblzma decodes, filter chains
 * included.
 *
 * The liblzma the distribution ships (5.4) is faster than the one bundled
 * in lzma-native (5.2): about 1.5 times at encoding, 1.8 times at decoding.
 * So when the system's `xz` program is present, parts are compressed and
 * decompressed by it, one process per part (so parts are worked on in
 * parallel), and otherwise in process by lzma-native. Both write the same
 * container: one .xz stream, CRC64, the same filters.
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

/**
 * Run the system's `xz` over `data`; null when there is no `xz` program.
 * Output past `maxBytes` ends the process and fails as `tooLarge()` does;
 * a non-zero exit fails as `failed(message)` does.
 */
async function withSystemXz(args: string[], data: Uint8Array, maxBytes: number, tooLarge: () => Error, failed: (message: string) => Error): Promise<Buffer | null> {
  if (systemXz === false) return null;
  const { spawn } = requireHere('node:child_process') as typeof import('node:child_process');
  return new Promise((resolve, reject) => {
    const child = spawn('xz', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let total = 0;
    let err = '';
    let spawned = true;
    let over = false;
    child.on('error', (e: NodeJS.ErrnoException) => {
      spawned = false;
      if (e.code === 'ENOENT') {
        systemXz = false;
        resolve(null);
      } else reject(e);
    });
    child.stdout.on('data', (b: Buffer) => {
      if (over) return;
      total += b.length;
      if (total > maxBytes) {
        over = true;
        child.kill('SIGKILL');
        return;
      }
      out.push(b);
    });
    child.stderr.on('data', (b: Buffer) => { err += b.toString(); });
    child.stdin.on('error', () => undefined);
    child.on('close', (code) => {
      if (!spawned) return;
      systemXz = true;
      if (over) reject(tooLarge());
      else if (code === 0) resolve(Buffer.concat(out, total));
      else reject(failed(err.trim().replace(/^xz: (\(stdin\): )?/, '') || `exit status ${code}`));
    });
    child.stdin.end(data);
  });
}

function compressWithSystemXz(data: Uint8Array, preset: number, x86: boolean): Promise<Buffer | null> {
  const args = ['--format=xz', '--check=crc64', '--threads=1', '--stdout', '--quiet', ...(x86 ? ['--x86'] : []), `--lzma2=preset=${preset}`];
  return withSystemXz(args, data, Number.MAX_SAFE_INTEGER, () => new OstreeTsError(Codes.IO, 'xz output too large'),
    (message) => new OstreeTsError(Codes.IO, `xz failed: ${message}`));
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

/** A hostile stream cannot make the decoder allocate more than this (libostree's parts use 32 MiB dictionaries). */
const DECODE_MEMLIMIT = 512 * 1024 * 1024;

/**
 * Decompress one xz stream, refusing output larger than `maxBytes`. The
 * system's `xz` decodes when present (its liblzma decodes delta parts about
 * 1.8 times faster than lzma-native's, and each part in a process of its own,
 * so parts decode in parallel); otherwise lzma-native does.
 */
export async function xzDecompress(data: Uint8Array, maxBytes: number, what = 'xz data', opts: { inProcess?: boolean } = {}): Promise<Buffer> {
  const tooLarge = (): Error => new OstreeTsError(Codes.DELTA_INVALID, `${what} decompresses to more than ${maxBytes} bytes; refusing it.`, { maxBytes });
  if (!opts.inProcess) {
    const out = await withSystemXz(['--decompress', '--format=xz', '--stdout', '--quiet', '--threads=1', `--memlimit=${DECODE_MEMLIMIT}`], data, maxBytes, tooLarge,
      (message) => new OstreeTsError(Codes.DELTA_INVALID, `${what} is not a valid xz stream: ${message}.`));
    if (out) return out;
  }
  return run(lzma().createStream('streamDecoder', { memlimit: DECODE_MEMLIMIT }), data, maxBytes, what);
}

/** CPUs available to this process: how many parts to compress at once. */
export function cpuCount(): number {
  const os = requireHere('node:os') as typeof import('node:os');
  return Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
}
