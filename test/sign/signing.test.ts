/**
 * Issue 4: signed commits and summaries. GPG signatures made by ostree-ts are
 * accepted by the real ostree (pull with gpg-verify, gpgme inside) and the
 * other way round; ed25519 signatures round-trip and every kind of bad or
 * missing signature is refused naming the commit and the policy; secret key
 * files are private; the summary is byte-identical to ostree's.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { chmod, mkdir, readFile, stat, writeFile, copyFile } from 'node:fs/promises';
import { ok, ostree, ots, requireOstree, requireTool, run, tempDir } from '../helpers/env.js';
import { decodeSummary } from '../../src/repo/index.js';
import { decodeMetadata, encodeMetadata, swap64 } from '../../src/format/index.js';

async function gpgKeys(t: TestContext, dir: string): Promise<{ home: string; sec: string; pub: string; rsa: string; ed: string }> {
  const home = path.join(dir, 'gnupg');
  await mkdir(home, { mode: 0o700 });
  const gpg = (...a: string[]): Promise<string> => ok(run('gpg', ['--homedir', home, '--batch', '--pinentry-mode', 'loopback', '--passphrase', '', ...a]), `gpg ${a[0]}`);
  await gpg('--quick-gen-key', 'Release Key <release@example.org>', 'rsa2048', 'sign', 'never');
  await gpg('--quick-gen-key', 'Edwards Key <ed@example.org>', 'ed25519', 'sign', 'never');
  const fprs = (await gpg('--list-keys', '--with-colons')).split('\n').filter((l) => l.startsWith('fpr:')).map((l) => l.split(':')[9]);
  const sec = path.join(dir, 'release.sec.asc');
  const pub = path.join(dir, 'release.pub.asc');
  await writeFile(sec, await gpg('--export-secret-keys', '--armor'), { mode: 0o600 });
  await writeFile(pub, await gpg('--export', '--armor'));
  void t;
  return { home, sec, pub, rsa: fprs[0], ed: fprs[1] };
}

async function tree(dir: string): Promise<string> {
  const t = path.join(dir, 'tree');
  await mkdir(path.join(t, 'usr', 'bin'), { recursive: true });
  await writeFile(path.join(t, 'usr', 'bin', 'hello'), '#!/bin/sh\necho hello\n');
  return t;
}

test('GPG: ostree pulls and accepts commits and summaries signed by ostree-ts, and ostree-ts verifies what ostree signed', { timeout: 5 * 60 * 1000 }, async (t) => {
  if (!(await requireOstree(t))) return;
  if (!(await requireTool(t, 'gpg', 'gnupg'))) return;
  const dir = await tempDir(t);
  const keys = await gpgKeys(t, dir);
  const src = await tree(dir);
  const ours = path.join(dir, 'ours');
  await ok(ots('init', `--repo=${ours}`, '--mode=archive'));
  // Signed by each key type, in the commit itself and afterwards with gpg-sign.
  const a = await ok(ots(`--repo=${ours}`, 'commit', '-b', 'os/rsa', `--tree=dir=${src}`, '--gpg-sign=release@example.org', `--gpg-key-file=${keys.sec}`));
  const b = await ok(ots(`--repo=${ours}`, 'commit', '-b', 'os/ed', `--tree=dir=${src}`, '-s', 'ed'));
  await ok(ots(`--repo=${ours}`, 'gpg-sign', 'os/ed', keys.ed, `--gpg-homedir=${dir}`));
  await ok(ots(`--repo=${ours}`, 'commit', '-b', 'os/unsigned', `--tree=dir=${src}`, '-s', 'unsigned'));
  await ok(ots(`--repo=${ours}`, 'summary', '-u', `--gpg-sign=${keys.rsa}`, `--gpg-key-file=${keys.sec}`));
  const theirs = path.join(dir, 'theirs');
  await ok(ostree('init', `--repo=${theirs}`, '--mode=bare-user'));
  await ok(ostree(`--repo=${theirs}`, 'remote', 'add', '--set=gpg-verify-summary=true', `--gpg-import=${keys.pub}`, 'origin', `file://${ours}`));
  for (const [ref, checksum, who] of [['os/rsa', a, 'Release Key'], ['os/ed', b, 'Edwards Key']] as const) {
    await ok(ostree(`--repo=${theirs}`, 'pull', 'origin', ref), `ostree pull ${ref}`);
    assert.equal(await ok(ostree(`--repo=${theirs}`, 'rev-parse', `origin:${ref}`)), checksum);
    const shown = await ok(ostree(`--repo=${theirs}`, 'show', `origin:${ref}`));
    assert.match(shown, new RegExp(`Good signature from "${who}`));
  }
  const refused = await ostree(`--repo=${theirs}`, 'pull', 'origin', 'os/unsigned');
  assert.notEqual(refused.code, 0, 'ostree refuses an unsigned commit under gpg-verify');
  assert.match(refused.stderr, /GPG|signature/i);
  // The other way: ostree signs (gpgme, a real GnuPG home), ostree-ts verifies.
  const theirSigned = path.join(dir, 'their-signed');
  await ok(ostree('init', `--repo=${theirSigned}`, '--mode=archive'));
  const c = await ok(ostree(`--repo=${theirSigned}`, 'commit', '-b', 'x', `--tree=dir=${src}`));
  await ok(ostree(`--repo=${theirSigned}`, 'gpg-sign', `--gpg-homedir=${keys.home}`, 'x', keys.rsa));
  await ok(ostree(`--repo=${theirSigned}`, 'summary', '-u', `--gpg-homedir=${keys.home}`, `--gpg-sign=${keys.ed}`));
  await ok(ots(`--repo=${theirSigned}`, 'remote', 'add', `--gpg-import=${keys.pub}`, '--set=gpg-verify-summary=true', 'self', 'file:///unused'));
  const v = JSON.parse(await ok(ots(`--repo=${theirSigned}`, 'verify', '--remote=self', '--json', 'x'))) as { subject: string; gpg: { fingerprint: string } };
  assert.equal(v.subject, c);
  assert.equal(v.gpg.fingerprint, keys.rsa.toLowerCase());
  const vs = JSON.parse(await ok(ots(`--repo=${theirSigned}`, 'verify', '--remote=self', '--summary', '--json'))) as { gpg: { fingerprint: string } };
  assert.equal(vs.gpg.fingerprint, keys.ed.toLowerCase());
  // The binary keyring ostree-ts wrote for `remote add --gpg-import` is one ostree reads too.
  await copyFile(path.join(theirSigned, 'self.trustedkeys.gpg'), path.join(dir, 'keyring.gpg'));
  const alien = path.join(dir, 'alien');
  await ok(ostree('init', `--repo=${alien}`, '--mode=archive'));
  await ok(ostree(`--repo=${alien}`, 'remote', 'add', `--set=gpgkeypath=${path.join(dir, 'keyring.gpg')}`, 'o', `file://${ours}`));
  await ok(ostree(`--repo=${alien}`, 'pull', 'o', 'os/rsa'), 'ostree pull with our binary keyring');
  // A key that is not trusted does not verify.
  const other = path.join(dir, 'other.pub.asc');
  await writeFile(other, (await readFile(keys.pub, 'utf8')).replace(/.*/s, ''));
  const bad = await ots(`--repo=${ours}`, 'verify', '--gpg-key-file', keys.pub, 'os/unsigned');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, new RegExp(`Commit ${(await ok(ots(`--repo=${ours}`, 'rev-parse', 'os/unsigned')))} has no GPG signature`));
  assert.match(bad.stderr, /gpg-verify/);
});

