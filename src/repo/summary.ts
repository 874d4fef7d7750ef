/**
 * The repository `summary`: `(a(s(taya{sv}))a{sv})`, every local ref with its
 * commit's size, checksum, timestamp and version, then repository metadata,
 * written exactly as libostree 2022.7 writes it (dictionary entries in
 * GHashTable order, timestamps big-endian, sizes little-endian).
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { hexToBytes } from '../format/checksum.js';
import { DELTA_INDEX_KEY } from '../format/delta.js';
import { ghashOrder } from '../format/ghash.js';
import { parseNormal, printValue, serialize, type VarDict, type Variant } from '../format/gvariant.js';
import { swap64 } from '../format/objects.js';
import { isValidRefName } from '../format/refs.js';
import { atomicWriteFile, fsp, path } from '../io/fs.js';
import { deltaDigests, reindexDeltas } from './delta.js';
import { listCollectionRefs, listRefs } from './refs.js';
import type { Repo } from './repo.js';

export const SUMMARY_TYPE = '(a(s(taya{sv}))a{sv})';

export interface SummaryRef {
  name: string;
  size: bigint;
  checksum: string;
  metadata: VarDict;
}

export interface Summary {
  refs: SummaryRef[];
  metadata: VarDict;
}

/** Order a dictionary as GVariantDict would serialize it. */
export function ghashDict(entries: VarDict): VarDict {
  const byKey = new Map<string, Variant>();
  for (const [k, v] of entries) byKey.set(k, v);
  return ghashOrder(entries.map(([k]) => k)).map((k) => [k, byKey.get(k) as Variant]);
}

export function encodeSummary(s: Summary): Buffer {
  return serialize(SUMMARY_TYPE, [
    s.refs.map((r) => [r.name, [r.size, hexToBytes(r.checksum), r.metadata]]),
    s.metadata,
  ]);
}

const COLLECTION_MAP_KEY = 'ostree.summary.collection-map';
const COLLECTION_MAP_TYPE = 'a{sa(s(taya{sv}))}';

type RawRefs = Array<[string, [bigint, Uint8Array, VarDict]]>;

function invalid(what: string, message: string, data: Record<string, unknown> = {}): OstreeTsError {
  return new OstreeTsError(Codes.OBJECT_INVALID, `Invalid ${what}: ${message}`, data);
}

/** Refs of a summary (or of one collection in its collection map), checked as libostree checks them before use. */
function decodeRefs(raw: RawRefs, what: string, where: string): SummaryRef[] {
  const seen = new Set<string>();
  return raw.map(([name, [size, csum, md]]) => {
    if (!isValidRefName(name)) throw invalid(what, `${where} lists the ref ${JSON.stringify(name)}, which is not a valid ref name.`, { ref: name });
    if (seen.has(name)) throw invalid(what, `${where} lists the ref ${name} twice.`, { ref: name });
    seen.add(name);
    if (csum.length !== 32) throw invalid(what, `the ref ${name} has a checksum of ${csum.length} bytes, not 32.`, { ref: name });
    return { name, size, checksum: Buffer.from(csum).toString('hex'), metadata: md };
  });
}

/**
 * Decode a summary strictly: normal form, valid ref names listed once, 32-byte
 * checksums (also in `ostree.summary.collection-map`). `what` names it in
 * errors (the remote's summary, a file).
 */
export function decodeSummary(data: Uint8Array, what = 'summary'): Summary {
  let refs: RawRefs;
  let metadata: VarDict;
  try {
    [refs, metadata] = parseNormal(SUMMARY_TYPE, data) as [RawRefs, VarDict];
  } catch (e) {
    if (e instanceof OstreeTsError && e.code === Codes.GVARIANT_INVALID) throw invalid(what, e.message, { ...e.data });
    throw e;
  }
  const map = metadata.find(([k]) => k === COLLECTION_MAP_KEY);
  if (map && map[1].type === COLLECTION_MAP_TYPE) {
    for (const [id, list] of map[1].value as Array<[string, RawRefs]>) decodeRefs(list, what, `collection ${id}`);
  }
  return { refs: decodeRefs(refs, what, 'it'), metadata };
}

