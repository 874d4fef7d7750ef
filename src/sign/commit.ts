/**
 * Signing and verifying commits and summaries. Signatures are appended to
 * the commit's detached metadata (`.commitmeta`) or to `summary.sig`, under
 * the keys libostree uses; the signed bytes are the stored object (or
 * summary) exactly.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { decodeMetadata, encodeMetadata, type VarDict } from '../format/index.js';
import { atomicWriteFile, fsp, isErrno, path } from '../io/index.js';
import { Transaction, resolveRev, type Repo } from '../repo/index.js';
import { signaturesIn } from './signatures.js';
import { ED25519_METADATA_KEY, signEd25519, type Ed25519SecretKey } from './ed25519.js';
import { GPG_METADATA_KEY, signGpg } from './gpg.js';

export type Signer =
  | { type: 'ed25519'; keys: Ed25519SecretKey[] }
  | { type: 'gpg'; key: import('openpgp').PrivateKey };

/** Signatures stored under `key` in a detached-metadata dictionary. */

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

export async function makeSignatures(signer: Signer, data: Uint8Array): Promise<{ key: string; sigs: Uint8Array[] }> {
  if (signer.type === 'ed25519') return { key: ED25519_METADATA_KEY, sigs: signer.keys.map((k) => signEd25519(data, k)) };
  return { key: GPG_METADATA_KEY, sigs: [await signGpg(data, signer.key)] };
}

/** Append signatures to a commit's detached metadata; returns the commit checksum. */
export async function signCommit(repo: Repo, rev: string, signers: Signer[]): Promise<string> {
  const checksum = await resolveRev(repo, rev) as string;
  const data = await repo.readMetadataBytes('commit', checksum);
  let meta = await repo.loadCommitMeta(checksum);
  for (const s of signers) {
    const { key, sigs } = await makeSignatures(s, data);
    meta = withSignatures(meta, key, sigs);
  }
  const txn = await Transaction.begin(repo);
  try {
    await txn.writeNamedMetadata('commitmeta', checksum, encodeMetadata(meta ?? []));
    await txn.commit();
  } catch (e) {
    await txn.abort();
    throw e;
  }
  return checksum;
}

/** Remove the ed25519 signatures a public key verifies (`sign --delete`); returns how many. */
export async function deleteCommitSignatures(repo: Repo, rev: string, key: string, keep: (sig: Uint8Array) => boolean): Promise<number> {
  const checksum = await resolveRev(repo, rev) as string;
  const meta = await repo.loadCommitMeta(checksum);
  const sigs = signaturesIn(meta, key);
  const kept = sigs.filter(keep);
  if (kept.length === sigs.length) return 0;
  const out: VarDict = (meta ?? []).map(([k, v]) => (k === key ? [k, { type: 'aay', value: kept }] : [k, v]));
  const txn = await Transaction.begin(repo);
  try {
    await txn.writeNamedMetadata('commitmeta', checksum, encodeMetadata(out.filter(([k, v]) => k !== key || (v.value as unknown[]).length > 0)));
    await txn.commit();
  } catch (e) {
    await txn.abort();
    throw e;
  }
  return sigs.length - kept.length;
}

/** The summary file's bytes and its signature dictionary (null when there is no summary.sig). */
export async function readSummary(repo: Repo): Promise<{ data: Buffer; sig: VarDict | null }> {
  let data: Buffer;
  try {
    data = await fsp.readFile(path.join(repo.path, 'summary'));
  } catch (e) {
    if (isErrno(e, 'ENOENT')) throw new OstreeTsError(Codes.NOT_FOUND, `${repo.path} has no summary. Generate it with 'ostree-ts summary -u'.`, { path: repo.path });
    throw e;
  }
  let sig: VarDict | null = null;
  try {
    sig = decodeMetadata(await fsp.readFile(path.join(repo.path, 'summary.sig')));
  } catch (e) {
    if (!isErrno(e, 'ENOENT')) throw e;
  }
  return { data, sig };
}

/** Append signatures over the current summary to summary.sig. */
export async function signSummary(repo: Repo, signers: Signer[]): Promise<void> {
  const { data, sig } = await readSummary(repo);
  let dict = sig;
  for (const s of signers) {
    const { key, sigs } = await makeSignatures(s, data);
    dict = withSignatures(dict, key, sigs);
  }
  await atomicWriteFile(path.join(repo.path, 'summary.sig'), encodeMetadata(dict ?? []));
}

export { signaturesIn };
