/**
 * The repository `summary`: `(a(s(taya{sv}))a{sv})`, every local ref with its
 * commit's size, checksum, timestamp and version, then repository metadata,
 * written exactly as libostree 2022.7 writes it (dictionary entries in
 * GHashTable order, timestamps big-endian, sizes little-endian).
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { DELTA_INDEX_KEY, ghashOrder, hexToBytes, parseNormal, serialize, swap64, type VarDict, type Variant } from '../format/index.js';
import { atomicWriteFile, fsp, isErrno, path } from '../io/index.js';
import { deltaDigests, reindexDeltas } from './delta.js';
import { listRefs } from './refs.js';
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

export function decodeSummary(data: Uint8Array): Summary {
  const [refs, metadata] = parseNormal(SUMMARY_TYPE, data) as [Array<[string, [bigint, Uint8Array, VarDict]]>, VarDict];
  return {
    refs: refs.map(([name, [size, csum, md]]) => ({ name, size, checksum: Buffer.from(csum).toString('hex'), metadata: md })),
    metadata,
  };
}

export interface RegenerateOptions {
  /** Extra entries (`--add-metadata`), inserted first as OSTree does. */
  additional?: VarDict;
  /** Seconds since the epoch for ostree.summary.last-modified; default now. */
  now?: bigint;
}

/** Write `summary` for the repository's current refs and remove `summary.sig`; returns the bytes. */
export async function regenerateSummary(repo: Repo, opts: RegenerateOptions = {}): Promise<Buffer> {
  const refs: SummaryRef[] = [];
  const local = (await listRefs(repo, { remotes: false })).map((r) => [r.ref, r.checksum] as const);
  local.sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])));
  for (const [name, checksum] of local) {
    const bytes = await repo.readMetadataBytes('commit', checksum);
    const commit = await repo.loadCommit(checksum);
    const md: VarDict = [['ostree.commit.timestamp', { type: 't', value: swap64(commit.timestamp) }]];
    const version = commit.metadata.find(([k, v]) => k === 'version' && v.type === 's');
    if (version) md.push(['ostree.commit.version', { type: 's', value: version[1].value }]);
    refs.push({ name, size: BigInt(bytes.length), checksum, metadata: ghashDict(md) });
  }
  const now = opts.now ?? BigInt(Math.floor(Date.now() / 1000));
  const meta: VarDict = [...(opts.additional ?? [])];
  meta.push(['ostree.summary.last-modified', { type: 't', value: swap64(now) }]);
  meta.push(['ostree.summary.mode', { type: 's', value: repo.config.get('core', 'mode') ?? 'bare' }]);
  meta.push(['ostree.summary.tombstone-commits', { type: 'b', value: repo.config.getBool('core', 'tombstone-commits', false) }]);
  meta.push(['ostree.summary.indexed-deltas', { type: 'b', value: true }]);
  const collectionId = repo.config.get('core', 'collection-id');
  if (collectionId) meta.push(['ostree.summary.collection-id', { type: 's', value: collectionId }]);
  const data = encodeSummary({ refs, metadata: ghashDict(meta) });
  await atomicWriteFile(path.join(repo.path, 'summary'), data);
  await fsp.rm(path.join(repo.path, 'summary.sig'), { force: true });
  return data;
}

/** The repository's summary, parsed; null when there is none. */
export async function loadSummary(repo: Repo): Promise<Summary | null> {
  let data: Buffer;
  try {
    data = await fsp.readFile(path.join(repo.path, 'summary'));
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return null;
    throw e;
  }
  try {
    return decodeSummary(data);
  } catch (e) {
    throw new OstreeTsError(Codes.OBJECT_CORRUPT, `${repo.path}/summary is not a valid summary: ${(e as Error).message} Regenerate it with 'ostree-ts summary -u'.`, { path: repo.path }, { cause: e });
  }
}
  // Static deltas: their indexes are rewritten, and they are listed unless core.no-deltas-in-summary.
  await reindexDeltas(repo, ghashDict);
  const deltas = await deltaDigests(repo);
  if (deltas.length && !repo.config.getBool('core', 'no-deltas-in-summary', false)) {
    meta.push([DELTA_INDEX_KEY, { type: 'a{sv}', value: ghashDict(deltas.map(([n, d]) => [n, { type: 'ay', value: hexToBytes(d) }])) }]);
  }
