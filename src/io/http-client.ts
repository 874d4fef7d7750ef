/**
 * Fetching over HTTP(S) (and file://): a small HTTP/1.1 client made for
 * many small GETs. Connections are kept alive and reused (a bounded number
 * per server); transient failures (connection reset, timeouts, 5xx, 408,
 * 429, short bodies) are tried again with backoff; 404 and 410 are answers,
 * not failures; redirects are followed.
 *
 * Why not node:http: a pull makes one request per object, thousands of
 * them, and node:http's per-request machinery cost about five times the CPU
 * of this client for the same transfers, most of a pull's time on a small
 * machine. Only what a repository server needs is spoken here: GET, bodies
 * framed by Content-Length, chunked encoding or the connection's end.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import * as fsp from 'node:fs/promises';
import { createWriteStream, type WriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Codes, OstreeTsError } from '../errors/index.js';
import { recordSpaceAtFailure } from './space.js';

export interface FetchOptions {
  /** Attempts for transient failures (default 5). */
  retries?: number;
  /** Milliseconds without a byte before a request is abandoned (default 30 s). */
  timeoutMs?: number;
  /** Refuse bodies larger than this. */
  maxBytes?: number;
  signal?: AbortSignal;
}

export interface SpoolOptions extends FetchOptions {
  /** Bodies longer than this many bytes go to a file instead of memory. */
  spoolOver: number;
  /** Where to put a body that is spooled (a new file; removed again if the fetch fails). */
  spoolPath: () => string;
}

/** A body written to a file because it was large. */
export interface SpooledBody {
  path: string;
  size: number;
}

/**
 * Deadlines of a fetcher's transfers (libcurl's low-speed limit, a bound on
 * each request and one on the whole operation). A transfer slower than
 * `lowSpeedLimit` bytes per second over `lowSpeedTimeMs`, or one request
 * longer than `requestTimeoutMs`, is abandoned and tried again like any
 * transient failure; past `operationTimeoutMs` every request fails at once
 * (E_TIMEOUT). 0 turns a limit off.
 */
export interface FetchDeadlines {
  /** Bytes per second (default 1000). */
  lowSpeedLimit?: number;
  /** The window over which the speed is measured, in milliseconds (default 30 s). */
  lowSpeedTimeMs?: number;
  /** One request, however fast it goes (default 0: none; the low-speed limit ends stalls). */
  requestTimeoutMs?: number;
  /** Everything fetched through this fetcher, from its creation (default 0: none). */
  operationTimeoutMs?: number;
  /** What the operation is, for the E_TIMEOUT message ("pulling from origin"). */
  operation?: string;
  /** Where each limit is set, for messages ("low-speed-limit-bytes"); default the option names. */
  names?: Partial<Record<'lowSpeedLimit' | 'lowSpeedTime' | 'requestTimeout' | 'operationTimeout', string>>;
}

export const DEFAULT_LOW_SPEED_LIMIT = 1000;
export const DEFAULT_LOW_SPEED_TIME_MS = 30_000;

export interface Fetcher {
  /** The whole body, or null for 404 and 410. */
  get(url: string, opts?: FetchOptions): Promise<Buffer | null>;
  /** Like get, but a body over `spoolOver` bytes is written to a file. */
  getOrSpool(url: string, opts: SpoolOptions): Promise<Buffer | SpooledBody | null>;
  close(): void;
  /** Requests made and body bytes received, for progress and tests. */
  readonly stats: { requests: number; bytes: number };
}

/** Redirects followed before giving up. */
const MAX_REDIRECTS = 5;
/** Response heads larger than this are refused. */
const MAX_HEAD = 64 * 1024;

class TransientError extends Error {}

/** A transfer slower than the low-speed limit, or a request past its time. */
class StallError extends TransientError {}

/** Limits one request runs under (from the fetcher's deadlines). */
interface RequestLimits {
  idleMs: number;
  lowSpeedLimit: number;
  lowSpeedTimeMs: number;
  requestTimeoutMs: number;
  /** performance.now() past which the whole operation is over (Infinity: never). */
  deadlineAt: number;
  /** The error for a request still running at `deadlineAt`. */
  expired: () => Error;
  names: Required<NonNullable<FetchDeadlines['names']>>;
}