test('ed25519: round trip, and each bad signature is refused naming the commit and the policy', async (t) => {
  const dir = await tempDir(t);
  const src = await tree(dir);
  const repo = path.join(dir, 'repo');
  await ok(ots('init', `--repo=${repo}`, '--mode=archive'));
  const keys = path.join(dir, 'keys');
  const pub = await ok(ots('sign', 'generate', '--sign-type=ed25519', `--out=${keys}`));
  assert.equal((await stat(path.join(keys, 'secret.ed25519'))).mode & 0o777, 0o600, 'secret key file is 0600');
  assert.equal((await readFile(path.join(keys, 'public.ed25519'), 'utf8')).trim(), pub);
  const other = path.join(dir, 'other');
  await ok(ots('sign', 'generate', `--out=${other}`));
  const secret = path.join(keys, 'secret.ed25519');
  const signed = await ok(ots(`--repo=${repo}`, 'commit', '-b', 'os', `--tree=dir=${src}`, `--keys-file=${secret}`, '-s', 'v1'));
  const unsigned = await ok(ots(`--repo=${repo}`, 'commit', '-b', 'plain', `--tree=dir=${src}`, '-s', 'v2'));
  const resigned = await ok(ots(`--repo=${repo}`, 'commit', '-b', 'later', `--tree=dir=${src}`, '-s', 'v3'));
  await ok(ots(`--repo=${repo}`, 'sign', 'later', '--keys-file', secret));
  await ok(ots(`--repo=${repo}`, 'remote', 'add', '--no-gpg-verify', '--set=sign-verify=true', `--set=verification-ed25519-file=${path.join(keys, 'public.ed25519')}`, 'origin', 'https://updates.example.org/repo'));
  for (const c of [signed, resigned]) {
    const r = JSON.parse(await ok(ots(`--repo=${repo}`, 'verify', '--remote=origin', '--json', c))) as { ed25519: string; checked: string[] };
    assert.equal(r.ed25519, pub);
    assert.deepEqual(r.checked, ['sign-verify']);
  }
  assert.match(await ok(ots(`--repo=${repo}`, 'sign', '--verify', 'os', pub)), /verified successfully/);
  const refuse = async (commit: string, pattern: RegExp, why: string): Promise<void> => {
    const r = await ots(`--repo=${repo}`, 'verify', '--remote=origin', commit);
    assert.equal(r.code, 1, `${why}: refused`);
    assert.match(r.stderr, new RegExp(`Commit ${commit} `), `${why}: names the commit`);
    assert.match(r.stderr, /remote 'origin'.*sign-verify/, `${why}: names the policy`);
    assert.match(r.stderr, pattern, why);
  };
  // Unsigned.
  await refuse(unsigned, /has no ed25519 signature/, 'unsigned');
  // Signed by another key.
  const byOther = await ok(ots(`--repo=${repo}`, 'commit', '-b', 'other', `--tree=dir=${src}`, `--keys-file=${path.join(other, 'secret.ed25519')}`, '-s', 'v4'));
  await refuse(byOther, /none valid from the 1 trusted key/, 'another key');
  // A signature over a different commit, moved onto this one.
  const objects = (c: string, ext: string): string => path.join(repo, 'objects', c.slice(0, 2), `${c.slice(2)}.${ext}`);
  await copyFile(objects(signed, 'commitmeta'), objects(unsigned, 'commitmeta'));
  await refuse(unsigned, /none valid/, 'signature over another commit');
  // A truncated signature.
  const meta = decodeMetadata(await readFile(objects(signed, 'commitmeta')));
  const sig = (meta[0][1].value as Uint8Array[])[0];
  await writeFile(objects(unsigned, 'commitmeta'), encodeMetadata([['ostree.sign.ed25519', { type: 'aay', value: [sig.subarray(0, 40)] }]]));
  await refuse(unsigned, /40 bytes \(64 expected\)/, 'truncated');
  // A world-readable secret key is used, with a warning.
  const loose = path.join(dir, 'loose.ed25519');
  await copyFile(secret, loose);
  await chmod(loose, 0o644);
  const warned = await ots(`--repo=${repo}`, 'sign', 'plain', '--keys-file', loose);
  assert.equal(warned.code, 0);
  assert.match(warned.stderr, /warning: the secret key file .*loose\.ed25519 can be read by others \(mode 0644\)/);
  // --sign takes the base64 secret key itself (the spec's vector key here).
  const vectorSecret = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8DoQe/884Qvh1w3RjnS8CZZ+TWMJulDV8d3IZkElUxuA==';
  const bySign = await ok(ots(`--repo=${repo}`, 'commit', '-b', 'vector', `--tree=dir=${src}`, `--sign=${vectorSecret}`, '--sign-type=ed25519', '-s', 'v5'));
  assert.match(await ok(ots(`--repo=${repo}`, 'verify', bySign, '--ed25519-key=A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=')), /good ed25519 signature/);
  // A remote added without --no-gpg-verify requires GPG signatures, as in OSTree.
  await ok(ots(`--repo=${repo}`, 'remote', 'add', 'strict', 'https://updates.example.org/repo'));
  const strict = await ots(`--repo=${repo}`, 'verify', '--remote=strict', signed);
  assert.equal(strict.code, 1);
  assert.match(strict.stderr, new RegExp(`Commit ${signed} has no GPG signature.*remote 'strict'.*gpg-verify`));
  // A remote that requires nothing verifies nothing, and says so with a failure.
  await ok(ots(`--repo=${repo}`, 'remote', 'add', '--no-gpg-verify', 'lax', 'https://updates.example.org/repo'));
  const lax = await ots(`--repo=${repo}`, 'verify', '--remote=lax', signed);
  assert.equal(lax.code, 1);
  assert.match(lax.stderr, /nothing was verified/);
  // --delete removes the signatures a public key verifies.
  assert.match(await ok(ots(`--repo=${repo}`, 'sign', '--delete', 'later', pub)), /Deleted 1 signature/);
  await refuse(resigned, /has no ed25519 signature/, 'after --delete');
});

