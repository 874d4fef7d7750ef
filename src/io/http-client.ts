/**
 * Fetching over HTTP(S) (and file://) with keep-alive connections and
 * retries: transient failures (connection reset, timeouts, 5xx) are tried
 * again with backoff; 404 is an answer, not a failure.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import * as fsp from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Codes, OstreeTsError } from '../errors/index.js';

export interface FetchOptions {
  /** Attempts for transient failures (default 5). */
  retries?: number;
  /** Milliseconds before a request with no progress is abandoned (default 30 s). */
  timeoutMs?: number;
  /** Refuse bodies larger than this. */
  maxBytes?: number;
  signal?: AbortSignal;
}

export interface Fetcher {
  /** The whole body, or null for 404. */
  get(url: string, opts?: FetchOptions): Promise<Buffer | null>;
  close(): void;
  /** Requests made and bytes received, for progress and tests. */
  readonly stats: { requests: number; bytes: number };
}

class TransientError extends Error {}

export function createFetcher(maxSockets = 8): Fetcher {
  const agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets }),
    'https:': new https.Agent({ keepAlive: true, maxSockets }),
  };
  const stats = { requests: 0, bytes: 0 };

  const once = (url: URL, opts: FetchOptions): Promise<Buffer | null> => new Promise((resolve, reject) => {
    const mod = url.protocol === 'https:' ? https : http;
    stats.requests++;
    const req = mod.get(url, { agent: agents[url.protocol as 'http:' | 'https:'], signal: opts.signal }, (res) => {
      const status = res.statusCode ?? 0;
      if (status === 404 || status === 410) {
        res.resume();
        return resolve(null);
      }
      if (status >= 500 || status === 429 || status === 408) {
        res.resume();
        return reject(new TransientError(`HTTP ${status}`));
      }
      if (status !== 200) {
        res.resume();
        return reject(new OstreeTsError(Codes.IO, `${url.href}: the server answered HTTP ${status}.`, { url: url.href, status }));
      }
      const parts: Buffer[] = [];
      let n = 0;
      res.on('data', (c: Buffer) => {
        n += c.length;
        stats.bytes += c.length;
        if (opts.maxBytes !== undefined && n > opts.maxBytes) {
          req.destroy(new OstreeTsError(Codes.IO, `${url.href} is larger than the ${opts.maxBytes} bytes expected.`, { url: url.href }));
          return;
        }
        parts.push(c);
      });
      res.on('end', () => {
        const declared = Number(res.headers['content-length'] ?? NaN);
        if (!Number.isNaN(declared) && declared !== n) return reject(new TransientError(`short body: ${n} of ${declared} bytes`));
        resolve(Buffer.concat(parts, n));
      });
      res.on('error', (e) => reject(new TransientError(e.message)));
      res.on('aborted', () => reject(new TransientError('connection closed mid-body')));
    });
    req.setTimeout(opts.timeoutMs ?? 30_000, () => req.destroy(new TransientError('timed out')));
    req.on('error', (e) => reject(e instanceof OstreeTsError ? e : new TransientError(e.message)));
  });

  return {
    stats,
    async get(href: string, opts: FetchOptions = {}): Promise<Buffer | null> {
      const url = new URL(href);
      if (url.protocol === 'file:') {
        try {
          const data = await fsp.readFile(fileURLToPath(url));
          stats.requests++;
          stats.bytes += data.length;
          return data;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
          throw e;
        }
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new OstreeTsError(Codes.USAGE, `Unsupported URL ${href}: use http://, https:// or file://.`, { url: href });
      }
      const attempts = opts.retries ?? 5;
      let last: unknown;
      for (let i = 0; i < attempts; i++) {
        opts.signal?.throwIfAborted();
        try {
          return await once(url, opts);
        } catch (e) {
          if (!(e instanceof TransientError)) throw e;
          last = e;
          await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** i)));
        }
      }
      throw new OstreeTsError(Codes.IO, `${href}: failed ${attempts} times (${(last as Error).message}). Check the server and the network, then pull again; what was already fetched is kept.`, { url: href });
    },
    close(): void {
      agents['http:'].destroy();
      agents['https:'].destroy();
    },
  };
}