/** Where a response body goes: memory, or a spool file once it grows large. */
class BodySink {
  private parts: Buffer[] = [];
  private n = 0;
  private file: WriteStream | null = null;
  private filePath = '';
  private fileError: Error | null = null;
  /** A drain listener is waiting on the spool file (one at a time, however many chunks wait). */
  private waitingDrain = false;
  /** Fails the request under way (its connection): a spool file that cannot be written ends it at once. */
  private onFail: ((e: Error) => void) | null = null;

  constructor(private readonly url: string, private readonly opts: FetchOptions & Partial<SpoolOptions>, private readonly stats: { bytes: number }) {}

  /** The largest body accepted, if limited. */
  get limit(): number | undefined {
    return this.opts.maxBytes;
  }

  /** Who to tell, while a request fills this sink, that its spool file failed (null: no request). */
  attach(onFail: ((e: Error) => void) | null): void {
    this.onFail = onFail;
  }

  /** Take a chunk; false asks the sender to pause until `drain`. */
  push(chunk: Buffer, drain: () => void): boolean {
    if (this.fileError) throw this.fileError;
    this.n += chunk.length;
    this.stats.bytes += chunk.length;
    if (this.opts.maxBytes !== undefined && this.n > this.opts.maxBytes) {
      throw new OstreeTsError(Codes.IO, `${this.url} is larger than the ${this.opts.maxBytes} bytes expected.`, { url: this.url });
    }
    if (this.file) return this.write(chunk, drain);
    this.parts.push(chunk);
    if (this.opts.spoolOver !== undefined && this.opts.spoolPath && this.n > this.opts.spoolOver) {
      this.filePath = this.opts.spoolPath();
      const spoolPath = this.filePath;
      const file = createWriteStream(spoolPath, { flags: 'wx', mode: 0o600 });
      this.file = file;
      file.on('error', (e: NodeJS.ErrnoException) => {
        // A file this sink already let go of (reset before a retry) concerns no request any more.
        if (this.file !== file) return;
        // A write error (ENOSPC, EIO) names no file: say which.
        if (!e.path) e.path = spoolPath;
        this.fileError = e;
        // The socket may be paused waiting for a drain that never comes: end the request now.
        this.onFail?.(e);
      });
      const held = this.parts;
      this.parts = [];
      let ok = true;
      for (const p of held) ok = this.write(p, drain) && ok;
      return ok;
    }
    return true;
  }

  private write(chunk: Buffer, drain: () => void): boolean {
    const f = this.file as WriteStream;
    if (this.fileError) throw this.fileError;
    if (f.write(chunk)) return true;
    if (!this.waitingDrain) {
      this.waitingDrain = true;
      f.once('drain', () => {
        this.waitingDrain = false;
        drain();
      });
    }
    return false;
  }

  async finish(): Promise<Buffer | SpooledBody> {
    this.onFail = null;
    if (!this.file) return this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.n);
    const f = this.file;
    await new Promise<void>((resolve, reject) => {
      if (this.fileError) return reject(this.fileError);
      f.once('error', reject);
      f.end(() => resolve());
    });
    return { path: this.filePath, size: this.n };
  }

  /** Forget what was received (before a retry, or after a failure). */
  async reset(): Promise<void> {
    this.onFail = null;
    this.parts = [];
    this.n = 0;
    this.fileError = null;
    this.waitingDrain = false;
    if (this.file) {
      const f = this.file;
      this.file = null;
      await new Promise<void>((resolve) => { f.destroy(); f.once('close', () => resolve()); if (f.closed) resolve(); });
      await fsp.rm(this.filePath, { force: true });
    }
  }
}

interface Exchange {
  sink: BodySink;
  resolve: (r: { status: number; location: string | null }) => void;
  reject: (e: Error) => void;
  /** Any byte of the response seen yet (a reused connection closed before that is simply stale). */
  started: boolean;
  head: Buffer | null;
  status: number;
  location: string | null;
  /** Body framing once the head is read. */
  mode: 'head' | 'length' | 'chunked' | 'close';
  remaining: number;
  chunkState: 'size' | 'data' | 'data-crlf' | 'trailer';
  line: string;
  keepAlive: boolean;
  limits: RequestLimits;
  /** When it became the request being answered (performance.now()), 0 before. */
  since: number;
  /** The low-speed window: its start and the bytes received in it. */
  windowStart: number;
  windowBytes: number;
}

