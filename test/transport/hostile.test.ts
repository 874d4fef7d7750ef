/**
 * A hostile or broken server. An honest archive repository (built with the
 * real ostree, summary signed with ed25519 and OpenPGP) is served; a copy of
 * it is tampered with and served too, one way per case:
 *
 *  (a) dirtrees naming '..', '.', a path with '/', an empty name (at the root
 *      and deeper), a dirmeta that is not a directory and a content object that
 *      is a device, each with a correct checksum and referenced from a commit
 *      whose checksum is correct too, so only validation can catch them;
 *  (b) a commit (and a dirtree) whose content does not match its name;
 *  (c) a summary or summary.sig that fails the remote's signature policy;
 *  (d) objects answered with 404 in the middle of a pull.
 *
 * Each time the pull fails naming the object (checksum and type) or the file;
 * the ref is neither created nor moved; both fscks are clean; and with the
 * remote pointed back at the honest server, the next pull succeeds and checks
 * out identical to the upstream.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { chmod, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { isRoot, ok, ostree, ots, requireOstree, requireTool, run, tempDir } from '../helpers/env.js';
import { serveRepo } from '../helpers/serve.js';
import { makeBasicTree } from '../helpers/trees.js';
import {
  S_IFDIR, S_IFREG, decodeCommit, decodeDirTree, encodeArchiveHeader, encodeCommit, encodeDirMeta, encodeDirTree,
  encodeFileHeader, sha256Hex, sortByName, type DirTree, type FileHeader,
} from '../../src/format/index.js';
import { encodeSummary, decodeSummary } from '../../src/repo/summary.js';

interface World {
  dir: string;
  honest1: string;
  honest2: string;
  tampered: string;
  url1: string;
  url2: string;
  urlT: string;
  v1: string;
  v2: string;
  edPublic: string;
  edSecret: string;
  gpg: { pub: string; sec: string; fpr: string; otherSec: string; otherFpr: string } | null;
  checkout2: string;
}

const REF = 'os/stable';

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function objectFile(repo: string, checksum: string, suffix: string): string {
  return path.join(repo, 'objects', checksum.slice(0, 2), `${checksum.slice(2)}.${suffix}`);
}

async function putObject(repo: string, bytes: Buffer, suffix: string, checksum = sha256Hex(bytes)): Promise<string> {
  const f = objectFile(repo, checksum, suffix);
  await mkdir(path.dirname(f), { recursive: true });
  await writeFile(f, bytes);
  return checksum;
}

async function gpgKeys(t: TestContext, dir: string): Promise<World['gpg']> {
  if (!(await requireTool(t, 'gpg', 'gnupg'))) return null;
  const home = path.join(dir, 'gnupg');
  await mkdir(home, { mode: 0o700 });
  const gpg = (...a: string[]): Promise<string> => ok(run('gpg', ['--homedir', home, '--batch', '--pinentry-mode', 'loopback', '--passphrase', '', ...a]), `gpg ${a[0]}`);
  await gpg('--quick-gen-key', 'Release Key <release@example.org>', 'ed25519', 'sign', 'never');
  await gpg('--quick-gen-key', 'Intruder <intruder@example.net>', 'ed25519', 'sign', 'never');
  const fprs = (await gpg('--list-keys', '--with-colons')).split('\n').filter((l) => l.startsWith('fpr:')).map((l) => l.split(':')[9]);
  const pub = path.join(dir, 'release.pub.asc');
  const sec = path.join(dir, 'release.sec.asc');
  const otherSec = path.join(dir, 'intruder.sec.asc');
  await writeFile(pub, await gpg('--export', '--armor', fprs[0]));
  await writeFile(sec, await gpg('--export-secret-keys', '--armor', fprs[0]), { mode: 0o600 });
  await writeFile(otherSec, await gpg('--export-secret-keys', '--armor', fprs[1]), { mode: 0o600 });
  return { pub, sec, fpr: fprs[0], otherSec, otherFpr: fprs[1] };
}

/** Regenerate and sign the summary of `repo` with the release keys. */
async function signSummary(w: World, repo: string): Promise<void> {
  const gpg = w.gpg ? [`--gpg-sign=${w.gpg.fpr}`, `--gpg-key-file=${w.gpg.sec}`] : [];
  await ok(ots(`--repo=${repo}`, 'summary', '-u', `--keys-file=${w.edSecret}`, ...gpg));
}

