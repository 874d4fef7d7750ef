/**
 * Signing into detached metadata: the one routine that makes signatures
 * over some bytes (a commit object, a summary) and appends them under the
 * keys libostree uses (`ostree.sign.ed25519`, `ostree.gpgsigs`), keeping
 * every other entry in order. `commit`, `sign`, `gpg-sign` and `summary`
 * all sign through `signDetached`.
 */
import type { VarDict } from '../format/gvariant.js';
import { signaturesIn } from './signatures.js';
import { ED25519_METADATA_KEY, signEd25519, type Ed25519SecretKey } from './ed25519.js';
import { GPG_METADATA_KEY, signGpg } from './gpg.js';

export type Signer =
  | { type: 'ed25519'; keys: Ed25519SecretKey[] }
  | { type: 'gpg'; key: import('openpgp').PrivateKey };

/** `dict` with `sigs` appended under `key` (other entries kept, in order). */
export function withSignatures(dict: VarDict | null, key: string, sigs: Uint8Array[]): VarDict {
  const out: VarDict = [...(dict ?? [])];
  const i = out.findIndex(([k]) => k === key);
  const prev = i >= 0 ? signaturesIn(out, key) : [];
  const entry: [string, { type: string; value: unknown }] = [key, { type: 'aay', value: [...prev, ...sigs] }];
  if (i >= 0) out[i] = entry;
  else out.push(entry);
  return out;
}

/** One signer's signatures over `data`, and the detached-metadata key they go under. */
export async function makeSignatures(signer: Signer, data: Uint8Array): Promise<{ key: string; sigs: Uint8Array[] }> {
  if (signer.type === 'ed25519') return { key: ED25519_METADATA_KEY, sigs: signer.keys.map((k) => signEd25519(data, k)) };
  return { key: GPG_METADATA_KEY, sigs: [await signGpg(data, signer.key)] };
}

/** `existing` (null: none yet) with every signer's signatures over `data` appended, signers in order. */
export async function signDetached(data: Uint8Array, signers: Signer[], existing: VarDict | null): Promise<VarDict> {
  let out: VarDict = [...(existing ?? [])];
  for (const s of signers) {
    const { key, sigs } = await makeSignatures(s, data);
    out = withSignatures(out, key, sigs);
  }
  return out;
}
