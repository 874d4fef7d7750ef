/** The spec's ed25519 vector (§8.6): keys, signature and .commitmeta bytes, computed independently. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeCommit, encodeMetadata, sha256Hex } from '../../src/format/index.js';
import { encodePublicKey, encodeSecretKey, parseSecretKey, signEd25519, verifyEd25519, withSignatures, ED25519_METADATA_KEY } from '../../src/sign/index.js';

const ROOT_META = '446a0ef11b7cc167f3b603e585c7eeeeb675faa412d5ec73f62988eb0b6c5488';
const EMPTY_TREE = '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d';

test('ed25519: the spec vector signs and verifies, and its commitmeta is byte-exact', () => {
  const secret = parseSecretKey('AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8DoQe/884Qvh1w3RjnS8CZZ+TWMJulDV8d3IZkElUxuA==');
  assert.equal(encodePublicKey(secret.publicKey), 'A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=');
  assert.deepEqual([...secret.seed], [...Array(32).keys()]);
  assert.equal(encodeSecretKey(secret), 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8DoQe/884Qvh1w3RjnS8CZZ+TWMJulDV8d3IZkElUxuA==');
  const c2 = encodeCommit({ metadata: [], parent: null, related: [], subject: 't2', body: '', timestamp: 1577836800n, rootTree: '3885de06959f629d151d1deaaa2f42ae60a1a42368765bebcb5eaa5fa4301ec9', rootMeta: ROOT_META });
  assert.equal(c2.length, 86);
  const sig = signEd25519(c2, secret);
  assert.equal(sig.toString('hex'), '240d80d3b89bf146edb499fa9d56ac43efe3f2e5cd397a236ba0a2d1681ed71cd9d478574c59dcba6a8fd24a3808bb5fd66d543ccb1aafc29b0cc94fda754f0e');
  const meta = encodeMetadata(withSignatures(null, ED25519_METADATA_KEY, [sig]));
  assert.equal(meta.length, 95);
  assert.equal(sha256Hex(meta), '0991a3fa3ec35c50c489c24480516db83aeb209f730d8e299fd1eb7649db6bc6');
  assert.ok(verifyEd25519(c2, [sig], [secret.publicKey]));
  // Another message, a flipped bit, a truncated signature: nothing verifies.
  const c1 = encodeCommit({ metadata: [], parent: null, related: [], subject: 't1', body: '', timestamp: 1577836800n, rootTree: EMPTY_TREE, rootMeta: ROOT_META });
  assert.equal(verifyEd25519(c1, [sig], [secret.publicKey]), null);
  const flipped = Buffer.from(sig);
  flipped[10] ^= 1;
  assert.equal(verifyEd25519(c2, [flipped], [secret.publicKey]), null);
  assert.equal(verifyEd25519(c2, [sig.subarray(0, 40)], [secret.publicKey]), null);
  assert.throws(() => parseSecretKey('not base64!'), /not an ed25519 secret key/);
});
