/**
 * A remote's summary, fetched and checked against the remote's signature
 * policy before anything in it is shown or believed: `remote refs` and
 * `remote summary`. (libostree: ostree_repo_remote_fetch_summary plus the
 * verification its pull does.)
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { decodeMetadata, type VarDict } from '../format/index.js';
import { createFetcher, type Fetcher } from '../io/index.js';
import { MAX_METADATA_SIZE, decodeSummary, type Repo, type Summary } from '../repo/index.js';
import { remotePolicy, signaturesIn, verifySignatures, type VerifyResult } from '../sign/index.js';

export interface RemoteSummary {
  remote: string;
  /** Where the summary was fetched from. */
  url: string;
  /** The summary's bytes exactly as served. */
  bytes: Buffer;
  summary: Summary;
  /** The decoded summary.sig, when the policy asked for it to be checked. */
  signatures: VarDict | null;
  /** What was verified; `checked` is empty when the policy asks for nothing. */
  verified: VerifyResult;
}

export interface FetchSummaryOptions {
  fetcher?: Fetcher;
  signal?: AbortSignal;
}

/** The base URL of a configured remote, ending in '/'. */
export function remoteBaseUrl(repo: Repo, remote: string): string {
  const url = repo.config.get(`remote "${remote}"`, 'url');
  if (!url) throw new OstreeTsError(Codes.NOT_FOUND, `No remote '${remote}' (or it has no url). Add it with 'ostree-ts remote add ${remote} URL'.`, { remote });
  return url.endsWith('/') ? url : `${url}/`;
}

/** Fetch the summary of `remote`; its signature is checked as the remote's policy requires before it is decoded. */
export async function fetchRemoteSummary(repo: Repo, remote: string, opts: FetchSummaryOptions = {}): Promise<RemoteSummary> {
  const base = remoteBaseUrl(repo, remote);
  const policy = await remotePolicy(repo, remote);
  const url = new URL('summary', base).href;
  const sigUrl = new URL('summary.sig', base).href;
  const fetcher = opts.fetcher ?? createFetcher(2);
  try {
    const bytes = await fetcher.get(url, { maxBytes: MAX_METADATA_SIZE, signal: opts.signal });
    if (!bytes) {
      throw new OstreeTsError(Codes.NOT_FOUND, `Remote '${remote}' has no summary file (${url} answered 404), so its refs cannot be listed. Run 'ostree summary -u' on the server's repository.`, { remote, url });
    }
    const needed = policy.gpgVerifySummary || policy.signVerifySummary.length > 0;
    let signatures: VarDict | null = null;
    if (needed) {
      const sigBytes = await fetcher.get(sigUrl, { maxBytes: MAX_METADATA_SIZE, signal: opts.signal });
      if (sigBytes) {
        try {
          signatures = decodeMetadata(sigBytes);
          // A signature list of the wrong type is a damaged file too.
          signaturesIn(signatures, 'ostree.gpgsigs');
          signaturesIn(signatures, 'ostree.sign.ed25519');
        } catch (e) {
          throw new OstreeTsError(Codes.SIGNATURE, `The summary signature file of remote '${remote}' (${sigUrl}) is not valid: ${(e as Error).message} Nothing from the remote was used; ask its owner to sign the summary again.`, { remote, url: sigUrl }, { cause: e });
        }
      }
    }
    let verified: VerifyResult;
    try {
      verified = await verifySignatures(bytes, signatures, policy, { kind: 'summary' });
    } catch (e) {
      if (e instanceof OstreeTsError && e.code === Codes.SIGNATURE) {
        throw new OstreeTsError(Codes.SIGNATURE, `Refusing the summary of remote '${remote}' (${url}): ${e.message}`, { ...e.data, remote, url }, { cause: e });
      }
      throw e;
    }
    let summary: Summary;
    try {
      summary = decodeSummary(bytes);
    } catch (e) {
      throw new OstreeTsError(Codes.OBJECT_CORRUPT, `The summary of remote '${remote}' (${url}) is not valid: ${(e as Error).message} Nothing from it was used.`, { remote, url }, { cause: e });
    }
    return { remote, url, bytes, summary, signatures, verified };
  } finally {
    if (!opts.fetcher) fetcher.close();
  }
}
