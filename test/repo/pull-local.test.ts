/**
 * `pull-local` against the real `ostree pull-local`: from every repository
 * mode into every mode, both tools end with the same refs and the same object
 * files, both fscks are clean, and each tool reads what the other wrote.
 * Options (--remote, checksums, --depth, --commit-metadata-only, bindings,
 * --untrusted, --gpg-verify), and an interrupted copy that resumes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { MODES, isRoot, ok, ostree, ots, requireOstree, requireTool, run, tempDir } from '../helpers/env.js';
import { makeBasicTree, makeOwnedTree, makeRichTree, makeXattrTree } from '../helpers/trees.js';
import type { OstreeTsError } from '../../src/errors/index.js';
import { Repo, pullLocal } from '../../src/repo/index.js';

/** Object files (XX/REST.TYPE, .filez and .file alike), refs, and partial marks of a repository. */
async function contents(repo: string): Promise<{ objects: string[]; refs: string; partial: string[] }> {
  const objects: string[] = [];
  for (const fan of (await readdir(path.join(repo, 'objects')).catch(() => [] as string[])).sort()) {
    for (const name of (await readdir(path.join(repo, 'objects', fan))).sort()) objects.push(`${fan}/${name.replace(/\.filez$/, '.file')}`);
  }
  const partial = (await readdir(path.join(repo, 'state')).catch(() => [] as string[])).filter((n) => n.endsWith('.commitpartial')).sort();
  return { objects, refs: await ok(ostree(`--repo=${repo}`, 'refs')), partial };
}

async function fsckBoth(repo: string, what: string): Promise<void> {
  const a = await ots(`--repo=${repo}`, 'fsck');
  assert.equal(a.code, 0, `ostree-ts fsck ${what}: ${a.stderr}${a.stdout}`);
  const b = await ostree('fsck', `--repo=${repo}`);
  assert.equal(b.code, 0, `ostree fsck ${what}: ${b.stderr}${b.stdout}`);
}

/** Sources in every mode, made by the real ostree from one archive repository (two commits on os/stable, one more ref). */
async function makeSources(dir: string, opts: { rich: boolean }): Promise<{ upstream: string; sources: Record<string, string> }> {
  const tree = path.join(dir, 'tree');
  if (opts.rich) {
    await makeRichTree(tree);
    await makeXattrTree(path.join(tree, 'x'));
  } else {
    await makeBasicTree(tree);
  }
  const upstream = path.join(dir, 'upstream');
  await ok(ostree('init', `--repo=${upstream}`, '--mode=archive'));
  await ok(ostree(`--repo=${upstream}`, 'commit', '-b', 'os/stable', `--tree=dir=${tree}`, '-s', 'first'));
  await writeFile(path.join(tree, 'hello.txt'), 'hello again\n');
  await ok(ostree(`--repo=${upstream}`, 'commit', '-b', 'os/stable', `--tree=dir=${tree}`, '-s', 'second'));
  await ok(ostree(`--repo=${upstream}`, 'commit', '-b', 'apps/tool', `--tree=dir=${path.join(tree, 'sub')}`, '-s', 'tool'));
  const sources: Record<string, string> = {};
  for (const mode of MODES) {
    if (opts.rich && mode === 'bare-user-only') continue; // setuid files and xattrs cannot live there
    const src = path.join(dir, `src-${mode}`);
    await ok(ostree('init', `--repo=${src}`, `--mode=${mode}`));
    await ok(ostree(`--repo=${src}`, 'pull-local', '--depth=-1', upstream));
    sources[mode] = src;
  }
  return { upstream, sources };
}