async function setUp(t: TestContext): Promise<World> {
  const dir = await tempDir(t);
  const tree = await makeBasicTree(path.join(dir, 'tree'));
  for (let i = 0; i < 30; i++) await writeFile(path.join(tree, 'sub', `f${i}`), `file ${i}\n`.repeat(i + 1));
  const honest1 = path.join(dir, 'honest1');
  await ok(ostree('init', `--repo=${honest1}`, '--mode=archive'));
  const v1 = await ok(ostree(`--repo=${honest1}`, 'commit', '-b', REF, `--tree=dir=${tree}`, '-s', 'v1'));
  const keys = path.join(dir, 'keys');
  await ok(ots('sign', 'generate', `--out=${keys}`));
  const w: World = {
    dir, honest1, honest2: path.join(dir, 'honest2'), tampered: path.join(dir, 'tampered'), url1: '', url2: '', urlT: '',
    v1, v2: '', edPublic: (await readFile(path.join(keys, 'public.ed25519'), 'utf8')).trim(), edSecret: path.join(keys, 'secret.ed25519'),
    gpg: await gpgKeys(t, dir), checkout2: path.join(dir, 'checkout2'),
  };
  await signSummary(w, honest1);
  await ok(run('cp', ['-a', honest1, w.honest2]));
  await writeFile(path.join(tree, 'hello.txt'), 'hello, version two\n');
  await writeFile(path.join(tree, 'sub', 'nested', 'new.txt'), 'new in v2\n');
  // A directory with its own mode: a dirmeta that v1 does not have.
  await mkdir(path.join(tree, 'private'), { mode: 0o700 });
  await chmod(path.join(tree, 'private'), 0o700);
  await writeFile(path.join(tree, 'private', 'key'), 'v2 secret\n');
  w.v2 = await ok(ostree(`--repo=${w.honest2}`, 'commit', '-b', REF, `--tree=dir=${tree}`, '-s', 'v2'));
  await signSummary(w, w.honest2);
  await ok(run('cp', ['-a', w.honest2, w.tampered]));
  await ok(ostree(`--repo=${w.honest2}`, 'checkout', '-U', REF, w.checkout2));
  w.url1 = (await serveRepo(t, honest1, dir)).url;
  w.url2 = (await serveRepo(t, w.honest2, dir)).url;
  w.urlT = (await serveRepo(t, w.tampered, dir)).url;
  return w;
}

/** The tampered repository back to a copy of the honest one (same directory: its server keeps serving it). */
async function resetTampered(w: World): Promise<void> {
  for (const n of await readdir(w.tampered)) await rm(path.join(w.tampered, n), { recursive: true, force: true });
  await ok(run('cp', ['-a', `${w.honest2}/.`, w.tampered]));
}

/** A commit like v2 but with another root tree (and dirmeta), named correctly; the ref and a signed summary follow it. */
async function publishCommit(w: World, rootTree: string, rootMeta?: string): Promise<string> {
  const c = decodeCommit(await readFile(objectFile(w.tampered, w.v2, 'commit')), w.v2);
  const commit = await putObject(w.tampered, encodeCommit({ ...c, subject: 'v2 (tampered)', rootTree, rootMeta: rootMeta ?? c.rootMeta }), 'commit');
  await writeFile(path.join(w.tampered, 'refs', 'heads', REF), `${commit}\n`);
  await signSummary(w, w.tampered);
  return commit;
}

async function readTree(repo: string, checksum: string): Promise<DirTree> {
  return decodeDirTree(await readFile(objectFile(repo, checksum, 'dirtree')), checksum);
}

async function rootOf(w: World): Promise<{ tree: string; meta: string; root: DirTree }> {
  const c = decodeCommit(await readFile(objectFile(w.tampered, w.v2, 'commit')), w.v2);
  return { tree: c.rootTree, meta: c.rootMeta, root: await readTree(w.tampered, c.rootTree) };
}

function writeTree(w: World, t: DirTree): Promise<string> {
  return putObject(w.tampered, encodeDirTree({ files: sortByName([...t.files]), dirs: sortByName([...t.dirs]) }), 'dirtree');
}