class StaleConnection extends TransientError {}

/**
 * One keep-alive connection. Once the server has kept it open after a
 * response, several requests may wait on it (HTTP/1.1 pipelining): their
 * heads go out together and the answers come back in order, which saves a
 * system call and a wake-up of the server per object. A request the server
 * never answered (it closed the connection first) fails as stale and is sent
 * again on another connection.
 */
class Connection {
  private socket: net.Socket;
  /** Requests sent (or about to be), oldest first: the first one is being answered. */
  private queue: Exchange[] = [];
  private closed = false;
  private out: string[] = [];
  private flushScheduled = false;
  served = 0;
  /** Requests handed to this connection and not finished (kept by Origin). */
  reserved = 0;
  /** The server kept the connection open after a response: requests may be pipelined. */
  persistent = false;
  /** Checks the deadlines of the request being answered, while there is one. */
  private watchdog: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly url: URL, private readonly onGone: (c: Connection) => void) {
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const https = url.protocol === 'https:';
    const port = Number(url.port || (https ? 443 : 80));
    this.socket = https
      ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, ALPNProtocols: ['http/1.1'] })
      : net.connect({ host, port });
    this.socket.setNoDelay(true);
    this.socket.on('data', (d: Buffer) => this.onData(d));
    this.socket.on('error', (e) => this.fail(new TransientError(e.message)));
    this.socket.on('close', (hadError) => {
      // A body framed by the connection's end is complete when it closes cleanly.
      const ex = this.queue[0];
      if (ex && !hadError && ex.mode === 'close') {
        this.queue.shift();
        this.finish(ex);
      }
      this.fail(new TransientError('the server closed the connection'));
    });
    this.socket.on('timeout', () => this.fail(new TransientError('timed out'), true));
  }

  get usable(): boolean {
    return !this.closed;
  }

  request(target: string, hostHeader: string, auth: string | null, extra: string, sink: BodySink, limits: RequestLimits): Promise<{ status: number; location: string | null }> {
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(new StaleConnection('the connection closed'));
        return;
      }
      const ex: Exchange = {
        sink, resolve, reject, started: false, head: null, status: 0, location: null,
        mode: 'head', remaining: 0, chunkState: 'size', line: '', keepAlive: true,
        limits, since: 0, windowStart: 0, windowBytes: 0,
      };
      this.queue.push(ex);
      if (this.queue.length === 1) this.begin(ex);
      // A spool file that fails ends this request at once (its socket may be paused for it).
      sink.attach((e) => {
        if (this.queue.includes(ex)) this.fail(e, true);
      });
      this.startWatchdog();
      this.socket.ref();
      this.socket.setTimeout(limits.idleMs);
      const authLine = auth ? `Authorization: Basic ${auth}\r\n` : '';
      this.out.push(`GET ${target} HTTP/1.1\r\nHost: ${hostHeader}\r\nUser-Agent: ostree-ts\r\nAccept: */*\r\n${authLine}${extra}\r\n`);
      // Requests made in the same turn of the event loop leave in one write.
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flushOut());
      }
    });
  }

  private flushOut(): void {
    this.flushScheduled = false;
    const heads = this.out;
    this.out = [];
    if (!this.closed && heads.length) this.socket.write(heads.length === 1 ? heads[0] : heads.join(''), 'latin1');
  }

  destroy(): void {
    this.fail(new TransientError('the connection was closed'), true);
  }

  /** `ex` is now the request being answered: its clocks start. */
  private begin(ex: Exchange): void {
    const now = performance.now();
    ex.since = now;
    ex.windowStart = now;
    ex.windowBytes = 0;
  }

  private startWatchdog(): void {
    if (this.watchdog) return;
    const l = this.queue[0]?.limits;
    // Often enough to notice a limit soon after it passes, seldom enough to cost nothing.
    const tick = Math.max(50, Math.min(1000, l && l.lowSpeedTimeMs > 0 ? l.lowSpeedTimeMs / 4 : 1000));
    this.watchdog = setInterval(() => this.checkDeadlines(), tick);
  }

  private stopWatchdog(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
  }

  /** The request being answered: too slow, too long, or past the operation's end? */
  private checkDeadlines(): void {
    const ex = this.queue[0];
    if (!ex) {
      this.stopWatchdog();
      return;
    }
    const l = ex.limits;
    const now = performance.now();
    if (now >= l.deadlineAt) {
      this.fail(l.expired(), true);
      return;
    }
    if (l.requestTimeoutMs > 0 && now - ex.since > l.requestTimeoutMs) {
      this.fail(new StallError(`the request took longer than ${seconds(l.requestTimeoutMs)} s (${l.names.requestTimeout})`), true);
      return;
    }
    const elapsed = now - ex.windowStart;
    if (l.lowSpeedLimit > 0 && l.lowSpeedTimeMs > 0 && elapsed >= l.lowSpeedTimeMs) {
      if ((ex.windowBytes * 1000) / elapsed < l.lowSpeedLimit) {
        this.fail(new StallError(`the transfer stalled: ${ex.windowBytes} bytes in ${seconds(elapsed)} s, under the ${l.lowSpeedLimit} bytes/s required over ${seconds(l.lowSpeedTimeMs)} s (${l.names.lowSpeedLimit}, ${l.names.lowSpeedTime})`), true);
        return;
      }
      ex.windowStart = now;
      ex.windowBytes = 0;
    }
  }

  private fail(e: Error, destroy = false): void {
    this.stopWatchdog();
    const wasClosed = this.closed;
    this.closed = true;
    if (destroy) this.socket.destroy();
    const queue = this.queue;
    this.queue = [];
    queue.forEach((ex, i) => {
      // Only the request being answered met the error; the others were never answered.
      const stale = i > 0 || (!ex.started && this.served > 0 && e.message !== 'timed out');
      ex.reject(stale ? new StaleConnection(e.message) : e);
    });
    if (!wasClosed) this.onGone(this);
  }

  private done(ex: Exchange): void {
    this.queue.shift();
    ex.sink.attach(null);
    if (this.queue[0]) this.begin(this.queue[0]);
    else this.stopWatchdog();
    this.served++;
    if (!ex.keepAlive) {
      this.finish(ex);
      this.fail(new TransientError('the server closed the connection'), true);
      return;
    }
    this.persistent = true;
    if (!this.queue.length) {
      this.socket.setTimeout(0);
      this.socket.unref();
    }
    this.finish(ex);
  }

  private finish(ex: Exchange): void {
    ex.resolve({ status: ex.status, location: ex.location });
  }

  private onData(d: Buffer): void {
    if (this.queue[0]) this.queue[0].windowBytes += d.length;
    let rest: Buffer | null = d;
    try {
      while (rest && (rest.length || this.queue[0]?.mode === 'head')) {
        const ex = this.queue[0];
        if (!ex) {
          // Bytes nobody asked for: the connection cannot be trusted any more.
          if (rest.length) this.fail(new TransientError('unexpected data from the server'), true);
          return;
        }
        if (!rest.length && !ex.head) return;
        ex.started = true;
        rest = this.consume(ex, rest);
      }
    } catch (e) {
      this.fail(e as Error, true);
    }
  }

  private drain = (): void => {
    this.socket.resume();
  };

  private push(ex: Exchange, chunk: Buffer): void {
    if (chunk.length === 0) return;
    // Status other than 200: the body is read and dropped.
    if (ex.status !== 200) return;
    if (!ex.sink.push(chunk, this.drain)) this.socket.pause();
  }

  /** Feed `d` to `ex`: null when all of it was used and `ex` wants more, else what is left once `ex` is complete. */
  private consume(ex: Exchange, d: Buffer): Buffer | null {
    for (;;) {
      if (ex.mode === 'head') {
        const buf = ex.head ? Buffer.concat([ex.head, d]) : d;
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) {
          if (buf.length > MAX_HEAD) throw new OstreeTsError(Codes.IO, `${this.url.origin} sent a response head larger than ${MAX_HEAD} bytes.`, { url: this.url.href });
          ex.head = buf.length ? buf : null;
          return null;
        }
        ex.head = null;
        d = buf.subarray(end + 4);
        // False for an interim (1xx) response: the real one follows.
        if (this.parseHead(ex, buf.toString('latin1', 0, end))) {
          const framed = ex as Exchange;
          if (framed.mode === 'length' && framed.remaining === 0) {
            this.done(framed);
            return d;
          }
        }
        continue;
      }
      if (d.length === 0) return null;
      if (ex.mode === 'length') {
        const take = Math.min(d.length, ex.remaining);
        this.push(ex, take === d.length ? d : d.subarray(0, take));
        ex.remaining -= take;
        if (ex.remaining > 0) return null;
        this.done(ex);
        return d.subarray(take);
      }
      if (ex.mode === 'close') {
        this.push(ex, d);
        return null;
      }
      // Chunked.
      if (ex.chunkState === 'data') {
        const take = Math.min(d.length, ex.remaining);
        this.push(ex, take === d.length ? d : d.subarray(0, take));
        ex.remaining -= take;
        d = d.subarray(take);
        if (ex.remaining === 0) ex.chunkState = 'data-crlf';
        continue;
      }
      const nl = d.indexOf(10);
      if (nl < 0) {
        ex.line += d.toString('latin1');
        if (ex.line.length > 4096) throw new TransientError('a chunk header is too long');
        return null;
      }
      const line = (ex.line + d.toString('latin1', 0, nl)).replace(/\r$/, '');
      ex.line = '';
      d = d.subarray(nl + 1);
      if (ex.chunkState === 'data-crlf') {
        if (line !== '') throw new TransientError('a chunk does not end where its size says');
        ex.chunkState = 'size';
      } else if (ex.chunkState === 'size') {
        const size = parseInt(line.split(';')[0].trim(), 16);
        if (!Number.isFinite(size) || size < 0) throw new TransientError(`bad chunk size '${line}'`);
        if (size === 0) ex.chunkState = 'trailer';
        else {
          ex.remaining = size;
          ex.chunkState = 'data';
        }
      } else if (line === '') {
        // End of the trailer, and of the response.
        this.done(ex);
        return d;
      }
    }
  }

  /** Read a response head; false for an interim 1xx response. */
  private parseHead(ex: Exchange, head: string): boolean {
    const lines = head.split('\r\n');
    const m = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0]);
    if (!m) throw new TransientError(`not an HTTP response: '${lines[0].slice(0, 60)}'`);
    const status = Number(m[2]);
    if (status >= 100 && status < 200) return false;
    const headers = new Map<string, string>();
    for (let i = 1; i < lines.length; i++) {
      const colon = lines[i].indexOf(':');
      if (colon <= 0) continue;
      const name = lines[i].slice(0, colon).trim().toLowerCase();
      const value = lines[i].slice(colon + 1).trim();
      headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
    }
    ex.status = status;
    ex.location = headers.get('location') ?? null;
    const connection = (headers.get('connection') ?? '').toLowerCase();
    ex.keepAlive = m[1] === '1' ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
    const te = (headers.get('transfer-encoding') ?? '').toLowerCase();
    const cl = headers.get('content-length');
    if (status === 204 || status === 304) {
      ex.mode = 'length';
      ex.remaining = 0;
    } else if (te && te !== 'identity') {
      if (!/\bchunked\s*$/.test(te)) throw new OstreeTsError(Codes.IO, `${this.url.origin} answered with transfer encoding '${te}', which ostree-ts does not speak.`, { url: this.url.href });
      ex.mode = 'chunked';
    } else if (cl !== undefined) {
      if (!/^\d+$/.test(cl)) throw new TransientError(`bad Content-Length '${cl}'`);
      ex.mode = 'length';
      ex.remaining = Number(cl);
      const limit = ex.sink.limit;
      if (status === 200 && limit !== undefined && ex.remaining > limit) {
        throw new OstreeTsError(Codes.IO, `${this.url.href} is ${ex.remaining} bytes, larger than expected.`, { url: this.url.href });
      }
    } else {
      ex.mode = 'close';
      ex.keepAlive = false;
    }
    return true;
  }
}

