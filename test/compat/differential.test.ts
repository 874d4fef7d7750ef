/**
 * Issue 18, the differential harness: each script in scripts/ runs twice in
 * an empty directory, once with the real ostree first on PATH and once with
 * ostree-ts there under the name `ostree` (a symlink). Its output (stdout and
 * the exit status) and the files it leaves (every path, type, mode and the
 * bytes of regular files) must be the same; only the directory it ran in is
 * replaced by a placeholder. Scripts fix their timestamps, so nothing else
 * may differ.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, lstat, mkdir, readdir, readFile, readlink, symlink } from 'node:fs/promises';
import * as path from 'node:path';
import { CLI, ROOT, requireOstree, run, tempDir } from '../helpers/env.js';

const SCRIPTS = path.join(ROOT, 'test', 'compat', 'scripts');

async function tree(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const p = path.join(dir, name);
      const r = `${rel}/${name}`;
      // Not part of what a script writes: the lock file and the transaction area.
      if (name === '.lock' || /\/repo\/tmp$/.test(r)) continue;
      const st = await lstat(p);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        out.push(`${r}/ ${mode}`);
        await walk(p, r);
      } else if (st.isSymbolicLink()) out.push(`${r} -> ${await readlink(p)}`);
      else out.push(`${r} ${mode} ${(await readFile(p)).toString('base64')}`);
    }
  };
  await walk(root, '');
  return out;
}

async function runScript(script: string, bin: string, work: string): Promise<{ stdout: string; code: number | null; files: string[] }> {
  await mkdir(work, { recursive: true });
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, LC_ALL: 'C.UTF-8', TZ: 'UTC' };
  delete env.OSTREE_REPO;
  const r = await run('/bin/bash', [script], { cwd: work, env });
  return { stdout: r.stdout.split(work).join('$WORK'), code: r.code, files: await tree(work) };
}

for (const name of ['commit-show-refs.sh', 'checkout-prune.sh', 'admin-init-fs.sh', 'admin-verbs.sh', 'admin-overlay-initrd.sh']) {
  test(`differential: ${name} behaves the same with ostree-ts as ostree`, async (t) => {
    if (!(await requireOstree(t))) return;
    const dir = await tempDir(t);
    const real = (await run('/bin/sh', ['-c', 'command -v ostree'])).stdout.trim();
    const theirsBin = path.join(dir, 'bin-ostree');
    const oursBin = path.join(dir, 'bin-ostree-ts');
    await mkdir(theirsBin);
    await mkdir(oursBin);
    await symlink(real, path.join(theirsBin, 'ostree'));
    await chmod(CLI, 0o755);
    await symlink(CLI, path.join(oursBin, 'ostree'));
    const script = path.join(SCRIPTS, name);
    // The same directory name for both runs, so that paths a script prints compare equal.
    const theirs = await runScript(script, theirsBin, path.join(dir, 'a', 'work'));
    const ours = await runScript(script, oursBin, path.join(dir, 'b', 'work'));
    assert.equal(theirs.code, 0, `the script fails with ostree itself:\n${theirs.stdout}`);
    assert.equal(ours.stdout, theirs.stdout, 'what the script printed');
    assert.equal(ours.code, theirs.code, 'exit status');
    assert.deepEqual(ours.files, theirs.files, 'the files it left');
  });
}
