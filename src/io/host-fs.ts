/**
 * What a sysroot needs from the machine beyond plain files: an exclusive
 * lock that dies with its holder, the immutable flag on deployment
 * directories, free space, and symlinks replaced in one rename.
 */
import { spawn, execFile } from 'node:child_process';
import { promises as fsp, statfs } from 'node:fs';
import * as path from 'node:path';
import { randomSuffix } from './fs.js';

export interface HeldLock {
  release(): Promise<void>;
}

/**
 * Take an exclusive flock(2) on `file`, held by a small child process whose
 * stdin is our pipe: when this process ends, however it ends, the pipe closes
 * and the lock goes with it. `wait` false: give up at once when it is held
 * (resolves null); otherwise wait up to `timeoutMs`.
 */
export async function lockFile(file: string, opts: { wait?: boolean; timeoutMs?: number } = {}): Promise<HeldLock | null> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const args = ['--exclusive'];
  if (opts.wait === false) args.push('--nonblock');
  else if (opts.timeoutMs !== undefined) args.push('--timeout', String(Math.max(0.001, opts.timeoutMs / 1000)));
  args.push(file, 'sh', '-c', 'echo locked; exec cat >/dev/null');
  const child = spawn('flock', args, { stdio: ['pipe', 'pipe', 'ignore'] });
  child.stdin.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    let out = '';
    let settled = false;
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (!settled && out.includes('locked')) {
        settled = true;
        // The lock must not keep this process alive.
        child.unref();
        (child.stdout as unknown as { unref?: () => void }).unref?.();
        (child.stdin as unknown as { unref?: () => void }).unref?.();
        resolve({
          release: () => new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            // Held again until the child is gone, so that the exit is seen.
            child.ref();
            child.once('exit', () => done());
            child.stdin.end();
          }),
        });
      }
    });
    child.on('error', (e) => {
      if (!settled) {
        settled = true;
        reject(e);
      }
    });
    child.on('exit', (code) => {
      if (!settled) {
        settled = true;
        if (code === 1) resolve(null);
        else reject(new Error(`flock exited with ${code} on ${file}`));
      }
    });
  });
}

/** Set or clear the immutable attribute (chattr ±i). Filesystems without it are left alone. */
export function setImmutable(p: string, on: boolean): Promise<void> {
  return new Promise((resolve) => {
    execFile('chattr', ['-f', on ? '+i' : '-i', p], () => resolve());
  });
}

/** Bytes an unprivileged writer may still use on the filesystem holding `p`. */
export function freeSpace(p: string): Promise<number> {
  return new Promise((resolve, reject) => {
    statfs(p, (err, s) => (err ? reject(err) : resolve(Number(s.bavail) * Number(s.bsize))));
  });
}

/** Point the symlink `link` at `target` in one rename (write `link.tmp…`, rename over). */
export async function replaceSymlink(target: string, link: string): Promise<void> {
  const tmp = path.join(path.dirname(link), `.${path.basename(link)}.tmp-${randomSuffix()}`);
  await fsp.symlink(target, tmp);
  try {
    await fsp.rename(tmp, link);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
}
