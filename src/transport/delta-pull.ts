/**
 * Pulling a commit through a static delta: choose a delta from the summary
 * (or the per-target index), fetch its superblock and check it against the
 * digest published for it, check TO's signatures on the commit the superblock
 * carries, then fetch, verify and apply each part the repository still needs,
 * making each durable as it lands. Objects the delta leaves out (fallbacks)
 * are then fetched by the ordinary object pull, which also proves the commit
 * complete before it stops being partial.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { sha256Hex } from '../format/checksum.js';
import { DELTA_INDEX_KEY, decodeSuperblock, parseDeltaDigests, deltaDir, deltaIndexPath, deltaName, inlinePart, parseDeltaName, superblockCommitMeta, unwrapSignedSuperblock, type DeltaSuperblock, type PlannedObject } from '../format/delta.js';
import { lookup, type VarDict } from '../format/gvariant.js';
import { decodeMetadata } from '../format/objects.js';
import type { Fetcher } from '../io/http-client.js';
import type { BatchedStore } from '../repo/batched-store.js';
import { CommitImport } from '../repo/commit-partial.js';
import { applyPart, partIsRedundant, preparePart, type ApplyStats } from '../repo/delta-apply.js';
import type { Repo } from '../repo/repo.js';
import { verifySignatures, type VerifyPolicy, type VerifyResult } from '../sign/policy.js';
import { fetchCommitMeta } from './remote-metadata.js';

export type StaticDeltaMode = 'auto' | 'disable' | 'require';

export interface DeltaChoice {
  from: string | null;
  to: string;
  /** SHA-256 of the superblock file, as published. */
  digest: string;
}

export interface DeltaPullProgress {
  phase: 'delta';
  partsDone: number;
  partsTotal: number;
  /** Bytes of parts fetched so far, and of all parts still needed. */
  bytesDone: number;
  bytesTotal: number;
}

/**
 * Which delta to use to reach `to`: one from a commit we have completely (the
 * newest such), else a from-scratch one when we have no earlier version of the
 * ref (libostree's rule: with a local ref, objects beat a scratch delta).
 */
export async function chooseDelta(
  repo: Repo, base: string, fetcher: Fetcher, summaryMeta: VarDict | null, to: string, current: string | null,
): Promise<DeltaChoice | null> {
  let digests = new Map<string, string>();
  if (summaryMeta) digests = parseDeltaDigests(lookup(summaryMeta, DELTA_INDEX_KEY, 'a{sv}'));
  const indexed = summaryMeta ? lookup(summaryMeta, 'ostree.summary.indexed-deltas', 'b') === true : false;
  if (indexed) {
    // The index may list deltas the summary leaves out.
    const bytes = await fetcher.get(new URL(deltaIndexPath(to), base).href, { maxBytes: 16 * 1024 * 1024 });
    if (bytes) {
      try {
        for (const [n, d] of parseDeltaDigests(lookup(decodeMetadata(bytes), DELTA_INDEX_KEY, 'a{sv}'))) digests.set(n, d);
      } catch {
        // A malformed index is ignored: the pull falls back to objects.
      }
    }
  }
  let scratch: DeltaChoice | null = null;
  let best: { choice: DeltaChoice; ts: bigint } | null = null;
  for (const [name, digest] of digests) {
    let parsed;
    try {
      parsed = parseDeltaName(name);
    } catch {
      continue;
    }
    if (parsed.to !== to) continue;
    if (!parsed.from) {
      scratch = { from: null, to, digest };
      continue;
    }
    if (!(await repo.hasObject(parsed.from, 'commit')) || (await repo.isCommitPartial(parsed.from))) continue;
    const ts = (await repo.loadCommit(parsed.from)).timestamp;
    if (!best || ts > best.ts) best = { choice: { from: parsed.from, to, digest }, ts };
  }
  if (best) return best.choice;
  if (scratch && !current) return scratch;
  return null;
}

/**
 * Fetch and apply the delta into `store`; returns the verified signatures of
 * TO. On return everything is durable, and TO's commit is stored and still
 * marked partial: the caller completes it.
 */