test('summary: byte-identical to ostree summary -u, signed with ed25519, regeneration drops summary.sig', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const src = await tree(dir);
  const repo = path.join(dir, 'repo');
  await ok(ostree('init', `--repo=${repo}`, '--mode=archive'));
  await ok(ostree(`--repo=${repo}`, 'commit', '-b', 'os/stable', `--tree=dir=${src}`, '--timestamp=@1700000000', '--add-metadata-string=version=42.1'));
  await ok(ostree(`--repo=${repo}`, 'commit', '-b', 'app/a', `--tree=dir=${src}`, '--timestamp=@1700000001'));
  await ok(ostree(`--repo=${repo}`, 'commit', '-b', 'b', `--tree=dir=${src}`, '--timestamp=@1700000002'));
  const extra = ['--add-metadata=k1=\'a\'', '--add-metadata=zeta=uint32 5', '--add-metadata=alpha=\'x\'', '--add-metadata=m.n.o=true'];
  for (const add of [[], extra]) {
    await ok(ostree(`--repo=${repo}`, 'summary', '-u', ...add));
    const theirs = await readFile(path.join(repo, 'summary'));
    await ok(ots(`--repo=${repo}`, 'summary', '-u', ...add));
    const ours = await readFile(path.join(repo, 'summary'));
    // Only ostree.summary.last-modified (the time of generation) may differ: put theirs into ours.
    const lm = (s: Buffer): bigint => swap64(decodeSummary(s).metadata.find(([k]) => k === 'ostree.summary.last-modified')?.[1].value as bigint);
    const be = (n: bigint): Buffer => Buffer.from(n.toString(16).padStart(16, '0'), 'hex');
    const at = ours.indexOf(be(lm(ours)));
    assert.ok(at >= 0);
    be(lm(theirs)).copy(ours, at);
    assert.equal(ours.toString('hex'), theirs.toString('hex'), `summary with ${add.length} extra keys`);
  }
  const keys = path.join(dir, 'keys');
  const pub = await ok(ots('sign', 'generate', `--out=${keys}`));
  await ok(ots(`--repo=${repo}`, 'summary', '-u', `--keys-file=${path.join(keys, 'secret.ed25519')}`));
  const r = JSON.parse(await ok(ots(`--repo=${repo}`, 'verify', '--summary', `--ed25519-key=${pub}`, '--json'))) as { ed25519: string };
  assert.equal(r.ed25519, pub);
  // ostree regenerates and removes our summary.sig, and reads our summary.
  await ok(ostree(`--repo=${repo}`, 'summary', '--view'));
  await ok(ots(`--repo=${repo}`, 'summary', '-u'));
  const gone = await ots(`--repo=${repo}`, 'verify', '--summary', `--ed25519-key=${pub}`);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /The summary has no ed25519 signature/);
});

