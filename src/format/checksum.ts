/** Checksums: SHA-256 in OSTree's textual forms. Pure computation. */
import { Codes, OstreeTsError } from '../errors/index.js';

let nodeCrypto: typeof import('node:crypto') | undefined;
/**
 * node:crypto, loaded on the first hash rather than with this module: loading
 * it takes a few milliseconds, which the commands that only read refs and
 * configuration (`rev-parse`, `refs`, `config get`) would pay at start-up.
 */
function crypto(): typeof import('node:crypto') {
  return (nodeCrypto ??= process.getBuiltinModule('node:crypto'));
}

const CHECKSUM_RE = /^[0-9a-f]{64}$/;

export function isChecksum(s: string): boolean {
  return CHECKSUM_RE.test(s);
}

export function bytesToHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export function hexToBytes(hex: string): Buffer {
  if (!isChecksum(hex)) {
    throw new OstreeTsError(Codes.INVALID_CHECKSUM, `'${hex}' is not a valid checksum (64 lowercase hex digits).`, { checksum: hex });
  }
  return Buffer.from(hex, 'hex');
}

export function sha256Hex(...parts: Uint8Array[]): string {
  const h = crypto().createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

/** OSTree's "modified base64" of a checksum: base64 without '=', '/' replaced by '_'. */
export function checksumToModifiedBase64(hex: string): string {
  return hexToBytes(hex).toString('base64').replace(/=+$/, '').replace(/\//g, '_');
}

export function modifiedBase64ToChecksum(s: string): string {
  return bytesToHex(Buffer.from(s.replace(/_/g, '/') + '=', 'base64'));
}