export async function applyDeltaFromRemote(
  store: BatchedStore, base: string, fetcher: Fetcher, policy: VerifyPolicy, choice: DeltaChoice,
  opts: { signal?: AbortSignal; onProgress?: (e: DeltaPullProgress) => void } = {},
): Promise<{ verified: VerifyResult; stats: ApplyStats; superblock: DeltaSuperblock }> {
  const repo = store.repo;
  const name = deltaName(choice.from, choice.to);
  const dir = deltaDir(choice.from, choice.to);
  const sbUrl = new URL(`${dir}/superblock`, base).href;
  const bytes = await fetcher.get(sbUrl, { maxBytes: 256 * 1024 * 1024 });
  if (!bytes) throw new OstreeTsError(Codes.NOT_FOUND, `The remote lists static delta ${name} but has no ${dir}/superblock (404). Pull without static deltas, or ask the publisher to regenerate the summary.`, { name, hint: { option: 'staticDeltas', value: 'disable' } });
  const digest = sha256Hex(bytes);
  if (digest !== choice.digest) {
    throw new OstreeTsError(Codes.DELTA_INVALID, `The superblock of static delta ${name} has checksum ${digest}, but the remote's summary says ${choice.digest}. Nothing was stored and no ref moved.`, { name, checksum: digest });
  }
  const sb = decodeSuperblock(unwrapSignedSuperblock(bytes).superblock, `the superblock of static delta ${name}`);
  if (sb.to !== choice.to || sb.from !== choice.from) {
    throw new OstreeTsError(Codes.DELTA_INVALID, `The superblock at ${dir} describes ${deltaName(sb.from, sb.to)}, not ${name}.`, { name });
  }
  // TO's signatures, on the commit the superblock carries, before any content.
  let metaBytes = superblockCommitMeta(sb);
  if (!metaBytes) metaBytes = await fetchCommitMeta(fetcher, base, choice.to, { signal: opts.signal });
  const verified = await verifySignatures(sb.commit, metaBytes ? decodeMetadata(metaBytes) : null, policy, { kind: 'commit', checksum: choice.to });

  // Marked partial, then the commit object staged ahead of the parts (commit-partial.ts).
  const have = await repo.hasObject(choice.to, 'commit');
  const imported = await CommitImport.begin(store, choice.to, have ? null : { commit: sb.commit, detached: metaBytes });

  const stats: ApplyStats = { written: 0, existing: 0 };
  const needed: number[] = [];
  for (let i = 0; i < sb.parts.length; i++) if (!(await partIsRedundant(repo, sb.parts[i]))) needed.push(i);
  const progress: DeltaPullProgress = {
    phase: 'delta', partsDone: 0, partsTotal: needed.length, bytesDone: 0,
    bytesTotal: needed.reduce((n, i) => n + Number(sb.parts[i].size), 0),
  };
  opts.onProgress?.({ ...progress });
  const fetchPart = async (i: number): Promise<{ size: number; plan: PlannedObject[] }> => {
    const header = sb.parts[i];
    let got = inlinePart(sb, i);
    if (!got) {
      got = await fetcher.get(new URL(`${dir}/${i}`, base).href, { maxBytes: Number(header.size) });
      if (!got) throw new OstreeTsError(Codes.OBJECT_MISSING, `Part ${i} of static delta ${name} is missing on the remote (404). No ref moved; pull again without static deltas.`, { name, part: i, hint: { option: 'staticDeltas', value: 'disable' } });
    }
    return { size: got.length, plan: await preparePart(got, header, `part ${i} of static delta ${name}`) };
  };
  // Parts are fetched and decompressed ahead of the one being written, PREPARE_AHEAD at a time (each xz in a process of its own).
  const prepared = new Map<number, Promise<{ size: number; plan: PlannedObject[] }>>();
  const prepare = (n: number): void => {
    if (n >= needed.length) return;
    const p = fetchPart(needed[n]);
    p.catch(() => undefined);
    prepared.set(n, p);
  };
  for (let n = 0; n < PREPARE_AHEAD; n++) prepare(n);
  // Parts go into the store's batches, made durable every `batch` objects (the
  // store's rule) or DURABLE_EVERY bytes of parts, and at the end: one sync per
  // batch, not per part, while an interrupted pull still keeps what was made durable.
  let sinceDurable = 0;
  try {
    for (let n = 0; n < needed.length; n++) {
      opts.signal?.throwIfAborted();
      const i = needed[n];
      const part = await (prepared.get(n) as Promise<{ size: number; plan: PlannedObject[] }>);
      prepared.delete(n);
      prepare(n + PREPARE_AHEAD);
      await store.stage((txn) => applyPart(txn, part.plan, sb.parts[i], `part ${i} of static delta ${name}`, stats, store), sb.parts[i].objects.length);
      sinceDurable += part.size;
      if (sinceDurable >= DURABLE_EVERY) {
        await store.sync();
        sinceDurable = 0;
      }
      progress.partsDone++;
      progress.bytesDone += part.size;
      opts.onProgress?.({ ...progress });
    }
    // The commit stays partial: the object pull fetches the fallbacks, then completes it.
    await imported.finish(false);
  } catch (e) {
    if (e instanceof OstreeTsError && e.code === Codes.DELTA_INVALID) {
      throw new OstreeTsError(e.code, `${e.message} No ref moved. Pull again once the server is repaired, or pull without static deltas to fetch plain objects.`, { ...e.data, hint: { option: 'staticDeltas', value: 'disable' } }, { cause: e });
    }
    throw e;
  }
  return { verified, stats, superblock: sb };
}

/** Parts fetched and decompressed at once, ahead of the one being written. */
const PREPARE_AHEAD = 2;
/** Bytes of delta parts applied between syncs. */
const DURABLE_EVERY = 32 * 1024 * 1024;
