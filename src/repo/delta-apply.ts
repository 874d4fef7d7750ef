/**
 * Applying static deltas: check a part against its header, decompress it,
 * read its operations into a plan (every offset checked first), then build
 * each object, hash it, and store it only if it is what the part says.
 */
import { Codes, InternalError, OstreeTsError } from '../errors/index.js';
import { sha256Hex } from '../format/checksum.js';
import { COMPRESSION_NONE, COMPRESSION_XZ, bspatch, decodePayload, decodeSuperblock, deltaName, inlinePart, planPart, superblockCommitMeta, unwrapSignedSuperblock, type DeltaPartHeader, type DeltaSuperblock, type PlannedObject } from '../format/delta.js';
import { decodeMetadata, type FileHeader } from '../format/objects.js';
import { fsp, mapLimit, path } from '../io/fs.js';
import { mapNoSpace } from '../io/space.js';
import { xzDecompress } from '../io/xz.js';
import { BatchedStore } from './batched-store.js';
import { CommitImport } from './commit-partial.js';
import type { Repo } from './repo.js';
import { checkStorable } from './stored-form.js';
import { STREAM_THRESHOLD, Transaction } from './transaction.js';
import { BadObjectError, verifyContent, verifyMetadata } from './verify-object.js';

/** A part decompresses to at most this much (libostree's parts are 32 MB by default). */
export const MAX_PART_PAYLOAD = 1024 * 1024 * 1024;
/** Objects of a part built and written at once. */
const APPLY_CONCURRENCY = 16;
const APPLY_CONCURRENCY_WORKERS = 128;
/** Copied bytes handed to the writer at a time. */
const COPY_CHUNK = 256 * 1024;

function partError(what: string, message: string, data: Record<string, unknown> = {}): OstreeTsError {
  return new OstreeTsError(Codes.DELTA_INVALID, `${what}: ${message}`, data);
}

/** Do we already have every object this part would create? */
export async function partIsRedundant(repo: Repo, header: DeltaPartHeader): Promise<boolean> {
  for (const o of header.objects) if (!(await repo.hasObject(o.checksum, o.type))) return false;
  return true;
}

/** Verify a part file against its header and return its decompressed payload. */
export async function openPart(part: Uint8Array, header: DeltaPartHeader | null, what: string): Promise<Uint8Array> {
  if (header) {
    if (BigInt(part.length) !== header.size) throw partError(what, `it is ${part.length} bytes, but the superblock says ${header.size}. Nothing from it was stored.`);
    const actual = sha256Hex(part);
    if (actual !== header.checksum) throw partError(what, `its checksum is ${actual}, but the superblock says ${header.checksum}. Nothing from it was stored.`, { checksum: header.checksum });
  }
  if (part.length === 0) throw partError(what, 'it is empty.');
  const body = part.subarray(1);
  switch (part[0]) {
    case COMPRESSION_NONE:
      return body;
    case COMPRESSION_XZ:
      return xzDecompress(body, MAX_PART_PAYLOAD, what);
    default:
      throw partError(what, `compression type 0x${part[0].toString(16)} is unknown (expected 0 for none or 'x' for xz).`);
  }
}

/** Verify, decompress and plan a part: everything but writing, so it can run while another part is applied. */
export async function preparePart(part: Uint8Array, header: DeltaPartHeader, what: string): Promise<PlannedObject[]> {
  const payload = await openPart(part, header, what);
  return planPart(decodePayload(payload, what), header.objects, what);
}

export interface ApplyStats {
  written: number;
  existing: number;
}

/**
 * Build and store every object of one part. Source objects (for copy and
 * bspatch operations) are read from the repository. Throws, storing nothing
 * more, at the first object that does not hash to its name. With `store`
 * (whose batch `txn` is), content built in memory is hashed and written by
 * its worker threads (BatchedStore.builtContent) instead of on this thread.
 */
