/**
 * Issue 18: the commit options of ostree 2022.7. Each case runs the same
 * command line through the real ostree and through ostree-ts, each into its
 * own repository, and compares the checksums (so the commits are
 * byte-identical), what is printed, and the exit status.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, stat, symlink, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ok, ostree, ots, requireOstree, run, tempDir } from '../helpers/env.js';

async function makeTree(root: string, kernel = true): Promise<void> {
  await mkdir(path.join(root, 'usr', 'bin'), { recursive: true });
  await writeFile(path.join(root, 'usr', 'bin', 'tool'), 'hi\n');
  await chmod(path.join(root, 'usr', 'bin', 'tool'), 0o775);
  await symlink('usr/bin/tool', path.join(root, 'tool-link'));
  if (kernel) {
    await mkdir(path.join(root, 'usr', 'lib', 'modules', '5.10.0'), { recursive: true });
    await mkdir(path.join(root, 'usr', 'lib', 'modules', '4.0.0-nokernel'), { recursive: true });
    await writeFile(path.join(root, 'usr', 'lib', 'modules', '5.10.0', 'vmlinuz'), 'kernel\n');
    await writeFile(path.join(root, 'usr', 'lib', 'modules', '5.10.0', 'initramfs.img'), 'init\n');
  }
}

/** Two archive repositories: [ostree's, ours]. */
async function repos(t: TestContext, mode = 'archive'): Promise<[string, string, string]> {
  const dir = await tempDir(t);
  const a = path.join(dir, 'theirs');
  const b = path.join(dir, 'ours');
  await ok(ostree('init', `--repo=${a}`, `--mode=${mode}`));
  await ok(ostree('init', `--repo=${b}`, `--mode=${mode}`));
  return [dir, a, b];
}

async function both(a: string, b: string, ...args: string[]): Promise<string> {
  const theirs = await ostree(`--repo=${a}`, ...args);
  const ours = await ots(`--repo=${b}`, ...args);
  assert.equal(ours.code, theirs.code, `${args.join(' ')}: exit status (ostree said ${theirs.stderr.trim()}; ours ${ours.stderr.trim()})`);
  assert.equal(ours.stdout, theirs.stdout, args.join(' '));
  return ours.stdout;
}

test('commit --bootable --generate-sizes --table-output: the same commit and the same report as ostree', async (t) => {
  if (!(await requireOstree(t))) return;
  const [dir, a, b] = await repos(t);
  const tree = path.join(dir, 'tree');
  await makeTree(tree);
  const args = ['commit', '-b', 'os', '--timestamp=@1700000000', '-s', 'v1', '--add-metadata-string=zz=1', '--add-metadata-string=version=3'];
  const out = await both(a, b, ...args, '--bootable', '--generate-sizes', '--table-output', tree);
  assert.match(out, /^Commit: [0-9a-f]{64}\nMetadata Total: \d+\n/);
  const raw = await both(a, b, 'show', '--raw', 'os');
  assert.match(raw, /'ostree.linux': <'5.10.0'>/);
  assert.match(raw, /'ostree.bootable': <true>/);
  assert.match(raw, /'ostree.sizes'/);
  // A second commit over existing objects lists every object again; --keep-metadata copies from the parent.
  await both(a, b, 'commit', '-b', 'os', '--timestamp=@1700000001', '--generate-sizes', '--keep-metadata=version', '--table-output', tree);
  await both(a, b, 'show', '--print-sizes', 'os');
  assert.equal((await ostree(`--repo=${b}`, 'fsck')).code, 0);
});

test('commit --generate-sizes writes no sizes in a bare-user repository, as ostree', async (t) => {
  if (!(await requireOstree(t))) return;
  const [dir, a, b] = await repos(t, 'bare-user');
  const tree = path.join(dir, 'tree');
  await makeTree(tree);
  await both(a, b, 'commit', '-b', 'os', '--timestamp=@1700000000', '--generate-sizes', tree);
});

test('commit --bootable refuses a tree without a kernel, as ostree does', async (t) => {
  if (!(await requireOstree(t))) return;
  const [dir, a, b] = await repos(t);
  const noUsrLib = path.join(dir, 'no-usr-lib');
  await makeTree(noUsrLib, false);
  const empty = path.join(dir, 'empty-modules');
  await mkdir(path.join(empty, 'usr', 'lib', 'modules', '1.0'), { recursive: true });
  for (const [tree, message] of [[noUsrLib, /No such file or directory: \/usr\/lib/], [empty, /No kernel found in \/usr\/lib\/modules/]] as const) {
    await both(a, b, 'commit', '-b', 'os', '--bootable', tree);
    const r = await ots(`--repo=${b}`, 'commit', '-b', 'os', '--bootable', tree);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /Unknown argument|    at /);
  }
  assert.equal((await ots(`--repo=${b}`, 'refs')).stdout, '', 'no ref was written');
});

