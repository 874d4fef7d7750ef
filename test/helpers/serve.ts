/** `ostree-ts serve` started by a test on a free loopback port, stopped after it. */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { CLI } from './env.js';

export async function serveRepo(t: { after: (fn: () => void) => void }, repo: string, dir: string, logFile?: string): Promise<{ url: string; port: string }> {
  const portFile = path.join(dir, `port-${path.basename(repo)}`);
  const args = [CLI, `--repo=${repo}`, 'serve', `--port-file=${portFile}`, ...(logFile ? [`--log-file=${logFile}`] : [])];
  const server = spawn(process.execPath, args, { stdio: 'ignore' });
  t.after(() => { server.kill('SIGTERM'); });
  for (let i = 0; i < 100; i++) {
    const port = (await readFile(portFile, 'utf8').catch(() => '')).trim();
    if (port) return { url: `http://127.0.0.1:${port}/`, port };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`ostree-ts serve for ${repo} did not start`);
}

/** A request a files server saw: its path and headers. */
export interface SeenRequest {
  url: string;
  headers: import('node:http').IncomingHttpHeaders;
}

/**
 * An HTTP server on a free loopback port serving the files under `root`
 * (a repository), URL paths under `prefix` mapped to it; every request is
 * recorded. `intercept` may answer a request itself (return true).
 */
export async function serveFiles(
  t: { after: (fn: () => void) => void }, root: string,
  opts: { prefix?: string; intercept?: (url: string, res: import('node:http').ServerResponse) => boolean } = {},
): Promise<{ url: string; requests: SeenRequest[] }> {
  const { createServer } = await import('node:http');
  const prefix = opts.prefix ?? '/';
  const requests: SeenRequest[] = [];
  const server = createServer(async (req, res) => {
    const url = req.url ?? '/';
    requests.push({ url, headers: req.headers });
    if (opts.intercept?.(url, res)) return;
    const rel = decodeURIComponent(url.split('?')[0]);
    try {
      if (!rel.startsWith(prefix)) throw new Error('outside the prefix');
      const body = await readFile(path.join(root, rel.slice(prefix.length)));
      res.writeHead(200, { 'Content-Length': body.length });
      res.end(body);
    } catch {
      res.writeHead(404, { 'Content-Length': 0 });
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}${prefix}`, requests };
}
