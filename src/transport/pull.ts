/**
 * `pull`: fetch commits and everything they reference from an archive
 * repository over HTTP(S) or file://, into a repository of any mode.
 *
 * Order of trust: the summary's signature (when the remote's policy asks)
 * before the summary is used; the commit's signatures before any of its
 * content is fetched; every object's checksum before it is stored. Objects
 * are committed to the repository in batches while the commit is marked
 * partial (`state/CHECKSUM.commitpartial`), so an interrupted pull resumes
 * without fetching again what it stored; the ref moves last.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import {
  S_IFLNK, S_IFMT, decodeArchiveHeader, decodeCommit, decodeDirMeta, decodeDirTree, decodeMetadata, objectRelPath,
  deltaName, sha256Hex, type ObjectType, type VarDict,
} from '../format/index.js';
import { atomicWriteFile, createFetcher, fsp, inflateRaw, path, type Fetcher } from '../io/index.js';
import { Transaction, decodeSummary, readRef, writeRef, type Repo } from '../repo/index.js';
import { remotePolicy, verifySignatures, type VerifyPolicy, type VerifyResult } from '../sign/index.js';
import { applyDeltaFromRemote, chooseDelta, type DeltaPullProgress, type StaticDeltaMode } from './delta-pull.js';

export interface PullOptions {
  /** Static deltas: used when the remote lists one (auto), never, or required. */
  staticDeltas?: StaticDeltaMode;
  onDeltaProgress?: (e: DeltaPullProgress) => void;
  /** Objects fetched at once. */
  concurrency?: number;
  /** Objects stored per batch before they are made durable (and survive an interruption). */
  batch?: number;
  signal?: AbortSignal;
  onProgress?: (e: PullProgress) => void;
  fetcher?: Fetcher;
}

export interface PullProgress {
  phase: 'summary' | 'commit' | 'objects' | 'done';
  fetched: number;
  /** Objects known to be needed so far (grows as directories are read). */
  needed: number;
  bytes: number;
}

export interface PullResult {
  refs: Array<{ ref: string; checksum: string; verified: VerifyResult }>;
  /** Static deltas applied (FROM-TO or TO). */
  deltas: string[];
  fetched: number;
  bytes: number;
}

function objectUrl(base: string, checksum: string, type: ObjectType): string {
  return new URL(`objects/${objectRelPath(checksum, type, true)}`, base).href;
}

function badObject(checksum: string, type: ObjectType, why: string): OstreeTsError {
  return new OstreeTsError(Codes.OBJECT_CORRUPT, `The remote served a bad ${type} object ${checksum}: ${why.replace(/\.$/, '')}. Nothing of it was stored and no ref moved; pull again when the server is repaired.`, { checksum, type });
}

export async function pull(repo: Repo, remote: string, refs: string[], opts: PullOptions = {}): Promise<PullResult> {
  const section = `remote "${remote}"`;
  let base = repo.config.get(section, 'url');
  if (!base) throw new OstreeTsError(Codes.NOT_FOUND, `No remote '${remote}' (or it has no url). Add it with 'ostree-ts remote add ${remote} URL'.`, { remote });
  if (!base.endsWith('/')) base += '/';
  const policy = await remotePolicy(repo, remote);
  const fetcher = opts.fetcher ?? createFetcher(opts.concurrency ?? 8);
  const progress: PullProgress = { phase: 'summary', fetched: 0, needed: 0, bytes: 0 };
  const report = (): void => opts.onProgress?.({ ...progress, bytes: fetcher.stats.bytes });
  try {
    // The summary and its signature, checked before anything in them is believed.
    const summaryBytes = await fetcher.get(new URL('summary', base).href);
    const sigBytes = await fetcher.get(new URL('summary.sig', base).href);
    if (policy.gpgVerifySummary || policy.signVerifySummary.length) {
      if (!summaryBytes) throw new OstreeTsError(Codes.SIGNATURE, `Remote '${remote}' has no summary, but its policy requires a signed one.`, { remote });
      let sigs = null;
      try {
        sigs = sigBytes ? decodeMetadata(sigBytes) : null;
      } catch (e) {
        throw new OstreeTsError(Codes.SIGNATURE, `The summary signature file of remote '${remote}' (${new URL('summary.sig', base).href}) is not valid: ${(e as Error).message} Nothing from the remote was used.`, { remote }, { cause: e });
      }
      await verifySignatures(summaryBytes, sigs, policy, { kind: 'summary' });
    }
    const summary = summaryBytes ? decodeSummary(summaryBytes) : null;
    const wanted = refs.length ? refs : (repo.config.get(section, 'branches') ?? '').split(';').filter(Boolean);
    if (!wanted.length) throw new OstreeTsError(Codes.USAGE, `Which refs? Name them (ostree-ts pull ${remote} REF), or set branches for the remote.`, { remote });
    const result: PullResult = { refs: [], deltas: [], fetched: 0, bytes: 0 };
    for (const ref of wanted) {
      let checksum = summary?.refs.find((r) => r.name === ref)?.checksum;
      if (!checksum && !summary) {
        const text = await fetcher.get(new URL(`refs/heads/${ref}`, base).href);
        checksum = text?.toString('utf8').trim();
      }
      if (!checksum || !/^[0-9a-f]{64}$/.test(checksum)) {
        throw new OstreeTsError(Codes.REF_NOT_FOUND, `Remote '${remote}' has no ref ${ref}${summary ? ' in its summary' : ''}. List its refs with 'ostree-ts remote refs ${remote}'.`, { remote, ref });
      }
      progress.phase = 'commit';
      report();
      const deltaUsed = await maybePullDelta(repo, base, remote, ref, checksum, summary?.metadata ?? null, policy, fetcher, opts);
      const verified = await pullCommit(repo, base, checksum, policy, fetcher, opts, progress, report);
      if (deltaUsed) result.deltas.push(deltaUsed);
      await writeRef(repo, `${remote}:${ref}`, checksum);
      result.refs.push({ ref, checksum, verified });
    }
    progress.phase = 'done';
    report();
    result.fetched = progress.fetched;
    result.bytes = fetcher.stats.bytes;
    return result;
  } finally {
    if (!opts.fetcher) fetcher.close();
  }
}

