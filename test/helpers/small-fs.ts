/**
 * A small filesystem of its own for a test: a tmpfs of a few megabytes (and,
 * when asked, few inodes), mounted as root and unmounted after the test.
 * Without root it is skipped locally and fails under CI.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { TestContext } from 'node:test';
import { requireRoot, run } from './env.js';
export { requireRoot };

export interface SmallFs {
  dir: string;
  /** Change its size (tmpfs remount): `16m`. */
  resize(size: string): Promise<void>;
}


/** Mount a tmpfs of `size` (`4m`) with at most `inodes` inodes; null (the test skipped) without root. */
export async function smallFs(t: TestContext, size: string, inodes?: number): Promise<SmallFs | null> {
  if (!(requireRoot(t, 'it mounts a small tmpfs to fill'))) return null;
  const dir = await mkdtemp(path.join(tmpdir(), 'ots-smallfs-'));
  const opts = [`size=${size}`, ...(inodes ? [`nr_inodes=${inodes}`] : [])].join(',');
  const r = await run('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', dir]);
  if (r.code !== 0) throw new Error(`mount -t tmpfs -o ${opts} failed: ${r.stderr}`);
  t.after(async () => {
    await run('umount', ['-l', dir]);
    await rm(dir, { recursive: true, force: true });
  });
  return {
    dir,
    resize: async (s: string) => {
      const m = await run('mount', ['-o', `remount,size=${s}`, dir]);
      if (m.code !== 0) throw new Error(`remount of ${dir} failed: ${m.stderr}`);
    },
  };
}

export interface BoundedResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Killed by the guard: it did not end by itself. */
  hung: boolean;
}

/** Run `cmd`, killing it if it has not ended after `guardMs` (a guard against a hang, not a measure of time). */
export function runBounded(cmd: string, args: string[], guardMs: number, env: NodeJS.ProcessEnv = {}): Promise<BoundedResult> {
  return import('node:child_process').then(({ spawn }) => new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let hung = false;
    const guard = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, guardMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), hung });
    });
  }));
}
