/**
 * Issue 18: the checkout options of ostree 2022.7. The same sequence of
 * checkouts runs once with the real ostree and once with ostree-ts, from one
 * bare repository, and the resulting directories (names, types, modes,
 * sizes, owners, device numbers) and exit statuses are compared.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, readdir, lstat, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { CLI, isRoot, ok, ostree, requireOstree, run, tempDir } from '../helpers/env.js';

async function describeTree(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const p = path.join(dir, name);
      const st = await lstat(p);
      const kind = st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : st.isCharacterDevice() ? `c${st.rdev}` : 'f';
      const body = st.isFile() ? ` ${(await readFile(p)).toString('hex')}` : '';
      out.push(`${rel}/${name} ${kind} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}${body}`);
      if (st.isDirectory()) await walk(p, `${rel}/${name}`);
    }
  };
  await walk(root, '');
  return out;
}

test('checkout --union-add, --union-identical, --whiteouts, passthrough whiteouts, -M, --skip-list, --allow-noent, --from-stdin: as ostree', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const repo = path.join(dir, 'repo');
  await ok(ostree('init', `--repo=${repo}`, '--mode=bare-user-only'));
  const tree = path.join(dir, 'tree');
  await mkdir(path.join(tree, 'a', 'gonedir'), { recursive: true });
  await mkdir(path.join(tree, 'usr', 'bin'), { recursive: true });
  for (const [p, v] of [['a/keep', 'lower\n'], ['a/gone', 'lower\n'], ['a/gonedir/f', 'x\n'], ['a/.wh.gone', ''], ['a/.wh.gonedir', ''], ['a/.ostree-wh.dev', ''], ['usr/bin/x', 'hi\n']]) {
    await writeFile(path.join(tree, p), v);
  }
  await chmod(path.join(tree, 'a'), 0o777);
  await ok(ostree(`--repo=${repo}`, 'commit', '-b', 'wt', '--timestamp=@1700000000', tree));
  await writeFile(path.join(dir, 'skip'), '/a/keep\n/usr/bin\n');
  const results: Record<string, string[]> = {};
  for (const who of ['ostree', 'ostree-ts']) {
    const out = path.join(dir, who);
    const cmd = (args: string[], input?: string) => (who === 'ostree'
      ? run('ostree', [`--repo=${repo}`, ...args], { input })
      : run(process.execPath, [CLI, `--repo=${repo}`, ...args], { input }));
    const codes: string[] = [];
    const step = async (args: string[], input?: string): Promise<void> => {
      const r = await cmd(args, input);
      codes.push(`${args.join(' ').split(out).join('OUT')} => ${r.code}`);
    };
    await mkdir(path.join(out, 'add', 'a'), { recursive: true });
    await writeFile(path.join(out, 'add', 'a', 'keep'), 'mine\n');
    await step(['checkout', '-U', '--union-add', 'wt', path.join(out, 'add')]);
    await step(['checkout', '-U', '--union-identical', 'wt', path.join(out, 'add')]);
    await step(['checkout', '-U', '-H', '--union-identical', 'wt', path.join(out, 'add')]);
    await step(['checkout', '-U', 'wt', path.join(out, 'same')]);
    await step(['checkout', '-U', '-H', '--union-identical', 'wt', path.join(out, 'same')]);
    await mkdir(path.join(out, 'wh', 'a', 'gonedir'), { recursive: true });
    await writeFile(path.join(out, 'wh', 'a', 'gone'), 'from below\n');
    await step(['checkout', '-U', '--union', '--whiteouts', 'wt', path.join(out, 'wh')]);
    if (isRoot) await step(['checkout', '--process-passthrough-whiteouts', '-M', 'wt', path.join(out, 'dev')]);
    await step(['checkout', '-U', `--skip-list=${path.join(dir, 'skip')}`, 'wt', path.join(out, 'skip')]);
    await step(['checkout', '-U', '--allow-noent', '--subpath=/nope', 'wt', path.join(out, 'noent')]);
    await step(['checkout', '-U', '--subpath=/nope', 'wt', path.join(out, 'noent')]);
    await step(['checkout', '-U', '--union', '--from-stdin', path.join(out, 'many')], 'wt\0/usr/bin\0wt\0/a\0');
    await step(['checkout', '-U', '--fsync=false', '--disable-cache', 'wt', path.join(out, 'plain')]);
    results[who] = [...codes, ...await describeTree(out)];
  }
  assert.deepEqual(results['ostree-ts'], results.ostree);
});

test('checkout --selinux-policy is refused with a message, never "Unknown argument"', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const repo = path.join(dir, 'repo');
  await ok(ostree('init', `--repo=${repo}`, '--mode=archive'));
  const r = await run(process.execPath, [CLI, `--repo=${repo}`, 'checkout', '--selinux-policy=/', 'x', path.join(dir, 'co')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /SELinux labelling/);
  assert.doesNotMatch(r.stderr, /Unknown argument/);
});
