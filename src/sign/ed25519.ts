/**
 * ed25519 signatures as libostree's ed25519 signer makes them: pure Ed25519
 * (RFC 8032) over the exact bytes of a commit object or summary, stored as
 * `aay` under `ostree.sign.ed25519`. Keys are base64: 32 bytes public, 64
 * bytes secret (seed followed by the public key, libsodium's layout).
 * The cryptography is node:crypto's (OpenSSL).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { Codes, OstreeTsError } from '../errors/index.js';

export const ED25519_METADATA_KEY = 'ostree.sign.ed25519';

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface Ed25519SecretKey {
  /** 32-byte seed. */
  seed: Buffer;
  /** 32-byte public key. */
  publicKey: Buffer;
  key: KeyObject;
}

function decodeBase64Strict(text: string): Buffer | null {
  const t = text.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(t) || t.length % 4 !== 0) return null;
  return Buffer.from(t, 'base64');
}

function publicKeyObject(raw: Buffer): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

function rawPublic(key: KeyObject): Buffer {
  return Buffer.from(key.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length));
}

/** A secret key from its base64 form: 64 bytes (seed ‖ public) as OSTree takes it, or a bare 32-byte seed. */
export function parseSecretKey(text: string, where = 'the secret key'): Ed25519SecretKey {
  const raw = decodeBase64Strict(text);
  if (!raw || (raw.length !== 64 && raw.length !== 32)) {
    throw new OstreeTsError(Codes.KEY, `${where} is not an ed25519 secret key: expected base64 of 64 bytes (seed and public key, as 'ostree-ts sign generate' writes it).`, { where });
  }
  const seed = raw.subarray(0, 32);
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const publicKey = rawPublic(createPublicKey(key));
  if (raw.length === 64 && !raw.subarray(32).equals(publicKey)) {
    throw new OstreeTsError(Codes.KEY, `${where} is inconsistent: its second half is not the public key of its seed.`, { where });
  }
  return { seed: Buffer.from(seed), publicKey, key };
}

/** A public key from base64 (32 bytes); null when the text is not one. */
export function parsePublicKey(text: string): Buffer | null {
  const raw = decodeBase64Strict(text);
  return raw && raw.length === 32 ? raw : null;
}

/** Public keys in a key file: one base64 key per line; blank and invalid lines are skipped, as OSTree does. */
export function parsePublicKeyList(text: string): Buffer[] {
  return text.split('\n').map((l) => parsePublicKey(l)).filter((k): k is Buffer => k !== null);
}

export function encodeSecretKey(k: Ed25519SecretKey): string {
  return Buffer.concat([k.seed, k.publicKey]).toString('base64');
}

export function encodePublicKey(raw: Uint8Array): string {
  return Buffer.from(raw).toString('base64');
}

export function generateSecretKey(): Ed25519SecretKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  const seed = Buffer.from(der.subarray(PKCS8_PREFIX.length));
  return { seed, publicKey: rawPublic(createPublicKey(privateKey)), key: privateKey };
}

export function signEd25519(data: Uint8Array, secret: Ed25519SecretKey): Buffer {
  return sign(null, data, secret.key);
}

/** The first trusted key that made one of `signatures` over `data`, or null. */
export function verifyEd25519(data: Uint8Array, signatures: Uint8Array[], trusted: Buffer[]): Buffer | null {
  for (const sig of signatures) {
    if (sig.length !== 64) continue;
    for (const pub of trusted) {
      try {
        if (verify(null, data, publicKeyObject(pub), sig)) return pub;
      } catch {
        // A malformed key or signature verifies nothing.
      }
    }
  }
  return null;
}
