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
 *
 * Options follow libostree's pull options: `depth` (parents too; missing
 * parents on the server end the walk quietly), `commitMetadataOnly` (the
 * commit stays partial), `mirror` (refs/heads/REF; with no refs named, every
 * ref of the summary, and the summary itself copied), `subpaths` (only what
 * lies under them; the commit stays partial), `timestampCheck` (refuse a
 * commit older than the one the ref names here), `dryRun` (count, store
 * nothing) and `staticDeltas`.
 */
import { Codes, InternalError, OstreeTsError } from '../errors/index.js';
import { isChecksum } from '../format/checksum.js';
import { deltaName } from '../format/delta.js';
import type { VarDict } from '../format/gvariant.js';
import { decodeCommit, decodeMetadata, type Commit } from '../format/objects.js';
import { commitObjectSizes } from '../format/sizes.js';
import { atomicWriteFile, fsp, path } from '../io/fs.js';
import { createFetcher, type Fetcher, type FetcherOptions } from '../io/http-client.js';
import { mapNoSpace } from '../io/space.js';
import { BatchedStore } from '../repo/batched-store.js';
import { CommitImport } from '../repo/commit-partial.js';
import { ObjectIndex } from '../repo/object-index.js';
import { checkRefBinding } from '../repo/ref-binding.js';
import { readRef, writeRef, resolveRev } from '../repo/refs.js';
import type { Repo } from '../repo/repo.js';
import type { Summary } from '../repo/summary.js';
import { remotePolicy, verifySignatures, type VerifyPolicy, type VerifyResult } from '../sign/policy.js';
import { applyDeltaFromRemote, chooseDelta, type DeltaPullProgress, type StaticDeltaMode } from './delta-pull.js';
import { newCounters, walkTree, type PullCounters } from './pull-objects.js';
import { fetchCommitMeta, fetchMetadataObject } from './remote-metadata.js';
import { fetchVerifiedSummary, remoteBaseUrl } from './remote-summary.js';
import { withLocalCache } from './local-cache.js';
import { checkRemoteUrl, remoteRequestHeaders } from './remotes.js';
import { badObject, checkServedMetadata } from './served-object.js';

export interface PullOptions {
  /** Static deltas: used when the remote lists one (auto), never, or required. */
  staticDeltas?: StaticDeltaMode;
  onDeltaProgress?: (e: DeltaPullProgress) => void;
  /** Parent commits to pull too: 0 (default) none, -1 all. */
  depth?: number;
  /** Only the commit objects (and their detached metadata); they stay marked partial. */
  commitMetadataOnly?: boolean;
  /** Write refs/heads/REF rather than REMOTE:REF; with no refs named, pull every ref of the summary and copy it. */
  mirror?: boolean;
  /** Only the objects under these absolute paths; the commit stays marked partial. */
  subpaths?: string[];
  /** Say what would be fetched; store nothing, move nothing. */
  dryRun?: boolean;
  /** Refuse a commit older than the one the local ref names. */
  timestampCheck?: boolean;
  /** Accept a commit whose ostree.ref-binding does not name the ref pulled (or, with a collection ID, whose collection binding differs). */
  disableVerifyBindings?: boolean;
  /** Requests in flight at once. */
  concurrency?: number;
  /** Objects stored per batch before they are made durable (and survive an interruption); default 2000, and at most one batch every 3 s. */
  batch?: number;
  signal?: AbortSignal;
  onProgress?: (e: PullEvent) => void;
  fetcher?: Fetcher;
  /** Leave every ref as it is (the caller moves them once it is done with the commits). */
  noRefs?: boolean;
  /** Each commit once its signatures are verified, before any of its content is fetched (also in a dry run). */
  onVerifiedCommit?: (checksum: string, commit: Commit, verified: VerifyResult) => void;
  /** Pull these commits instead of what the remote's refs name now (REF → checksum), as `REF@CHECKSUM`. */
  overrideCommits?: Record<string, string>;
  /** Fetch deadlines; each one not given comes from the remote's config (REMOTE_DEADLINE_KEYS), else its default. */
  deadlines?: PullDeadlines;
  /** Headers sent with every request (`--http-header=NAME=VALUE`), beside the remote's cookies. */
  httpHeaders?: Array<[string, string]>;
  /** Attempts after the first for each download that fails on the network (default 4). */
  networkRetries?: number;
  /** Pull from this URL instead of the remote's (`--url`); its policy and keys still apply. */
  url?: string;
  /** Store without syncing to disk (`--disable-fsync`): faster, and lost in a power cut. */
  disableFsync?: boolean;
  /** Refuse commits older than this revision's commit (`--timestamp-check-from-rev`). */
  timestampCheckFromRev?: string;
  /** Refuse regular files with mode bits outside 0775 (`--bareuseronly-files`); objects only, never a static delta. */
  bareUserOnlyFiles?: boolean;
  /** Local repositories objects are taken from before they are fetched (`--localcache-repo`), checked as served ones. */
  localCacheRepos?: Repo[];
  /** Verify with this policy instead of the remote's (a repository found by `find-remotes`: its commits signed by the remote's keys, its summary not). */
  policy?: VerifyPolicy;
  /** The collection ID commits must be bound to, instead of the remote's collection-id (null: none; a local repository's own ID is the one libostree checks). */
  bindingCollectionId?: string | null;
  /** A summary cache directory (`--cache-dir`; see fetchVerifiedSummary). */
  cacheDir?: string;
  /** The name the summary is cached under (default: the remote's). */
  cacheName?: string;
}

