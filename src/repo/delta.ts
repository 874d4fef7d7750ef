/**
 * Static deltas stored in a repository: `deltas/XX/REST[-TO]/{superblock,0,1,…}`
 * and the per-target index files `delta-indexes/XX/REST.index`.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { sha256Hex } from '../format/checksum.js';
import { decodeSuperblock, deltaDir, deltaFromDir, deltaIndexPath, deltaName, encodeDeltaIndex, parseDeltaName, unwrapSignedSuperblock, type DeltaSuperblock } from '../format/delta.js';
import type { VarDict } from '../format/gvariant.js';
import { atomicWriteFile, exists, fsp, isErrno, path } from '../io/fs.js';
import type { Repo } from './repo.js';

export interface StoredDelta {
  name: string;
  from: string | null;
  to: string;
}

/** Every delta with a superblock, sorted by name. */
export async function listDeltas(repo: Repo): Promise<StoredDelta[]> {
  const root = path.join(repo.path, 'deltas');
  const out: StoredDelta[] = [];
  let prefixes: string[];
  try {
    prefixes = await fsp.readdir(root);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return out;
    throw e;
  }
  for (const prefix of prefixes) {
    let rests: string[];
    try {
      rests = await fsp.readdir(path.join(root, prefix));
    } catch (e) {
      if (isErrno(e, 'ENOTDIR', 'ENOENT')) continue;
      throw e;
    }
    for (const rest of rests) {
      const parsed = deltaFromDir(prefix, rest);
      if (!parsed) continue;
      if (!(await exists(path.join(root, prefix, rest, 'superblock')))) continue;
      out.push({ name: deltaName(parsed.from, parsed.to), ...parsed });
    }
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function deltaPath(repo: Repo, from: string | null, to: string): string {
  return path.join(repo.path, deltaDir(from, to));
}

/** Resolve a delta by its name (FROM-TO or TO), as `static-delta show/delete` take it. */
export async function findDelta(repo: Repo, name: string): Promise<StoredDelta> {
  const { from, to } = parseDeltaName(name);
  if (!(await exists(path.join(deltaPath(repo, from, to), 'superblock')))) {
    throw new OstreeTsError(Codes.NOT_FOUND, `No static delta ${name} in ${repo.path}. List them with 'ostree-ts static-delta list'.`, { name });
  }
  return { name, from, to };
}

/** The superblock file's bytes (possibly a signed wrapper). */
export async function readSuperblockFile(repo: Repo, from: string | null, to: string): Promise<Buffer> {
  return fsp.readFile(path.join(deltaPath(repo, from, to), 'superblock'));
}

export async function loadSuperblock(repo: Repo, from: string | null, to: string): Promise<{ superblock: DeltaSuperblock; signatures: VarDict | null; digest: string }> {
  const bytes = await readSuperblockFile(repo, from, to);
  const { superblock, signatures } = unwrapSignedSuperblock(bytes);
  return { superblock: decodeSuperblock(superblock, `the superblock of delta ${deltaName(from, to)}`), signatures, digest: sha256Hex(bytes) };
}

/** name → SHA-256 of the superblock file, for every stored delta. */
export async function deltaDigests(repo: Repo): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = [];
  for (const d of await listDeltas(repo)) out.push([d.name, sha256Hex(await readSuperblockFile(repo, d.from, d.to))]);
  return out;
}

/**
 * Rewrite `delta-indexes/` from the stored deltas (one index per target,
 * stale ones removed) and set `core.indexed-deltas=true`, as libostree does
 * when it regenerates the summary. `order` puts a dictionary in the order
 * libostree's hash table would write it.
 */
export async function reindexDeltas(repo: Repo, order: (d: VarDict) => VarDict = (d) => d): Promise<void> {
  if (!repo.config.getBool('core', 'indexed-deltas', false)) {
    repo.config.set('core', 'indexed-deltas', 'true');
    await repo.saveConfig();
  }
  const byTarget = new Map<string, Array<[string, string]>>();
  for (const [name, digest] of await deltaDigests(repo)) {
    const { from, to } = parseDeltaName(name);
    const list = byTarget.get(to) ?? [];
    list.push([from ?? '', `${name}\0${digest}`]);
    byTarget.set(to, list);
  }
  const keep = new Set<string>();
  for (const [to, list] of byTarget) {
    list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const entries = list.map(([, nd]) => nd.split('\0') as [string, string]);
    const rel = deltaIndexPath(to);
    keep.add(rel);
    const data = encodeDeltaIndex(entries, order);
    const dest = path.join(repo.path, rel);
    const current = await fsp.readFile(dest).catch(() => null);
    if (current && current.equals(data)) continue;
    await fsp.mkdir(path.dirname(dest), { recursive: true });
    await atomicWriteFile(dest, data);
  }
  // Remove indexes for targets that have no delta any more.
  const root = path.join(repo.path, 'delta-indexes');
  for (const prefix of await fsp.readdir(root).catch(() => [] as string[])) {
    for (const f of await fsp.readdir(path.join(root, prefix)).catch(() => [] as string[])) {
      const rel = `delta-indexes/${prefix}/${f}`;
      if (f.endsWith('.index') && !keep.has(rel)) await fsp.rm(path.join(repo.path, rel), { force: true });
    }
  }
}

/** Remove a delta's directory (superblock first, so it stops being listed at once). */
export async function deleteDelta(repo: Repo, from: string | null, to: string): Promise<void> {
  const dir = deltaPath(repo, from, to);
  await fsp.rm(path.join(dir, 'superblock'), { force: true });
  await fsp.rm(dir, { recursive: true, force: true });
  // Drop the prefix directory when it is empty, as a tidy repository has none.
  await fsp.rmdir(path.dirname(dir)).catch(() => undefined);
}
