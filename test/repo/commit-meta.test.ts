/**
 * Detached metadata (`.commitmeta`) is read through one repository call,
 * `readCommitMetaBytes`, under the metadata size limit: the bytes the real
 * ostree wrote, null when a commit has none, and a refusal by name over the
 * limit (checked before anything is read).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { readFile, truncate } from 'node:fs/promises';
import { ok, ostree, requireOstree, tempDir } from '../helpers/env.js';
import { makeBasicTree } from '../helpers/trees.js';
import { lookup } from '../../src/format/index.js';
import { MAX_METADATA_SIZE, Repo } from '../../src/repo/index.js';

test('readCommitMetaBytes: what ostree wrote, null without detached metadata, refused over the size limit', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const tree = await makeBasicTree(path.join(dir, 'tree'));
  const repoPath = path.join(dir, 'repo');
  await ok(ostree('init', `--repo=${repoPath}`, '--mode=archive'));
  const signed = await ok(ostree(`--repo=${repoPath}`, 'commit', '-b', 'a', `--tree=dir=${tree}`, '--add-detached-metadata-string=note=hello'));
  const plain = await ok(ostree(`--repo=${repoPath}`, 'commit', '-b', 'b', `--tree=dir=${tree}`, '-s', 'plain'));
  const repo = await Repo.open(repoPath);

  const file = repo.objectPath(signed, 'commitmeta');
  assert.deepEqual(await repo.readCommitMetaBytes(signed), await readFile(file));
  assert.equal(lookup((await repo.loadCommitMeta(signed)) ?? [], 'note', 's'), 'hello');
  assert.equal(await repo.readCommitMetaBytes(plain), null);
  assert.equal(await repo.loadCommitMeta(plain), null);

  await truncate(file, MAX_METADATA_SIZE + 1); // sparse: nothing this large is written
  for (const read of [() => repo.readCommitMetaBytes(signed), () => repo.loadCommitMeta(signed)]) {
    await assert.rejects(read(), (e: { code: string; data: unknown; message: string }) => {
      assert.equal(e.code, 'E_OBJECT_INVALID');
      assert.deepEqual(e.data, { checksum: signed, type: 'commitmeta' });
      assert.match(e.message, new RegExp(`Object ${signed}\\.commitmeta is ${MAX_METADATA_SIZE + 1} bytes, over the ${MAX_METADATA_SIZE}-byte limit`));
      return true;
    });
  }
});