test('commit --mode-ro-executables, --body-file, --link-checkout-speedup, --devino-canonical: the same commits as ostree', async (t) => {
  if (!(await requireOstree(t))) return;
  const [dir, a, b] = await repos(t);
  const tree = path.join(dir, 'tree');
  await makeTree(tree);
  const bodyFile = path.join(dir, 'body');
  await writeFile(bodyFile, 'subject line\n\nbody # not a comment\n');
  await both(a, b, 'commit', '-b', 'ro', '--timestamp=@1700000000', '--mode-ro-executables', tree);
  await both(a, b, 'ls', '-R', 'ro');
  await both(a, b, 'commit', '-b', 'body', '--timestamp=@1700000000', '-s', 'subject', '-F', bodyFile, tree);
  await both(a, b, 'commit', '-b', 'body', '--timestamp=@1700000000', `--body-file=${bodyFile}`, tree);
  await both(a, b, 'commit', '-b', 'fast', '--timestamp=@1700000000', '--link-checkout-speedup', '--devino-canonical', tree);
  // A missing body file fails in both.
  await both(a, b, 'commit', '-b', 'body', '-F', path.join(dir, 'missing'), tree);
});

test('commit --editor: the message comes from the editor, an empty one aborts', async (t) => {
  if (!(await requireOstree(t))) return;
  const [dir, a, b] = await repos(t);
  const tree = path.join(dir, 'tree');
  await makeTree(tree);
  const editor = path.join(dir, 'editor.sh');
  await writeFile(editor, `#!/bin/sh\ncp "$1" "$1.template-seen" 2>/dev/null\nprintf '  \\n# x\\nMy subject  \\n\\n\\nline1\\n# comment\\nline2  \\n\\n' > "$1"\n`);
  await chmod(editor, 0o755);
  const env: NodeJS.ProcessEnv = { ...process.env, EDITOR: editor };
  delete env.VISUAL;
  delete env.OSTREE_EDITOR;
  const cmd = ['commit', '-b', 'ed', '--timestamp=@1700000000', '-e', tree];
  const theirs = await run('ostree', [`--repo=${a}`, ...cmd], { env });
  const ours = await run(process.execPath, [path.resolve('dist/src/cli/main.js'), `--repo=${b}`, ...cmd], { env });
  assert.equal(theirs.code, 0, theirs.stderr);
  assert.equal(ours.code, 0, ours.stderr);
  assert.equal(ours.stdout, theirs.stdout);
  const empty = { ...env, EDITOR: 'true' };
  const t2 = await run('ostree', [`--repo=${a}`, ...cmd], { env: empty });
  const o2 = await run(process.execPath, [path.resolve('dist/src/cli/main.js'), `--repo=${b}`, ...cmd], { env: empty });
  assert.equal(o2.code, t2.code);
  assert.match(o2.stderr, /Aborting commit due to empty commit subject/);
});

test('commit --consume removes the committed directory; -P without a policy in the base labels nothing', async (t) => {
  if (!(await requireOstree(t))) return;
  const [dir, a, b] = await repos(t);
  for (const name of ['t1', 't2']) await makeTree(path.join(dir, name));
  await both(a, b, 'commit', '-b', 'base', '--timestamp=@1700000000', path.join(dir, 't1'));
  await ok(ostree(`--repo=${a}`, 'commit', '-b', 'c', '--timestamp=@1700000000', '--consume', path.join(dir, 't1')));
  await ok(ots(`--repo=${b}`, 'commit', '-b', 'c', '--timestamp=@1700000000', '--consume', path.join(dir, 't2')));
  for (const name of ['t1', 't2']) await assert.rejects(stat(path.join(dir, name)), { code: 'ENOENT' });
  await both(a, b, 'rev-parse', 'c');
  const noPolicy = path.join(dir, 'small');
  await mkdir(path.join(noPolicy, 'usr'), { recursive: true });
  await both(a, b, 'commit', '-b', 'p', '--timestamp=@1700000000', '-P', '--base=base', noPolicy);
  await both(a, b, 'commit', '-b', 'p', '--timestamp=@1700000000', '--selinux-policy-from-base', noPolicy);
});