export async function applyPart(
  txn: Transaction, part: Uint8Array | PlannedObject[], header: DeltaPartHeader, what: string, stats: ApplyStats = { written: 0, existing: 0 }, store?: BatchedStore,
): Promise<ApplyStats> {
  const plan = Array.isArray(part) ? part : await preparePart(part, header, what);
  const repo = txn.repo;
  // Source objects (for copies and bspatch), read once each while this part is applied.
  const sources = new Map<string, Promise<Buffer>>();
  const readSource = (checksum: string, forObject: string): Promise<Buffer> => {
    let p = sources.get(checksum);
    if (!p) {
      p = repo.loadFile(checksum).then((f) => f.read()).catch((e: unknown) => {
        throw partError(what, `object ${forObject} is built from ${checksum}, which this repository does not have (${(e as Error).message}).`, { checksum });
      });
      p.catch(() => undefined);
      sources.set(checksum, p);
    }
    return p;
  };
  // Objects are independent of each other: several are built and written at once
  // (many, when the store's workers write them: they come in batches).
  await mapLimit(plan, store ? APPLY_CONCURRENCY_WORKERS : APPLY_CONCURRENCY, async (obj) => {
    if (await txn.hasObject(obj.checksum, obj.kind === 'metadata' ? obj.type : 'file')) {
      stats.existing++;
      return;
    }
    if (obj.kind === 'metadata') await storeMetadata(txn, obj, what);
    else await storeContent(txn, obj, what, readSource, store);
    stats.written++;
  });
  return stats;
}

async function storeMetadata(txn: Transaction, obj: Extract<PlannedObject, { kind: 'metadata' }>, what: string): Promise<void> {
  const data = Buffer.from(obj.data);
  const facts = { checksum: obj.checksum, type: obj.type };
  if (obj.type !== 'dirtree' && obj.type !== 'dirmeta') throw partError(what, `${obj.type} ${obj.checksum} is invalid: a delta part may not create a ${obj.type} object`, facts);
  try {
    verifyMetadata(obj.checksum, obj.type, data);
  } catch (e) {
    if (!(e instanceof BadObjectError)) throw e;
    if (e.data.actual) throw partError(what, `the ${obj.type} object it builds as ${obj.checksum} does not hash to that name. Nothing from it was stored.`, facts);
    throw partError(what, `${obj.type} ${obj.checksum} is invalid: ${e.why}`, facts);
  }
  await txn.writeMetadata(obj.type, data);
}

