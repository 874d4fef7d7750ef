#!/usr/bin/env node
// What signing and verifying add: ed25519 (node:crypto) and OpenPGP
// (openpgp), in process and through the CLI. See bench/README.md.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => path.join(ROOT, 'dist', 'src', p);
const { encodeCommit } = await import(dist('format/index.js'));
const sign = await import(dist('sign/index.js'));

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
async function time(n, fn) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await fn(i);
    out.push(ms(t0));
  }
  return median(out);
}

const commit = encodeCommit({
  metadata: [['version', { type: 's', value: '1.0' }]], parent: null, related: [], subject: 'bench', body: '',
  timestamp: 1700000000n, rootTree: 'a'.repeat(64), rootMeta: 'b'.repeat(64),
});
const rows = [];
const key = sign.generateSecretKey();
const sig = sign.signEd25519(commit, key);
rows.push(['ed25519 sign (in process)', await time(2000, () => sign.signEd25519(commit, key))]);
rows.push(['ed25519 verify (in process)', await time(2000, () => sign.verifyEd25519(commit, [sig], [key.publicKey]))]);

let t0 = process.hrtime.bigint();
const pgp = await import('openpgp');
rows.push(['openpgp module load (once per process)', ms(t0)]);
for (const type of ['ecc', 'rsa']) {
  const { privateKey } = await pgp.generateKey({ type, rsaBits: 2048, userIDs: [{ name: 'bench', email: 'bench@example.org' }], format: 'object' });
  const s = await sign.signGpg(commit, privateKey);
  const label = type === 'ecc' ? 'EdDSA' : 'RSA 2048';
  rows.push([`OpenPGP ${label} sign (in process)`, await time(50, () => sign.signGpg(commit, privateKey))]);
  rows.push([`OpenPGP ${label} verify (in process)`, await time(50, () => sign.verifyGpg(commit, [s], [privateKey.toPublic()]))]);
}

// Through the CLI: a small commit with and without signing, and verify.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ots-sign-bench-'));
const cli = (...a) => execFileSync(process.execPath, [path.join(ROOT, 'dist', 'src', 'cli', 'main.js'), ...a], { encoding: 'utf8' });
const tree = path.join(dir, 'tree');
fs.mkdirSync(tree);
fs.writeFileSync(path.join(tree, 'f'), 'x');
cli('init', `--repo=${dir}/repo`, '--mode=archive');
cli('sign', 'generate', `--out=${dir}/keys`);
const runs = 15;
const plain = await time(runs, (i) => cli(`--repo=${dir}/repo`, 'commit', '-b', `p${i}`, `--tree=dir=${tree}`, '--fsync=false'));
const signed = await time(runs, (i) => cli(`--repo=${dir}/repo`, 'commit', '-b', `s${i}`, `--tree=dir=${tree}`, '--fsync=false', `--keys-file=${dir}/keys/secret.ed25519`));
rows.push(['CLI commit, unsigned', plain]);
rows.push(['CLI commit, ed25519-signed', signed]);
rows.push(['  difference', signed - plain]);
const pub = fs.readFileSync(`${dir}/keys/public.ed25519`, 'utf8').trim();
rows.push(['CLI verify ed25519 (whole process)', await time(runs, () => cli(`--repo=${dir}/repo`, 'verify', 's0', `--ed25519-key=${pub}`))]);
rows.push(['CLI rev-parse (whole process, for scale)', await time(runs, () => cli(`--repo=${dir}/repo`, 'rev-parse', 's0'))]);
fs.rmSync(dir, { recursive: true, force: true });

const w = Math.max(...rows.map((r) => r[0].length));
process.stdout.write(`${'what'.padEnd(w)}  median ms\n`);
for (const [k, v] of rows) process.stdout.write(`${k.padEnd(w)}  ${v.toFixed(3)}\n`);
