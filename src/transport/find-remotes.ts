/**
 * Finding repositories that serve collection–refs, and pulling from them
 * (`find-remotes`, libostree's repo finders): the configured remotes with a
 * collection ID (finder `config`), and repositories on mounted removable
 * media (finder `mount`: `.ostree/repos.d/*`, `.ostree/repo`, `ostree/repo`,
 * `var/lib/flatpak/repo` on each media mount). Each result's summary says
 * which commit it has for each ref; only results with the newest commit of a
 * ref (by the commit timestamp) keep it. A pull from results always requires
 * the commits' OpenPGP signatures, by the keys of the configured remote with
 * that collection ID, whatever served them.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { formatCollectionRef, validateCollectionId, validateRefName, type CollectionRef } from '../format/refs.js';
import { createFetcher, type Fetcher } from '../io/http-client.js';
import { fsp, path } from '../io/fs.js';
import { listMediaMounts } from '../io/mounts.js';
import { configuredRemotes, listCollectionRefs, remoteCollectionId, writeCollectionRef, writeRef } from '../repo/refs.js';
import { Repo } from '../repo/repo.js';
import { summaryView, type SummaryView } from '../repo/summary.js';
import { remotePolicy, type VerifyPolicy } from '../sign/policy.js';
import { pull } from './pull.js';
import { fetchVerifiedSummary, remoteBaseUrl } from './remote-summary.js';
import { remoteRequestHeaders } from './remotes.js';

export type FinderName = 'config' | 'mount' | 'lan';

/** The finders used when none are named (`core.default-repo-finders`, else config and mount). */
export function defaultFinders(repo: Repo): FinderName[] {
  const configured = repo.config.get('core', 'default-repo-finders');
  const names = (configured ?? 'config;mount').split(';').map((s) => s.trim()).filter(Boolean);
  return names.filter((n): n is FinderName => n === 'config' || n === 'mount' || n === 'lan');
}

export interface FoundRepo {
  /** Where it is: the remote's URL, or file:// and the repository's real path. */
  url: string;
  finder: 'config' | 'mount';
  /** The configured remote whose keys verify it, and under whose name its refs are written. */
  keyringRemote: string;
  /** Its keyring file name, as ostree prints it. */
  keyring: string;
  /** Lower comes first: mounts 50, configured remotes 100. */
  priority: number;
  /** `ostree.summary.last-modified` of its summary, seconds (0: unknown). */
  summaryLastModified: number;
  /** Every ref asked for, with the commit this repository offers for it (null: not here, or not the newest). */
  refs: Array<CollectionRef & { checksum: string | null }>;
  /** For a mounted repository: its own collection ID, the one its commits' bindings are checked against. */
  ownCollectionId?: string | null;
}

export interface FindOptions {
  finders?: FinderName[];
  /** Told what was skipped and why (`--verbose`). */
  onDebug?: (message: string) => void;
  /** Told of a finder that cannot run here (LAN). */
  onWarning?: (message: string) => void;
  signal?: AbortSignal;
  /** Keep the summaries fetched in this summary cache (`--cache-dir`). */
  cacheDir?: string;
}

const key = (c: CollectionRef): string => `${c.collection}\0${c.ref}`;

interface Candidate {
  url: string;
  finder: 'config' | 'mount';
  keyringRemote: string;
  priority: number;
  policy: VerifyPolicy;
  ownCollectionId?: string | null;
}

/** The first configured remote with this collection ID: its keys verify whatever serves the collection. */
function keyringRemoteFor(repo: Repo, collection: string): string | null {
  return configuredRemotes(repo).find((r) => remoteCollectionId(repo, r) === collection) ?? null;
}

/** For a found repository: commit signatures required (OpenPGP), nothing asked of the summary. */
async function foundPolicy(repo: Repo, keyringRemote: string): Promise<VerifyPolicy> {
  const base = await remotePolicy(repo, keyringRemote);
  return { ...base, gpgVerify: true, gpgVerifySummary: false, signVerify: [], signVerifySummary: [] };
}

async function sameFile(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([fsp.stat(a).catch(() => null), fsp.stat(b).catch(() => null)]);
  return !!x && !!y && x.dev === y.dev && x.ino === y.ino;
}