async function pullCommit(
  repo: Repo, base: string, checksum: string, policy: Awaited<ReturnType<typeof remotePolicy>>, fetcher: Fetcher,
  opts: PullOptions, progress: PullProgress, report: () => void,
): Promise<VerifyResult> {
  const partial = path.join(repo.path, 'state', `${checksum}.commitpartial`);
  const have = await repo.hasObject(checksum, 'commit');
  const resuming = have && (await fsp.stat(partial).catch(() => null)) !== null;
  let commitBytes: Buffer;
  let detached;
  let metaBytes: Buffer | null = null;
  if (have) {
    commitBytes = await repo.readMetadataBytes('commit', checksum);
    detached = await repo.loadCommitMeta(checksum);
  } else {
    const got = await fetcher.get(objectUrl(base, checksum, 'commit'), { maxBytes: 64 * 1024 * 1024 });
    if (!got) throw new OstreeTsError(Codes.OBJECT_MISSING, `The remote has no commit object ${checksum} (404).`, { checksum });
    if (sha256Hex(got) !== checksum) throw badObject(checksum, 'commit', 'its content does not match its name');
    commitBytes = got;
    metaBytes = await fetcher.get(objectUrl(base, checksum, 'commitmeta'), { maxBytes: 64 * 1024 * 1024 });
    detached = metaBytes ? decodeMetadata(metaBytes) : null;
  }
  // Signatures before content.
  const verified = await verifySignatures(commitBytes, detached, policy, { kind: 'commit', checksum });
  const commit = decodeCommit(commitBytes, checksum);
  if (have && !resuming) return verified; // complete already
  await fsp.mkdir(path.dirname(partial), { recursive: true });
  await atomicWriteFile(partial, '', { fsync: false });
  let txn = await Transaction.begin(repo);
  const batch = opts.batch ?? 2000;
  let inBatch = 0;
  const flush = async (): Promise<void> => {
    await txn.commit();
    txn = await Transaction.begin(repo);
    inBatch = 0;
  };
  try {
    if (!have) {
      await txn.writeMetadata('commit', commitBytes);
      if (metaBytes) await txn.writeNamedMetadata('commitmeta', checksum, metaBytes);
      await flush();
    }
    // Breadth-first over the tree, a bounded number of fetches at once.
    type Job = { checksum: string; type: 'dirtree' | 'dirmeta' | 'file' };
    const queue: Job[] = [{ checksum: commit.rootTree, type: 'dirtree' }, { checksum: commit.rootMeta, type: 'dirmeta' }];
    const seen = new Set<string>(queue.map((j) => `${j.checksum}.${j.type}`));
    progress.phase = 'objects';
    progress.needed += queue.length;
    const work = async (job: Job): Promise<void> => {
      opts.signal?.throwIfAborted();
      const exists = await repo.hasObject(job.checksum, job.type);
      let data: Buffer | null = null;
      if (job.type === 'dirtree' && exists) data = await repo.readMetadataBytes('dirtree', job.checksum);
      if (!exists) {
        data = await fetcher.get(objectUrl(base, job.checksum, job.type));
        if (!data) throw new OstreeTsError(Codes.OBJECT_MISSING, `The remote has no ${job.type} object ${job.checksum} (404), which commit ${checksum} needs. The remote repository is incomplete; no ref was moved.`, { checksum: job.checksum, type: job.type });
        await storeFetched(txn, job.checksum, job.type, data);
        progress.fetched++;
        inBatch++;
      }
      if (job.type === 'dirtree' && data) {
        const tree = decodeDirTree(data, job.checksum);
        const add = (c: string, type: Job['type']): void => {
          const k = `${c}.${type}`;
          if (seen.has(k)) return;
          seen.add(k);
          queue.push({ checksum: c, type });
          progress.needed++;
        };
        for (const f of tree.files) add(f.checksum, 'file');
        for (const d of tree.dirs) {
          add(d.tree, 'dirtree');
          add(d.meta, 'dirmeta');
        }
      }
      report();
    };
    const limit = opts.concurrency ?? 16;
    const running = new Set<Promise<void>>();
    let failure: unknown = null;
    while (queue.length || running.size) {
      while (queue.length && running.size < limit && !failure) {
        const p: Promise<void> = work(queue.shift() as Job).catch((e) => { failure ??= e; }).finally(() => running.delete(p));
        running.add(p);
      }
      if (running.size) await Promise.race(running);
      if (failure) {
        await Promise.allSettled(running);
        throw failure;
      }
      if (inBatch >= batch) {
        await Promise.allSettled(running);
        if (failure) throw failure;
        await flush();
      }
    }
    await txn.commit();
    await fsp.rm(partial, { force: true });
    return verified;
  } catch (e) {
    await txn.abort();
    throw e;
  }
}

