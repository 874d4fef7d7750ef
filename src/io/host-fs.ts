/**
 * What a sysroot needs from the machine beyond plain files: an exclusive
 * lock that dies with its holder, the immutable flag on deployment
 * directories, and symlinks replaced in one rename (free space is the host
 * environment's: host-env.ts).
 */
import { spawn, execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { randomSuffix } from './fs.js';
import { Codes, OstreeTsError } from '../errors/index.js';

export interface HeldLock {
  release(): Promise<void>;
}

/**
 * The holder of an exclusive OFD lock (fcntl F_OFD_SETLK), the kind
 * libostree takes on `ostree/lock`, so that ostree and ostree-ts exclude each
 * other. Node has no fcntl, so a small child process takes the lock on the
 * file (re-opening it if it was replaced meanwhile, as libostree does) and
 * holds it while its stdin, our pipe, is open.
 */
const OFD_HOLDER = `
import errno, fcntl, os, struct, sys
path, wait = sys.argv[1], sys.argv[2] == "1"
setlk = getattr(fcntl, "F_OFD_SETLKW" if wait else "F_OFD_SETLK", 38 if wait else 37)
while True:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.fcntl(fd, setlk, struct.pack("hh4xqqi4x", fcntl.F_WRLCK, 0, 0, 0, 0))
    except OSError as e:
        if e.errno in (errno.EAGAIN, errno.EACCES):
            sys.exit(1)
        raise
    try:
        st = os.stat(path)
    except FileNotFoundError:
        os.close(fd)
        continue
    fst = os.fstat(fd)
    if (st.st_dev, st.st_ino) == (fst.st_dev, fst.st_ino):
        break
    os.close(fd)
sys.stdout.write("locked\\n")
sys.stdout.flush()
sys.stdin.read()
`;

/**
 * Take an exclusive lock on `file`, held by a child process that ends with
 * us, however we end (its stdin is our pipe). `wait` false: give up at once
 * when it is held (resolves null); otherwise wait, up to `timeoutMs` when given.
 * The lock is libostree's OFD lock (through python3); without python3, an
 * flock(2), which excludes other ostree-ts processes only.
 */
export async function lockFile(file: string, opts: { wait?: boolean; timeoutMs?: number } = {}): Promise<HeldLock | null> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const wait = opts.wait !== false;
  try {
    return await holdLock('python3', ['-c', OFD_HOLDER, file, wait ? '1' : '0'], opts.timeoutMs, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const args = ['--exclusive'];
  if (!wait) args.push('--nonblock');
  args.push(file, 'sh', '-c', 'echo locked; exec cat >/dev/null');
  return holdLock('flock', args, opts.timeoutMs, file);
}

function holdLock(cmd: string, args: string[], timeoutMs: number | undefined, file: string): Promise<HeldLock | null> {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    let settled = false;
    const timer = timeoutMs !== undefined ? setTimeout(() => {
      if (settled) return;
      settled = true;
      child.kill('SIGKILL');
      resolve(null);
    }, timeoutMs) : null;
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString();
    });
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (!settled && out.includes('locked')) {
        settled = true;
        if (timer) clearTimeout(timer);
        // The lock must not keep this process alive.
        child.unref();
        for (const s of [child.stdout, child.stdin, child.stderr]) (s as unknown as { unref?: () => void }).unref?.();
        resolve({
          release: () => new Promise<void>((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done();
            // Held again until the child is gone, so that the exit is seen.
            child.ref();
            child.once('exit', () => done());
            child.stdin.end();
          }),
        });
      }
    });
    child.on('error', (e) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.on('exit', (code) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      if (code === 1) resolve(null);
      else reject(new OstreeTsError(Codes.IO, `Could not lock ${file}: ${cmd} exited with ${code}${err ? `: ${err.trim()}` : ''}.`, { path: file, helper: cmd, status: code }));
    });
  });
}

/** Set or clear the immutable attribute (chattr ±i). Filesystems without it are left alone. */
export function setImmutable(p: string, on: boolean): Promise<void> {
  return new Promise((resolve) => {
    execFile('chattr', ['-f', on ? '+i' : '-i', p], () => resolve());
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