async function comparePair(dir: string, src: string, srcMode: string, dstMode: string, upstream: string): Promise<void> {
  const what = `${srcMode} → ${dstMode}`;
  const ours = path.join(dir, `ours-${srcMode}-${dstMode}`);
  const theirs = path.join(dir, `theirs-${srcMode}-${dstMode}`);
  await ok(ots('init', `--repo=${ours}`, `--mode=${dstMode}`));
  await ok(ostree('init', `--repo=${theirs}`, `--mode=${dstMode}`));
  const a = await ots(`--repo=${ours}`, 'pull-local', src);
  const b = await ostree(`--repo=${theirs}`, 'pull-local', src);
  assert.equal(b.code, 0, `ostree pull-local ${what}: ${b.stderr}`);
  assert.equal(a.code, 0, `ostree-ts pull-local ${what}: ${a.stderr}`);
  // The same summary line, counts and bytes written alike.
  assert.equal(a.stdout, b.stdout, `pull-local output ${what}`);
  assert.deepEqual(await contents(ours), await contents(theirs), `refs and objects ${what}`);
  await fsckBoth(ours, what);
  // ostree reads every entry (modes, owners, xattrs) of what ostree-ts wrote as it reads the original.
  for (const ref of ['os/stable', 'apps/tool']) {
    assert.equal(await ok(ostree(`--repo=${ours}`, 'ls', '-R', '-C', '-X', ref)), await ok(ostree(`--repo=${upstream}`, 'ls', '-R', '-C', '-X', ref)), `ls ${ref} ${what}`);
  }
  // And the other way: ostree copies out of what ostree-ts wrote.
  const back = path.join(dir, `back-${srcMode}-${dstMode}`);
  await ok(ostree('init', `--repo=${back}`, '--mode=archive'));
  await ok(ostree(`--repo=${back}`, 'pull-local', '--untrusted', ours));
  await fsckBoth(back, `${what} → archive (ostree)`);
}

test('pull-local from every mode into every mode matches ostree pull-local', { timeout: 10 * 60 * 1000 }, async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const { upstream, sources } = await makeSources(dir, { rich: false });
  for (const [srcMode, src] of Object.entries(sources)) {
    for (const dstMode of MODES) await comparePair(dir, src, srcMode, dstMode, upstream);
  }
});

test('pull-local with owners, xattrs, setuid bits and a large file, archive ↔ bare', { timeout: 10 * 60 * 1000 }, async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const { upstream, sources } = await makeSources(dir, { rich: true });
  if (isRoot) await makeOwnedTree(path.join(dir, 'owned'));
  for (const [srcMode, src] of Object.entries(sources)) {
    for (const dstMode of ['archive', 'bare', 'bare-user'] as const) {
      if (dstMode === 'bare' && !isRoot) continue;
      await comparePair(dir, src, srcMode, dstMode, upstream);
    }
  }
  // bare-user-only keeps no owners, xattrs or setuid bits: such content is refused by name, never
  // stored in a form that fails its own checksum (ostree 2022.7 stores it, or refuses).
  const buo = path.join(dir, 'ours-bare-user-only');
  await ok(ots('init', `--repo=${buo}`, '--mode=bare-user-only'));
  const refused = await ots(`--repo=${buo}`, 'pull-local', sources.archive);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /Content object [0-9a-f]{64} cannot be stored in this bare-user-only repository as it is: it has /);
  assert.equal(await ok(ostree(`--repo=${buo}`, 'refs')), '');
  await fsckBoth(buo, 'after refusing what bare-user-only cannot hold');
  const theirsBuo = path.join(dir, 'theirs-bare-user-only');
  await ok(ostree('init', `--repo=${theirsBuo}`, '--mode=bare-user-only'));
  const copied = await ostree(`--repo=${theirsBuo}`, 'pull-local', sources.archive);
  if (copied.code === 0) assert.notEqual((await ostree('fsck', `--repo=${theirsBuo}`)).code, 0, 'ostree stored objects that fail their checksum');
  // Checked out from what ostree-ts copied, the tree is the original, byte for byte.
  const a = path.join(dir, 'co-ours');
  const b = path.join(dir, 'co-upstream');
  await ok(ostree(`--repo=${path.join(dir, 'ours-archive-bare-user')}`, 'checkout', '-U', 'os/stable', a));
  await ok(ostree(`--repo=${upstream}`, 'checkout', '-U', 'os/stable', b));
  await ok(run('diff', ['-r', '--no-dereference', a, b]));
});

