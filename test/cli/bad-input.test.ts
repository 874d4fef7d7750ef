/**
 * Bad input is named and refused (or skipped, where that loses nothing),
 * never a crash: remote URLs, ref names, ref files holding garbage.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { readFile, writeFile } from 'node:fs/promises';
import { ok, ostree, ots, requireOstree, tempDir, type RunResult } from '../helpers/env.js';
import { makeBasicTree } from '../helpers/trees.js';

function cleanFailure(r: RunResult, what: string, pattern: RegExp): void {
  assert.equal(r.code, 1, `${what}: exit 1, got ${r.code}: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /unexpected failure|This is a bug|TypeError|RangeError|\n\s+at /, `${what}: a coded error, not a crash`);
  assert.match(r.stderr, pattern, what);
}

test('remote URLs: remote add refuses what is no usable URL; pull and remote refs name a bad one another tool wrote', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const repo = path.join(dir, 'repo');
  await ok(ots('init', `--repo=${repo}`, '--mode=archive'));
  const config = await readFile(path.join(repo, 'config'), 'utf8');
  const bad: Array<[string, RegExp]> = [
    ['not a url', /'not a url', is not a URL\. Use http:\/\/HOST\/PATH/],
    ['file://host/path', /names the host 'host'; a file URL names a path on this machine: file:\/\/\/ABSOLUTE\/PATH/],
    ['ftp://127.0.0.1/repo', /uses the scheme 'ftp', which is not supported/],
  ];
  for (const [url, why] of bad) cleanFailure(await ots(`--repo=${repo}`, 'remote', 'add', 'origin', url), `remote add ${url}`, why);
  assert.equal(await readFile(path.join(repo, 'config'), 'utf8'), config, 'nothing was written');
  await ok(ots(`--repo=${repo}`, 'remote', 'add', '--no-gpg-verify', 'good', 'file:///nonexistent/repo'));
  // The real ostree takes them; we name them when they are used.
  for (const [i, [url, why]] of bad.entries()) {
    await ok(ostree(`--repo=${repo}`, 'remote', 'add', '--no-gpg-verify', `r${i}`, url));
    cleanFailure(await ots(`--repo=${repo}`, 'pull', `r${i}`, 'os'), `pull from ${url}`, why);
    cleanFailure(await ots(`--repo=${repo}`, 'remote', 'refs', `r${i}`), `remote refs of ${url}`, why);
  }
});

test('ref names: an empty --create and a part longer than a file name are refused by name', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const repo = path.join(dir, 'repo');
  await ok(ots('init', `--repo=${repo}`, '--mode=archive'));
  const c = await ok(ots(`--repo=${repo}`, 'commit', '-b', 'main', `--tree=dir=${await makeBasicTree(path.join(dir, 'tree'))}`));
  const empty = await ots(`--repo=${repo}`, 'refs', '--create=', c);
  cleanFailure(empty, 'refs --create=', /Invalid refspec/);
  assert.equal((await ostree(`--repo=${repo}`, 'refs', '--create=', c)).code, empty.code, 'the exit status ostree gives');
  const long = 'a'.repeat(300);
  for (const name of [long, `os/${long}/x`]) cleanFailure(await ots(`--repo=${repo}`, 'refs', `--create=${name}`, c), `a ${name.length}-character ref`, /over the 255 bytes a file name may have/);
  cleanFailure(await ots(`--repo=${repo}`, 'commit', '-b', long, `--tree=ref=${c}`), 'commit -b with a long name', /over the 255 bytes/);
  assert.equal(await ok(ots(`--repo=${repo}`, 'refs')), 'main');
});

test('a ref file holding garbage is named and skipped by refs and summary -u; prune and fsck refuse to guess', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const repo = path.join(dir, 'repo');
  await ok(ots('init', `--repo=${repo}`, '--mode=archive'));
  const c = await ok(ots(`--repo=${repo}`, 'commit', '-b', 'main', `--tree=dir=${await makeBasicTree(path.join(dir, 'tree'))}`));
  await writeFile(path.join(repo, 'refs', 'heads', 'torn'), 'garbage\n');
  const refs = await ots(`--repo=${repo}`, 'refs');
  assert.equal(refs.code, 0, refs.stderr);
  assert.equal(refs.stdout, 'main\n');
  assert.match(refs.stderr, /Ref 'torn' \(.*refs\/heads\/torn\) does not hold a valid checksum/);
  const summary = await ots(`--repo=${repo}`, 'summary', '-u');
  assert.equal(summary.code, 0, summary.stderr);
  assert.match(summary.stderr, /left out of the summary: Ref 'torn'/);
  const view = await ok(ots(`--repo=${repo}`, 'summary', '--view'));
  assert.match(view, /^\* main\n/m);
  assert.doesNotMatch(view, /torn/);
  for (const verb of [['prune', '--refs-only'], ['fsck']]) cleanFailure(await ots(`--repo=${repo}`, ...verb), verb.join(' '), /Ref 'torn'/);
  assert.equal(await ok(ots(`--repo=${repo}`, 'rev-parse', 'main')), c, 'nothing was pruned');
});
