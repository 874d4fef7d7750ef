/**
 * Issue 2, acceptance 1 on a real OS tree: Debian bookworm minbase (built once
 * with mmdebstrap by fixtures/make-minbase.sh, cached outside the repository)
 * commits to the same checksum in ostree-ts and ostree, in every mode.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { homedir } from 'node:os';
import { MODES, ROOT, ok, ostree, ots, requireOstree, requireTool, run, tempDir } from '../helpers/env.js';

export function minbaseDir(): string {
  const cache = process.env.OSTREE_TS_BENCH_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'), 'ostree-ts-bench');
  return path.join(cache, 'trees', 'minbase');
}

test('Debian minbase commits to the same checksum as ostree, in every mode', { timeout: 30 * 60 * 1000 }, async (t) => {
  if (!(await requireOstree(t))) return;
  if (!(await requireTool(t, 'mmdebstrap', 'mmdebstrap'))) return;
  const tree = minbaseDir();
  const built = await run('bash', [path.join(ROOT, 'fixtures', 'make-minbase.sh'), tree]);
  assert.equal(built.code, 0, `building the minbase tree failed:\n${built.stderr}`);
  const dir = await tempDir(t);
  const args = ['commit', '-b', 'debian/bookworm/minbase', `--tree=dir=${tree}`, '--timestamp=@1700000000', '-s', 'Debian minbase', '--add-metadata-string=version=12'];
  for (const mode of MODES) {
    const ours = path.join(dir, `ots-${mode}`);
    const theirs = path.join(dir, `ostree-${mode}`);
    await ok(ots('init', `--repo=${ours}`, `--mode=${mode}`));
    await ok(ostree('init', `--repo=${theirs}`, `--mode=${mode}`));
    const a = await ok(ots(`--repo=${ours}`, ...args), `ostree-ts commit (${mode})`);
    const b = await ok(ostree(`--repo=${theirs}`, ...args), `ostree commit (${mode})`);
    assert.equal(a, b, `minbase in ${mode}`);
    if (mode === 'archive' || mode === 'bare') {
      const f = await ostree('fsck', `--repo=${ours}`);
      assert.equal(f.code, 0, `ostree fsck on our ${mode} minbase repo:\n${f.stderr}`);
    }
    await run('rm', ['-rf', ours, theirs]);
  }
});

test('a tarball of Debian minbase commits to the same checksum as ostree --tree=tar= (gzip for ostree, zstd for us)', { timeout: 30 * 60 * 1000 }, async (t) => {
  if (!(await requireOstree(t))) return;
  if (!(await requireTool(t, 'mmdebstrap', 'mmdebstrap'))) return;
  if (!(await requireTool(t, 'zstd', 'zstd'))) return;
  const tree = minbaseDir();
  const built = await run('bash', [path.join(ROOT, 'fixtures', 'make-minbase.sh'), tree]);
  assert.equal(built.code, 0, `building the minbase tree failed:\n${built.stderr}`);
  const dir = await tempDir(t);
  const tar = path.join(dir, 'minbase.tar');
  await ok(run('tar', ['--xattrs', '--xattrs-include=*', '--numeric-owner', '--format=pax', '-C', tree, '-cf', tar, '.']), 'tar');
  await ok(run('sh', ['-c', 'gzip -c "$1" > "$1.gz" && zstd -q "$1" -o "$1.zst" && rm "$1"', 'sh', tar]), 'compress');
  const args = ['commit', '-b', 'debian/bookworm/minbase', '--timestamp=@1700000000', '-s', 'Debian minbase'];
  for (const mode of ['archive', 'bare-user'] as const) {
    const ours = path.join(dir, `ots-${mode}`);
    const theirs = path.join(dir, `ostree-${mode}`);
    await ok(ots('init', `--repo=${ours}`, `--mode=${mode}`));
    await ok(ostree('init', `--repo=${theirs}`, `--mode=${mode}`));
    const a = await ok(ots(`--repo=${ours}`, ...args, `--tree=tar=${tar}.zst`), `ostree-ts commit (${mode})`);
    const b = await ok(ostree(`--repo=${theirs}`, ...args, `--tree=tar=${tar}.gz`), `ostree commit (${mode})`);
    assert.equal(a, b, `minbase tarball in ${mode}`);
    const f = await ostree('fsck', `--repo=${ours}`);
    assert.equal(f.code, 0, `ostree fsck on our ${mode} repository:\n${f.stderr}`);
    await run('rm', ['-rf', ours, theirs]);
  }
});