test('pull-local options: --remote, checksums, --depth, --commit-metadata-only, bindings', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const { sources } = await makeSources(dir, { rich: false });
  const src = sources['bare-user'];
  const second = await ok(ostree(`--repo=${src}`, 'rev-parse', 'os/stable'));
  const first = await ok(ostree(`--repo=${src}`, 'rev-parse', 'os/stable^'));
  const both = async (name: string, mode: string, ...args: string[]): Promise<void> => {
    const ours = path.join(dir, `o-${name}`);
    const theirs = path.join(dir, `t-${name}`);
    await ok(ots('init', `--repo=${ours}`, `--mode=${mode}`));
    await ok(ostree('init', `--repo=${theirs}`, `--mode=${mode}`));
    const a = await ots(`--repo=${ours}`, 'pull-local', ...args);
    const b = await ostree(`--repo=${theirs}`, 'pull-local', ...args);
    assert.equal(a.code, b.code, `${name}: ${a.stderr} / ${b.stderr}`);
    assert.deepEqual(await contents(ours), await contents(theirs), name);
    if (a.code === 0) await fsckBoth(ours, name);
  };
  await both('remote', 'archive', '--remote=origin', src, 'os/stable');
  assert.equal(await ok(ots(`--repo=${path.join(dir, 'o-remote')}`, 'rev-parse', 'origin:os/stable')), second);
  await both('checksum', 'bare-user', src, first);
  assert.equal(await ok(ostree(`--repo=${path.join(dir, 'o-checksum')}`, 'refs')), '', 'a checksum writes no ref');
  await both('depth-all', 'archive', '--depth=-1', src, 'os/stable');
  await both('depth-1', 'bare-user', '--depth=1', src, 'os/stable');
  await both('depth-0', 'archive', src, 'os/stable');
  await both('metadata-only', 'archive', '--commit-metadata-only', src, 'os/stable');
  assert.equal((await contents(path.join(dir, 'o-metadata-only'))).partial.length, 1, 'the commit is left partial');
  await both('all-refs', 'bare-user', src);
  // Bindings: the commit of os/stable may not be copied as another ref, unless asked.
  await ok(ostree(`--repo=${src}`, 'refs', '--create=alias', 'os/stable'));
  const bound = path.join(dir, 'bound');
  await ok(ots('init', `--repo=${bound}`, '--mode=archive'));
  const r = await ots(`--repo=${bound}`, 'pull-local', src, 'alias');
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`Commit ${second} has no requested ref ‘alias’ in ref binding metadata \\(‘os/stable’\\)`));
  assert.deepEqual((await contents(bound)).objects, [], 'refused before anything was copied');
  await assert.rejects(pullLocal(await Repo.open(bound), await Repo.open(src), ['alias']), (e: OstreeTsError) => {
    assert.equal(e.code, 'E_REF_BINDING');
    assert.deepEqual(e.data, { checksum: second, ref: 'alias', bindings: ['os/stable'], collectionId: null });
    return true;
  });
  await both('unbound', 'archive', '--disable-verify-bindings', src, 'alias');
  // Refs of remotes in the source, and refs it does not have, are refused by name.
  await ok(ostree(`--repo=${src}`, 'refs', '--create=up:os/stable', 'os/stable'));
  const refused = await ots(`--repo=${bound}`, 'pull-local', src, 'up:os/stable');
  assert.match(refused.stderr, /Invalid ref name up:os\/stable/);
  assert.match((await ots(`--repo=${bound}`, 'pull-local', src, 'no/such')).stderr, /has no ref no\/such/);
  assert.match((await ots(`--repo=${bound}`, 'pull-local', '--gpg-verify', src, 'os/stable')).stderr, /Must specify remote name/);
});

