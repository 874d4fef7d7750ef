/**
 * `static-delta generate`: write a delta FROM → TO (or from scratch) in
 * libostree's format, readable by the real ostree.
 *
 * What goes in: every object TO reaches that FROM does not, except TO's commit
 * (it is embedded in the superblock). Metadata first, then content, ordered so
 * that similar files sit side by side (by extension, then name), which is what
 * a solid compressor needs. A regular file that replaces one at the same path
 * in FROM is written as copies from the old object plus the new bytes, when
 * that saves enough. Files larger than `minFallbackSize` are left as loose
 * objects for the client to fetch. Parts are cut at `maxChunkSize` and
 * compressed while the next one is being built, several at once.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { COMPRESSION_NONE, COMPRESSION_XZ, PartBuilder, deltaDir, deltaName, encodeSuperblock, findCopies, partHeader, type DeltaFallback, type DeltaPartHeader } from '../format/delta.js';
import type { VarDict } from '../format/gvariant.js';
import { S_IFMT, S_IFREG, decodeMetadata } from '../format/objects.js';
import { atomicWriteFile, fsp, path } from '../io/fs.js';
import { cpuCount, xzCompress } from '../io/xz.js';
import { deleteDelta, deltaPath } from './delta.js';
import type { Repo, StoredFile } from './repo.js';
import { splitKey, traverseCommit, type ObjectKey } from './traverse.js';

export type DeltaCompression = 'xz' | 'none';

export interface GenerateDeltaOptions {
  /** Commit to start from; null for a from-scratch delta. */
  from: string | null;
  to: string;
  /** Cut parts at this many payload bytes (default 16 MB; libostree's default is 32 MB). */
  maxChunkSize?: number;
  /** Content objects larger than this are fetched as loose objects (default 4 MB); 0 = never. */
  minFallbackSize?: number;
  /** Part compression: xz (what libostree reads and writes) or none. */
  compression?: DeltaCompression;
  /** xz preset (0–9) for data parts (default 6); machine-code parts use two less, with the x86 filter. */
  level?: number;
  /** Parts compressed at once (default: the number of CPUs). */
  jobs?: number;
  /** Carry the parts inside the superblock. */
  inline?: boolean;
  /** Write copy operations for modified files (libostree's rollsum idea). */
  copies?: boolean;
  /** Seconds since the epoch for the superblock; default now. */
  timestamp?: bigint;
  /** Extra superblock metadata (placed first). */
  metadata?: VarDict;
  onProgress?: (e: { phase: 'scan' | 'parts'; done: number; total: number }) => void;
}

export interface GenerateDeltaResult {
  name: string;
  dir: string;
  parts: DeltaPartHeader[];
  fallbacks: DeltaFallback[];
  /** Bytes of the superblock and part files written. */
  bytes: number;
  objects: number;
  copied: number;
}

/** Each new content object, with where it lives in TO (first path seen). */
interface NewContent {
  checksum: string;
  path: string;
}

async function walkPaths(repo: Repo, tree: string, prefix: string, visit: (p: string, checksum: string) => void, seenDirs: Set<string>): Promise<void> {
  const t = await repo.loadDirTree(tree);
  for (const f of t.files) visit(`${prefix}/${f.name}`, f.checksum);
  for (const d of t.dirs) {
    // A directory reached twice has the same files: their first paths are already known.
    if (seenDirs.has(d.tree)) continue;
    seenDirs.add(d.tree);
    await walkPaths(repo, d.tree, `${prefix}/${d.name}`, visit, seenDirs);
  }
}

