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