async function mountCandidates(repo: Repo, wanted: CollectionRef[], debug: (m: string) => void): Promise<Candidate[]> {
  const out: Candidate[] = [];
  for (const mount of await listMediaMounts()) {
    const root = mount.mountPoint;
    const rootStat = await fsp.stat(root).catch(() => null);
    if (!rootStat?.isDirectory()) {
      debug(`Ignoring mount ${root}: it cannot be opened.`);
      continue;
    }
    const paths: string[] = [];
    const reposD = path.join(root, '.ostree', 'repos.d');
    const listed = await fsp.readdir(reposD).catch(() => [] as string[]);
    for (const name of listed.sort()) paths.push(path.join(reposD, name));
    for (const p of ['.ostree/repo', 'ostree/repo', 'var/lib/flatpak/repo']) paths.push(path.join(root, p));
    const repos: Array<{ path: string; refs: Map<string, string>; own: string | null }> = [];
    for (const p of paths) {
      let found: Repo;
      try {
        found = await Repo.open(p);
      } catch (e) {
        debug(`Ignoring repository ${p} on mount ${root}: it could not be opened (${(e as Error).message}).`);
        continue;
      }
      const st = await fsp.stat(found.path);
      if (st.dev !== rootStat.dev) {
        debug(`Ignoring repository ${p} on mount ${root}: it is on another file system.`);
        continue;
      }
      if (await sameFile(found.path, repo.path)) {
        debug(`Ignoring repository ${p} on mount ${root}: it is the repository being resolved.`);
        continue;
      }
      try {
        const refs = new Map((await listCollectionRefs(found, { excludeRemotes: true })).map((c) => [key(c), c.checksum]));
        repos.push({ path: found.path, refs, own: found.config.get('core', 'collection-id')?.trim() || null });
      } catch (e) {
        debug(`Ignoring repository ${p} on mount ${root}: its refs could not be listed (${(e as Error).message}).`);
      }
    }
    // Each ref from the first repository on the mount that has it, grouped by repository and keyring.
    const groups = new Map<string, Candidate>();
    for (const w of wanted) {
      const hit = repos.find((r) => r.refs.has(key(w)));
      if (!hit) continue;
      const keyringRemote = keyringRemoteFor(repo, w.collection);
      if (!keyringRemote) {
        debug(`Ignoring ${formatCollectionRef(w)} in ${hit.path}: no remote here has collection ID ${w.collection}, so nothing could verify it.`);
        continue;
      }
      const real = await fsp.realpath(hit.path);
      const url = `file://${real}`;
      const id = `${url}\0${keyringRemote}`;
      if (!groups.has(id)) {
        groups.set(id, { url, finder: 'mount', keyringRemote, priority: 50, policy: await foundPolicy(repo, keyringRemote), ownCollectionId: hit.own });
      }
    }
    out.push(...groups.values());
  }
  return out;
}

async function configCandidates(repo: Repo, debug: (m: string) => void): Promise<Candidate[]> {
  const out: Candidate[] = [];
  for (const remote of configuredRemotes(repo)) {
    if (!remoteCollectionId(repo, remote)) {
      debug(`Ignoring remote ${remote}: it has no valid collection ID.`);
      continue;
    }
    let url: string;
    try {
      url = remoteBaseUrl(repo, remote).replace(/\/$/, '');
    } catch (e) {
      debug(`Ignoring remote ${remote}: ${(e as Error).message}`);
      continue;
    }
    out.push({ url, finder: 'config', keyringRemote: remote, priority: 100, policy: await remotePolicy(repo, remote) });
  }
  return out;
}

/** A name for a found repository, as libostree names its remote: the URL and keyring file, each percent-escaped with '_' for '%'. */
export function foundRepoName(url: string, keyring: string): string {
  const esc = (s: string): string => encodeURIComponent(s).replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%/g, '_');
  return `${esc(url)}_${esc(keyring)}`;
}

const cacheName = (c: Candidate): string => (c.finder === 'config' ? c.keyringRemote : foundRepoName(c.url, `${c.keyringRemote}.trustedkeys.gpg`));

interface Offer {
  checksum: string;
  size: bigint;
  timestamp: number;
}

