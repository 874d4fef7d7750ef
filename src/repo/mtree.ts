/**
 * A mutable tree: the index of names to object checksums that layered
 * commits and archive imports build before the dirtrees are written. Content
 * goes to the repository as it arrives; only names and checksums are held
 * here. A directory taken whole from an existing tree stays a pair of
 * checksums until something has to change inside it.
 */
import { Codes, InternalError, OstreeTsError } from '../errors/index.js';
import { encodeDirTree, sortByName, type DirTree } from '../format/objects.js';
import { mapLimit } from '../io/fs.js';
import type { RootChecksums } from './commit-writer.js';
import type { Transaction } from './transaction.js';

/** A file's checksum; filled in when its (possibly still running) write finishes. */
export interface FileSlot {
  checksum: string | null;
}

export class MDir {
  /** dirmeta checksum; null until a layer or archive entry gives one. */
  meta: string | null;
  /** The dirtree this directory still is, unexpanded. */
  private lazyTree: string | null;
  private filesMap: Map<string, FileSlot> | null = null;
  private dirsMap: Map<string, MDir> | null = null;

  constructor(meta: string | null = null, lazyTree: string | null = null) {
    this.meta = meta;
    this.lazyTree = lazyTree;
  }

  get isEmpty(): boolean {
    return this.lazyTree === null && !this.filesMap?.size && !this.dirsMap?.size;
  }

  /** Load the contents of a directory still held as a checksum. */
  async expand(txn: Transaction): Promise<void> {
    if (this.filesMap) return;
    this.filesMap = new Map();
    this.dirsMap = new Map();
    if (this.lazyTree === null) return;
    const t = await txn.loadDirTree(this.lazyTree);
    this.lazyTree = null;
    for (const f of t.files) this.filesMap.set(f.name, { checksum: f.checksum });
    for (const d of t.dirs) this.dirsMap.set(d.name, new MDir(d.meta, d.tree));
  }

  /** Contents; call `expand` first. */
  get files(): Map<string, FileSlot> {
    if (!this.filesMap) throw new InternalError('a tree directory was read before it was expanded');
    return this.filesMap;
  }

  get dirs(): Map<string, MDir> {
    if (!this.dirsMap) throw new InternalError('a tree directory was read before it was expanded');
    return this.dirsMap;
  }

  /** Overlay an existing tree: its files replace ours, its directories merge into ours. */
  async mergeTree(txn: Transaction, tree: string, meta: string, where: string): Promise<void> {
    this.meta = meta;
    if (this.isEmpty) {
      this.filesMap = null;
      this.dirsMap = null;
      this.lazyTree = tree;
      return;
    }
    if (this.lazyTree === tree) return;
    await this.expand(txn);
    const t = await txn.loadDirTree(tree);
    for (const f of t.files) this.putFile(f.name, { checksum: f.checksum }, where);
    for (const d of t.dirs) {
      const p = joinPath(where, d.name);
      if (this.files.has(d.name)) throw conflict(`Can't replace file with directory: ${p}`, p);
      const child = this.dirs.get(d.name);
      if (child) await child.mergeTree(txn, d.tree, d.meta, p);
      else this.dirs.set(d.name, new MDir(d.meta, d.tree));
    }
  }

  /** Add or replace a file; refuses to replace a directory. */
  putFile(name: string, slot: FileSlot, where: string): void {
    if (this.dirs.has(name)) {
      const p = joinPath(where, name);
      throw conflict(`Can't replace directory with file: ${p}`, p);
    }
    this.files.set(name, slot);
  }

  /** The subdirectory `name`, created empty if missing; refuses when a file has that name. */
  ensureDir(name: string, where: string): MDir {
    let d = this.dirs.get(name);
    if (!d) {
      if (this.files.has(name)) {
        const p = joinPath(where, name);
        throw conflict(`Can't replace file with directory: ${p}`, p);
      }
      d = new MDir();
      d.filesMap = new Map();
      d.dirsMap = new Map();
      this.dirs.set(name, d);
    }
    return d;
  }

  /**
   * Write the dirtrees (and use the dirmetas) of everything below and
   * including this directory. File writes must all have finished.
   */
  async write(txn: Transaction, where = '/'): Promise<RootChecksums> {
    if (this.meta === null) {
      throw new OstreeTsError(where === '/' ? Codes.USAGE : Codes.TREE_CONFLICT, where === '/'
        ? "Can't commit an empty tree: nothing gave the root directory its owner and mode. A tar archive needs a './' entry, or missing parents created for it."
        : `The directory ${where} has no metadata (owner and mode).`, where === '/' ? { path: where, hint: { option: 'tarAutocreateParents' } } : { path: where });
    }
    if (!this.filesMap && this.lazyTree !== null) return { tree: this.lazyTree, meta: this.meta };
    await this.expand(txn);
    const tree: DirTree = { files: [], dirs: [] };
    for (const [name, slot] of this.files) {
      if (slot.checksum === null) throw new OstreeTsError(Codes.IO, `The content of ${joinPath(where, name)} was never written.`, { path: joinPath(where, name) });
      tree.files.push({ name, checksum: slot.checksum });
    }
    const subdirs = [...this.dirs];
    const written = await mapLimit(subdirs, 8, ([name, d]) => d.write(txn, joinPath(where, name)));
    subdirs.forEach(([name], i) => tree.dirs.push({ name, tree: written[i].tree, meta: written[i].meta }));
    const checksum = await txn.writeMetadata('dirtree', encodeDirTree({ files: sortByName(tree.files), dirs: sortByName(tree.dirs) }));
    return { tree: checksum, meta: this.meta };
  }
}

export function joinPath(where: string, name: string): string {
  return where === '/' || where === '' ? `/${name}` : `${where}/${name}`;
}

function conflict(msg: string, p: string): OstreeTsError {
  return new OstreeTsError(Codes.TREE_CONFLICT, `${msg}. A later layer may replace a file with a file or merge a directory into a directory, never change one into the other.`, { path: p });
}
