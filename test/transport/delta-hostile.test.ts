/**
 * Issue 5, acceptance 3 (deltas): a hostile server publishes, consistently
 * (summary digest, part checksum and all), a delta whose part has an
 * out-of-range operation; one whose part builds an object that does not hash
 * to its name; a part with a flipped byte; a superblock that does not match
 * the summary. Each pull stops with an error naming the part and the object,
 * the ref is not moved, both fscks stay clean, and an honest pull then works.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import {
  COMPRESSION_NONE, PartBuilder, decodeSuperblock, encodePayload, encodeSuperblock, partHeader, writeVarint, type DeltaSuperblock,
} from '../../src/format/index.js';
import { ok, ostree, ots, requireOstree, run, tempDir } from '../helpers/env.js';
import { serveRepo } from '../helpers/serve.js';
import { makeRichTree } from '../helpers/trees.js';

async function deltaDirOf(repo: string): Promise<string> {
  const [prefix] = await fs.readdir(path.join(repo, 'deltas'));
  const [rest] = await fs.readdir(path.join(repo, 'deltas', prefix));
  return path.join(repo, 'deltas', prefix, rest);
}

/** Replace the delta's single part by `part`, with a consistent header, and republish. */
async function publishPart(repo: string, part: Buffer, objects: DeltaSuperblock['parts'][0]['objects'], usize: number): Promise<void> {
  const dir = await deltaDirOf(repo);
  const sb = decodeSuperblock(await fs.readFile(path.join(dir, 'superblock')));
  await fs.writeFile(path.join(dir, '0'), part);
  for (let i = 1; i < sb.parts.length; i++) await fs.rm(path.join(dir, String(i)), { force: true });
  sb.parts = [partHeader(part, { objects, uncompressedSize: usize })];
  await fs.writeFile(path.join(dir, 'superblock'), encodeSuperblock(sb));
  await ok(ots(`--repo=${repo}`, 'summary', '-u'));
}

test('a hostile delta stops the pull naming the part and object; nothing moves; an honest pull then works', async (t) => {
  if (!(await requireOstree(t))) return;
  const dir = await tempDir(t);
  const v1 = path.join(dir, 'v1');
  await makeRichTree(v1);
  const v2 = path.join(dir, 'v2');
  await run('cp', ['-a', v1, v2]);
  await fs.writeFile(path.join(v2, 'added.txt'), 'a file only v2 has\n'.repeat(50));
  await fs.mkdir(path.join(v2, 'newdir'));
  await fs.writeFile(path.join(v2, 'newdir', 'x'), 'x\n');

  const server = path.join(dir, 'server');
  await ok(ots('init', `--repo=${server}`, '--mode=archive'));
  const a = await ok(ots(`--repo=${server}`, 'commit', '-b', 'os/v1', `--tree=dir=${v1}`));
  const b = await ok(ots(`--repo=${server}`, 'commit', '-b', 'os/v2', `--tree=dir=${v2}`));
  const web = await serveRepo(t, server, dir);
  const client = path.join(dir, 'client');
  await ok(ots('init', `--repo=${client}`, '--mode=bare-user'));
  await ok(ots(`--repo=${client}`, 'remote', 'add', '--no-gpg-verify', 'web', web.url));
  await ok(ots(`--repo=${client}`, 'pull', 'web', 'os/v1'));

  const honest = async (): Promise<{ sb: DeltaSuperblock }> => {
    await ok(ots(`--repo=${server}`, 'static-delta', 'generate', `--from=${a}`, `--to=${b}`, '--compression=none'));
    await ok(ots(`--repo=${server}`, 'summary', '-u'));
    const d = await deltaDirOf(server);
    return { sb: decodeSuperblock(await fs.readFile(path.join(d, 'superblock'))) };
  };
  const { sb } = await honest();
  const first = sb.parts[0].objects[0];
  assert.equal(first.type, 'dirtree', 'metadata comes first in a part');

  const expectRefused = async (label: string, pattern: RegExp): Promise<void> => {
    const r = await ots(`--repo=${client}`, 'pull', 'web', 'os/v2');
    assert.notEqual(r.code, 0, `${label}: the pull must fail`);
    assert.match(r.stderr, pattern, `${label}: ${r.stderr}`);
    assert.notEqual((await ots(`--repo=${client}`, 'rev-parse', 'web:os/v2')).code, 0, `${label}: no ref was written`);
    const f1 = await ots(`--repo=${client}`, 'fsck');
    assert.equal(f1.code, 0, `${label}: ostree-ts fsck ${f1.stdout}${f1.stderr}`);
    const f2 = await ostree('fsck', `--repo=${client}`);
    assert.equal(f2.code, 0, `${label}: ostree fsck ${f2.stdout}${f2.stderr}`);
  };

  // 1. An out-of-range operation: S reading far past the end of the blob.
  {
    const ops: number[] = [0x53];
    writeVarint(ops, 64);
    writeVarint(ops, 1 << 24);
    // A payload with a tiny blob and the hostile operation, built by hand.
    const part = Buffer.concat([Buffer.from([COMPRESSION_NONE]), encodePayload({ modes: [], xattrs: [], blob: Buffer.alloc(8), ops: Uint8Array.from(ops) })]);
    await publishPart(server, part, [first], 64);
    await expectRefused('out-of-range operation', new RegExp(`part 0 of static delta ${a}-${b}.*reads bytes 16777216\\.\\.16777280 of a 8-byte payload.*dirtree ${first.checksum}`));
  }

  // 2. An object that does not hash to the name the part gives it.
  {
    const pb = new PartBuilder();
    pb.addMetadata('dirtree', first.checksum, Buffer.from([0]));
    const part = Buffer.concat([Buffer.from([COMPRESSION_NONE]), pb.payload()]);
    await publishPart(server, part, pb.objects, 1);
    await expectRefused('object with a false name', new RegExp(`dirtree object it builds as ${first.checksum} does not hash to that name`));
  }

  // 3. A flipped byte in an honest part (the superblock still names the original checksum).
  {
    await honest();
    const d = await deltaDirOf(server);
    const p = await fs.readFile(path.join(d, '0'));
    p[Math.floor(p.length / 2)] ^= 0x01;
    await fs.writeFile(path.join(d, '0'), p);
    await expectRefused('flipped byte in a part', new RegExp(`part 0 of static delta ${a}-${b}: its checksum is [0-9a-f]{64}, but the superblock says ${sb.parts[0].checksum}`));
  }

  // 4. A superblock that is not the one the summary publishes.
  {
    await honest();
    const d = await deltaDirOf(server);
    const s = decodeSuperblock(await fs.readFile(path.join(d, 'superblock')));
    s.timestamp += 1n;
    await fs.writeFile(path.join(d, 'superblock'), encodeSuperblock(s));
    await expectRefused('superblock not matching the summary', new RegExp(`superblock of static delta ${a}-${b} has checksum [0-9a-f]{64}, but the remote's summary says`));
  }

  // Honest again: the pull goes through the delta and completes.
  await honest();
  const r = JSON.parse(await ok(ots(`--repo=${client}`, 'pull', 'web', 'os/v2', '--json'))) as { deltas: string[] };
  assert.deepEqual(r.deltas, [`${a}-${b}`]);
  assert.equal(await ok(ots(`--repo=${client}`, 'rev-parse', 'web:os/v2')), b);
  assert.equal((await ostree('fsck', `--repo=${client}`)).code, 0);
  assert.equal((await ots(`--repo=${client}`, 'fsck')).code, 0);
});