/** The summary of a candidate, checked as its policy says; null (and told why) when it cannot be had. */
async function candidateSummary(c: Candidate, fetcher: Fetcher, debug: (m: string) => void, opts: FindOptions): Promise<SummaryView | null> {
  try {
    const got = await fetchVerifiedSummary({ remote: c.keyringRemote, base: `${c.url}/`, policy: c.policy, fetcher, signal: opts.signal }, { cacheDir: opts.cacheDir, cacheName: cacheName(c) });
    return summaryView(got.summary);
  } catch (e) {
    debug(`Ignoring ${c.url}: its summary could not be used (${(e as Error).message}).`);
    return null;
  }
}

/**
 * Repositories that serve `wanted`, best first, each listing every ref asked
 * for with the commit it offers when that is the newest one found.
 */
export async function findRemotes(repo: Repo, wanted: CollectionRef[], opts: FindOptions = {}): Promise<FoundRepo[]> {
  for (const w of wanted) {
    validateCollectionId(w.collection);
    validateRefName(w.ref);
  }
  const debug = opts.onDebug ?? ((): void => undefined);
  const finders = opts.finders ?? defaultFinders(repo);
  const candidates: Candidate[] = [];
  for (const f of finders) {
    if (f === 'lan') opts.onWarning?.('The LAN finder is not available (ostree-ts has no Avahi support); removing it');
    else if (f === 'config') candidates.push(...(await configCandidates(repo, debug)));
    else candidates.push(...(await mountCandidates(repo, wanted, debug)));
  }
  if (!candidates.length) return [];

  const found: Array<{ c: Candidate; lastModified: number; offers: Map<string, Offer> }> = [];
  const commitTimes = new Map<string, { size: bigint; timestamp: number }>();
  for (const c of candidates) {
    const fetcher = createFetcher(2, c.finder === 'config' ? { headers: await remoteRequestHeaders(repo, c.keyringRemote) } : {});
    let view: SummaryView | null;
    try {
      view = await candidateSummary(c, fetcher, debug, opts);
    } finally {
      fetcher.close();
    }
    if (!view) continue;
    const offers = new Map<string, Offer>();
    let consistent = true;
    for (const r of view.refs) {
      if (!r.collectionId) continue;
      // A collection of the map is taken from a mount only when the keyring's remote is of that collection.
      if (c.finder === 'mount' && r.collectionId !== view.collectionId && remoteCollectionId(repo, c.keyringRemote) !== r.collectionId) continue;
      const k = `${r.collectionId}\0${r.name}`;
      if (!wanted.some((w) => key(w) === k)) continue;
      const size = BigInt(r.size);
      const timestamp = r.timestamp ?? 0;
      const known = commitTimes.get(r.checksum);
      if (known && ((timestamp !== 0 && known.timestamp !== 0 && known.timestamp !== timestamp) || known.size !== size)) {
        debug(`Ignoring ${c.url}: its summary gives commit ${r.checksum} a timestamp or size other summaries do not.`);
        consistent = false;
        break;
      }
      if (!known || known.timestamp === 0) commitTimes.set(r.checksum, { size, timestamp });
      offers.set(k, { checksum: r.checksum, size, timestamp });
    }
    if (consistent) found.push({ c, lastModified: view.lastModified ?? 0, offers });
  }

  // The newest commit of each ref, across everything found.
  const latest = new Map<string, string>();
  for (const w of wanted) {
    let best: { checksum: string; timestamp: number } | null = null;
    for (const f of found) {
      const o = f.offers.get(key(w));
      if (!o) continue;
      const ts = commitTimes.get(o.checksum)?.timestamp ?? 0;
      if (!best || ts > best.timestamp) best = { checksum: o.checksum, timestamp: ts };
    }
    if (best) latest.set(key(w), best.checksum);
  }

  const results: FoundRepo[] = [];
  for (const f of found) {
    const refs = wanted.map((w) => {
      const o = f.offers.get(key(w));
      return { ...w, checksum: o && latest.get(key(w)) === o.checksum ? o.checksum : null };
    });
    if (!refs.some((r) => r.checksum)) {
      debug(`Leaving out ${f.c.url}: none of its refs are new enough.`);
      continue;
    }
    results.push({
      url: f.c.url, finder: f.c.finder, keyringRemote: f.c.keyringRemote, keyring: `${f.c.keyringRemote}.trustedkeys.gpg`,
      priority: f.c.priority, summaryLastModified: f.lastModified, refs,
      ...(f.c.finder === 'mount' ? { ownCollectionId: f.c.ownCollectionId ?? null } : {}),
    });
  }
  const count = (r: FoundRepo): number => r.refs.filter((x) => x.checksum).length;
  const name = (r: FoundRepo): string => (r.finder === 'config' ? r.keyringRemote : foundRepoName(r.url, r.keyring));
  return results.sort((a, b) => {
    if (a.priority !== b.priority) return a.priority - b.priority;
    if (a.summaryLastModified && b.summaryLastModified && a.summaryLastModified !== b.summaryLastModified) return a.summaryLastModified - b.summaryLastModified;
    if (count(a) !== count(b)) return count(a) - count(b);
    return name(a) < name(b) ? -1 : name(a) > name(b) ? 1 : 0;
  });
}