/** One ref as `summary --view --json` shows it. */
export interface SummaryRefView {
  /** Set for refs of the repository's own collection (when it has one) and of the collection map. */
  collectionId?: string;
  name: string;
  checksum: string;
  /** Size of the commit object in bytes. */
  size: number;
  /** `ostree.commit.timestamp`, seconds since the epoch. */
  timestamp?: number;
  /** `ostree.commit.version`. */
  version?: string;
  /** Every per-ref metadata entry, as GVariant text. */
  metadata: Record<string, string>;
}

export interface SummaryView {
  apiVersion: 'ostree-ts/v1';
  kind: 'Summary';
  refs: SummaryRefView[];
  /** Repository metadata as GVariant text, in the summary's order. */
  metadata: Record<string, string>;
  mode?: string;
  lastModified?: number;
  expires?: number;
  collectionId?: string;
  tombstoneCommits?: boolean;
  indexedDeltas?: boolean;
  /** `ostree.static-deltas`: delta name (TO or FROM-TO) to the SHA-256 of its superblock. */
  staticDeltas?: Record<string, string>;
}

/** The value under `key` when it has `type`, as GLib's typed lookup finds it. */
export function summaryValue(dict: VarDict, key: string, type: string): unknown {
  const e = dict.find(([k]) => k === key);
  return e && e[1].type === type ? e[1].value : undefined;
}

/** Keys whose uint64 libostree stores big-endian. */
const BIG_ENDIAN_KEYS = new Set(['ostree.commit.timestamp', 'ostree.summary.last-modified', 'ostree.summary.expires']);

/** Each entry as GVariant text; big-endian numbers shown as the numbers they stand for. */
function metadataText(dict: VarDict): Record<string, string> {
  return Object.fromEntries(dict.map(([k, v]) => [k, BIG_ENDIAN_KEYS.has(k) && v.type === 't' ? `uint64 ${swap64(v.value as bigint)}` : printValue(v.type, v.value)]));
}

function refView(r: SummaryRef, collectionId: string | undefined): SummaryRefView {
  const ts = summaryValue(r.metadata, 'ostree.commit.timestamp', 't') as bigint | undefined;
  const version = summaryValue(r.metadata, 'ostree.commit.version', 's') as string | undefined;
  return {
    ...(collectionId ? { collectionId } : {}),
    name: r.name,
    checksum: r.checksum,
    size: Number(r.size),
    ...(ts !== undefined ? { timestamp: Number(swap64(ts)) } : {}),
    ...(version !== undefined ? { version } : {}),
    metadata: metadataText(r.metadata),
  };
}

/** The summary as a typed document (`--json`). */
export function summaryView(s: Summary): SummaryView {
  const m = s.metadata;
  const collectionId = summaryValue(m, 'ostree.summary.collection-id', 's') as string | undefined;
  const refs = s.refs.map((r) => refView(r, collectionId));
  const map = summaryValue(m, COLLECTION_MAP_KEY, COLLECTION_MAP_TYPE) as Array<[string, RawRefs]> | undefined;
  for (const [id, list] of map ?? []) refs.push(...decodeRefs(list, 'summary', `collection ${id}`).map((r) => refView(r, id)));
  const t = (key: string): number | undefined => {
    const v = summaryValue(m, key, 't') as bigint | undefined;
    return v === undefined ? undefined : Number(swap64(v));
  };
  const b = (key: string): boolean | undefined => summaryValue(m, key, 'b') as boolean | undefined;
  const deltas = summaryValue(m, 'ostree.static-deltas', 'a{sv}') as VarDict | undefined;
  const view: SummaryView = {
    apiVersion: 'ostree-ts/v1',
    kind: 'Summary',
    refs,
    metadata: metadataText(m),
    mode: summaryValue(m, 'ostree.summary.mode', 's') as string | undefined,
    lastModified: t('ostree.summary.last-modified'),
    expires: t('ostree.summary.expires'),
    collectionId,
    tombstoneCommits: b('ostree.summary.tombstone-commits'),
    indexedDeltas: b('ostree.summary.indexed-deltas'),
    staticDeltas: deltas && Object.fromEntries(deltas.map(([k, v]) => [k, v.value instanceof Uint8Array ? Buffer.from(v.value).toString('hex') : printValue(v.type, v.value)])),
  };
  for (const k of Object.keys(view) as Array<keyof SummaryView>) if (view[k] === undefined) delete view[k];
  return view;
}

export interface RegenerateOptions {
  /** Extra entries (`--add-metadata`), inserted first as OSTree does. */
  additional?: VarDict;
  /** Seconds since the epoch for ostree.summary.last-modified; default now. */
  now?: bigint;
  /** A ref holding no checksum is left out of the summary and reported here; without it, it fails the summary. */
  onWarning?: (e: OstreeTsError) => void;
}