/** How long a pull may wait on its remote (0 turns a limit off). */
export interface PullDeadlines {
  /** A transfer slower than this many bytes per second over `lowSpeedTimeSeconds` is abandoned (default 1000). */
  lowSpeedLimitBytes?: number;
  /** The window of the low-speed limit (default 30). */
  lowSpeedTimeSeconds?: number;
  /** One request, however fast (default 0: none). */
  requestTimeoutSeconds?: number;
  /** The whole pull (default 0: none). */
  pullTimeoutSeconds?: number;
}

/** The `[remote "NAME"]` keys that set a pull's deadlines, by option. */
export const REMOTE_DEADLINE_KEYS: Record<keyof PullDeadlines, string> = {
  lowSpeedLimitBytes: 'low-speed-limit-bytes',
  lowSpeedTimeSeconds: 'low-speed-time-seconds',
  requestTimeoutSeconds: 'request-timeout-seconds',
  pullTimeoutSeconds: 'pull-timeout-seconds',
};

/** The deadlines of a pull from `remote`: the options given, else the remote's config, else the defaults. */
export function remoteDeadlines(repo: Repo, remote: string, given: PullDeadlines = {}): FetcherOptions {
  const section = `remote "${remote}"`;
  const value = (k: keyof PullDeadlines): number | undefined => {
    const v = given[k];
    if (v !== undefined) {
      if (!Number.isInteger(v) || v < 0) throw usage(`${REMOTE_DEADLINE_KEYS[k]} must be a whole number, 0 or more; got ${v}.`, { option: k, value: v });
      return v;
    }
    const text = repo.config.get(section, REMOTE_DEADLINE_KEYS[k]);
    if (text === undefined) return undefined;
    if (!/^\d+$/.test(text.trim())) {
      throw new OstreeTsError(Codes.REPO_CONFIG, `${REMOTE_DEADLINE_KEYS[k]}=${text} in the [${section}] group of ${repo.path}/config is not a whole number of ${k === 'lowSpeedLimitBytes' ? 'bytes per second' : 'seconds'}; correct it there (0 turns the limit off).`, { remote, key: REMOTE_DEADLINE_KEYS[k], value: text });
    }
    return Number(text.trim());
  };
  const limit = value('lowSpeedLimitBytes');
  const time = value('lowSpeedTimeSeconds');
  const request = value('requestTimeoutSeconds');
  const whole = value('pullTimeoutSeconds');
  return {
    lowSpeedLimit: limit,
    lowSpeedTimeMs: time === undefined ? undefined : time * 1000,
    requestTimeoutMs: request === undefined ? undefined : request * 1000,
    operationTimeoutMs: whole === undefined ? undefined : whole * 1000,
    operation: `pulling from remote '${remote}'`,
    names: {
      lowSpeedLimit: REMOTE_DEADLINE_KEYS.lowSpeedLimitBytes,
      lowSpeedTime: REMOTE_DEADLINE_KEYS.lowSpeedTimeSeconds,
      requestTimeout: REMOTE_DEADLINE_KEYS.requestTimeoutSeconds,
      operationTimeout: REMOTE_DEADLINE_KEYS.pullTimeoutSeconds,
    },
  };
}