test('pull-local refuses corrupt source objects by name, and an interrupted copy resumes', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const { sources } = await makeSources(dir, { rich: false });
  const src = sources.archive;
  const checksum = await ok(ostree(`--repo=${src}`, 'rev-parse', 'os/stable'));
  const ls = await ok(ostree(`--repo=${src}`, 'ls', '-C', 'os/stable', '/hello.txt'));
  const fileSum = ls.split(/\s+/).find((w) => /^[0-9a-f]{64}$/.test(w)) as string;
  const obj = path.join(src, 'objects', fileSum.slice(0, 2), `${fileSum.slice(2)}.filez`);
  const original = await readFile(obj);
  const flipped = Buffer.from(original);
  flipped[flipped.length - 3] ^= 0x40;
  await writeFile(obj, flipped);
  // --untrusted into archive, and any conversion (which hashes what it converts), refuse it.
  for (const [mode, args] of [['archive', ['--untrusted']], ['bare-user', []]] as const) {
    const dst = path.join(dir, `victim-${mode}`);
    await ok(ots('init', `--repo=${dst}`, `--mode=${mode}`));
    const r = await ots(`--repo=${dst}`, 'pull-local', ...args, src, 'os/stable');
    assert.equal(r.code, 1, mode);
    assert.match(r.stderr, new RegExp(`Object ${fileSum}\\.file in ${src.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is corrupt`));
    assert.equal(await ok(ostree(`--repo=${dst}`, 'refs')), '', 'no ref');
    await fsckBoth(dst, `after refusing a corrupt object (${mode})`);
    const theirs = path.join(dir, `theirs-${mode}`);
    await ok(ostree('init', `--repo=${theirs}`, `--mode=${mode}`));
    const b = await ostree(`--repo=${theirs}`, 'pull-local', ...args, src, 'os/stable');
    if (args.length) assert.notEqual(b.code, 0, 'ostree pull-local --untrusted refuses it too');
    // A trusted ostree pull-local converts without checking, and stores the damage.
    else if (b.code === 0) assert.notEqual((await ostree('fsck', `--repo=${theirs}`)).code, 0, 'ostree stored a corrupt object');
    // Repaired, the same copy completes.
    await writeFile(obj, original);
    await ok(ots(`--repo=${dst}`, 'pull-local', ...args, src, 'os/stable'));
    assert.equal(await ok(ots(`--repo=${dst}`, 'rev-parse', 'os/stable')), checksum);
    assert.deepEqual((await contents(dst)).partial, []);
    await fsckBoth(dst, `repaired (${mode})`);
    await writeFile(obj, flipped);
  }
  await writeFile(obj, original);

  // A missing object stops the copy with the commit marked partial; once it is back, the copy resumes.
  const away = `${obj}.away`;
  await rename(obj, away);
  const dst = path.join(dir, 'resume');
  await ok(ots('init', `--repo=${dst}`, '--mode=bare-user'));
  const r = await ots(`--repo=${dst}`, 'pull-local', src, 'os/stable');
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`Object ${fileSum}\\.file is missing from`));
  assert.deepEqual((await contents(dst)).partial, [`${checksum}.commitpartial`]);
  assert.equal(await ok(ostree(`--repo=${dst}`, 'refs')), '');
  await fsckBoth(dst, 'with a partial commit');
  await rename(away, obj);
  await ok(ots(`--repo=${dst}`, 'pull-local', src, 'os/stable'));
  assert.deepEqual((await contents(dst)).partial, []);
  await fsckBoth(dst, 'resumed');

  // Stopped after a few durable batches (in process, by signal): what was stored stays, the rest follows.
  const big = path.join(dir, 'big-tree');
  for (let d = 0; d < 8; d++) {
    await mkdir(path.join(big, `d${d}`), { recursive: true });
    for (let f = 0; f < 40; f++) await writeFile(path.join(big, `d${d}`, `f${f}`), `file ${d}/${f}\n`);
  }
  const bigSrc = path.join(dir, 'big-src');
  await ok(ostree('init', `--repo=${bigSrc}`, '--mode=archive'));
  const bigCommit = await ok(ostree(`--repo=${bigSrc}`, 'commit', '-b', 'big', `--tree=dir=${big}`));
  const cut = path.join(dir, 'cut');
  await ok(ots('init', `--repo=${cut}`, '--mode=bare-user'));
  const controller = new AbortController();
  await assert.rejects(pullLocal(await Repo.open(cut), await Repo.open(bigSrc), ['big'], {
    batch: 20, concurrency: 1, signal: controller.signal,
    onProgress: (e) => { if (e.content >= 100) controller.abort(); },
  }));
  const partway = await contents(cut);
  assert.deepEqual(partway.partial, [`${bigCommit}.commitpartial`]);
  assert.equal(partway.refs, '');
  assert.ok(partway.objects.length >= 80 && partway.objects.length < 330, `kept ${partway.objects.length} objects`);
  await fsckBoth(cut, 'cut short');
  const resumed = await ok(ots(`--repo=${cut}`, 'pull-local', '--json', bigSrc, 'big'));
  const doc = JSON.parse(resumed) as { metadataImported: number; contentImported: number };
  assert.ok(doc.contentImported < 320, `only the rest is copied (${doc.contentImported})`);
  const reference = path.join(dir, 'cut-reference');
  await ok(ostree('init', `--repo=${reference}`, '--mode=bare-user'));
  await ok(ostree(`--repo=${reference}`, 'pull-local', bigSrc, 'big'));
  assert.deepEqual(await contents(cut), await contents(reference));
});

