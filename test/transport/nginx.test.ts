/**
 * Issue 5, acceptance 1 (with nginx): the real ostree pulls a commit from an
 * ostree-ts archive repository served by nginx, and ostree-ts pulls from a
 * repository the real ostree wrote, served by nginx; every fsck is clean.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { ok, ostree, ots, requireOstree, requireTool, tempDir } from '../helpers/env.js';
import { startNginx } from '../helpers/nginx.js';
import { makeRichTree, makeXattrTree } from '../helpers/trees.js';

test('nginx serves ostree-ts repositories to ostree, and ostree repositories to ostree-ts', async (t) => {
  if (!(await requireOstree(t))) return;
  if (!(await requireTool(t, 'nginx', 'nginx'))) return;
  const dir = await tempDir(t);
  const src = path.join(dir, 'tree');
  await makeRichTree(src);
  await makeXattrTree(path.join(src, 'x'));
  const ours = path.join(dir, 'ours');
  const theirs = path.join(dir, 'theirs');
  await ok(ots('init', `--repo=${ours}`, '--mode=archive'));
  await ok(ostree('init', `--repo=${theirs}`, '--mode=archive'));
  const a = await ok(ots(`--repo=${ours}`, 'commit', '-b', 'os/a', `--tree=dir=${src}`));
  const b = await ok(ostree(`--repo=${theirs}`, 'commit', '-b', 'os/b', `--tree=dir=${src}`, '-s', 'b'));
  await ok(ots(`--repo=${ours}`, 'summary', '-u'));
  await ok(ostree(`--repo=${theirs}`, 'summary', '-u'));
  const nOurs = await startNginx(t, ours, dir);
  const nTheirs = await startNginx(t, theirs, dir);

  const o = path.join(dir, 'ostree-client');
  await ok(ostree('init', `--repo=${o}`, '--mode=bare-user'));
  await ok(ostree(`--repo=${o}`, 'remote', 'add', '--no-gpg-verify', 'web', nOurs.url));
  await ok(ostree(`--repo=${o}`, 'pull', 'web', 'os/a'), 'ostree pull from nginx serving ostree-ts');
  assert.equal(await ok(ostree(`--repo=${o}`, 'rev-parse', 'web:os/a')), a);
  assert.equal((await ostree('fsck', `--repo=${o}`)).code, 0);

  for (const mode of ['bare-user', 'archive'] as const) {
    const c = path.join(dir, `ots-client-${mode}`);
    await ok(ots('init', `--repo=${c}`, `--mode=${mode}`));
    await ok(ots(`--repo=${c}`, 'remote', 'add', '--no-gpg-verify', 'web', nTheirs.url));
    await ok(ots(`--repo=${c}`, 'pull', 'web', 'os/b'), `ostree-ts pull from nginx serving ostree (${mode})`);
    assert.equal(await ok(ots(`--repo=${c}`, 'rev-parse', 'web:os/b')), b);
    assert.equal((await ots(`--repo=${c}`, 'fsck')).code, 0);
    const f = await ostree('fsck', `--repo=${c}`);
    assert.equal(f.code, 0, f.stderr);
  }
  const log = await nTheirs.log();
  assert.ok(log.some((l) => /^GET \/summary 200$/.test(l)), 'the summary came from nginx');
  assert.ok(log.filter((l) => /\.filez 200$/.test(l)).length > 10, 'content objects came from nginx');
});
