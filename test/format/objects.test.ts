import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  encodeFileHeader, encodeArchiveHeader, decodeArchiveHeader, encodeDirMeta, decodeDirMeta, encodeDirTree, decodeDirTree,
  encodeCommit, decodeCommit, sha256Hex, contentChecksumInput, canonicalXattrs, checksumToModifiedBase64, modifiedBase64ToChecksum, S_IFREG, S_IFLNK, S_IFDIR,
} from '../../src/format/index.js';

const EMPTY_TREE = '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d';
const ROOT_META = '446a0ef11b7cc167f3b603e585c7eeeeb675faa412d5ec73f62988eb0b6c5488';

test('content checksums match libostree (spec §8.3)', () => {
  const reg = (mode: number, uid = 0, gid = 0) => ({ uid, gid, mode: S_IFREG | mode, rdev: 0, symlinkTarget: '', xattrs: [] });
  assert.equal(sha256Hex(encodeFileHeader(reg(0o644)), Buffer.from('hello\n')), '44f778e59f0a4748d6b0c90a47347212a231c4ad1e8f7ea5c5dffc7749153a6b');
  assert.equal(sha256Hex(encodeFileHeader(reg(0o755)), Buffer.from('#!/bin/sh\necho hi\n')), '89b350d278ff59ba4780bc377b8ebfee8ade6b55c99fab1ec84e133bc6ea52c5');
  assert.equal(sha256Hex(encodeFileHeader(reg(0o644, 1000, 1001)), Buffer.from('hello\n')), 'f48c0f46f852db36f136006af3a926721bd5986b61b18d15ce961ac84f0d84d1');
  assert.equal(sha256Hex(encodeFileHeader(reg(0o644))), 'cc700d46f407c6c5ab2d5dde474366a928b7398277e61162e7f8ec06f469f07e');
  const link = { uid: 0, gid: 0, mode: S_IFLNK | 0o777, rdev: 0, symlinkTarget: 'hello.txt', xattrs: [] };
  assert.equal(sha256Hex(encodeFileHeader(link)), 'f66efa496a72379413c44593de510dc344beb045294f1a543da87b2b6118db35');
  const xattrs = canonicalXattrs([
    { name: 'user.zeta', value: Buffer.from('last') },
    { name: 'user.alpha', value: Buffer.from('first') },
    { name: 'user.empty', value: Buffer.alloc(0) },
  ]);
  assert.deepEqual(xattrs.map((x) => x.name), ['user.alpha', 'user.zeta']);
  assert.equal(sha256Hex(encodeFileHeader({ ...reg(0o644), xattrs }), Buffer.from('x\n')), 'f08a960104ef83bc4b76d2f1c30390171e6d500a2785077015ef7fb9299f1c83');
});

test('dirmeta and dirtree checksums match libostree', () => {
  const meta = encodeDirMeta({ uid: 0, gid: 0, mode: S_IFDIR | 0o755, xattrs: [] });
  assert.equal(meta.toString('hex'), '00000000000000000000' + '41ed');
  assert.equal(sha256Hex(meta), ROOT_META);
  assert.equal(sha256Hex(encodeDirMeta({ uid: 1000, gid: 1001, mode: S_IFDIR | 0o755, xattrs: [] })), '54714c7f7cd5283f95409cd7a448802dce5bdeab5558f203af294aa9f3a740da');
  assert.equal(sha256Hex(encodeDirTree({ files: [], dirs: [] })), EMPTY_TREE);
  const nested = encodeDirTree({ files: [{ name: 'deep.txt', checksum: 'a1fb8e2007ba07825b8fe14e0776997a2d1a856759e31bf7d16ebcb5a7627844' }], dirs: [] });
  assert.equal(sha256Hex(nested), 'f9344db3ca43e220993e321cfcbf9a8f2d8b118882f9f4d22f078dcc1082b53d');
  assert.deepEqual(decodeDirMeta(meta), { uid: 0, gid: 0, mode: S_IFDIR | 0o755, xattrs: [] });
});

