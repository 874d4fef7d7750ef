/**
 * Issue 16, acceptance 1: composing recipes/hello-os.yaml twice gives the
 * same commit; changing one input file, or the git revision of a layer,
 * changes it. The real ostree checks every repository (fsck) and reads the
 * commit's version and tree.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ok, ostree, requireOstree, requireTool, run, tempDir } from '../helpers/env.js';
import { commitObjects, composeCli, composeOk, copyRecipes, fsckClean, newRepo } from './helpers.js';

const REF = 'hello-os/x86_64/stable';

test('hello-os composes to the same commit twice, in two repositories and again in the same one', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t, 'ots-compose-');
  const { recipes } = await copyRecipes(dir);
  const recipe = path.join(recipes, 'hello-os.yaml');
  const a = await newRepo(dir, 'a');
  const b = await newRepo(dir, 'b', 'bare-user');
  const first = await composeOk(recipe, a);
  const second = await composeOk(recipe, b);
  assert.equal(second.checksum, first.checksum, 'the same inputs give the same commit in another repository');
  const again = await composeOk(recipe, a);
  assert.equal(again.checksum, first.checksum, 'composing again gives the commit the ref names');
  assert.match(again.out.stdout, /unchanged/);
  assert.deepEqual(await commitObjects(a), [first.checksum], 'no second commit was written');

  // The real ostree reads what compose wrote.
  for (const r of [a, b]) await fsckClean(r);
  assert.equal(await ok(ostree('rev-parse', `--repo=${a}`, REF)), first.checksum);
  assert.equal(await ok(ostree('show', `--repo=${a}`, '--print-metadata-key=version', REF)), "'1.0'");
  assert.equal(await ok(ostree('show', `--repo=${a}`, '--print-metadata-key=ostree.bootable', REF)), 'true');
  assert.match(await ok(ostree('show', `--repo=${a}`, REF)), /Version: 1\.0/);
  const files = await ok(ostree('ls', `--repo=${a}`, '-R', REF));
  for (const p of ['/usr/etc/hostname', '/usr/etc/hello-os/greeting', '/usr/etc/motd', '/usr/lib/modules/6.1.0-hello/vmlinuz',
    '/usr/lib/modules/6.1.0-hello/initramfs.img', '/usr/lib/greenboot/check/required.d/10-hello-os', '/usr/bin/hello']) {
    assert.ok(files.split('\n').some((l) => l.endsWith(` ${p}`) || l.includes(` ${p} `)), `${p} is in the commit:\n${files}`);
  }
  assert.ok(!/ \/etc\b/.test(files.split('\n').filter((l) => / \/etc( |$)/.test(l)).join('\n')), '/etc moved to /usr/etc');
  assert.equal(await ok(ostree('cat', `--repo=${a}`, REF, '/usr/etc/hostname')), 'hello-os');
  const check = await ok(ostree('cat', `--repo=${a}`, REF, '/usr/lib/greenboot/check/required.d/10-hello-os'));
  assert.match(check, /healthy/);
  assert.match(files, /-00755 0 0 .* \/usr\/lib\/greenboot\/check\/required\.d\/10-hello-os/);
  assert.match(first.out.stdout, /moved \/etc to \/usr\/etc/);
  assert.match(first.out.stdout, /moved \/boot\/vmlinuz-6\.1\.0-hello and \/boot\/initrd\.img-6\.1\.0-hello/);
});

test('changing one input file changes the commit; the change is reported against the previous commit', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t, 'ots-compose-');
  const { recipes, fixtures } = await copyRecipes(dir);
  const recipe = path.join(recipes, 'hello-os.yaml');
  const a = await newRepo(dir, 'a');
  const before = await composeOk(recipe, a);
  const motd = path.join(fixtures, 'hello-os', 'rootfs', 'etc', 'motd');
  await writeFile(motd, `${await readFile(motd, 'utf8')}One more line.\n`);
  const fresh = await newRepo(dir, 'fresh');
  const changed = await composeOk(recipe, fresh);
  assert.notEqual(changed.checksum, before.checksum);
  const onTop = await composeOk(recipe, a);
  assert.notEqual(onTop.checksum, before.checksum);
  assert.match(onTop.out.stdout, /changes: {2}0 added, 0 removed, 1 modified/);
  assert.match(onTop.out.stdout, /M \/usr\/etc\/motd/);
  assert.equal(await ok(ostree('rev-parse', `--repo=${a}`, `${onTop.checksum}^`)), before.checksum, 'the previous commit is the parent');
  for (const r of [a, fresh]) await fsckClean(r);
});

test('the git revision of a layer is in the checksum and in the commit metadata', async (t) => {
  if (!(await requireOstree(t)) || !(await requireTool(t, 'git', 'git'))) return;
  const dir = await tempDir(t, 'ots-compose-');
  await copyRecipes(dir);
  const g = path.join(dir, 'overlay');
  const git = (...args: string[]): Promise<string> => ok(run('git', ['-C', g, ...args], { env: { GIT_AUTHOR_DATE: '2024-01-01T00:00:00Z', GIT_COMMITTER_DATE: '2024-01-01T00:00:00Z', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.invalid', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.invalid' } }), `git ${args[0]}`);
  await ok(run('git', ['init', '-q', '-b', 'main', g]), 'git init');
  await writeFile(path.join(g, 'greeting'), 'Hello, first revision.\n');
  await git('add', '.');
  await git('commit', '-q', '-m', 'one');
  const rev1 = await git('rev-parse', 'HEAD');
  await writeFile(path.join(g, 'greeting'), 'Hello, second revision.\n');
  await git('commit', '-q', '-am', 'two');
  const rev2 = await git('rev-parse', 'HEAD');
  const recipe = path.join(dir, 'recipes', 'hello-git.yaml');
  const write = (rev: string): Promise<void> => writeFile(recipe, [
    'include: [hello-os.yaml]',
    'layers:',
    `  - git: {repo: ../overlay, rev: ${rev}, subdir: .}`,
    '',
  ].join('\n'));
  await write(rev1);
  const r1 = await newRepo(dir, 'r1');
  const one = await composeOk(recipe, r1);
  await write(rev2);
  const r2 = await newRepo(dir, 'r2');
  const two = await composeOk(recipe, r2);
  assert.notEqual(two.checksum, one.checksum);
  assert.equal(await ok(ostree('show', `--repo=${r2}`, '--print-metadata-key=ostree-ts.source.git-commit', two.checksum)), `'${rev2}'`);
  assert.equal(await ok(ostree('show', `--repo=${r2}`, '--print-metadata-key=ostree-ts.source.git', two.checksum)), "'../overlay'", 'the repository as the recipe names it, no machine path');
  assert.equal(await ok(ostree('cat', `--repo=${r2}`, two.checksum, '/greeting')), 'Hello, second revision.');
  await write('main~1');
  const r3 = await newRepo(dir, 'r3');
  const back = await composeOk(recipe, r3);
  assert.equal(back.checksum, one.checksum, 'the same revision by another name gives the same commit');
  for (const r of [r1, r2, r3]) await fsckClean(r);
});

test('--dry-run prints the plan and writes nothing', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t, 'ots-compose-');
  const { recipes } = await copyRecipes(dir);
  const repo = await newRepo(dir, 'a');
  const r = await composeCli([path.join(recipes, 'hello-os-broken.yaml'), `--repo=${repo}`, '--dry-run']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Plan for hello-os\/x86_64\/stable 2\.0:/);
  assert.match(r.stdout, /base: directory .*fixtures\/hello-os\/rootfs {2}\[.*hello-os\.yaml:\d+\]/);
  assert.match(r.stdout, /check: usr\/lib\/greenboot\/check\/required\.d\/10-hello-os {2}\[.*hello-os-broken\.yaml:\d+\]/);
  assert.match(r.stdout, /commit: to hello-os\/x86_64\/stable, version 2\.0, time 1706745600 \(from recipe\)/);
  const j = await composeCli([path.join(recipes, 'hello-os.yaml'), '--dry-run', '--json'], { SOURCE_DATE_EPOCH: '1700000000' });
  const doc = JSON.parse(j.stdout) as { kind: string; timestamp: string; timestampFrom: string; steps: unknown[] };
  assert.equal(doc.kind, 'ComposePlan');
  assert.equal(doc.timestamp, '1700000000');
  assert.equal(doc.timestampFrom, 'SOURCE_DATE_EPOCH');
  assert.deepEqual(await commitObjects(repo), []);
  await fsckClean(repo);
});

test('hello-os-broken differs from hello-os by its failing required check', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t, 'ots-compose-');
  const { recipes } = await copyRecipes(dir);
  const repo = await newRepo(dir, 'a');
  const good = await composeOk(path.join(recipes, 'hello-os.yaml'), repo);
  const bad = await composeOk(path.join(recipes, 'hello-os-broken.yaml'), repo);
  assert.notEqual(bad.checksum, good.checksum);
  assert.match(await ok(ostree('cat', `--repo=${repo}`, bad.checksum, '/usr/lib/greenboot/check/required.d/10-hello-os')), /exit 1/);
  assert.equal(await ok(ostree('show', `--repo=${repo}`, '--print-metadata-key=version', bad.checksum)), "'2.0'");
  assert.match(bad.out.stdout, /changes: {2}0 added, 0 removed, 1 modified/);
  await fsckClean(repo);
});

test('a tarball layer gives the same commit plain, gzip or zstd; --json reports the result document', async (t) => {
  if (!(await requireOstree(t)) || !(await requireTool(t, 'zstd', 'zstd'))) return;
  const dir = await tempDir(t, 'ots-compose-');
  const { recipes } = await copyRecipes(dir);
  const extra = path.join(dir, 'extra');
  await ok(run('mkdir', ['-p', path.join(extra, 'usr', 'share', 'hello-os')]), 'mkdir');
  await writeFile(path.join(extra, 'usr', 'share', 'hello-os', 'notes'), 'From a tarball layer.\n');
  const sums: string[] = [];
  for (const [name, flags] of [['extra.tar', []], ['extra.tar.gz', ['-z']], ['extra.tar.zst', ['--zstd']]] as Array<[string, string[]]>) {
    await ok(run('tar', ['-c', ...flags, '-f', path.join(dir, name), '--owner=0', '--group=0', '--numeric-owner', '-C', extra, '.']), `tar ${name}`);
    const recipe = path.join(recipes, `with-${name}.yaml`);
    await writeFile(recipe, `include: [hello-os.yaml]\nlayers:\n  - tarball: ../${name}\n`);
    const repo = await newRepo(dir, `repo-${name}`);
    const r = await composeCli([recipe, `--repo=${repo}`, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { kind: string; checksum: string; ref: string; files: number; bytes: number; version: string; kernel: string; unchanged: boolean };
    assert.equal(doc.kind, 'ComposeResult');
    assert.equal(doc.ref, REF);
    assert.equal(doc.version, '1.0');
    assert.equal(doc.kernel, '6.1.0-hello');
    assert.equal(doc.unchanged, false);
    assert.ok(doc.files > 5 && doc.bytes > 100);
    assert.equal(await ok(ostree('cat', `--repo=${repo}`, doc.checksum, '/usr/share/hello-os/notes')), 'From a tarball layer.');
    await fsckClean(repo);
    sums.push(doc.checksum);
  }
  assert.equal(new Set(sums).size, 1, `one commit for the three compressions: ${sums.join(' ')}`);
});

test('a base taken from a commit of the repository (a product recipe on top of hello-os)', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t, 'ots-compose-');
  const { recipes } = await copyRecipes(dir);
  const repo = await newRepo(dir, 'repo');
  const base = await composeOk(path.join(recipes, 'hello-os.yaml'), repo);
  const recipe = path.join(recipes, 'product.yaml');
  await writeFile(recipe, 'ref: hello-os/x86_64/product\nversion: "1.0-p"\ntimestamp: 1704067200\nbase:\n  ref: hello-os/x86_64/stable\nfiles:\n  - {path: /usr/share/product, content: "product\\n"}\n');
  const product = await composeOk(recipe, repo);
  assert.match(product.out.stdout, /kernel 6\.1\.0-hello already in usr\/lib\/modules\/6\.1\.0-hello\//);
  const d = await ok(ostree('diff', `--repo=${repo}`, base.checksum, product.checksum));
  assert.deepEqual(d.split('\n'), ['A    /usr/share', 'A    /usr/share/product'], 'the base tree as it was, plus the file');
  await fsckClean(repo);
});
