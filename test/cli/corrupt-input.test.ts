/**
 * Issue 14, crash-safe reading: what the fuzzer holds the parsers to, seen
 * from the verbs. A torn or hostile summary (remote refs, pull, summary
 * --view), a delta part that matches its superblock but whose payload is
 * garbage (static-delta apply-offline), a damaged repository config (config
 * get, summary -u), a damaged .origin and boot entry (admin status, atomic
 * status): each verb exits 1 with a coded message naming the file or object,
 * never a RangeError, a TypeError, "This is a bug" or a stack trace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ok, ots, tempDir, type RunResult } from '../helpers/env.js';
import { makeBasicTree } from '../helpers/trees.js';
import { serveRepo } from '../helpers/serve.js';
import { atomic, makeOsTree } from '../helpers/sysroot.js';
import { decodeSuperblock, encodePayload, encodeSuperblock, sha256Hex, unwrapSignedSuperblock } from '../../src/format/index.js';

const CRASH = /RangeError|TypeError|SyntaxError|This is a bug|\n\s+at /;

function refused(r: RunResult, names: RegExp, what: string): void {
  assert.equal(r.code, 1, `${what}: exit ${r.code}\n${r.stderr}${r.stdout}`);
  assert.doesNotMatch(r.stderr, CRASH, `${what}: no crash reaches the user`);
  assert.match(r.stderr, names, `${what}: the message names what is damaged`);
}

async function findFile(dir: string, name: (n: string) => boolean): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await findFile(p, name)));
    else if (name(e.name)) out.push(p);
  }
  return out.sort();
}

test('a torn or damaged summary is named by remote refs, pull and summary --view', async (t) => {
  const dir = await tempDir(t);
  const src = path.join(dir, 'src');
  await ok(ots('init', `--repo=${src}`, '--mode=archive'));
  await ok(ots(`--repo=${src}`, 'commit', '-b', 'main', `--tree=dir=${await makeBasicTree(path.join(dir, 'tree'))}`));
  await ok(ots(`--repo=${src}`, 'summary', '-u'));
  const good = await readFile(path.join(src, 'summary'));
  const { url } = await serveRepo(t, src, dir);
  const client = path.join(dir, 'client');
  await ok(ots('init', `--repo=${client}`, '--mode=archive'));
  await ok(ots(`--repo=${client}`, 'remote', 'add', '--no-gpg-verify', 'origin', url));
  const flipped = Buffer.from(good);
  flipped[flipped.length - 1] ^= 0x40; // the last framing offset
  const damages: Array<[string, Buffer]> = [
    ['empty', Buffer.alloc(0)],
    ['cut in half', good.subarray(0, Math.floor(good.length / 2))],
    ['a framing offset flipped', flipped],
    ['garbage', Buffer.from('not a summary at all, just text\n')],
  ];
  for (const [what, bytes] of damages) {
    await writeFile(path.join(src, 'summary'), bytes);
    refused(await ots(`--repo=${client}`, 'remote', 'refs', 'origin'), /summary of .*origin/, `remote refs, summary ${what}`);
    refused(await ots(`--repo=${client}`, 'pull', 'origin', 'main'), /summary/, `pull, summary ${what}`);
    refused(await ots(`--repo=${src}`, 'summary', '--view'), new RegExp(`${src.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/summary is not a valid summary`), `summary --view, ${what}`);
  }
});

test('static-delta apply-offline names a part whose payload is garbage (the superblock vouching for it)', async (t) => {
  const dir = await tempDir(t);
  const src = path.join(dir, 'src');
  await ok(ots('init', `--repo=${src}`, '--mode=archive'));
  await ok(ots(`--repo=${src}`, 'commit', '-b', 'main', `--tree=dir=${await makeBasicTree(path.join(dir, 'tree'))}`));
  await ok(ots(`--repo=${src}`, 'static-delta', 'generate', '--empty', '--to=main'));
  const [superblockFile] = await findFile(path.join(src, 'deltas'), (n) => n === 'superblock');
  const deltaDir = path.dirname(superblockFile);
  const sb = decodeSuperblock(unwrapSignedSuperblock(await readFile(superblockFile)).superblock);
  assert.ok(sb.parts.length >= 1 && sb.parts[0].objects.length >= 1);
  const objects = sb.parts[0].objects;
  const parts: Array<[string, Buffer, RegExp]> = [
    ['random payload bytes', Buffer.concat([Buffer.from([0]), Buffer.from('0123456789abcdef'.repeat(5))]), /part 0 of delta [0-9a-f]{64} is malformed/],
    // A well-formed payload whose first operation reads past its (empty) blob.
    ['an operation past the blob', Buffer.concat([Buffer.from([0]), encodePayload({ modes: [], xattrs: [], blob: Buffer.alloc(0), ops: Uint8Array.from([0x53, 0x7f, 0x05]) })]), /reads bytes 5\.\.132 of a 0-byte payload/],
    ['an unknown operation', Buffer.concat([Buffer.from([0]), encodePayload({ modes: [], xattrs: [], blob: Buffer.alloc(4), ops: Uint8Array.from([0x01]) })]), /unknown operation 0x1/],
    ['an unknown compression', Buffer.from([0x7a, 1, 2, 3]), /compression type 0x7a is unknown/],
  ];
  for (const [i, [what, part, message]] of parts.entries()) {
    // The superblock is rewritten to vouch for the damaged part: the check that
    // catches a mere flipped byte (its checksum) passes, so the parsers are reached.
    await writeFile(path.join(deltaDir, '0'), part);
    await writeFile(superblockFile, encodeSuperblock({ ...sb, parts: [{ ...sb.parts[0], checksum: sha256Hex(part), size: BigInt(part.length), objects }, ...sb.parts.slice(1)] }));
    const target = path.join(dir, `target-${i}`);
    await ok(ots('init', `--repo=${target}`, '--mode=archive'));
    const r = await ots(`--repo=${target}`, 'static-delta', 'apply-offline', deltaDir);
    refused(r, message, `apply-offline, ${what}`);
    assert.match(r.stderr, /part 0/, `apply-offline, ${what}: names the part`);
  }
});

test('a damaged repository config is named by config get and summary -u', async (t) => {
  const dir = await tempDir(t);
  const repo = path.join(dir, 'repo');
  await ok(ots('init', `--repo=${repo}`, '--mode=archive'));
  const configFile = path.join(repo, 'config');
  const config = await readFile(configFile, 'utf8');
  const named = new RegExp(configFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  for (const [what, text] of [
    ['a line with no key before =', `${config}   =x\n`],
    ['a line that is not an entry', `${config}\u0000\u00ff garbage\n`],
    ['an entry before any group', `mode=archive\n${config}`],
  ] as const) {
    await writeFile(configFile, text);
    refused(await ots(`--repo=${repo}`, 'config', 'get', 'core.mode'), named, `config get, ${what}`);
  }
  await writeFile(configFile, config.replace('[core]\n', '[core]\ntombstone-commits=perhaps\n'));
  refused(await ots(`--repo=${repo}`, 'summary', '-u'), named, 'summary -u, a boolean that is not one');
});

test('a damaged .origin and boot entry are named by admin status and atomic status', async (t) => {
  const dir = await tempDir(t);
  const sysroot = path.join(dir, 'sysroot');
  await ok(ots('admin', 'init-fs', sysroot));
  await ok(ots('admin', `--sysroot=${sysroot}`, 'os-init', 'testos'));
  const tree = await makeOsTree(path.join(dir, 'tree'));
  await ok(ots(`--repo=${path.join(sysroot, 'ostree', 'repo')}`, 'commit', '-b', 'testos/stable', `--tree=dir=${tree}`));
  await ok(ots('admin', `--sysroot=${sysroot}`, 'deploy', '--os=testos', 'testos/stable'));
  await ok(ots('admin', `--sysroot=${sysroot}`, 'status'));
  const [origin] = await findFile(path.join(sysroot, 'ostree', 'deploy', 'testos', 'deploy'), (n) => n.endsWith('.origin'));
  const savedOrigin = await readFile(origin);
  await writeFile(origin, Buffer.concat([savedOrigin.subarray(0, 10), Buffer.from([0, 0xff, 0x0a]), Buffer.from('no equals sign here\n')]));
  const originNamed = new RegExp(origin.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  refused(await ots('admin', `--sysroot=${sysroot}`, 'status'), originNamed, 'admin status, damaged origin');
  refused(await atomic(`--sysroot=${sysroot}`, 'status'), originNamed, 'atomic status, damaged origin');
  await writeFile(origin, savedOrigin);
  const [entry] = await findFile(path.join(sysroot, 'boot'), (n) => n.startsWith('ostree-') && n.endsWith('.conf'));
  await writeFile(entry, Buffer.from([0x74, 0x69, 0x74, 0x6c, 0x65, 0x0d, 0xff, 0x00, 0x0a, 0x6f, 0x70, 0x74, 0x69, 0x6f, 0x6e, 0x73, 0x20, 0x22, 0x0a]));
  const entryNamed = new RegExp(entry.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  refused(await ots('admin', `--sysroot=${sysroot}`, 'status'), entryNamed, 'admin status, damaged boot entry');
  refused(await atomic(`--sysroot=${sysroot}`, 'status'), entryNamed, 'atomic status, damaged boot entry');
});