/** A ref a pull resolved, before anything was fetched. */
export interface PullRefPlan {
  ref: string;
  /** The ref written here: REMOTE:REF, or REF when mirroring. */
  localRef: string;
  checksum: string;
  /** What `localRef` named before the pull (null: nothing). */
  previous: string | null;
}

/** Progress, as events: `start` once, then `commit`, `objects` and `delta` as work goes, `done` last. */
export type PullEvent =
  | { type: 'start'; remote: string; dryRun: boolean; refs: PullRefPlan[] }
  | { type: 'commit'; checksum: string; ref: string | null; parent: boolean }
  | ({ type: 'objects'; bytes: number } & PullCounters)
  | ({ type: 'delta' } & Omit<DeltaPullProgress, 'phase'>)
  | { type: 'done'; result: PullResult };

export interface PullResult {
  remote: string;
  dryRun: boolean;
  refs: Array<PullRefPlan & { changed: boolean; verified: VerifyResult | null }>;
  /** Commits looked at, the requested ones and their parents, in order. */
  commits: Array<{ checksum: string; parent: boolean; stored: boolean; partial: boolean }>;
  /** Static deltas applied (FROM-TO or TO). */
  deltas: string[];
  /** Objects fetched (a dry run fetches only directory listings, into memory). */
  fetched: number;
  /** Bytes received. */
  bytes: number;
  /** Objects this repository lacks: what a real pull fetches (a dry run's answer). */
  needed: { objects: number; metadata: number; content: number; bytes: number | null };
  /** Mirroring every ref: the remote's summary was copied here. */
  summaryCopied: boolean;
}

/** State shared by the commits of one pull. */
interface PullContext {
  repo: Repo;
  remote: string;
  base: string;
  policy: VerifyPolicy;
  fetcher: Fetcher;
  opts: PullOptions;
  store: BatchedStore | null;
  index: ObjectIndex;
  seen: Set<string>;
  counters: PullCounters;
  changed: () => void;
  emit: (e: PullEvent) => void;
  /** Commits fetched but not yet stored (for the timestamp check before anything is written). */
  fetchedCommits: Map<string, { bytes: Buffer; meta: Buffer | null }>;
  /** Commits already handled by this pull. */
  done: Map<string, { commit: Commit; verified: VerifyResult }>;
  result: PullResult;
}

function usage(message: string, data: Record<string, unknown> = {}): OstreeTsError {
  return new OstreeTsError(Codes.USAGE, message, data);
}

function checkOptions(opts: PullOptions): void {
  const depth = opts.depth ?? 0;
  if (!Number.isInteger(depth) || depth < -1) throw usage(`The depth must be a whole number, -1 (all parents) or more; got ${depth}.`, { depth });
  if (opts.timestampCheck && depth !== 0) throw usage('The timestamp check compares the commits a ref names, so it cannot be combined with a depth (as in OSTree).');
  for (const s of opts.subpaths ?? []) {
    if (!s.startsWith('/')) throw usage(`Subpath ${s}: give an absolute path inside the commit, such as /usr/bin.`, { subpath: s });
  }
  if (opts.subpaths?.length && opts.staticDeltas === 'require') throw usage('A subpath is fetched object by object, so it cannot be combined with requiring static deltas.');
  if (opts.commitMetadataOnly && opts.staticDeltas === 'require') throw usage('Fetching commit metadata only cannot be combined with requiring static deltas.');
  if (opts.bareUserOnlyFiles && opts.staticDeltas === 'require') throw usage('--bareuseronly-files checks each file object as it is fetched, so it cannot be combined with requiring static deltas.');
}

/** Subpaths as compared: no trailing slash (but '/' itself). */
function normalSubpaths(list: string[] | undefined): string[] | null {
  if (!list?.length) return null;
  return list.map((s) => (s.length > 1 ? s.replace(/\/+$/, '') || '/' : s));
}

function formatTimestamp(ts: bigint): string {
  return new Date(Number(ts) * 1000).toISOString().replace('T', ' ').replace(/\.000Z$/, ' UTC');
}

