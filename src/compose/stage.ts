/**
 * The staged tree: a directory the sources are laid into, one after the
 * other, before it is committed. Directory and git sources are copied with
 * git's two modes (0644, or 0755 when any execute bit is set) and
 * directories 0755, owned by whoever builds (0:0 in the commit), so the
 * result depends on the content alone; tarballs keep their owners and modes.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { chmodSync, createReadStream, fsp, isErrno, lchownSync, linkSync, lstatSync, mkdirSync, path, readdirSync, rmSync } from '../io/fs.js';
import { GitRepo } from '../io/git.js';
import type { RunOptions, RunResult } from '../io/run-command.js';
import { readXattrsSync, writeXattrsSync } from '../io/xattr.js';

/** How compose runs programs (tar, mmdebstrap, chroot, the postprocess scripts). */
export type Runner = (cmd: string, args: string[], opts: RunOptions) => Promise<RunResult>;

export const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Remove whatever is at `p` (a file, a symlink, a whole directory). */
export async function removePath(p: string): Promise<void> {
  await fsp.rm(p, { recursive: true, force: true });
}

async function typeAt(p: string): Promise<'dir' | 'other' | null> {
  const st = await fsp.lstat(p).catch((e) => {
    if (isErrno(e, 'ENOENT')) return null;
    throw e;
  });
  return st === null ? null : st.isDirectory() ? 'dir' : 'other';
}

/** Make `dir` (and its parents) a directory; what is created is 0755 whatever the umask. */
export async function ensureDir(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let d = path.resolve(dir); (await typeAt(d)) === null; d = path.dirname(d)) missing.unshift(d);
  for (const d of missing) {
    await fsp.mkdir(d, { mode: 0o755 }).catch((e) => {
      if (!isErrno(e, 'EEXIST')) throw e;
    });
    await fsp.chmod(d, 0o755);
  }
}

/** Copy the directory `src` over `dest`, merging directories, replacing files (sorted, normalised modes). */
export async function copyTree(src: string, dest: string): Promise<number> {
  let n = 0;
  const walk = async (s: string, d: string): Promise<void> => {
    const names = (await fsp.readdir(s)).sort(byName);
    for (const name of names) {
      const sp = path.join(s, name);
      const dp = path.join(d, name);
      const st = await fsp.lstat(sp);
      const existing = await typeAt(dp);
      if (st.isDirectory()) {
        if (existing === 'other') await removePath(dp);
        if (existing !== 'dir') await fsp.mkdir(dp, { mode: 0o755 });
        await fsp.chmod(dp, 0o755);
        await walk(sp, dp);
      } else if (st.isSymbolicLink() || st.isFile()) {
        if (existing !== null) await removePath(dp);
        if (st.isSymbolicLink()) await fsp.symlink(await fsp.readlink(sp), dp);
        else {
          await fsp.copyFile(sp, dp);
          await fsp.chmod(dp, st.mode & 0o111 ? 0o755 : 0o644);
        }
        n++;
      } else {
        throw new OstreeTsError(Codes.UNSUPPORTED_FILE_TYPE, `${sp} is neither a file, a directory nor a symlink; a directory source holds only those. Remove it from the source.`, { path: sp });
      }
    }
  };
  await walk(src, dest);
  return n;
}

/**
 * Fill the empty directory `dest` with the tree at `src` without copying
 * data: directories are made anew (mode, owner and extended attributes as in
 * `src`), files and symlinks are hard links to `src`'s. Whatever later
 * changes the staged tree must replace files, never write into them, or
 * `src` changes too. Returns false, with `dest` left empty, when `src` is on
 * another filesystem (no hard links across them). One synchronous call per
 * entry: the staged tree has thousands, and nothing else runs meanwhile.
 */