async function storeContent(
  txn: Transaction, obj: Extract<PlannedObject, { kind: 'content' }>, what: string, readSource: (c: string, forObject: string) => Promise<Buffer>, store?: BatchedStore,
): Promise<void> {
  const isLink = (obj.mode & 0o170000) === 0o120000;
  const headerFor = (target: string): FileHeader => ({
    uid: obj.uid, gid: obj.gid, mode: obj.mode, rdev: 0, symlinkTarget: target, xattrs: obj.xattrs,
  });
  const copied = !(obj.pieces.length === 1 && obj.pieces[0].kind === 'blob') && !obj.pieces.some((p) => p.kind === 'bspatch');
  if (copied) {
    // The size an object claims is the part's word: every range it copies is checked against its source before anything is built.
    for (const p of obj.pieces) {
      if (p.kind !== 'source') continue;
      const src = await readSource(p.source, obj.checksum);
      if (p.offset + p.length > src.length) throw partError(what, `object ${obj.checksum} copies bytes ${p.offset}..${p.offset + p.length} of ${p.source}, which has ${src.length}.`, { checksum: obj.checksum });
    }
    if (!isLink && obj.size > STREAM_THRESHOLD) {
      // Large (or claimed large): streamed into the repository as it is built, never held whole.
      const header = headerFor('');
      checkStorable(txn.repo, obj.checksum, header);
      const pieces = async function* (): AsyncGenerator<Buffer> {
        for (const p of obj.pieces) {
          const bytes = p.kind === 'blob' ? Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength)
            : p.kind === 'source' ? (await readSource(p.source, obj.checksum)).subarray(p.offset, p.offset + p.length) : Buffer.alloc(0);
          for (let at = 0; at < bytes.length; at += COPY_CHUNK) yield bytes.subarray(at, Math.min(bytes.length, at + COPY_CHUNK));
        }
      };
      await txn.writeContentStream(header, obj.size, pieces(), `object ${obj.checksum} of ${what}`, {
        checksum: obj.checksum,
        mismatch: (actual) => partError(what, `the content object it builds as ${obj.checksum} hashes to ${actual}. Nothing from it was stored.`, { checksum: obj.checksum, type: 'file' }),
      });
      return;
    }
  }
  let data: Buffer;
  if (obj.pieces.length === 1 && obj.pieces[0].kind === 'blob') {
    data = Buffer.from(obj.pieces[0].data.buffer, obj.pieces[0].data.byteOffset, obj.pieces[0].data.byteLength);
  } else if (copied) {
    // Small: built in memory, from ranges already checked.
    data = Buffer.alloc(obj.size);
    let at = 0;
    for (const p of obj.pieces) {
      if (p.kind === 'blob') {
        data.set(p.data, at);
        at += p.data.length;
      } else if (p.kind === 'source') {
        const src = await readSource(p.source, obj.checksum);
        src.copy(data, at, p.offset, p.offset + p.length);
        at += p.length;
      }
    }
  } else {
    // A bspatch (bspatch bounds the size it builds by what its patch can cover).
    const p = obj.pieces.find((x) => x.kind === 'bspatch') as Extract<typeof obj.pieces[number], { kind: 'bspatch' }>;
    const src = await readSource(p.source, obj.checksum);
    data = bspatch(src, p.patch, obj.size, `${what}, object ${obj.checksum}`);
  }
  const header = headerFor(isLink ? data.toString('utf8') : '');
  const content = isLink ? Buffer.alloc(0) : data;
  if (isLink && (data.length === 0 || data.includes(0))) throw partError(what, `symlink ${obj.checksum} has an empty or NUL-containing target.`, { checksum: obj.checksum });
  const mismatch = (e: unknown): never => {
    if (!(e instanceof BadObjectError)) throw e;
    throw partError(what, `the content object it builds as ${obj.checksum} hashes to ${e.data.actual}. Nothing from it was stored.`, { checksum: obj.checksum, type: 'file' });
  };
  // On the worker: hashed, checked as storable and written there.
  if (store) return store.builtContent(txn, obj.checksum, header, content).catch(mismatch);
  try {
    verifyContent(obj.checksum, header, content);
  } catch (e) {
    mismatch(e);
  }
  // Content this repository's mode would read back as something else is refused, never stored damaged.
  checkStorable(txn.repo, obj.checksum, header);
  await txn.writeContent(header, isLink ? { kind: 'symlink' } : { kind: 'buffer', data: content });
}

/** Read a delta directory's (or superblock file's) superblock and where its parts are. */
export async function readDeltaAt(location: string): Promise<{ dir: string; bytes: Buffer; superblock: DeltaSuperblock }> {
  let dir = location;
  let file = path.join(location, 'superblock');
  const st = await fsp.stat(location).catch(() => null);
  if (!st) throw new OstreeTsError(Codes.NOT_FOUND, `No delta at ${location}.`, { path: location });
  if (!st.isDirectory()) {
    file = location;
    dir = path.dirname(location);
  }
  const bytes = await fsp.readFile(file);
  const { superblock } = unwrapSignedSuperblock(bytes);
  return { dir, bytes, superblock: decodeSuperblock(superblock, `the delta superblock ${file}`) };
}

/**
 * `static-delta apply-offline`: apply a delta from a directory into the
 * repository, by the commit-partial protocol (commit-partial.ts): TO's commit
 * is marked partial and staged before the parts, and the mark goes only once
 * every object it needs is durable, so an interrupted apply leaves no commit
 * that looks complete.
 */
export async function applyOffline(repo: Repo, location: string, opts: { onPart?: (i: number, n: number) => void } = {}): Promise<{ to: string; from: string | null; stats: ApplyStats }> {
  // Shared across every part: prune cannot take what an earlier part stored before the commit lands.
  const ctx = {
    operation: `applying the static delta at ${location} to ${repo.path}`,
    path: path.join(repo.path, 'tmp'),
    next: 'Free some space there, then apply it again: the objects already stored are kept',
  };
  return mapNoSpace(ctx, () => repo.withLock('shared', 'static-delta apply-offline', () => applyOfflineLocked(repo, location, opts)));
}

