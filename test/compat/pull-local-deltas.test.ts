/**
 * pull-local --require-static-deltas: the source is then read as a remote at
 * a file:// URL and each commit must come through one of its static deltas
 * (libostree's rule), or the copy fails with nothing moved. Each case is run
 * with both tools on the same source; the exit status, the ref and fsck agree.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ok, ostree, ots, requireOstree, tempDir } from '../helpers/env.js';

test('pull-local --require-static-deltas takes a commit only through a delta listed in the summary, as ostree does', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const src = path.join(dir, 'src');
  const tree = path.join(dir, 'tree');
  await mkdir(tree);
  await writeFile(path.join(tree, 'a'), 'a\n');
  await ok(ostree(`--repo=${src}`, 'init', '--mode=archive'));
  await ok(ostree(`--repo=${src}`, 'commit', '-b', 'main', '--timestamp=@1780000000', `--tree=dir=${tree}`));
  await writeFile(path.join(tree, 'b'), 'b\n');
  const head = await ok(ostree(`--repo=${src}`, 'commit', '-b', 'main', '--timestamp=@1780000100', `--tree=dir=${tree}`));
  let n = 0;
  const both = async (mode: string, expectOk: boolean, what: string): Promise<void> => {
    for (const [name, tool] of [['ostree', ostree], ['ostree-ts', ots]] as const) {
      const dest = path.join(dir, `dest-${n++}`);
      await ok(ostree(`--repo=${dest}`, 'init', `--mode=${mode}`));
      const r = await tool(`--repo=${dest}`, 'pull-local', '--require-static-deltas', src, 'main');
      assert.equal(r.code, expectOk ? 0 : 1, `${name}, ${what}: ${r.stdout}${r.stderr}`);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      const ref = await ostree(`--repo=${dest}`, 'rev-parse', 'main');
      assert.equal(ref.code === 0 ? ref.stdout.trim() : null, expectOk ? head : null, `${name}, ${what}: the ref`);
      if (expectOk) await ok(ostree('fsck', `--repo=${dest}`), `${name}: ostree fsck`);
    }
  };
  await both('bare-user', false, 'no delta at all');
  // A delta from the parent only: of no use to an empty repository.
  await ok(ostree(`--repo=${src}`, 'static-delta', 'generate', 'main'));
  await ok(ostree(`--repo=${src}`, 'summary', '-u'));
  await both('bare-user', false, 'only a delta from the parent');
  await ok(ostree(`--repo=${src}`, 'static-delta', 'generate', '--empty', 'main'));
  await ok(ostree(`--repo=${src}`, 'summary', '-u'));
  await both('bare-user', true, 'a delta from scratch');
  await both('archive', false, 'into an archive repository');
});
