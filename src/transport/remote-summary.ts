/**
 * A remote's summary, fetched and checked against the remote's signature
 * policy before anything in it is shown or believed: `pull`, `remote refs`
 * and `remote summary` all take it from here, and `pull-local
 * --gpg-verify-summary` checks a local summary with the same `verifySummary`.
 * (libostree: ostree_repo_remote_fetch_summary plus the verification its
 * pull does.)
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import type { VarDict } from '../format/gvariant.js';
import { decodeMetadata } from '../format/objects.js';
import { atomicWriteFile, fsp, mkdirp, path } from '../io/fs.js';
import { createFetcher, type Fetcher } from '../io/http-client.js';
import { MAX_METADATA_SIZE, type Repo } from '../repo/repo.js';
import { decodeSummary, type Summary } from '../repo/summary.js';
import { checkRemoteUrl, remoteRequestHeaders } from './remotes.js';
import { remotePolicy, verifySignatures, type VerifyPolicy, type VerifyResult } from '../sign/policy.js';
import { signaturesIn } from '../sign/signatures.js';

export interface RemoteSummary {
  remote: string;
  /** Where the summary was fetched from. */
  url: string;
  /** The summary's bytes exactly as served. */
  bytes: Buffer;
  summary: Summary;
  /** The decoded summary.sig, when the policy asked for it to be checked. */
  signatures: VarDict | null;
  /** summary.sig exactly as served, when it was fetched (null: not fetched, or none on the remote). */
  signatureBytes: Buffer | null;
  /** What was verified; `checked` is empty when the policy asks for nothing. */
  verified: VerifyResult;
}

export interface FetchSummaryOptions {
  fetcher?: Fetcher;
  signal?: AbortSignal;
}

/** A configured remote, as the summary is fetched from it. */
export interface SummarySource {
  remote: string;
  /** The remote's base URL, ending in '/'. */
  base: string;
  policy: VerifyPolicy;
  fetcher: Fetcher;
  signal?: AbortSignal;
}

export interface VerifiedSummaryOptions {
  /**
   * A remote without a summary is no error (null is returned), unless its
   * policy requires a signed summary: pull then reads refs one by one.
   */
  optional?: boolean;
  /** Fetch summary.sig even when the policy does not ask for it to be checked (a mirror copies it). */
  keepSignatureFile?: boolean;
  /**
   * A summary cache (`--cache-dir`): the summary and its signature are kept
   * in DIR/summaries/NAME(.sig), and while the served summary.sig is the one
   * kept, the kept summary is used instead of being downloaded again (and
   * still verified). NAME is the remote's unless `cacheName` says otherwise.
   */
  cacheDir?: string;
  cacheName?: string;
}

/** The base URL of a configured remote, ending in '/'. */
export function remoteBaseUrl(repo: Repo, remote: string): string {
  const url = repo.config.get(`remote "${remote}"`, 'url');
  if (!url) throw new OstreeTsError(Codes.NOT_FOUND, `No remote '${remote}' (or it has no url). Add it with 'ostree-ts remote add ${remote} URL'.`, { remote });
  // A URL written by another tool (or by hand) is checked here, before anything is fetched from it.
  checkRemoteUrl(url, remote);
  if (url.startsWith('mirrorlist=')) {
    throw new OstreeTsError(Codes.REPO_CONFIG, `Remote '${remote}' takes its URL from a mirror list (${url}), which ostree-ts does not read yet. Set the url of remote '${remote}' to one of the mirrors.`, { remote, url });
  }
  return url.endsWith('/') ? url : `${url}/`;
}

/** Fetch the summary of `remote`; its signature is checked as the remote's policy requires before it is decoded. */
export async function fetchRemoteSummary(repo: Repo, remote: string, opts: FetchSummaryOptions = {}): Promise<RemoteSummary> {
  const base = remoteBaseUrl(repo, remote);
  const policy = await remotePolicy(repo, remote);
  const fetcher = opts.fetcher ?? createFetcher(2, { headers: await remoteRequestHeaders(repo, remote) });
  try {
    return await fetchVerifiedSummary({ remote, base, policy, fetcher, signal: opts.signal });
  } finally {
    if (!opts.fetcher) fetcher.close();
  }
}

/**
 * The summary (and summary.sig) of a remote, its signatures checked against
 * `policy` before the summary is decoded. Null only with `optional`, when the
 * remote has no summary and the policy asks for no signed one.
 */