test('gpg-sign --delete removes the signatures of the keys named (fingerprint or key ID) and keeps the others', async (t) => {
  if (!(await requireOstree(t))) return;
  if (!(await requireTool(t, 'gpg', 'gnupg'))) return;
  const dir = await tempDir(t);
  const keys = await gpgKeys(t, dir);
  const src = await tree(dir);
  const repo = path.join(dir, 'repo');
  await ok(ots('init', `--repo=${repo}`, '--mode=archive'));
  await ok(ots(`--repo=${repo}`, 'commit', '-b', 'main', `--tree=dir=${src}`, `--gpg-sign=${keys.rsa}`, `--gpg-sign=${keys.ed}`, `--gpg-key-file=${keys.sec}`));
  const found = async (): Promise<string> => /Found (\d+) signatures?/.exec(await ok(ostree(`--repo=${repo}`, 'show', 'main')))?.[1] ?? '0';
  assert.equal(await found(), '2');
  // The RSA key by its long key ID, with 0x: one signature goes; ostree reads what is left.
  assert.equal(await ok(ots(`--repo=${repo}`, 'gpg-sign', '--delete', 'main', `0x${keys.rsa.slice(-16)}`)), 'Signatures deleted: 1');
  assert.equal(await found(), '1');
  assert.equal(await ok(ots(`--repo=${repo}`, 'gpg-sign', '-d', 'main', keys.rsa)), 'Signatures deleted: 0');
  const v = JSON.parse(await ok(ots(`--repo=${repo}`, 'verify', `--gpg-key-file=${keys.pub}`, '--json', 'main'))) as { gpg: { fingerprint: string } };
  assert.equal(v.gpg.fingerprint, keys.ed.toLowerCase(), 'the ed25519 signature is the one kept');
  assert.equal(await ok(ots(`--repo=${repo}`, 'gpg-sign', '-d', 'main', keys.ed)), 'Signatures deleted: 1');
  assert.doesNotMatch(await ok(ostree(`--repo=${repo}`, 'show', 'main')), /Found \d+ signature/);
  await ok(ostree('fsck', `--repo=${repo}`));
});