/** A content object with this header and content, named by its checksum, added to the root of a published commit. */
async function publishContent(w: World, name: string, header: FileHeader, content: Buffer): Promise<string> {
  const isLink = (header.mode & 0o170000) === 0o120000;
  if (isLink) content = Buffer.alloc(0);
  const checksum = sha256Hex(encodeFileHeader(header), content);
  const body = isLink ? Buffer.alloc(0) : deflateRawSync(content);
  await putObject(w.tampered, Buffer.concat([encodeArchiveHeader(header, isLink ? 0 : content.length), body]), 'filez', checksum);
  const { root } = await rootOf(w);
  await publishCommit(w, await writeTree(w, { ...root, files: [...root.files, { name, checksum }] }));
  return checksum;
}

async function remoteAdd(w: World, repo: string, url: string): Promise<void> {
  const gpg = w.gpg ? ['--set=gpg-verify-summary=true', `--gpg-import=${w.gpg.pub}`] : [];
  await ok(ots(`--repo=${repo}`, 'remote', 'add', '--no-gpg-verify', '--set=sign-verify-summary=true', `--set=verification-ed25519-key=${w.edPublic}`, ...gpg, 'origin', url));
}

async function fsckBoth(repo: string, what: string): Promise<void> {
  const a = await ots(`--repo=${repo}`, 'fsck');
  assert.equal(a.code, 0, `ostree-ts fsck ${what}: ${a.stdout}${a.stderr}`);
  const b = await ostree('fsck', `--repo=${repo}`);
  assert.equal(b.code, 0, `ostree fsck ${what}: ${b.stdout}${b.stderr}`);
}

/**
 * Pull from the tampered server into a fresh repository and into one that
 * holds v1; both must fail with `expected`, keep their refs and stay
 * fsck-clean. Then the remote goes back to the honest server and v2 arrives.
 */
/** A repository of `mode` with the remote configured (pointing at `url`), copied from a template made once per mode. */
async function victimRepo(w: World, dest: string, mode: string, withV1: boolean): Promise<void> {
  const template = path.join(w.dir, `template-${mode}-${withV1 ? 'v1' : 'empty'}`);
  if (!(await readdir(template).catch(() => null))) {
    await ok(ots('init', `--repo=${template}`, `--mode=${mode}`));
    await remoteAdd(w, template, w.url1);
    if (withV1) await ok(ots(`--repo=${template}`, 'pull', 'origin', REF), 'honest pull of v1');
  }
  await ok(run('cp', ['-a', template, dest]));
  await ok(ots(`--repo=${dest}`, 'config', 'set', 'remote "origin".url', w.urlT));
}

/**
 * Pull from the tampered server into a fresh repository and into one that
 * holds v1; both must fail with `expected`, keep their refs and stay
 * fsck-clean. Then the remote goes back to the honest server and v2 arrives.
 */
async function attack(t: TestContext, w: World, name: string, mode: 'archive' | 'bare-user' | 'bare-user-only' | 'bare', expected: RegExp): Promise<string> {
  const fresh = path.join(w.dir, `fresh-${name}`);
  await victimRepo(w, fresh, mode, false);
  const r = await ots(`--repo=${fresh}`, 'pull', 'origin', REF);
  assert.equal(r.code, 1, `${name}: the pull must fail\n${r.stdout}${r.stderr}`);
  assert.match(r.stderr, expected, name);
  assert.equal(await ok(ostree(`--repo=${fresh}`, 'refs')), '', `${name}: no ref created`);
  await fsckBoth(fresh, `${name} (fresh)`);

  const victim = path.join(w.dir, `victim-${name}`);
  await victimRepo(w, victim, mode, true);
  const again = await ots(`--repo=${victim}`, 'pull', 'origin', REF);
  assert.equal(again.code, 1, `${name}: the pull over v1 must fail`);
  assert.match(again.stderr, expected, name);
  assert.equal(await ok(ostree(`--repo=${victim}`, 'rev-parse', `origin:${REF}`)), w.v1, `${name}: the ref did not move`);
  await fsckBoth(victim, `${name} (after the refused pull)`);

  await ok(ots(`--repo=${victim}`, 'config', 'set', 'remote "origin".url', w.url2));
  await ok(ots(`--repo=${victim}`, 'pull', 'origin', REF), `${name}: honest pull of v2`);
  assert.equal(await ok(ostree(`--repo=${victim}`, 'rev-parse', `origin:${REF}`)), w.v2, `${name}: v2 arrived`);
  await fsckBoth(victim, `${name} (after the honest pull)`);
  const co = path.join(w.dir, `co-${name}`);
  await ok(ots(`--repo=${victim}`, 'checkout', '-U', `origin:${REF}`, co));
  await ok(run('diff', ['-r', '--no-dereference', co, w.checkout2]), `${name}: checkout matches`);
  t.diagnostic(`${name}: ${r.stderr.trim()}`);
  return r.stderr;
}