export async function fetchVerifiedSummary(source: SummarySource, opts: VerifiedSummaryOptions & { optional: true }): Promise<RemoteSummary | null>;
export async function fetchVerifiedSummary(source: SummarySource, opts?: VerifiedSummaryOptions): Promise<RemoteSummary>;
export async function fetchVerifiedSummary(source: SummarySource, opts: VerifiedSummaryOptions = {}): Promise<RemoteSummary | null> {
  const { remote, base, policy, fetcher, signal } = source;
  const url = new URL('summary', base).href;
  const sigUrl = new URL('summary.sig', base).href;
  const needed = policy.gpgVerifySummary || policy.signVerifySummary.length > 0;
  const cache = opts.cacheDir ? path.join(opts.cacheDir, 'summaries', opts.cacheName ?? remote) : null;
  let signatureBytes: Buffer | null = null;
  let bytes: Buffer | null = null;
  let cached = false;
  if (cache) {
    // The signature first: while it is the one kept, so is the summary.
    signatureBytes = await fetcher.get(sigUrl, { maxBytes: MAX_METADATA_SIZE, signal });
    const keptSig = signatureBytes ? await fsp.readFile(`${cache}.sig`).catch(() => null) : null;
    if (signatureBytes && keptSig?.equals(signatureBytes)) {
      bytes = await fsp.readFile(cache).catch(() => null);
      cached = bytes !== null;
    }
  }
  if (!bytes) bytes = await fetcher.get(url, { maxBytes: MAX_METADATA_SIZE, signal });
  if (!bytes) {
    if (opts.optional && needed) throw new OstreeTsError(Codes.SIGNATURE, `Remote '${remote}' has no summary, but its policy requires a signed one.`, { remote, url });
    if (opts.optional) return null;
    throw new OstreeTsError(Codes.NOT_FOUND, `Remote '${remote}' has no summary file (${url} answered 404), so its refs cannot be listed. Run 'ostree summary -u' on the server's repository.`, { remote, url });
  }
  if (!cache && (needed || opts.keepSignatureFile)) signatureBytes = await fetcher.get(sigUrl, { maxBytes: MAX_METADATA_SIZE, signal });
  const { summary, signatures, verified } = await verifySummary(bytes, signatureBytes, policy, { subject: `remote '${remote}'`, url, sigUrl, data: { remote } });
  if (cache && !cached && signatureBytes) {
    // Kept only once verified; a cache that cannot be written is no reason to fail the pull.
    await mkdirp(path.dirname(cache), 0o775)
      .then(() => atomicWriteFile(cache, bytes as Buffer, { fsync: false }))
      .then(() => atomicWriteFile(`${cache}.sig`, signatureBytes as Buffer, { fsync: false }))
      .catch(() => undefined);
  }
  return { remote, url, bytes, summary, signatures, signatureBytes, verified };
}

/** Where a summary came from, for messages and error data. */
export interface SummaryOrigin {
  /** What served it, as messages name it: `remote 'origin'`, or a repository's path. */
  subject: string;
  url: string;
  sigUrl: string;
  /** Facts added to every error's data (`{ remote }`). */
  data?: Record<string, unknown>;
}

/**
 * The trust step, whatever the summary came from: summary.sig decoded and
 * checked against `policy` (only when the policy asks for a signed summary),
 * then the summary decoded. Nothing in it is believed before this returns.
 */
export async function verifySummary(
  bytes: Buffer, signatureBytes: Buffer | null, policy: VerifyPolicy, origin: SummaryOrigin,
): Promise<{ summary: Summary; signatures: VarDict | null; verified: VerifyResult }> {
  const { subject, url, sigUrl } = origin;
  const needed = policy.gpgVerifySummary || policy.signVerifySummary.length > 0;
  let signatures: VarDict | null = null;
  if (needed && signatureBytes) {
    try {
      signatures = decodeMetadata(signatureBytes);
      // A signature list of the wrong type is a damaged file too.
      signaturesIn(signatures, 'ostree.gpgsigs');
      signaturesIn(signatures, 'ostree.sign.ed25519');
    } catch (e) {
      throw new OstreeTsError(Codes.SIGNATURE, `The summary signature file of ${subject} (${sigUrl}) is not valid: ${(e as Error).message} Nothing from ${subject} was used; ask its owner to sign the summary again.`, { ...origin.data, url: sigUrl }, { cause: e });
    }
  }
  let verified: VerifyResult;
  try {
    verified = await verifySignatures(bytes, signatures, policy, { kind: 'summary' });
  } catch (e) {
    if (e instanceof OstreeTsError && e.code === Codes.SIGNATURE) {
      throw new OstreeTsError(Codes.SIGNATURE, `Refusing the summary of ${subject} (${url}): ${e.message}`, { ...e.data, ...origin.data, url }, { cause: e });
    }
    throw e;
  }
  let summary: Summary;
  try {
    summary = decodeSummary(bytes);
  } catch (e) {
    throw new OstreeTsError(Codes.OBJECT_CORRUPT, `The summary of ${subject} (${url}) is not valid: ${(e as Error).message} Nothing from it was used.`, { ...origin.data, url }, { cause: e });
  }
  return { summary, signatures, verified };
}
