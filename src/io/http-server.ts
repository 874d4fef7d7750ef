/**
 * A static file server for a directory: GET and HEAD, single byte ranges,
 * keep-alive, nothing outside the directory, no directory listings. What an
 * archive repository needs to be pulled from.
 */
import * as http from 'node:http';
import { constants as fsConstants } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';

export interface StaticServerOptions {
  root: string;
  host?: string;
  port?: number;
  /** Called once per request, after the response is sent. */
  onRequest?: (e: { method: string; path: string; status: number; bytes: number }) => void;
}

export interface StaticServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = { '': 'application/octet-stream' };

/** The path a URL path names under `root`, or null when it would leave it by name. */
function resolveUnder(root: string, urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath.split('?')[0]);
  } catch {
    return null;
  }
  if (decoded.includes('\0')) return null;
  const full = path.resolve(root, `.${path.posix.normalize(`/${decoded}`)}`);
  return full === root || full.startsWith(`${root}${path.sep}`) ? full : null;
}

function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'invalid' | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'invalid';
  let start: number;
  let end: number;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) return 'invalid';
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start > end || start >= size) return 'invalid';
  return { start, end };
}

/**
 * The regular file at `file`, opened, when every symbolic link on the way
 * resolves inside `realRoot` (the root's own real path): a link out of the
 * directory (`leak -> /etc/passwd`, `objects/zz -> /etc`) is never followed.
 * The file is opened by its resolved path without following a link there, and
 * checked by its descriptor, so a link swapped in between is refused too.
 */
async function openUnder(realRoot: string, file: string): Promise<{ fd: fsp.FileHandle; size: number; mtime: Date } | null> {
  const real = await fsp.realpath(file).catch(() => null);
  if (!real || !(real === realRoot || real.startsWith(`${realRoot}${path.sep}`))) return null;
  const fd = await fsp.open(real, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW).catch(() => null);
  if (!fd) return null;
  const st = await fd.stat().catch(() => null);
  if (!st?.isFile()) {
    await fd.close();
    return null;
  }
  return { fd, size: st.size, mtime: st.mtime };
}

export async function startStaticServer(opts: StaticServerOptions): Promise<StaticServer> {
  const root = path.resolve(opts.root);
  const realRoot = await fsp.realpath(root);
  const server = http.createServer(async (req, res) => {
    const method = req.method ?? 'GET';
    let status = 200;
    let bytes = 0;
    const finish = (): void => opts.onRequest?.({ method, path: req.url ?? '', status, bytes });
    let opened: Awaited<ReturnType<typeof openUnder>> = null;
    let handed = false; // the read stream closes the file
    try {
      if (method !== 'GET' && method !== 'HEAD') {
        status = 405;
        res.writeHead(status, { Allow: 'GET, HEAD' }).end();
        return finish();
      }
      const file = resolveUnder(root, req.url ?? '/');
      opened = file ? await openUnder(realRoot, file) : null;
      if (!opened) {
        status = 404;
        res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': '10' }).end(method === 'HEAD' ? undefined : 'Not Found\n');
        return finish();
      }
      const st = opened;
      const range = parseRange(req.headers.range, st.size);
      if (range === 'invalid') {
        await st.fd.close();
        status = 416;
        res.writeHead(status, { 'Content-Range': `bytes */${st.size}` }).end();
        return finish();
      }
      const start = range ? range.start : 0;
      const end = range ? range.end : st.size - 1;
      const length = st.size === 0 ? 0 : end - start + 1;
      status = range ? 206 : 200;
      const headers: Record<string, string> = {
        'Content-Type': TYPES[''],
        'Content-Length': String(length),
        'Accept-Ranges': 'bytes',
        'Last-Modified': st.mtime.toUTCString(),
      };
      if (range) headers['Content-Range'] = `bytes ${start}-${end}/${st.size}`;
      res.writeHead(status, headers);
      if (method === 'HEAD' || length === 0) {
        await st.fd.close();
        res.end();
        return finish();
      }
      const stream = st.fd.createReadStream({ start, end, autoClose: true });
      handed = true;
      stream.on('data', (c) => { bytes += (c as Buffer).length; });
      stream.on('error', () => res.destroy());
      res.on('close', () => { stream.destroy(); finish(); });
      stream.pipe(res);
    } catch {
      if (opened && !handed) await opened.fd.close().catch(() => undefined);
      status = 500;
      if (!res.headersSent) res.writeHead(status).end();
      else res.destroy();
      finish();
    }
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const host = opts.host ?? '127.0.0.1';
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    port,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