test('commit C2 and C1 of the spec are reproduced exactly', () => {
  const c1 = encodeCommit({ metadata: [], parent: null, related: [], subject: 't1', body: '', timestamp: 1577836800n, rootTree: EMPTY_TREE, rootMeta: ROOT_META });
  assert.equal(c1.length, 86);
  assert.equal(sha256Hex(c1), '9ad330f8480504eebd02834d88ec8d738eb4e7375401bba783d0bb0ac701049b');
  const c5 = encodeCommit({
    metadata: [['version', { type: 's', value: '1.2.3' }], ['ostree.ref-binding', { type: 'as', value: ['vec/t1'] }]],
    parent: '9ad330f8480504eebd02834d88ec8d738eb4e7375401bba783d0bb0ac701049b', related: [],
    subject: 't5 child', body: 'body text', timestamp: 1577923200n,
    rootTree: '3885de06959f629d151d1deaaa2f42ae60a1a42368765bebcb5eaa5fa4301ec9', rootMeta: ROOT_META,
  });
  assert.equal(c5.length, 198);
  assert.equal(sha256Hex(c5), '3d8ae5c1276c2a49d85fae9b1aa0c065b0db42b429293e46145cb5b31268d7f0');
  const back = decodeCommit(c5);
  assert.equal(back.timestamp, 1577923200n);
  assert.equal(back.subject, 't5 child');
  assert.equal(sha256Hex(contentChecksumInput(back)), '74d3ed8394a34a2b4f980b1d98b26df893ba626eff71b68152dc083f4d2a5263');
});

test('archive header round-trips and carries the size big-endian', () => {
  const h = { uid: 1000, gid: 1001, mode: S_IFLNK | 0o777, rdev: 0, symlinkTarget: 'hello.txt', xattrs: [] };
  const enc = encodeArchiveHeader(h, 0);
  assert.equal(enc.toString('hex'), '00000023000000000000000000000000000003e8000003e90000a1ff0000000068656c6c6f2e7478740022');
  const reg = { ...h, mode: S_IFREG | 0o644, symlinkTarget: '' };
  const d = decodeArchiveHeader(encodeArchiveHeader(reg, 6));
  assert.equal(d.size, 6n);
  assert.deepEqual(d.header, reg);
});

test('dirtrees with unsafe or unsorted names are rejected', () => {
  const c = EMPTY_TREE;
  for (const name of ['..', '.', 'a/b', '']) {
    const bytes = encodeDirTree({ files: [{ name, checksum: c }], dirs: [] });
    assert.throws(() => decodeDirTree(bytes, 'x'), (e: Error & { code?: string }) => e.code === 'E_OBJECT_INVALID', JSON.stringify(name));
    const dirBytes = encodeDirTree({ files: [], dirs: [{ name, tree: c, meta: c }] });
    assert.throws(() => decodeDirTree(dirBytes, 'x'), /Invalid dirtree x: its directory entry 0 has (an empty name|the name|a name containing)/);
  }
  const unsorted = encodeDirTree({ files: [{ name: 'b', checksum: c }, { name: 'a', checksum: c }], dirs: [] });
  assert.throws(() => decodeDirTree(unsorted), /not sorted/);
  const dup = encodeDirTree({ files: [{ name: 'a', checksum: c }], dirs: [{ name: 'a', tree: c, meta: c }] });
  assert.throws(() => decodeDirTree(dup), /appears twice/);
});

test('modified base64 of a checksum (spec §2.2)', () => {
  const c = modifiedBase64ToChecksum('weKnK+pXUCcPdDEFf7h6Y9stvMxklWpJktGkK3MFs4o');
  assert.match(c, /^c1e2a72b[0-9a-f]{49}305b38a$/);
  assert.equal(checksumToModifiedBase64(c), 'weKnK+pXUCcPdDEFf7h6Y9stvMxklWpJktGkK3MFs4o');
});