/** Write `summary` for the repository's current refs and remove `summary.sig`; returns the bytes. */
export async function regenerateSummary(repo: Repo, opts: RegenerateOptions = {}): Promise<Buffer> {
  // Shared, as libostree: the commits it lists stay while it reads them.
  return repo.withLock('shared', 'summary -u', () => regenerateLocked(repo, opts));
}

async function summaryRef(repo: Repo, name: string, checksum: string): Promise<SummaryRef> {
  const bytes = await repo.readMetadataBytes('commit', checksum);
  const commit = await repo.loadCommit(checksum);
  const md: VarDict = [['ostree.commit.timestamp', { type: 't', value: swap64(commit.timestamp) }]];
  const version = commit.metadata.find(([k, v]) => k === 'version' && v.type === 's');
  if (version) md.push(['ostree.commit.version', { type: 's', value: version[1].value }]);
  return { name, size: BigInt(bytes.length), checksum, metadata: ghashDict(md) };
}

const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

async function regenerateLocked(repo: Repo, opts: RegenerateOptions): Promise<Buffer> {
  const refs: SummaryRef[] = [];
  const collectionId = repo.config.get('core', 'collection-id')?.trim() || undefined;
  // Without a collection ID of its own, the main list is refs/heads; with one, the refs of that collection.
  if (!collectionId) {
    const local = (await listRefs(repo, { remotes: false, onInvalid: opts.onWarning })).map((r) => [r.ref, r.checksum] as const);
    local.sort((a, b) => byteOrder(a[0], b[0]));
    for (const [name, checksum] of local) refs.push(await summaryRef(repo, name, checksum));
  }
  // Refs with a collection ID (heads of the own collection, mirrors, remotes with a collection-id): the own
  // collection's in the main list, the others in the collection map, collections and refs each sorted.
  const byCollection = new Map<string, Map<string, string>>();
  for (const c of await listCollectionRefs(repo)) {
    let m = byCollection.get(c.collection);
    if (!m) byCollection.set(c.collection, (m = new Map()));
    m.set(c.ref, c.checksum);
  }
  const map: Array<[string, RawRefs]> = [];
  for (const id of [...byCollection.keys()].sort(byteOrder)) {
    const m = byCollection.get(id) as Map<string, string>;
    const list: SummaryRef[] = [];
    for (const name of [...m.keys()].sort(byteOrder)) list.push(await summaryRef(repo, name, m.get(name) as string));
    if (id === collectionId) refs.push(...list);
    else map.push([id, list.map((r) => [r.name, [r.size, hexToBytes(r.checksum), r.metadata]])]);
  }
  const now = opts.now ?? BigInt(Math.floor(repo.host.now() / 1000));
  const meta: VarDict = [...(opts.additional ?? [])];
  // Static deltas: their indexes are rewritten, and they are listed unless core.no-deltas-in-summary.
  await reindexDeltas(repo, ghashDict);
  const deltas = await deltaDigests(repo);
  if (deltas.length && !repo.config.getBool('core', 'no-deltas-in-summary', false)) {
    meta.push([DELTA_INDEX_KEY, { type: 'a{sv}', value: ghashDict(deltas.map(([n, d]) => [n, { type: 'ay', value: hexToBytes(d) }])) }]);
  }
  meta.push(['ostree.summary.last-modified', { type: 't', value: swap64(now) }]);
  meta.push(['ostree.summary.mode', { type: 's', value: repo.config.get('core', 'mode') ?? 'bare' }]);
  meta.push(['ostree.summary.tombstone-commits', { type: 'b', value: repo.config.getBool('core', 'tombstone-commits', false) }]);
  meta.push(['ostree.summary.indexed-deltas', { type: 'b', value: true }]);
  if (collectionId) meta.push(['ostree.summary.collection-id', { type: 's', value: collectionId }]);
  if (map.length) meta.push([COLLECTION_MAP_KEY, { type: COLLECTION_MAP_TYPE, value: map }]);
  const data = encodeSummary({ refs, metadata: ghashDict(meta) });
  await atomicWriteFile(path.join(repo.path, 'summary'), data);
  await fsp.rm(path.join(repo.path, 'summary.sig'), { force: true });
  return data;
}
