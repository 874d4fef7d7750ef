/**
 * Issue 14, delta apply: an object a part builds by copying from another
 * object claims its size in the part. Before the fix the whole claimed size
 * was allocated before any copy was checked (a hostile 2 GiB claim allocated
 * 2 GiB, then failed; with less memory to spare, a RangeError). Now every
 * copied range is checked against its source first, and large objects are
 * streamed into the repository as they are built: the hostile claim fails at
 * once, a claim made of many small copies streams and is refused by its
 * checksum, nothing is stored, and the honest delta then applies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import {
  COMPRESSION_NONE, Op, decodeSuperblock, encodePayload, encodeSuperblock, partHeader, writeVarint, type DeltaSuperblock,
} from '../../src/format/index.js';
import { CLI, ok, ostree, ots, requireOstree, run, tempDir } from '../helpers/env.js';
import { bytes } from '../helpers/host.js';

async function deltaDirOf(repo: string): Promise<string> {
  const [prefix] = await fs.readdir(path.join(repo, 'deltas'));
  const [rest] = await fs.readdir(path.join(repo, 'deltas', prefix));
  return path.join(repo, 'deltas', prefix, rest);
}

function checksumIn(lsOutput: string): string {
  return lsOutput.split(/\s+/).find((w) => /^[0-9a-f]{64}$/.test(w)) as string;
}

test('a delta object claiming a huge size built by copies fails cleanly without allocating it', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const v1 = path.join(dir, 'v1');
  await fs.mkdir(v1);
  // The copy source: 64 KiB already in the client.
  await fs.writeFile(path.join(v1, 'src.bin'), bytes('delta source', 64 * 1024));
  await fs.writeFile(path.join(v1, 'small'), 'small\n');
  const v2 = path.join(dir, 'v2');
  await run('cp', ['-a', v1, v2]);
  await fs.writeFile(path.join(v2, 'new.bin'), bytes('delta target', 64 * 1024));

  const server = path.join(dir, 'server');
  await ok(ots('init', `--repo=${server}`, '--mode=archive'));
  const a = await ok(ots(`--repo=${server}`, 'commit', '-b', 'os/v1', `--tree=dir=${v1}`));
  const b = await ok(ots(`--repo=${server}`, 'commit', '-b', 'os/v2', `--tree=dir=${v2}`));
  await ok(ots(`--repo=${server}`, 'static-delta', 'generate', `--from=${a}`, `--to=${b}`, '--compression=none'));
  const deltaDir = await deltaDirOf(server);
  const honestSuperblock = await fs.readFile(path.join(deltaDir, 'superblock'));
  const sb = decodeSuperblock(honestSuperblock);
  const honestParts = await Promise.all(sb.parts.map((_, i) => fs.readFile(path.join(deltaDir, String(i)))));
  const source = checksumIn(await ok(ostree(`--repo=${server}`, 'ls', '-C', 'os/v1', '/src.bin')));
  const target = checksumIn(await ok(ostree(`--repo=${server}`, 'ls', '-C', 'os/v2', '/new.bin')));
  const targetRef = sb.parts.flatMap((p) => p.objects).find((o) => o.checksum === target && o.type === 'file');
  assert.ok(targetRef, 'the honest delta builds new.bin');

  const client = path.join(dir, 'client');
  await ok(ots('init', `--repo=${client}`, '--mode=bare-user'));
  await ok(ots(`--repo=${client}`, 'pull-local', server, 'os/v1'));

  /** A delta whose only part opens new.bin with `size` bytes and fills it with `writes` copies of `length` bytes of src.bin. */
  const hostile = async (size: number, writes: number, length: number): Promise<string> => {
    const ops: number[] = [Op.OPEN];
    writeVarint(ops, 0);
    writeVarint(ops, 0);
    writeVarint(ops, size);
    ops.push(Op.SET_READ_SOURCE);
    writeVarint(ops, 0);
    for (let i = 0; i < writes; i++) {
      ops.push(Op.WRITE);
      writeVarint(ops, length);
      writeVarint(ops, 0);
    }
    ops.push(Op.CLOSE);
    const payload = encodePayload({ modes: [{ uid: 0, gid: 0, mode: 0o100644 }], xattrs: [[]], blob: Buffer.from(source, 'hex'), ops: Uint8Array.from(ops) });
    const part = Buffer.concat([Buffer.from([COMPRESSION_NONE]), payload]);
    const out = path.join(dir, `hostile-${size}`);
    await fs.mkdir(out);
    await fs.writeFile(path.join(out, '0'), part);
    const evil: DeltaSuperblock = { ...sb, parts: [partHeader(part, { objects: [targetRef], uncompressedSize: payload.length })] };
    await fs.writeFile(path.join(out, 'superblock'), encodeSuperblock(evil));
    return out;
  };
  /**
   * Apply with the address space limited to 1.75 GiB (ulimit -v), well above
   * what the CLI needs and below the claim: allocating the claimed size fails
   * there (a large zeroed buffer is mapped lazily, so peak memory alone would
   * not show it).
   */
  const applyLimited = (delta: string) => run('bash', ['-c', `ulimit -v ${1792 * 1024} && exec "$0" "$@"`, process.execPath, CLI, `--repo=${client}`, 'static-delta', 'apply-offline', delta]);
  const clean = async (label: string): Promise<void> => {
    assert.equal((await ots(`--repo=${client}`, 'fsck')).code, 0, `${label}: ostree-ts fsck`);
    const f = await ostree('fsck', `--repo=${client}`);
    assert.equal(f.code, 0, `${label}: ostree fsck: ${f.stdout}${f.stderr}`);
    const obj = path.join(client, 'objects', target.slice(0, 2), `${target.slice(2)}.file`);
    assert.equal(await fs.stat(obj).then(() => true, () => false), false, `${label}: new.bin was not stored`);
    assert.deepEqual((await fs.readdir(path.join(client, 'tmp'))).filter((n) => n.startsWith('staging-')), [], `${label}: no staging directory left`);
  };

  // 1. 2 GiB claimed, copied from a 64 KiB source in one range: refused before anything is allocated.
  {
    const huge = 2 * 1024 * 1024 * 1024;
    const r = await applyLimited(await hostile(huge, 1, huge));
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`object ${target} copies bytes 0\\.\\.${huge} of ${source}, which has 65536`), r.stderr);
    assert.doesNotMatch(r.stderr, /RangeError|allocation failed|This is a bug|\n\s+at /, 'the claimed size was never allocated');
    await clean('huge claim');
  }
  // 2. 32 MiB made of 512 honest-looking copies of 64 KiB: streamed, then refused by its checksum.
  {
    const size = 512 * 64 * 1024;
    const r = await applyLimited(await hostile(size, 512, 64 * 1024));
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`the content object it builds as ${target} hashes to [0-9a-f]{64}\\. Nothing from it was stored`));
    await clean('many copies');
  }
  // The honest delta applies.
  await fs.writeFile(path.join(deltaDir, 'superblock'), honestSuperblock);
  for (let i = 0; i < honestParts.length; i++) await fs.writeFile(path.join(deltaDir, String(i)), honestParts[i]);
  await ok(ots(`--repo=${client}`, 'static-delta', 'apply-offline', deltaDir));
  assert.equal((await ostree('fsck', `--repo=${client}`)).code, 0);
  await ok(ots(`--repo=${client}`, 'checkout', b, path.join(dir, 'out')));
  assert.ok((await fs.readFile(path.join(dir, 'out', 'new.bin'))).equals(await fs.readFile(path.join(v2, 'new.bin'))));
});