/** Connections to one server (scheme, host and port). */
class Origin {
  private readonly conns = new Set<Connection>();
  private waiters: Array<() => void> = [];

  constructor(private readonly max: number, private readonly depth: number) {}

  /** A connection for one request: an idle one, else a new one, else one that pipelines. */
  async acquire(url: URL, signal?: AbortSignal): Promise<Connection> {
    for (;;) {
      signal?.throwIfAborted();
      let best: Connection | null = null;
      for (const c of this.conns) {
        if (!c.usable) continue;
        if (c.reserved === 0) {
          best = c;
          break;
        }
        if (c.persistent && c.reserved < this.depth && (!best || c.reserved < best.reserved)) best = c;
      }
      if (!(best && best.reserved === 0) && this.conns.size < this.max) {
        best = new Connection(url, (c) => this.gone(c));
        this.conns.add(best);
      }
      if (best) {
        best.reserved++;
        return best;
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  release(c: Connection): void {
    c.reserved--;
    this.waiters.shift()?.();
  }

  private gone(c: Connection): void {
    this.conns.delete(c);
    this.waiters.shift()?.();
  }

  close(): void {
    for (const c of [...this.conns]) c.destroy();
  }
}

/** Extra request header lines; names and values with CR, LF or NUL are refused. */
function headerLines(headers: Array<[string, string]>): string {
  let out = '';
  for (const [k, v] of headers) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k) || /[\r\n\0]/.test(v)) {
      throw new OstreeTsError(Codes.USAGE, `The HTTP header '${k}' cannot be sent: a header name is a token and a value holds no line breaks.`, { header: k });
    }
    out += `${k}: ${v}\r\n`;
  }
  return out;
}