export async function pull(repo: Repo, remote: string, refs: string[], opts: PullOptions = {}): Promise<PullResult> {
  // A full disk, wherever it is met, stops the pull at once and is told as such; what was stored stays for the next pull.
  const ctx = {
    operation: `pulling from remote '${remote}' into ${repo.path}`,
    path: path.join(repo.path, 'tmp'),
    next: 'Free some space there, then pull again: what was already stored is kept and not fetched again',
  };
  // Shared from the first object to the last ref: prune cannot take what an earlier batch stored.
  return mapNoSpace(ctx, () => repo.withLock('shared', 'pull', () => pullLocked(repo, remote, refs, opts)));
}

async function pullLocked(repo: Repo, remote: string, refs: string[], opts: PullOptions): Promise<PullResult> {
  checkOptions(opts);
  const section = `remote "${remote}"`;
  const base = opts.url === undefined ? remoteBaseUrl(repo, remote) : baseOf(checkRemoteUrl(opts.url, remote).href);
  const policy = opts.policy ?? (await remotePolicy(repo, remote));
  const network = opts.fetcher ?? createFetcher(opts.concurrency ? Math.min(opts.concurrency, 8) : 8, {
    ...remoteDeadlines(repo, remote, opts.deadlines), headers: await remoteRequestHeaders(repo, remote, opts.httpHeaders),
    retries: opts.networkRetries === undefined ? undefined : opts.networkRetries + 1,
  });
  const fetcher = opts.localCacheRepos?.length ? withLocalCache(network, base, opts.localCacheRepos) : network;
  const startBytes = fetcher.stats.bytes;
  const emit = (e: PullEvent): void => opts.onProgress?.(e);
  const counters = newCounters();
  const dryRun = opts.dryRun === true;
  const result: PullResult = {
    remote, dryRun, refs: [], commits: [], deltas: [], fetched: 0, bytes: 0,
    needed: { objects: 0, metadata: 0, content: 0, bytes: null }, summaryCopied: false,
  };
  const ctx: PullContext = {
    repo, remote, base, policy, fetcher, opts, store: null, index: new ObjectIndex(repo), seen: new Set(), counters,
    changed: () => emit({ type: 'objects', ...counters, bytes: fetcher.stats.bytes - startBytes }),
    emit, fetchedCommits: new Map(), done: new Map(), result,
  };
  try {
    const branches = (repo.config.get(section, 'branches') ?? '').split(';').filter(Boolean);
    // Mirroring with nothing named: every ref the summary lists, and the summary itself.
    const mirrorAll = opts.mirror === true && refs.length === 0 && branches.length === 0;
    // The summary and its signature, checked before anything in them is believed.
    const fetched = await fetchVerifiedSummary({ remote, base, policy, fetcher, signal: opts.signal }, { optional: true, keepSignatureFile: mirrorAll, cacheDir: opts.cacheDir, cacheName: opts.cacheName });
    const summary: Summary | null = fetched?.summary ?? null;
    let wanted = refs.length ? refs : branches;
    if (mirrorAll) {
      if (!summary) throw new OstreeTsError(Codes.NOT_FOUND, `Remote '${remote}' has no summary, so there is no list of refs to mirror. Name the refs, or run 'summary -u' on the server's repository.`, { remote });
      wanted = summary.refs.map((r) => r.name);
    }
    if (!wanted.length) throw usage(`Which refs? Name them (ostree-ts pull ${remote} REF), or set branches for the remote.`, { remote });

    const plans: PullRefPlan[] = [];
    for (const ref of [...new Set(wanted)]) {
      let checksum = opts.overrideCommits?.[ref] ?? summary?.refs.find((r) => r.name === ref)?.checksum;
      if (!checksum && !summary) {
        const text = await fetcher.get(new URL(`refs/heads/${ref}`, base).href, { maxBytes: 1024, signal: opts.signal });
        checksum = text?.toString('utf8').trim();
      }
      if (!checksum || !isChecksum(checksum)) {
        throw new OstreeTsError(Codes.REF_NOT_FOUND, `Remote '${remote}' has no ref ${ref}${summary ? ' in its summary' : ''}. List its refs with 'ostree-ts remote refs ${remote}'.`, { remote, ref });
      }
      const localRef = opts.mirror ? ref : `${remote}:${ref}`;
      plans.push({ ref, localRef, checksum, previous: await readRef(repo, localRef) });
    }
    emit({ type: 'start', remote, dryRun, refs: plans });

    // Unless a batch size is asked for, batches also last at least a few seconds: one sync each.
    if (!dryRun) ctx.store = await BatchedStore.open(repo, { batch: opts.batch ?? 2000, minBatchMs: opts.batch === undefined ? 3000 : 0, ...(opts.disableFsync ? { fsync: false } : {}) });
    try {
      for (const plan of plans) {
        if (opts.timestampCheck || opts.timestampCheckFromRev) await checkTimestamp(ctx, plan);
        let deltaUsed: string | null = null;
        if (!dryRun && !opts.commitMetadataOnly && !opts.subpaths?.length) {
          // Any staged objects are made durable first: the delta brings its own transactions.
          deltaUsed = await maybePullDelta(ctx, plan, summary?.metadata ?? null);
          if (deltaUsed) result.deltas.push(deltaUsed);
        }
        const verified = await pullCommitChain(ctx, plan);
        result.refs.push({ ...plan, changed: plan.previous !== plan.checksum, verified });
      }
      if (ctx.store) await ctx.store.finish();
    } catch (e) {
      await ctx.store?.abort();
      throw e;
    }

    if (!dryRun && !opts.noRefs) {
      // Refs last, once everything they need is durable.
      for (const r of result.refs) if (r.changed) await writeRef(repo, r.localRef, r.checksum);
      if (mirrorAll && fetched) {
        const fsync = repo.fsyncEnabled;
        await atomicWriteFile(path.join(repo.path, 'summary'), fetched.bytes, { fsync });
        if (fetched.signatureBytes) await atomicWriteFile(path.join(repo.path, 'summary.sig'), fetched.signatureBytes, { fsync });
        else await fsp.rm(path.join(repo.path, 'summary.sig'), { force: true });
        result.summaryCopied = true;
      }
    }
    result.fetched = counters.fetched;
    result.bytes = fetcher.stats.bytes - startBytes;
    result.needed = {
      objects: counters.needed,
      metadata: counters.metadataNeeded,
      content: counters.needed - counters.metadataNeeded,
      bytes: counters.neededBytesKnown ? counters.neededBytes : null,
    };
    emit({ type: 'done', result });
    return result;
  } finally {
    if (!opts.fetcher) fetcher.close();
  }
}

