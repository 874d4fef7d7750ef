/**
 * signDetached, the one sign-and-append routine of commit, sign, gpg-sign
 * and summary: other entries keep their place, signatures join any list
 * already under their key (signers in order), and the bytes are those the
 * routine has always written (golden digests; ed25519 is deterministic).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMetadata, encodeCommit, encodeMetadata, sha256Hex, type VarDict } from '../../src/format/index.js';
import { ED25519_METADATA_KEY, parseSecretKey, signDetached, signaturesIn, verifyEd25519, type Signer } from '../../src/sign/index.js';

const key = parseSecretKey('AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8DoQe/884Qvh1w3RjnS8CZZ+TWMJulDV8d3IZkElUxuA==');
const data = encodeCommit({
  metadata: [], parent: null, related: [], subject: 't2', body: '', timestamp: 1577836800n,
  rootTree: '3885de06959f629d151d1deaaa2f42ae60a1a42368765bebcb5eaa5fa4301ec9', rootMeta: '446a0ef11b7cc167f3b603e585c7eeeeb675faa412d5ec73f62988eb0b6c5488',
});
const signers: Signer[] = [{ type: 'ed25519', keys: [key] }, { type: 'ed25519', keys: [key, key] }];
const note: VarDict[number] = ['note', { type: 's', value: 'hello' }];
const earlier = Buffer.alloc(64, 1);

test('signDetached appends in place, keeps other entries in order, and writes the same bytes as before', async () => {
  const cases: Array<{ existing: VarDict | null; keys: string[]; sigs: number; length: number; digest: string }> = [
    { existing: null, keys: [ED25519_METADATA_KEY], sigs: 3, length: 225, digest: '6d18cf4cda95f8e1a145a0136264c3e409ce0ecdfca4e7f2e46c6d7f3d0ff0ff' },
    { existing: [note], keys: ['note', ED25519_METADATA_KEY], sigs: 3, length: 250, digest: '308f1b4d4ba29d601eab61d4c8ddfdcd5c50204fb0c0eabf909badd3fd88a8bb' },
    {
      existing: [[ED25519_METADATA_KEY, { type: 'aay', value: [earlier] }], note], keys: [ED25519_METADATA_KEY, 'note'], sigs: 4,
      length: 317, digest: '9210b7b164167eb154718ae027eb2bab50a2a5fcb6af65bc11c7175bcf2eb29f',
    },
  ];
  for (const c of cases) {
    const before = JSON.stringify(c.existing);
    const out = await signDetached(data, signers, c.existing);
    assert.equal(JSON.stringify(c.existing), before, 'the existing dictionary is not changed');
    const bytes = encodeMetadata(out);
    assert.equal(bytes.length, c.length);
    assert.equal(sha256Hex(bytes), c.digest);
    const back = decodeMetadata(bytes);
    assert.deepEqual(back.map(([k]) => k), c.keys);
    const sigs = signaturesIn(back, ED25519_METADATA_KEY);
    assert.equal(sigs.length, c.sigs);
    if (c.sigs === 4) assert.deepEqual(Buffer.from(sigs[0]), earlier, 'earlier signatures stay first');
    for (const s of sigs.slice(c.sigs - 3)) assert.ok(verifyEd25519(data, [s], [key.publicKey]));
  }
  // No signers: the dictionary as it was.
  assert.deepEqual(await signDetached(data, [], [note]), [note]);
  assert.deepEqual(await signDetached(data, [], null), []);
});
