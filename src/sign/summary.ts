/**
 * Signing the summary: signatures over the summary file's bytes exactly,
 * appended to `summary.sig` (a detached-metadata dictionary).
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import type { VarDict } from '../format/gvariant.js';
import { decodeMetadata, encodeMetadata } from '../format/objects.js';
import { atomicWriteFile, fsp, isErrno, path } from '../io/fs.js';
import type { Repo } from '../repo/repo.js';
import { signDetached, type Signer } from './detached.js';

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
  await atomicWriteFile(path.join(repo.path, 'summary.sig'), encodeMetadata(await signDetached(data, signers, sig)));
}