/** A commit's bytes and detached metadata, from this repository or the remote (null: the remote has no such commit). */
async function loadCommit(ctx: PullContext, checksum: string): Promise<{ bytes: Buffer; meta: Buffer | null; stored: boolean } | null> {
  const { repo, fetcher, base, opts } = ctx;
  if (await repo.hasObject(checksum, 'commit')) {
    const bytes = await repo.readMetadataBytes('commit', checksum);
    const meta = await repo.readCommitMetaBytes(checksum);
    return { bytes, meta, stored: true };
  }
  const cached = ctx.fetchedCommits.get(checksum);
  if (cached) return { ...cached, stored: false };
  const bytes = await fetchMetadataObject(fetcher, base, checksum, 'commit', { signal: opts.signal });
  if (!bytes) return null;
  // Its name only: it is parsed once its signatures are verified.
  checkServedMetadata(checksum, 'commit', bytes, { parse: false });
  const meta = await fetchCommitMeta(fetcher, base, checksum, { signal: opts.signal });
  ctx.fetchedCommits.set(checksum, { bytes, meta });
  return { bytes, meta, stored: false };
}

async function verifiedCommit(ctx: PullContext, checksum: string, bytes: Buffer, meta: Buffer | null): Promise<{ commit: Commit; verified: VerifyResult }> {
  let detached: VarDict | null = null;
  if (meta) {
    try {
      detached = decodeMetadata(meta);
    } catch (e) {
      throw badObject(checksum, 'commitmeta', (e as Error).message);
    }
  }
  // Signatures before content.
  const verified = await verifySignatures(bytes, detached, ctx.policy, { kind: 'commit', checksum });
  let commit: Commit;
  try {
    commit = decodeCommit(bytes, checksum);
  } catch (e) {
    throw badObject(checksum, 'commit', (e as Error).message);
  }
  return { commit, verified };
}