export function linkTree(src: string, dest: string): boolean {
  const walk = (s: string, d: string): void => {
    for (const e of readdirSync(s, { withFileTypes: true })) {
      const sp = path.join(s, e.name);
      const dp = path.join(d, e.name);
      if (e.isDirectory()) {
        const st = lstatSync(sp);
        mkdirSync(dp);
        lchownSync(dp, st.uid, st.gid);
        chmodSync(dp, st.mode & 0o7777);
        const xattrs = readXattrsSync(sp);
        if (xattrs.length) writeXattrsSync(dp, xattrs);
        walk(sp, dp);
      } else linkSync(sp, dp);
    }
  };
  try {
    const root = lstatSync(src);
    lchownSync(dest, root.uid, root.gid);
    chmodSync(dest, root.mode & 0o7777);
    walk(src, dest);
    return true;
  } catch (e) {
    if (!isErrno(e, 'EXDEV')) throw e;
    for (const n of readdirSync(dest)) rmSync(path.join(dest, n), { recursive: true, force: true });
    return false;
  }
}

/** Extract a tar archive (plain, gzip, xz or zstd: tar tells them apart) over `dest`. */
export async function extractTar(run: Runner, file: string, dest: string, asRoot: boolean, signal?: AbortSignal): Promise<void> {
  const st = await fsp.stat(file).catch((e: NodeJS.ErrnoException) => {
    throw new OstreeTsError(Codes.NOT_FOUND, `Cannot read the tarball ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}.`, { path: file });
  });
  if (!st.isFile()) throw new OstreeTsError(Codes.USAGE, `${file} is not a file; a tarball source needs a tar archive (.tar, .tar.gz, .tar.zst).`, { path: file });
  const args = ['-x', '-f', file, '-C', dest, '--numeric-owner', '-p'];
  if (asRoot) args.push('--same-owner', '--xattrs', '--xattrs-include=*');
  else args.push('--no-same-owner');
  const r = await run('tar', args, { signal });
  if (r.code !== 0) {
    throw new OstreeTsError(Codes.ARCHIVE_INVALID, `Cannot extract the tarball ${file}: ${r.spawnError ?? lastLines(r.output, 5)}. Check that it is a tar archive (plain, gzip or zstd) and that tar and zstd are installed.`, { path: file });
  }
}

/** Write a git tree (the commit `rev` resolves to) over `dest`; returns the commit id. */
export async function writeGitTree(repoPath: string, rev: string, subdir: string | undefined, dest: string): Promise<{ commit: string; source: string }> {
  const git = await GitRepo.open(repoPath);
  const commit = await git.resolveCommit(rev);
  const tree = await git.treeOf(commit, subdir);
  const walk = async (oid: string, d: string): Promise<void> => {
    const entries = [...(await git.readTree(oid))].sort((a, b) => byName(a.path, b.path));
    for (const e of entries) {
      if (e.path === '.' || e.path === '..' || e.path.includes('/')) throw new OstreeTsError(Codes.INVALID_NAME, `${repoPath}: a tree entry is named "${e.path}".`, { path: e.path });
      const dp = path.join(d, e.path);
      const existing = await typeAt(dp);
      if (e.type === 'tree' || e.type === 'commit') {
        if (existing === 'other') await removePath(dp);
        if (existing !== 'dir') await fsp.mkdir(dp, { mode: 0o755 });
        await fsp.chmod(dp, 0o755);
        if (e.type === 'tree') await walk(e.oid, dp);
      } else {
        if (existing !== null) await removePath(dp);
        const data = await git.readBlob(e.oid);
        if (e.mode === '120000') await fsp.symlink(data.toString('utf8'), dp);
        else await fsp.writeFile(dp, data, { mode: e.mode === '100755' ? 0o755 : 0o644 });
        if (e.mode !== '120000') await fsp.chmod(dp, e.mode === '100755' ? 0o755 : 0o644);
      }
    }
  };
  await walk(tree, dest);
  const url = await git.sourceName();
  return { commit, source: url };
}

export function lastLines(text: string, n: number): string {
  const lines = text.replace(/\s+$/, '').split('\n');
  return lines.slice(-n).join('\n');
}

/** Glob to a regular expression over paths relative to the root: `**` any depth, `*` and `?` within a name. */
export function globToRegExp(glob: string): RegExp {
  const g = glob.replace(/^\/+/, '').replace(/\/+$/, '');
  let re = '';
  for (let i = 0; i < g.length; i++) {
    const c = g[i];
    if (c === '*' && g[i + 1] === '*') {
      if (g[i + 2] === '/') {
        re += '(?:.*/)?';
        i += 2;
      } else {
        re += '.*';
        i += 1;
      }
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}