test('a hostile server: every bad object, summary or signature is refused by name, and nothing moves', { timeout: 15 * 60 * 1000 }, async (t) => {
  if (!(await requireOstree(t))) return;
  const w = await setUp(t);
  const mode = isRoot ? 'bare' : 'bare-user';

  // (a) Names only validation can catch: each hostile dirtree hashes to its name, and so does its commit.
  const names: Array<[string, (root: DirTree, sub: { name: string; tree: string; meta: string }, file: { name: string; checksum: string }) => DirTree, RegExp]> = [
    ['dotdot', (root, sub) => ({ ...root, dirs: [...root.dirs, { ...sub, name: '..' }] }), /its directory entry 0 has the name '\.\.' \(a path uplink\)/],
    ['dot', (root, sub) => ({ ...root, dirs: [...root.dirs, { ...sub, name: '.' }] }), /its directory entry 0 has the name '\.' \(a self-reference\)/],
    ['slash', (root, _sub, file) => ({ ...root, files: [...root.files, { ...file, name: 'a/../../../etc/passwd' }] }), /its file entry 0 has a name containing '\/' \("a\/\.\.\/\.\.\/\.\.\/etc\/passwd"\)/],
    ['empty', (root, _sub, file) => ({ ...root, files: [...root.files, { ...file, name: '' }] }), /its file entry 0 has an empty name/],
  ];
  for (const [name, make, why] of names) {
    await t.test(`(a) a dirtree naming ${name}`, async (st) => {
      await resetTampered(w);
      const { root } = await rootOf(w);
      const sub = root.dirs.find((d) => d.name === 'sub') as DirTree['dirs'][number];
      const file = root.files.find((f) => f.name === 'hello.txt') as DirTree['files'][number];
      const bad = await writeTree(w, make(root, sub, file));
      await publishCommit(w, bad);
      await attack(st, w, `name-${name}`, name === 'dot' ? 'archive' : mode,
        new RegExp(`The remote served a bad dirtree object ${bad}: Invalid dirtree ${bad}: ${why.source}`));
    });
  }
  await t.test('(a) a hostile dirtree deeper in the tree', async (st) => {
    await resetTampered(w);
    const { root } = await rootOf(w);
    const sub = root.dirs.find((d) => d.name === 'sub') as DirTree['dirs'][number];
    const subTree = await readTree(w.tampered, sub.tree);
    const badSub = await writeTree(w, { ...subTree, files: [...subTree.files, { name: '..', checksum: subTree.files[0].checksum }] });
    const newRoot = await writeTree(w, { ...root, dirs: root.dirs.map((d) => (d.name === 'sub' ? { ...d, tree: badSub } : d)) });
    await publishCommit(w, newRoot);
    await attack(st, w, 'nested', mode, new RegExp(`The remote served a bad dirtree object ${badSub}: Invalid dirtree ${badSub}: its file entry 0 has the name '\\.\\.' \\(a path uplink\\)`));
  });
  await t.test('(a) a dirmeta that is not a directory, a content object that is a device', async (st) => {
    await resetTampered(w);
    const { root, meta } = await rootOf(w);
    const badMeta = await putObject(w.tampered, encodeDirMeta({ uid: 0, gid: 0, mode: S_IFREG | 0o644, xattrs: [] }), 'dirmeta');
    const sub = root.dirs.find((d) => d.name === 'sub') as DirTree['dirs'][number];
    const rootWithBadMeta = await writeTree(w, { ...root, dirs: root.dirs.map((d) => (d === sub ? { ...d, meta: badMeta } : d)) });
    await publishCommit(w, rootWithBadMeta, meta);
    await attack(st, w, 'dirmeta', 'archive', new RegExp(`The remote served a bad dirmeta object ${badMeta}: Invalid dirmeta ${badMeta}: mode 0100644 is not a directory`));
    // A character device: its name is the SHA-256 of its object stream, so only the mode check refuses it.
    await resetTampered(w);
    const fresh = await rootOf(w);
    const header = { uid: 0, gid: 0, mode: 0o020644, rdev: 0, symlinkTarget: '', xattrs: [] };
    const content = Buffer.from('not really a device\n');
    const device = sha256Hex(encodeFileHeader(header), content);
    await putObject(w.tampered, Buffer.concat([encodeArchiveHeader(header, content.length), deflateRawSync(content)]), 'filez', device);
    const rootWithDevice = await writeTree(w, { ...fresh.root, files: [...fresh.root.files, { name: 'zz-device', checksum: device }] });
    await publishCommit(w, rootWithDevice);
    await attack(st, w, 'device', mode, new RegExp(`The remote served a bad file object ${device}: .*mode 020644 is neither a regular file nor a symlink`));
  });

  await t.test('(a) what a refused pull leaves behind is only what was verified', async () => {
    // A pull refused at a hostile dirtree keeps the (valid) commit it fetched first, marked partial,
    // and nothing below the bad dirtree; fsck of both tools accepts that state, and the remote
    // ref still names the old commit.
    await resetTampered(w);
    const { root } = await rootOf(w);
    const bad = await writeTree(w, { ...root, dirs: [...root.dirs, { ...root.dirs[0], name: '..' }] });
    const commit = await publishCommit(w, bad);
    const repo = path.join(w.dir, 'left');
    await ok(ots('init', `--repo=${repo}`, '--mode=archive'));
    await remoteAdd(w, repo, w.urlT);
    assert.equal((await ots(`--repo=${repo}`, 'pull', 'origin', REF)).code, 1);
    const state = (await readdir(path.join(repo, 'state'))).filter((n) => n.endsWith('.commitpartial'));
    assert.deepEqual(state, [`${commit}.commitpartial`]);
    const objects: string[] = [];
    for (const fan of await readdir(path.join(repo, 'objects'))) for (const n of await readdir(path.join(repo, 'objects', fan))) objects.push(`${fan}${n}`);
    assert.ok(!objects.some((o) => o.startsWith(bad)), 'the hostile dirtree was not stored');
    assert.ok(objects.every((o) => !o.endsWith('.dirtree') && !o.endsWith('.filez')), `only the commit (and maybe the root dirmeta): ${objects.join(', ')}`);
    await fsckBoth(repo, 'after a refused dirtree');
    assert.equal(await ok(ots(`--repo=${repo}`, 'refs')), '');
    // Its tree is not there: checking the partial commit out fails.
    const co = await ots(`--repo=${repo}`, 'checkout', '-U', commit, path.join(w.dir, 'co-partial'));
    assert.notEqual(co.code, 0);
  });

  // Objects a mode cannot hold as they are: stored, they would fail their own checksum.
  await t.test('(a) content the repository mode cannot store as it is', async (st) => {
    const user = (name: string, value: string): { name: string; value: Buffer } => ({ name, value: Buffer.from(value) });
    const cases: Array<[string, 'bare' | 'bare-user-only', FileHeader, RegExp]> = [
      ['owned-xattrs', 'bare-user-only', { uid: 1000, gid: 1000, mode: S_IFREG | 0o644, rdev: 0, symlinkTarget: '', xattrs: [user('user.note', 'x')] },
        /it has owner 1000:1000 and 1 extended attribute\(s\), which a bare-user-only repository does not keep/],
      ['symlink-0644', 'bare-user-only', { uid: 0, gid: 0, mode: 0o120644, rdev: 0, symlinkTarget: 'hello.txt', xattrs: [] },
        /it is a symlink with mode 0644, and symlinks here are always 0777/],
    ];
    if (isRoot) {
      cases.push(['unsorted-xattrs', 'bare', { uid: 0, gid: 0, mode: S_IFREG | 0o644, rdev: 0, symlinkTarget: '', xattrs: [user('user.zeta', 'z'), user('user.alpha', 'a')] },
        /its extended attributes are not sorted by name, or repeat one \(user\.alpha\)/]);
      cases.push(['empty-xattr', 'bare', { uid: 0, gid: 0, mode: S_IFREG | 0o644, rdev: 0, symlinkTarget: '', xattrs: [user('user.empty', '')] },
        /its extended attribute user\.empty is empty/]);
    }
    for (const [name, victimMode, header, why] of cases) {
      await resetTampered(w);
      const checksum = await publishContent(w, `zz-${name}`, header, Buffer.from(`content of ${name}\n`));
      await attack(st, w, name, victimMode, new RegExp(`Content object ${checksum} cannot be stored in this ${victimMode} repository as it is: ${why.source}`));
      // ostree 2022.7 stores such objects; its own fsck then finds them corrupt.
      const theirs = path.join(w.dir, `ostree-${name}`);
      await ok(ostree('init', `--repo=${theirs}`, `--mode=${victimMode}`));
      await ok(ostree(`--repo=${theirs}`, 'remote', 'add', '--no-gpg-verify', 'origin', w.urlT));
      const pulled = await ostree(`--repo=${theirs}`, 'pull', 'origin', REF);
      const checked = pulled.code === 0 ? await ostree('fsck', `--repo=${theirs}`) : pulled;
      assert.notEqual(checked.code, 0, `${name}: ostree either refuses it or stores it corrupt`);
      st.diagnostic(`${name}: ostree ${pulled.code === 0 ? `pulled it; fsck: ${checked.stderr.trim().split('\n').pop()}` : `refused: ${pulled.stderr.trim()}`}`);
    }
  });

  // (b) Content that does not match its name.
  await t.test('(b) a commit whose content does not match its name', async (st) => {
    await resetTampered(w);
    const f = objectFile(w.tampered, w.v2, 'commit');
    const bytes = await readFile(f);
    bytes[bytes.indexOf(Buffer.from('v2'))] = 'w'.charCodeAt(0);
    await writeFile(f, bytes);
    await attack(st, w, 'commit-content', mode, new RegExp(`The remote served a bad commit object ${w.v2}: its content does not match its name`));
    // Another valid commit served under v2's name: the same.
    await resetTampered(w);
    await writeFile(f, await readFile(objectFile(w.tampered, w.v1, 'commit')));
    await attack(st, w, 'commit-swapped', 'archive', new RegExp(`The remote served a bad commit object ${w.v2}: its content does not match its name`));
  });
  await t.test('(b) a dirtree whose content does not match its name', async (st) => {
    await resetTampered(w);
    const { root } = await rootOf(w);
    const sub = root.dirs.find((d) => d.name === 'sub') as DirTree['dirs'][number];
    const f = objectFile(w.tampered, sub.tree, 'dirtree');
    const bytes = await readFile(f);
    bytes[0] ^= 0x01;
    await writeFile(f, bytes);
    await attack(st, w, 'dirtree-content', mode, new RegExp(`The remote served a bad dirtree object ${sub.tree}: its content does not match its name`));
  });

  // (c) The summary and its signatures.
  const summaryFile = (): string => path.join(w.tampered, 'summary');
  const sigFile = (): string => path.join(w.tampered, 'summary.sig');
  await t.test('(c) a summary changed after it was signed', async (st) => {
    await resetTampered(w);
    const { root } = await rootOf(w);
    const bad = await writeTree(w, { ...root, dirs: [...root.dirs, { ...root.dirs[0], name: '..' }] });
    const sig = await readFile(sigFile());
    await publishCommit(w, bad);
    await writeFile(sigFile(), sig); // the honest signature, over the honest summary
    await attack(st, w, 'summary-changed', mode, /The summary has 1 ed25519 signature\(s\), none valid from the 1 trusted key\(s\), and remote 'origin' requires a valid one \(sign-verify-summary\)|The summary has 1 GPG signature\(s\), none valid/);
    // The summary's ref moved by hand, signature kept: the same.
    await resetTampered(w);
    const s = decodeSummary(await readFile(summaryFile()));
    await writeFile(summaryFile(), encodeSummary({ ...s, refs: s.refs.map((r) => ({ ...r, checksum: w.v1 })) }));
    await attack(st, w, 'summary-ref-moved', 'archive', /The summary has 1 (ed25519|GPG) signature\(s\), none valid/);
  });
  await t.test('(c) a damaged, missing or foreign summary.sig', async (st) => {
    await resetTampered(w);
    const sig = await readFile(sigFile());
    const i = sig.indexOf(Buffer.from('ostree.sign.ed25519'));
    assert.ok(i >= 0);
    sig[i + 30] ^= 0x80; // inside the 64-byte signature
    await writeFile(sigFile(), sig);
    await attack(st, w, 'sig-flipped', mode, /The summary has 1 ed25519 signature\(s\), none valid from the 1 trusted key\(s\)/);
    await resetTampered(w);
    await rm(sigFile());
    await attack(st, w, 'sig-missing', 'archive', /The summary has no (ed25519|GPG) signature/);
    await resetTampered(w);
    await writeFile(sigFile(), Buffer.from('this is not a signature file at all\n'));
    await attack(st, w, 'sig-garbage', mode, /summary\.sig/);
    if (w.gpg) {
      // Signed with ed25519 as required, but with an OpenPGP key the remote does not trust.
      await resetTampered(w);
      await rm(sigFile());
      await ok(ots(`--repo=${w.tampered}`, 'summary', `--keys-file=${w.edSecret}`, `--gpg-sign=${w.gpg.otherFpr}`, `--gpg-key-file=${w.gpg.otherSec}`));
      await attack(st, w, 'sig-foreign-gpg', mode, /The summary has 1 GPG signature\(s\), none valid from a trusted key, and remote 'origin' requires a valid one \(gpg-verify-summary\)/);
    }
  });
  await t.test('(c) a signed summary listing a ref that is not a valid name', async (st) => {
    await resetTampered(w);
    const s = decodeSummary(await readFile(summaryFile()));
    await writeFile(summaryFile(), encodeSummary({ ...s, refs: [...s.refs, { ...s.refs[0], name: '../../escape' }] }));
    await rm(sigFile());
    const gpg = w.gpg ? [`--gpg-sign=${w.gpg.fpr}`, `--gpg-key-file=${w.gpg.sec}`] : [];
    await ok(ots(`--repo=${w.tampered}`, 'summary', `--keys-file=${w.edSecret}`, ...gpg));
    await attack(st, w, 'summary-bad-ref', mode, /summary.*lists the ref "\.\.\/\.\.\/escape", which is not a valid ref name/);
  });

  // (d) 404 in the middle.
  await t.test('(d) objects missing on the server (404) in the middle of a pull', async (st) => {
    for (const [name, pick] of [
      // Only objects new in v2 are fetched over v1: sub/nested/new.txt and the directories above it.
      ['file-404', async (): Promise<[string, string]> => {
        const { root } = await rootOf(w);
        const sub = await readTree(w.tampered, (root.dirs.find((d) => d.name === 'sub') as DirTree['dirs'][number]).tree);
        const nested = await readTree(w.tampered, sub.dirs[0].tree);
        return [nested.files.find((f) => f.name === 'new.txt')?.checksum as string, 'file'];
      }],
      ['dirtree-404', async (): Promise<[string, string]> => {
        const { root } = await rootOf(w);
        const sub = root.dirs.find((d) => d.name === 'sub') as DirTree['dirs'][number];
        return [(await readTree(w.tampered, sub.tree)).dirs[0].tree, 'dirtree'];
      }],
      ['dirmeta-404', async (): Promise<[string, string]> => [(await rootOf(w)).root.dirs.find((d) => d.name === 'private')?.meta as string, 'dirmeta']],
    ] as const) {
      await resetTampered(w);
      const [checksum, type] = await pick();
      await rm(objectFile(w.tampered, checksum, type === 'file' ? 'filez' : type));
      await attack(st, w, name, name === 'dirmeta-404' ? 'archive' : mode, new RegExp(`The remote has no ${type} object ${checksum} \\(404\\), which commit ${w.v2} needs`));
      // The commit stayed, marked partial, in the repository that was refused; the honest pull completed it.
      assert.deepEqual((await readdir(path.join(w.dir, `victim-${name}`, 'state'))).filter((n) => n.endsWith('.commitpartial')), []);
    }
    await resetTampered(w);
    await rm(objectFile(w.tampered, w.v2, 'commit'));
    await attack(st, w, 'commit-404', mode, new RegExp(`The remote has no commit object ${w.v2} \\(404\\)`));
  });
});