/** The binding check (repo/ref-binding.ts), with this remote's collection ID. */
function checkBindings(ctx: PullContext, commit: Commit, checksum: string, ref: string | null): void {
  if (ctx.opts.disableVerifyBindings) return;
  checkRefBinding(commit, checksum, {
    ref,
    collectionId: ctx.opts.bindingCollectionId !== undefined ? ctx.opts.bindingCollectionId : ctx.repo.config.get(`remote "${ctx.remote}"`, 'collection-id') ?? null,
    origin: ref ? `ref ${ref} of remote '${ctx.remote}'` : undefined,
    next: 'Nothing of it was stored and no ref moved; pull it under a name it is bound to, or pass --disable-verify-bindings.',
  });
}

/** --timestamp-check: the new commit must not be older than what the local ref names (libostree's rule). */
async function checkTimestamp(ctx: PullContext, plan: PullRefPlan): Promise<void> {
  const fromRev = ctx.opts.timestampCheckFromRev;
  const against = fromRev ? await resolveRev(ctx.repo, fromRev) : plan.previous;
  if (!against || against === plan.checksum) return;
  const current = await ctx.repo.loadCommit(against).catch((e: unknown) => {
    throw new OstreeTsError(Codes.OBJECT_MISSING, `Cannot check timestamps: ${fromRev ? `--timestamp-check-from-rev=${fromRev}` : plan.localRef} names ${against}, which is not in this repository (${(e as Error).message})`, { ref: plan.localRef }, { cause: e });
  });
  const got = await loadCommit(ctx, plan.checksum);
  if (!got) throw new OstreeTsError(Codes.OBJECT_MISSING, `The remote has no commit object ${plan.checksum} (404), which its ref ${plan.ref} names.`, { checksum: plan.checksum });
  const { commit } = await verifiedCommit(ctx, plan.checksum, got.bytes, got.meta);
  checkBindings(ctx, commit, plan.checksum, plan.ref);
  if (commit.timestamp > current.timestamp || commit.timestamp === current.timestamp) return;
  throw new OstreeTsError(Codes.DOWNGRADE,
    `Refusing commit ${plan.checksum} for ${plan.localRef}: its timestamp ${formatTimestamp(commit.timestamp)} is chronologically older than that of ${fromRev ? `${fromRev}, commit` : 'the current commit'} ${against} (${formatTimestamp(current.timestamp)}). Nothing was stored and the ref is unchanged; pull without the timestamp check to accept an older commit.`,
    { ref: plan.localRef, checksum: plan.checksum, current: plan.previous, hint: { option: 'timestampCheck', value: 'false' } });
}

const baseOf = (url: string): string => (url.endsWith('/') ? url : `${url}/`);

/** The requested commit, then its parents as deep as asked. Returns the requested commit's verification. */
async function pullCommitChain(ctx: PullContext, plan: PullRefPlan): Promise<VerifyResult | null> {
  let depth = ctx.opts.depth ?? 0;
  let checksum: string | null = plan.checksum;
  let first: VerifyResult | null = null;
  for (let parent = false; checksum; parent = true) {
    const got = await pullCommit(ctx, checksum, parent ? null : plan.ref);
    if (!got) break; // a parent the server does not have: the history ends here
    if (!parent) first = got.verified;
    if (depth === 0) break;
    checksum = got.commit.parent;
    if (depth > 0) depth--;
  }
  return first;
}

/**
 * One commit: fetched (or read), its signatures verified, stored marked
 * partial, then its tree unless only metadata is wanted. Null when `ref` is
 * null (a parent) and the remote does not have it.
 */
