/**
 * fsck of a repository of more than a few hundred objects checks them on two
 * worker threads (fsck-worker.ts), archive objects too large to hold on the
 * main thread. Its report must be the one the main thread's own check gives
 * (`concurrency` set keeps fsck there), damage included, in every mode.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { lstat, readdir, readFile, rename, truncate, writeFile } from 'node:fs/promises';
import { MODES, ok, ots, tempDir } from '../helpers/env.js';
import { makeManyFilesTree } from '../helpers/trees.js';
import { Repo, fsck } from '../../src/repo/index.js';
import { removeXattr } from '../../src/io/index.js';

async function objectFiles(repo: string, suffix: string): Promise<string[]> {
  const out: string[] = [];
  for (const fan of (await readdir(path.join(repo, 'objects'))).sort()) {
    for (const n of (await readdir(path.join(repo, 'objects', fan))).sort()) if (n.endsWith(suffix)) out.push(path.join(repo, 'objects', fan, n));
  }
  return out;
}

function checksumOf(objectPath: string): string {
  return path.basename(path.dirname(objectPath)) + path.basename(objectPath).split('.')[0];
}

async function flipLastByte(file: string): Promise<void> {
  const b = await readFile(file);
  b[b.length - 1] ^= 0x55;
  await writeFile(file, b);
}

for (const mode of MODES) {
  test(`${mode}: fsck on worker threads reports what the main thread's check reports, damage included`, async (t) => {
    const dir = await tempDir(t);
    const tree = await makeManyFilesTree(path.join(dir, 'tree'), 700);
    const repoPath = path.join(dir, 'repo');
    await ok(ots('init', `--repo=${repoPath}`, `--mode=${mode}`));
    await ok(ots(`--repo=${repoPath}`, 'commit', '-b', 'main', `--tree=dir=${tree}`));
    const clean = await fsck(await Repo.open(repoPath));
    assert.ok(clean.objects >= 512, `${clean.objects} objects: enough for the workers`);
    assert.deepEqual(clean.problems, []);

    const contentSuffix = mode === 'archive' ? '.filez' : '.file';
    const regular: string[] = [];
    let big = '';
    for (const p of await objectFiles(repoPath, contentSuffix)) {
      const st = await lstat(p);
      if (st.isFile() && st.size > 4 * 1024 * 1024) big = p;
      else if (st.isFile() && st.size > 64) regular.push(p);
    }
    assert.ok(big, 'a large object');
    const damaged = new Set<string>();
    // A flipped byte, a truncation, the 5 MiB object (held too large on a worker in archive mode), a dirtree and a misnamed dirmeta.
    await flipLastByte(regular[0]);
    damaged.add(checksumOf(regular[0]));
    await truncate(regular[1], 10);
    damaged.add(checksumOf(regular[1]));
    await flipLastByte(big);
    damaged.add(checksumOf(big));
    const dirtree = (await objectFiles(repoPath, '.dirtree'))[0];
    await flipLastByte(dirtree);
    damaged.add(checksumOf(dirtree));
    const meta = (await objectFiles(repoPath, '.dirmeta'))[0];
    const wrong = path.join(path.dirname(meta), `${'0'.repeat(62)}.dirmeta`);
    await rename(meta, wrong);
    damaged.add(checksumOf(wrong));
    if (mode === 'bare-user') {
      // The stored owner and mode gone: corrupt in this mode.
      await removeXattr(regular[2], 'user.ostreemeta');
      damaged.add(checksumOf(regular[2]));
    }

    const onWorkers = await fsck(await Repo.open(repoPath));
    const onMain = await fsck(await Repo.open(repoPath), { concurrency: 16 });
    assert.deepEqual(onWorkers, onMain);
    const corrupt = new Set(onWorkers.problems.filter((p) => p.kind === 'corrupt').map((p) => p.checksum));
    for (const c of damaged) assert.ok(corrupt.has(c), `${mode}: ${c} reported corrupt:\n${onWorkers.problems.map((p) => p.message).join('\n')}`);
  });
}