export interface PullFoundOptions {
  cacheDir?: string;
  /** Write refs/mirrors/COLLECTION/REF (or refs/heads for this repository's own collection) instead of REMOTE:REF. */
  mirror?: boolean;
  disableFsync?: boolean;
  onDebug?: (message: string) => void;
  signal?: AbortSignal;
}

export interface PullFoundResult {
  pulled: Array<CollectionRef & { checksum: string; from: string; refspec: string }>;
  failed: CollectionRef[];
}

/**
 * Pull each ref from the first result that offers it; a ref whose pull
 * fails is tried from the next result that offers the same commit. Refs are
 * written once their commit is complete: REMOTE:REF under the keyring's
 * remote, or as a mirrored collection–ref.
 */
export async function pullFromFound(repo: Repo, results: FoundRepo[], opts: PullFoundOptions = {}): Promise<PullFoundResult> {
  const debug = opts.onDebug ?? ((): void => undefined);
  const done = new Map<string, boolean>();
  const out: PullFoundResult = { pulled: [], failed: [] };
  for (const r of results) {
    const todo = r.refs.filter((x): x is CollectionRef & { checksum: string } => x.checksum !== null && done.get(key(x)) !== true);
    if (!todo.length) continue;
    const overrideCommits = Object.fromEntries(todo.map((x) => [x.ref, x.checksum]));
    try {
      await pull(repo, r.keyringRemote, todo.map((x) => x.ref), {
        url: r.url, policy: await foundPolicy(repo, r.keyringRemote), overrideCommits, noRefs: true,
        ...(r.finder === 'mount' ? { bindingCollectionId: r.ownCollectionId ?? null } : {}),
        ...(opts.disableFsync ? { disableFsync: true } : {}), signal: opts.signal,
        cacheDir: opts.cacheDir, cacheName: r.finder === 'config' ? r.keyringRemote : foundRepoName(r.url, r.keyring),
      });
      for (const x of todo) {
        let refspec: string;
        if (opts.mirror) {
          await writeCollectionRef(repo, x, x.checksum);
          refspec = formatCollectionRef(x);
        } else {
          refspec = `${r.keyringRemote}:${x.ref}`;
          await writeRef(repo, refspec, x.checksum);
        }
        done.set(key(x), true);
        out.pulled.push({ collection: x.collection, ref: x.ref, checksum: x.checksum, from: r.url, refspec });
      }
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      debug(`Failed to pull ${todo.map(formatCollectionRef).join(', ')} from ${r.url}: ${(e as Error).message}`);
      for (const x of todo) if (!done.has(key(x))) done.set(key(x), false);
    }
  }
  for (const r of results) {
    for (const x of r.refs) {
      if (done.get(key(x)) === false && !out.failed.some((f) => key(f) === key(x))) out.failed.push({ collection: x.collection, ref: x.ref });
    }
  }
  return out;
}

/** The error a partly failed pull from found repositories ends with. */
export function pullFoundError(failed: CollectionRef[]): OstreeTsError {
  return new OstreeTsError(Codes.NOT_FOUND,
    `Failed to pull some refs from the remotes: ${failed.map(formatCollectionRef).join(', ')}. Run again with --verbose to see why each failed (a commit not signed by a key of the remote with that collection ID is refused).`,
    { refs: failed });
}
