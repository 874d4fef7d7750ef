/**
 * Signing commits: signatures are appended to the commit's detached metadata
 * (`.commitmeta`) under the keys libostree uses; the signed bytes are the
 * stored commit object exactly.
 */
import type { VarDict } from '../format/gvariant.js';
import { encodeMetadata } from '../format/objects.js';
import { resolveRev } from '../repo/refs.js';
import type { Repo } from '../repo/repo.js';
import { Transaction } from '../repo/transaction.js';
import { signaturesIn } from './signatures.js';
import { signDetached, type Signer } from './detached.js';
import { GPG_METADATA_KEY, gpgSignatureIssuers, namesIssuer } from './gpg.js';

/** Replace a commit's detached metadata, in one transaction. */
async function writeCommitMeta(repo: Repo, checksum: string, meta: VarDict): Promise<void> {
  const txn = await Transaction.begin(repo);
  try {
    await txn.writeNamedMetadata('commitmeta', checksum, encodeMetadata(meta));
    await txn.commit();
  } catch (e) {
    await txn.abort();
    throw e;
  }
}

/** Append signatures to a commit's detached metadata; returns the commit checksum. */
export async function signCommit(repo: Repo, rev: string, signers: Signer[]): Promise<string> {
  const checksum = await resolveRev(repo, rev) as string;
  const data = await repo.readMetadataBytes('commit', checksum);
  await writeCommitMeta(repo, checksum, await signDetached(data, signers, await repo.loadCommitMeta(checksum)));
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
  await writeCommitMeta(repo, checksum, out.filter(([k, v]) => k !== key || (v.value as unknown[]).length > 0));
  return sigs.length - kept.length;
}

/** `gpg-sign --delete`: remove the OpenPGP signatures issued by any of `keyIds`; returns how many. */
export async function deleteGpgSignatures(repo: Repo, rev: string, keyIds: string[]): Promise<number> {
  const checksum = await resolveRev(repo, rev) as string;
  const doomed = new Set<string>();
  for (const sig of signaturesIn(await repo.loadCommitMeta(checksum), GPG_METADATA_KEY)) {
    const issuers = await gpgSignatureIssuers(sig);
    if (keyIds.some((k) => namesIssuer(k, issuers))) doomed.add(Buffer.from(sig).toString('hex'));
  }
  if (!doomed.size) return 0;
  return deleteCommitSignatures(repo, checksum, GPG_METADATA_KEY, (sig) => !doomed.has(Buffer.from(sig).toString('hex')));
}