test('pull-local --gpg-verify checks commits and the summary with the keys of --remote', async (t) => {
  if (!(await requireOstree(t)) || !(await requireTool(t, 'gpg', 'gnupg'))) return;
  const dir = await tempDir(t);
  const home = path.join(dir, 'gnupg');
  await mkdir(home, { mode: 0o700 });
  const gpg = (...a: string[]): Promise<string> => ok(run('gpg', ['--homedir', home, '--batch', '--pinentry-mode', 'loopback', '--passphrase', '', ...a]), `gpg ${a[0]}`);
  await gpg('--quick-gen-key', 'Release Key <release@example.org>', 'rsa2048', 'sign', 'never');
  const fpr = (await gpg('--list-keys', '--with-colons')).split('\n').find((l) => l.startsWith('fpr:'))?.split(':')[9] as string;
  const pub = path.join(dir, 'release.asc');
  await writeFile(pub, await gpg('--export', '--armor'));
  const tree = await makeBasicTree(path.join(dir, 'tree'));
  const src = path.join(dir, 'src');
  await ok(ostree('init', `--repo=${src}`, '--mode=archive'));
  await ok(ostree(`--repo=${src}`, 'commit', '-b', 'signed', `--tree=dir=${tree}`, `--gpg-homedir=${home}`, `--gpg-sign=${fpr}`));
  await ok(ostree(`--repo=${src}`, 'commit', '-b', 'unsigned', `--tree=dir=${tree}`, '-s', 'unsigned'));
  const dst = path.join(dir, 'dst');
  await ok(ots('init', `--repo=${dst}`, '--mode=bare-user'));
  await ok(ots(`--repo=${dst}`, 'remote', 'add', `--gpg-import=${pub}`, 'origin', `file://${src}`));
  const r = await ots(`--repo=${dst}`, 'pull-local', '--remote=origin', '--gpg-verify', src, 'unsigned');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /has no GPG signature/);
  assert.deepEqual((await contents(dst)).objects, [], 'refused before any content');
  await ok(ots(`--repo=${dst}`, 'pull-local', '--remote=origin', '--gpg-verify', src, 'signed'));
  assert.equal(await ok(ots(`--repo=${dst}`, 'rev-parse', 'origin:signed')), await ok(ostree(`--repo=${src}`, 'rev-parse', 'signed')));
  // The summary: unsigned is refused, signed passes.
  await ok(ostree(`--repo=${src}`, 'summary', '-u'));
  assert.match((await ots(`--repo=${dst}`, 'pull-local', '--remote=origin', '--gpg-verify-summary', src, 'signed')).stderr, /The summary has no GPG signature/);
  await ok(ostree(`--repo=${src}`, 'summary', '-u', `--gpg-homedir=${home}`, `--gpg-sign=${fpr}`));
  await ok(ots(`--repo=${dst}`, 'pull-local', '--remote=origin', '--gpg-verify-summary', src, 'unsigned'));
  await fsckBoth(dst, 'after verified copies');
});