async function pullCommit(ctx: PullContext, checksum: string, ref: string | null): Promise<{ commit: Commit; verified: VerifyResult } | null> {
  const { repo, opts, store, counters } = ctx;
  const parent = ref === null;
  const handled = ctx.done.get(checksum);
  if (handled) return handled;
  ctx.emit({ type: 'commit', checksum, ref, parent });
  // Until its tree walk begins, more objects may be found: progress shows no ETA yet.
  counters.scanning++;
  let scanningHeld = true;
  const release = (): void => {
    if (scanningHeld) counters.scanning--;
    scanningHeld = false;
  };
  try {
    const got = await loadCommit(ctx, checksum);
    if (!got) {
      if (parent) return null;
      throw new OstreeTsError(Codes.OBJECT_MISSING, `The remote has no commit object ${checksum} (404)${ref ? `, which its ref ${ref} names` : ''}.`, { checksum });
    }
    const { commit, verified } = await verifiedCommit(ctx, checksum, got.bytes, got.meta);
    checkBindings(ctx, commit, checksum, ref);
    const complete = got.stored && !(await repo.isCommitPartial(checksum));
    const entry = { checksum, parent, stored: got.stored, partial: !complete };
    ctx.result.commits.push(entry);
    if (!got.stored) {
      counters.needed++;
      counters.metadataNeeded++;
      counters.neededBytes += got.bytes.length + (got.meta?.length ?? 0);
    }
    // Marked partial, then the commit object staged ahead of its tree (commit-partial.ts).
    const imported = store && !complete ? await CommitImport.begin(store, checksum, got.stored ? null : { commit: got.bytes, detached: got.meta }) : null;
    if (imported && !got.stored) {
      ctx.fetchedCommits.delete(checksum);
      counters.fetched++;
      counters.metadataFetched++;
    }
    ctx.done.set(checksum, { commit, verified });
    opts.onVerifiedCommit?.(checksum, commit, verified);
    if (complete || opts.commitMetadataOnly) {
      release();
      ctx.changed();
      await imported?.finish(false);
      return { commit, verified };
    }
    ctx.changed();
    release();
    const subpaths = opts.subpaths?.length ? normalSubpaths(opts.subpaths) : null;
    await walkTree({
      repo, base: ctx.base, fetcher: ctx.fetcher, index: ctx.index, seen: ctx.seen, store, counters, changed: ctx.changed,
      subpaths, sizes: commitObjectSizes(commit.metadata), concurrency: opts.concurrency ?? 32, signal: opts.signal, bareUserOnlyFiles: opts.bareUserOnlyFiles,
    }, checksum, commit.rootTree, commit.rootMeta);
    if (imported) {
      // Every object is durable: the commit is complete, unless only part of it was wanted.
      await imported.finish(!subpaths);
      entry.partial = subpaths !== null;
    }
    return { commit, verified };
  } finally {
    release();
  }
}

/**
 * Use a static delta for the ref's commit when the remote offers one and this
 * repository can take it (libostree's rules: not into archive repositories,
 * not from file:// remotes, unless required). Returns the delta's name, or
 * null when objects are to be fetched instead.
 */
async function maybePullDelta(ctx: PullContext, plan: PullRefPlan, summaryMeta: VarDict | null): Promise<string | null> {
  const { repo, base, remote, fetcher, policy, opts } = ctx;
  const { ref, checksum } = plan;
  const mode = opts.staticDeltas ?? 'auto';
  // Files are checked one by one for --bareuseronly-files, so they come as objects.
  if (mode === 'disable' || opts.bareUserOnlyFiles) return null;
  const required = mode === 'require';
  if (repo.isArchive || base.startsWith('file:')) {
    if (required && repo.isArchive) throw new OstreeTsError(Codes.USAGE, `Static deltas cannot be used to pull into an archive repository (${repo.path}), as in OSTree; pull without requiring them.`, { remote, hint: { option: 'staticDeltas', value: 'auto' } });
    if (!required) return null;
  }
  // Already complete here: nothing to fetch.
  if ((await repo.hasObject(checksum, 'commit')) && !(await repo.isCommitPartial(checksum))) return null;
  const choice = await chooseDelta(repo, base, fetcher, summaryMeta, checksum, plan.previous);
  if (!choice) {
    if (required) throw new OstreeTsError(Codes.NOT_FOUND, `Remote '${remote}' has no static delta to ${checksum} (${ref}) that this repository can use, and static deltas were required.`, { remote, ref, checksum, hint: { option: 'staticDeltas', value: 'auto' } });
    return null;
  }
  if (!ctx.store) throw new InternalError('a static delta is applied only by a pull that stores objects', { remote });
  await applyDeltaFromRemote(ctx.store, base, fetcher, policy, choice, {
    signal: opts.signal,
    onProgress: (e) => {
      opts.onDeltaProgress?.(e);
      const { phase: _phase, ...rest } = e;
      ctx.emit({ type: 'delta', ...rest });
    },
  });
  return deltaName(choice.from, choice.to);
}

/** The commit a remote ref points at locally, if pulled. */
export function remoteRef(repo: Repo, remote: string, ref: string): Promise<string | null> {
  return readRef(repo, `${remote}:${ref}`);
}