/** Check a fetched object against its name and store it in the repository's own form. */
async function storeFetched(txn: Transaction, checksum: string, type: 'dirtree' | 'dirmeta' | 'file', data: Buffer): Promise<void> {
  if (type !== 'file') {
    if (sha256Hex(data) !== checksum) throw badObject(checksum, type, 'its content does not match its name');
    try {
      if (type === 'dirtree') decodeDirTree(data, checksum);
      else decodeDirMeta(data, `dirmeta ${checksum}`);
    } catch (e) {
      throw badObject(checksum, type, (e as Error).message);
    }
    await txn.writeMetadata(type, data);
    return;
  }
  let header;
  let size: bigint;
  let length: number;
  try {
    ({ header, size, length } = decodeArchiveHeader(data, `file ${checksum}`));
  } catch (e) {
    throw badObject(checksum, 'file', (e as Error).message);
  }
  const isLink = (header.mode & S_IFMT) === S_IFLNK;
  let content: Buffer = Buffer.alloc(0);
  if (!isLink) {
    try {
      content = await inflateRaw(data.subarray(length), Number(size) + 1);
    } catch (e) {
      throw badObject(checksum, 'file', `its compressed content cannot be inflated (${(e as Error).message})`);
    }
    if (content.length !== Number(size)) throw badObject(checksum, 'file', `it inflates to ${content.length} bytes, not ${size}`);
  }
  const expected = txn.contentChecksum(header, content);
  if (expected !== checksum) throw badObject(checksum, 'file', 'its content does not match its name');
  // An archive repository keeps the compressed object as served: no second compression.
  if (txn.repo.isArchive) await txn.writeArchivedContent(checksum, data);
  else await txn.writeContent(header, isLink ? { kind: 'symlink' } : { kind: 'buffer', data: content });
}

/**
 * Use a static delta for `checksum` when the remote offers one and this
 * repository can take it (libostree's rules: not into archive repositories,
 * not from file:// remotes, unless required). Returns the delta's name, or
 * null when objects are to be fetched instead.
 */
async function maybePullDelta(
  repo: Repo, base: string, remote: string, ref: string, checksum: string, summaryMeta: VarDict | null, policy: VerifyPolicy, fetcher: Fetcher, opts: PullOptions,
): Promise<string | null> {
  const mode = opts.staticDeltas ?? 'auto';
  if (mode === 'disable') return null;
  const required = mode === 'require';
  if (repo.isArchive || base.startsWith('file:')) {
    if (required && repo.isArchive) throw new OstreeTsError(Codes.USAGE, `Static deltas cannot be used to pull into an archive repository (${repo.path}), as in OSTree; pull without --require-static-deltas.`, { remote });
    if (!required) return null;
  }
  // Already complete here: nothing to fetch.
  if ((await repo.hasObject(checksum, 'commit')) && !(await repo.isCommitPartial(checksum))) return null;
  const current = await readRef(repo, `${remote}:${ref}`);
  const choice = await chooseDelta(repo, base, fetcher, summaryMeta, checksum, current);
  if (!choice) {
    if (required) throw new OstreeTsError(Codes.NOT_FOUND, `Remote '${remote}' has no static delta to ${checksum} (${ref}) that this repository can use, and --require-static-deltas was given.`, { remote, ref, checksum });
    return null;
  }
  await applyDeltaFromRemote(repo, base, fetcher, policy, choice, { signal: opts.signal, onProgress: opts.onDeltaProgress });
  return deltaName(choice.from, choice.to);
}

/** The commit a remote ref points at locally, if pulled. */
export function remoteRef(repo: Repo, remote: string, ref: string): Promise<string | null> {
  return readRef(repo, `${remote}:${ref}`);
}
