/**
 * Which objects a repository has, from one listing per fan-out directory
 * (objects/XX) instead of a stat per object: what a writer asks thousands of
 * times in a row. A snapshot: objects stored after a directory was listed are
 * not seen, so each writer (a transaction, a pull) holds its own index.
 */
import { objectSuffix, type ObjectType } from '../format/objects.js';
import { fsp, isErrno, path } from '../io/fs.js';
import type { Repo } from './repo.js';

export class ObjectIndex {
  private readonly dirs = new Map<string, Promise<Set<string>>>();
  /** The fan-out directories that exist (an empty repository has none to list). */
  private fanouts: Promise<Set<string>> | null = null;

  constructor(private readonly repo: Repo) {}

  private list(dir: string): Promise<Set<string>> {
    return fsp.readdir(dir).then(
      (names) => new Set(names),
      (e: unknown) => {
        if (isErrno(e, 'ENOENT', 'ENOTDIR')) return new Set<string>();
        throw e;
      },
    );
  }

  /** Does the repository hold this object (as of when its fan-out directory was listed)? */
  async has(checksum: string, type: ObjectType): Promise<boolean> {
    const fan = checksum.slice(0, 2);
    let names = this.dirs.get(fan);
    if (!names) {
      this.fanouts ??= this.list(path.join(this.repo.path, 'objects'));
      const objects = this.fanouts;
      names = objects.then((f) => (f.has(fan) ? this.list(path.join(this.repo.path, 'objects', fan)) : new Set<string>()));
      this.dirs.set(fan, names);
    }
    return (await names).has(`${checksum.slice(2)}.${objectSuffix(type, this.repo.isArchive)}`);
  }
}