export interface FetcherOptions extends FetchDeadlines {
  /** Headers sent with each request to `url` (a remote's --http-header values and cookies). */
  headers?: (url: URL) => Array<[string, string]>;
  /** Attempts of a request that fails transiently, when the request does not say (default 5). */
  retries?: number;
  /** Requests waiting on one connection at most (HTTP/1.1 pipelining; 1 turns it off). Default 4. */
  pipeline?: number;
}

function seconds(ms: number): string {
  return String(Math.round(ms / 100) / 10);
}

export function createFetcher(maxSockets = 8, fopts: FetcherOptions = {}): Fetcher {
  const stats = { requests: 0, bytes: 0 };
  const origins = new Map<string, Origin>();
  const depth = Math.max(1, fopts.pipeline ?? 4);
  const names = {
    lowSpeedLimit: 'lowSpeedLimit', lowSpeedTime: 'lowSpeedTime', requestTimeout: 'requestTimeout', operationTimeout: 'operationTimeout', ...fopts.names,
  };
  const operationMs = fopts.operationTimeoutMs ?? 0;
  const deadlineAt = operationMs > 0 ? performance.now() + operationMs : Infinity;
  const expired = (href: string) => (): Error => new OstreeTsError(Codes.TIMEOUT,
    `${fopts.operation ? `${fopts.operation[0].toUpperCase()}${fopts.operation.slice(1)}` : 'The operation'} ran out of time: it may take ${seconds(operationMs)} s (${names.operationTimeout}), and ${href} was still being fetched. What was already stored is kept: run it again to go on, or allow it more time.`,
    { url: href, timeoutMs: operationMs, limit: names.operationTimeout });
  const limitsFor = (href: string, opts: FetchOptions): RequestLimits => ({
    idleMs: opts.timeoutMs ?? 30_000,
    lowSpeedLimit: fopts.lowSpeedLimit ?? DEFAULT_LOW_SPEED_LIMIT,
    lowSpeedTimeMs: fopts.lowSpeedTimeMs ?? DEFAULT_LOW_SPEED_TIME_MS,
    requestTimeoutMs: fopts.requestTimeoutMs ?? 0,
    deadlineAt,
    expired: expired(href),
    names,
  });

  /** One attempt, following redirects. */
  const once = async (href: string, opts: FetchOptions & Partial<SpoolOptions>, sink: BodySink): Promise<boolean> => {
    let url = new URL(href);
    for (let hop = 0; ; hop++) {
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new OstreeTsError(Codes.USAGE, `Unsupported URL ${url.href}: use http://, https:// or file://.`, { url: url.href });
      }
      let origin = origins.get(url.origin);
      if (!origin) {
        origin = new Origin(maxSockets, depth);
        origins.set(url.origin, origin);
      }
      const conn = await origin.acquire(url, opts.signal);
      const onAbort = (): void => conn.destroy();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      let res: { status: number; location: string | null };
      try {
        stats.requests++;
        const auth = url.username ? Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64') : null;
        res = await conn.request(`${url.pathname}${url.search}`, url.host, auth, headerLines(fopts.headers?.(url) ?? []), sink, limitsFor(href, opts));
      } catch (e) {
        opts.signal?.throwIfAborted();
        throw e;
      } finally {
        opts.signal?.removeEventListener('abort', onAbort);
        origin.release(conn);
      }
      const { status, location } = res;
      if (status === 200) return true;
      if (status === 404 || status === 410) return false;
      if ([301, 302, 303, 307, 308].includes(status) && location) {
        if (hop >= MAX_REDIRECTS) throw new OstreeTsError(Codes.IO, `${href}: more than ${MAX_REDIRECTS} redirects.`, { url: href });
        url = new URL(location, url);
        continue;
      }
      if (status >= 500 || status === 429 || status === 408) throw new TransientError(`HTTP ${status}`);
      throw new OstreeTsError(Codes.IO, `${url.href}: the server answered HTTP ${status}.`, { url: url.href, status });
    }
  };

  const fetchBody = async (href: string, opts: FetchOptions & Partial<SpoolOptions>): Promise<Buffer | SpooledBody | null> => {
    const url = new URL(href);
    if (url.protocol === 'file:') {
      try {
        const data = await fsp.readFile(fileURLToPath(url));
        stats.requests++;
        stats.bytes += data.length;
        if (opts.maxBytes !== undefined && data.length > opts.maxBytes) {
          throw new OstreeTsError(Codes.IO, `${href} is larger than the ${opts.maxBytes} bytes expected.`, { url: href });
        }
        return data;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw e;
      }
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new OstreeTsError(Codes.USAGE, `Unsupported URL ${href}: use http://, https:// or file://.`, { url: href });
    }
    const attempts = opts.retries ?? fopts.retries ?? 5;
    let last: unknown;
    // Requests a closing connection never answered are sent again at once, a few times.
    let staleRetries = 3;
    const sink = new BodySink(href, opts, stats);
    for (let i = 0; i < attempts; i++) {
      opts.signal?.throwIfAborted();
      if (performance.now() >= deadlineAt) throw expired(href)();
      try {
        if (!(await once(href, opts, sink))) {
          await sink.reset();
          return null;
        }
        return await sink.finish();
      } catch (e) {
        // A full disk: measured before the spool file goes (its space is told as it was when the write failed).
        await recordSpaceAtFailure(e);
        await sink.reset();
        if (!(e instanceof TransientError)) throw e;
        last = e;
        // A kept-alive connection the server had already closed: try again at once.
        if (e instanceof StaleConnection && staleRetries > 0) {
          staleRetries--;
          i--;
          continue;
        }
        if (i + 1 < attempts) await new Promise((r) => setTimeout(r, Math.max(0, Math.min(2000, 100 * 2 ** i, deadlineAt - performance.now()))));
      }
    }
    if (last instanceof StallError) {
      throw new OstreeTsError(Codes.IO, `${href}: failed ${attempts} times, the last because ${(last as Error).message}. The server or the network is too slow: check them (or relax the limit), then pull again; what was already fetched is kept.`, { url: href, stalled: true });
    }
    throw new OstreeTsError(Codes.IO, `${href}: failed ${attempts} times (${(last as Error).message}). Check the server and the network, then pull again; what was already fetched is kept.`, { url: href });
  };

  return {
    stats,
    async get(href: string, opts: FetchOptions = {}): Promise<Buffer | null> {
      return (await fetchBody(href, opts)) as Buffer | null;
    },
    getOrSpool(href: string, opts: SpoolOptions): Promise<Buffer | SpooledBody | null> {
      return fetchBody(href, opts);
    },
    close(): void {
      for (const o of origins.values()) o.close();
    },
  };
}
