/**
 * Reading trees straight from a git repository's object store with
 * isomorphic-git: no `git` binary, no working copy. Loaded on first use.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Codes, OstreeTsError } from '../errors/index.js';

type Git = typeof import('isomorphic-git');

export interface GitTreeEntry {
  /** Octal string as git stores it: 100644, 100755, 120000, 040000, 160000. */
  mode: string;
  path: string;
  oid: string;
  type: 'blob' | 'tree' | 'commit';
}

export class GitRepo {
  private readonly cache: object = {};

  private constructor(
    private readonly git: Git,
    /** What the user named. */
    readonly location: string,
    private readonly loc: { dir?: string; gitdir: string },
  ) {}

  /** Open a repository: a work tree with `.git`, or a bare repository. */
  static async open(location: string): Promise<GitRepo> {
    const abs = path.resolve(location);
    let gitdir: string;
    let dir: string | undefined;
    if (fs.existsSync(path.join(abs, '.git'))) {
      dir = abs;
      gitdir = path.join(abs, '.git');
      if (fs.statSync(gitdir).isFile()) {
        const m = /^gitdir:\s*(.+)$/m.exec(fs.readFileSync(gitdir, 'utf8'));
        if (m) gitdir = path.resolve(abs, m[1].trim());
      }
    } else if (fs.existsSync(path.join(abs, 'HEAD')) && fs.existsSync(path.join(abs, 'objects'))) {
      gitdir = abs;
    } else {
      throw new OstreeTsError(Codes.GIT, `${location} is not a git repository (no .git, and not a bare repository). Give the path of a git repository (REPO in REPO:REV[:SUBDIR]).`, { repo: location });
    }
    const git = (await import('isomorphic-git')).default as unknown as Git;
    return new GitRepo(git, location, { dir, gitdir });
  }

  private args(): { fs: typeof fs; dir?: string; gitdir: string; cache: object } {
    return { fs, ...this.loc, cache: this.cache };
  }

  /**
   * The commit a revision names: a branch, tag (peeled), HEAD, or a full or
   * abbreviated commit id, optionally followed by ~N and ^ (first parents).
   */
  async resolveCommit(spec: string): Promise<string> {
    const m = /^(.*?)((?:~\d*|\^1?)*)$/.exec(spec) as RegExpExecArray;
    let oid = await this.resolveBase(m[1] || spec, spec);
    for (const step of m[2].match(/~\d*|\^1?/g) ?? []) {
      const n = step.startsWith('~') ? (step.length > 1 ? Number(step.slice(1)) : 1) : 1;
      for (let i = 0; i < n; i++) {
        const c = await this.git.readCommit({ ...this.args(), oid });
        const parent = c.commit.parent[0];
        if (!parent) throw new OstreeTsError(Codes.GIT, `${this.location}: "${spec}" goes back past the first commit.`, { repo: this.location, rev: spec });
        oid = parent;
      }
    }
    return oid;
  }

  private async resolveBase(rev: string, spec: string): Promise<string> {
    let oid: string | null = null;
    try {
      oid = await this.git.resolveRef({ ...this.args(), ref: rev });
    } catch {
      if (/^[0-9a-f]{4,40}$/i.test(rev)) {
        try {
          oid = await this.git.expandOid({ ...this.args(), oid: rev.toLowerCase() });
        } catch { /* not found below */ }
      }
    }
    if (!oid) throw new OstreeTsError(Codes.GIT, `${this.location}: no revision "${spec}" (not a branch, tag or commit id). List them with git -C ${this.location} show-ref.`, { repo: this.location, rev: spec });
    for (let depth = 0; depth < 16; depth++) {
      const o = await this.git.readObject({ ...this.args(), oid, format: 'parsed' });
      if (o.type === 'commit') return oid;
      if (o.type === 'tag') {
        oid = (o.object as { object: string }).object;
        continue;
      }
      throw new OstreeTsError(Codes.GIT, `${this.location}: "${rev}" names a ${o.type}, not a commit.`, { repo: this.location, rev });
    }
    throw new OstreeTsError(Codes.GIT, `${this.location}: "${rev}" is a chain of tags too long to follow.`, { repo: this.location, rev });
  }

  /** The tree of a commit, or of SUBDIR inside it. */
  async treeOf(commit: string, subdir = ''): Promise<string> {
    const c = await this.git.readCommit({ ...this.args(), oid: commit });
    let tree = c.commit.tree;
    for (const part of subdir.split('/').filter((p) => p !== '' && p !== '.')) {
      const entry = (await this.readTree(tree)).find((e) => e.path === part);
      if (!entry || entry.type !== 'tree') {
        throw new OstreeTsError(Codes.GIT, `${this.location}: commit ${commit.slice(0, 12)} has no directory ${subdir}.`, { repo: this.location, subdir });
      }
      tree = entry.oid;
    }
    return tree;
  }

  async readTree(oid: string): Promise<GitTreeEntry[]> {
    const r = await this.git.readTree({ ...this.args(), oid });
    return r.tree as GitTreeEntry[];
  }

  async readBlob(oid: string): Promise<Buffer> {
    const r = await this.git.readBlob({ ...this.args(), oid });
    return Buffer.from(r.blob.buffer, r.blob.byteOffset, r.blob.byteLength);
  }

  /** remote.origin.url, or the repository's absolute path when it has none. */
  async sourceName(): Promise<string> {
    const url = await this.git.getConfig({ ...this.args(), path: 'remote.origin.url' }).catch(() => undefined);
    return typeof url === 'string' && url ? url : path.resolve(this.location);
  }
}