function sortKey(p: string): string {
  const base = p.slice(p.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  const ext = dot > 0 ? base.slice(dot + 1) : '';
  return `${ext}\0${base}\0${p}`;
}

export async function generateDelta(repo: Repo, opts: GenerateDeltaOptions): Promise<GenerateDeltaResult> {
  const { from, to } = opts;
  // Parts are cut at half libostree's 32 MB maximum by default: with parts
  // compressed in parallel that keeps every core busy on a typical update, for
  // well under 1% of size (similar files sit together, so each part compresses
  // nearly as well alone).
  const maxChunk = opts.maxChunkSize ?? 16 * 1000 * 1000;
  const minFallback = opts.minFallbackSize ?? 4 * 1000 * 1000;
  const compression = opts.compression ?? 'xz';
  const jobs = Math.max(1, opts.jobs ?? cpuCount());
  const level = opts.level ?? 6;
  const name = deltaName(from, to);
  for (const c of from ? [from, to] : [to]) {
    if (!(await repo.hasObject(c, 'commit'))) throw new OstreeTsError(Codes.OBJECT_MISSING, `Commit ${c} is not in ${repo.path}; a delta needs both ends. Pull or commit it first.`, { checksum: c });
    if (await repo.isCommitPartial(c)) throw new OstreeTsError(Codes.OBJECT_MISSING, `Commit ${c} is only partly in ${repo.path}; pull it completely before generating a delta.`, { checksum: c });
  }

  // What TO needs that FROM does not.
  const toObjects = new Set<ObjectKey>();
  await traverseCommit(repo, to, toObjects);
  const fromObjects = new Set<ObjectKey>();
  if (from) await traverseCommit(repo, from, fromObjects);
  const metadata: Array<{ type: 'dirtree' | 'dirmeta'; checksum: string }> = [];
  const content = new Set<string>();
  for (const key of toObjects) {
    if (fromObjects.has(key)) continue;
    const { checksum, type } = splitKey(key);
    if (type === 'dirtree' || type === 'dirmeta') metadata.push({ type, checksum });
    else if (type === 'file') content.add(checksum);
  }
  metadata.sort((a, b) => (a.type === b.type ? (a.checksum < b.checksum ? -1 : 1) : a.type === 'dirtree' ? -1 : 1));

  // Paths: TO's for ordering; FROM's to find the file a new one replaces.
  const toCommit = await repo.loadCommit(to);
  const newContent: NewContent[] = [];
  const placed = new Set<string>();
  const pathsInTo = new Map<string, string>();
  await walkPaths(repo, toCommit.rootTree, '', (p, c) => {
    if (content.has(c) && !placed.has(c)) {
      placed.add(c);
      newContent.push({ checksum: c, path: p });
    }
    pathsInTo.set(p, c);
  }, new Set());
  const replaced = new Map<string, string>(); // new checksum → old checksum at the same path
  if (from && opts.copies !== false) {
    const fromCommit = await repo.loadCommit(from);
    await walkPaths(repo, fromCommit.rootTree, '', (p, c) => {
      const now = pathsInTo.get(p);
      if (now && now !== c && content.has(now) && !replaced.has(now)) replaced.set(now, c);
    }, new Set());
  }
  pathsInTo.clear();
  newContent.sort((a, b) => {
    const ka = sortKey(a.path);
    const kb = sortKey(b.path);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });

  const dir = deltaPath(repo, from, to);
  await deleteDelta(repo, from, to);
  await fsp.mkdir(dir, { recursive: true });

  const parts: DeltaPartHeader[] = [];
  const inlineParts: Buffer[] = [];
  const fallbacks: DeltaFallback[] = [];
  let bytes = 0;
  let objects = 0;
  let copied = 0;
  const compressing: Array<Promise<void>> = [];
  // Two kinds of part: x86 machine code (ELF files), compressed with the x86
  // branch filter in front of LZMA2, and everything else.
  type Kind = 'data' | 'code';
  const current: Record<Kind, PartBuilder> = { data: new PartBuilder(), code: new PartBuilder() };

  const compress = async (payload: Buffer, kind: Kind): Promise<Buffer> => {
    if (compression === 'none') return Buffer.concat([Buffer.from([COMPRESSION_NONE]), payload]);
    const xz = kind === 'code' ? await xzCompress(payload, { preset: Math.max(0, level - 2), x86: true }) : await xzCompress(payload, { preset: level });
    return Buffer.concat([Buffer.from([COMPRESSION_XZ]), xz]);
  };
  const finishPart = async (kind: Kind, last = false): Promise<void> => {
    const builder = current[kind];
    current[kind] = new PartBuilder();
    // An empty part only when the delta has nothing else (a delta always has one part).
    if (builder.objects.length === 0 && !(last && parts.length === 0 && kind === 'code')) return;
    const index = parts.length;
    parts.push(null as unknown as DeltaPartHeader); // placeholder, keeps the order
    const job = (async () => {
      const payload = builder.payload();
      const part = await compress(payload, kind);
      parts[index] = partHeader(part, builder);
      if (opts.inline) inlineParts[index] = part;
      else await atomicWriteFile(path.join(dir, String(index)), part);
      bytes += opts.inline ? 0 : part.length;
      opts.onProgress?.({ phase: 'parts', done: parts.filter(Boolean).length, total: parts.length });
    })();
    compressing.push(job);
    // Bound the parts held in memory.
    if (compressing.length >= jobs) await compressing.shift();
  };

  for (const m of metadata) {
    const data = await repo.readMetadataBytes(m.type, m.checksum);
    if (current.data.objects.length > 0 && current.data.size + data.length > maxChunk) await finishPart('data');
    current.data.addMetadata(m.type, m.checksum, data);
    objects++;
  }

  // Content, a window at a time: read ahead in parallel, add in order.
  const WINDOW = 64;
  for (let i = 0; i < newContent.length; i += WINDOW) {
    const batch = newContent.slice(i, i + WINDOW);
    const loaded = await Promise.all(batch.map(async (n) => {
      const file = await repo.loadFile(n.checksum);
      const isReg = (file.header.mode & S_IFMT) === S_IFREG;
      if (isReg && minFallback > 0 && file.size > minFallback) return { n, file, data: null as Buffer | null, fallback: true };
      const data = isReg ? await file.read() : Buffer.from(file.header.symlinkTarget, 'utf8');
      return { n, file, data, fallback: false };
    }));
    for (const { n, file, data, fallback } of loaded) {
      if (fallback || !data) {
        const st = await fsp.stat(file.objectPath);
        fallbacks.push({ type: 'file', checksum: n.checksum, compressedSize: BigInt(st.size), uncompressedSize: BigInt(file.size) });
        continue;
      }
      const kind: Kind = data.length >= 4 && data[0] === 0x7f && data[1] === 0x45 && data[2] === 0x4c && data[3] === 0x46 && (file.header.mode & S_IFMT) === S_IFREG ? 'code' : 'data';
      if (current[kind].objects.length > 0 && current[kind].size + data.length > maxChunk) await finishPart(kind);
      const part = current[kind];
      const h = file.header;
      const old = replaced.get(n.checksum);
      let done = false;
      if (old && (h.mode & S_IFMT) === S_IFREG && data.length >= 256) {
        done = await tryCopies(repo, part, n.checksum, h, data, old);
        if (done) copied++;
      }
      if (!done) part.addContent(n.checksum, h, data);
      objects++;
    }
    opts.onProgress?.({ phase: 'scan', done: Math.min(i + WINDOW, newContent.length), total: newContent.length });
  }
  await finishPart('data', true);
  await finishPart('code', true);
  await Promise.all(compressing);

  const detached = await repo.readCommitMetaBytes(to);
  const md: VarDict = [...(opts.metadata ?? [])];
  if (opts.inline) {
    inlineParts.forEach((p, i) => md.push([`${deltaDir(from, to)}/${i}`, { type: '(yay)', value: [p[0], p.subarray(1)] }]));
  }
  if (detached) {
    md.push([`${deltaDir(from, to)}/commitmeta`, { type: 'a{sv}', value: decodeMetadata(detached) }]);
  }
  const superblock = encodeSuperblock({
    metadata: md,
    timestamp: opts.timestamp ?? BigInt(Math.floor(repo.host.now() / 1000)),
    from,
    to,
    commit: await repo.readMetadataBytes('commit', to),
    parts,
    fallbacks,
  });
  // The superblock last: a delta exists for readers only once it is complete.
  await atomicWriteFile(path.join(dir, 'superblock'), superblock);
  bytes += superblock.length;
  return { name, dir, parts, fallbacks, bytes, objects, copied };
}

async function tryCopies(repo: Repo, part: PartBuilder, checksum: string, h: StoredFile['header'], data: Buffer, old: string): Promise<boolean> {
  let oldFile: StoredFile;
  try {
    oldFile = await repo.loadFile(old);
  } catch {
    return false;
  }
  if ((oldFile.header.mode & S_IFMT) !== S_IFREG || oldFile.size === 0) return false;
  // Sizes too different: little to share (libostree's threshold is 30%).
  const ratio = oldFile.size / data.length;
  if (ratio < 0.5 || ratio > 2) return false;
  const oldData = await oldFile.read();
  const copies = findCopies(oldData, data);
  const shared = copies.reduce((n, c) => n + c[2], 0);
  if (shared < data.length / 4) return false;
  part.addCopied(checksum, h, data, old, copies);
  return true;
}