async function applyOfflineLocked(repo: Repo, location: string, opts: { onPart?: (i: number, n: number) => void }): Promise<{ to: string; from: string | null; stats: ApplyStats }> {
  const { dir, superblock: sb } = await readDeltaAt(location);
  const name = deltaName(sb.from, sb.to);
  if (sb.from && !(await repo.hasObject(sb.from, 'commit'))) {
    throw new OstreeTsError(Codes.OBJECT_MISSING, `Delta ${name} starts from commit ${sb.from}, which ${repo.path} does not have. Pull that commit first, or use a from-scratch delta.`, { checksum: sb.from });
  }
  for (const f of sb.fallbacks) {
    if (!(await repo.hasObject(f.checksum, f.type))) {
      throw new OstreeTsError(Codes.OBJECT_MISSING, `Delta ${name} leaves ${f.type} ${f.checksum} to be fetched over the network, so it cannot be applied offline. Pull the commit instead.`, { checksum: f.checksum });
    }
  }
  const meta = superblockCommitMeta(sb);
  if (meta) decodeMetadata(meta);
  const stats: ApplyStats = { written: 0, existing: 0 };
  const hadCommit = await repo.hasObject(sb.to, 'commit');
  const store = await BatchedStore.open(repo);
  let missing: string | null;
  try {
    // A commit already here and complete is left alone; otherwise it is (re)marked partial first.
    const imported = hadCommit && !(await repo.isCommitPartial(sb.to))
      ? null
      : await CommitImport.begin(store, sb.to, hadCommit ? null : { commit: sb.commit, detached: meta });
    for (let i = 0; i < sb.parts.length; i++) {
      const header = sb.parts[i];
      opts.onPart?.(i, sb.parts.length);
      if (await partIsRedundant(repo, header)) continue;
      const what = `part ${i} of delta ${name}`;
      const bytes = inlinePart(sb, i) ?? await fsp.readFile(path.join(dir, String(i))).catch((e) => {
        throw new OstreeTsError(Codes.NOT_FOUND, `${what} is missing (${(e as Error).message}).`, { part: i });
      });
      await store.stage((txn) => applyPart(txn, bytes, header, what, stats, store), header.objects.length);
    }
    await store.sync();
    missing = await firstMissing(repo, sb.to);
    await imported?.finish(missing === null);
  } catch (e) {
    await store.abort();
    throw e;
  }
  await store.finish();
  if (missing) {
    throw new OstreeTsError(Codes.OBJECT_MISSING, `Delta ${name} was applied, but commit ${sb.to} still lacks ${missing}; the commit stays marked partial. The delta is incomplete: pull the commit instead.`, { checksum: sb.to });
  }
  return { to: sb.to, from: sb.from, stats };
}

/** The first object commit `checksum` needs that the repository lacks, as "TYPE CHECKSUM", or null. */
export async function firstMissing(repo: Repo, checksum: string): Promise<string | null> {
  const commit = await repo.loadCommit(checksum);
  const seen = new Set<string>();
  const stack: Array<[string, string]> = [[commit.rootTree, commit.rootMeta]];
  if (!(await repo.hasObject(commit.rootMeta, 'dirmeta'))) return `dirmeta ${commit.rootMeta}`;
  while (stack.length) {
    const [tree] = stack.pop() as [string, string];
    if (seen.has(tree)) continue;
    seen.add(tree);
    if (!(await repo.hasObject(tree, 'dirtree'))) return `dirtree ${tree}`;
    const t = await repo.loadDirTree(tree);
    for (const f of t.files) {
      if (seen.has(`f${f.checksum}`)) continue;
      seen.add(`f${f.checksum}`);
      if (!(await repo.hasObject(f.checksum, 'file'))) return `file ${f.checksum} (${f.name})`;
    }
    for (const d of t.dirs) {
      if (!seen.has(`m${d.meta}`)) {
        seen.add(`m${d.meta}`);
        if (!(await repo.hasObject(d.meta, 'dirmeta'))) return `dirmeta ${d.meta}`;
      }
      stack.push([d.tree, d.meta]);
    }
  }
  return null;
}
