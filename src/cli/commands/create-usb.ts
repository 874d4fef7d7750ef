import { Codes, OstreeTsError } from '../../errors/index.js';
import { isChecksum } from '../../format/checksum.js';
import { fsp, isErrno, mkdirp, path } from '../../io/fs.js';
import { formatCollectionRef, type CollectionRef } from '../../format/refs.js';
import { pullLocalCollectionRefs } from '../../repo/pull-local.js';
import { resolveCollectionRef } from '../../repo/refs.js';
import { Repo } from '../../repo/repo.js';
import { regenerateSummary } from '../../repo/summary.js';
import { collectionRefPairs } from '../collection-args.js';
import { openRepo, verb, write } from '../common.js';
import { args, arg, flag, str } from '../options.js';
import { progressLine } from '../progress.js';

/** Paths find-remotes always looks at on a mount: no repos.d link is needed for them. */
const WELL_KNOWN = new Set(['ostree/repo', '.ostree/repo']);

/** .ostree/repos.d/NN-generated → the repository, unless a link there already leads to it. */
async function linkRepo(mount: string, dest: string, destIno: number): Promise<void> {
  const dir = path.join(mount, '.ostree', 'repos.d');
  await mkdirp(dir, 0o755);
  for (const name of await fsp.readdir(dir)) {
    const st = await fsp.stat(path.join(dir, name)).catch(() => null);
    if (st?.ino === destIno) return;
  }
  const target = path.join('..', '..', dest);
  for (let i = 0; i < 100; i++) {
    try {
      await fsp.symlink(target, path.join(dir, `${String(i).padStart(2, '0')}-generated`));
      return;
    } catch (e) {
      if (!isErrno(e, 'EEXIST')) throw e;
    }
  }
  throw new OstreeTsError(Codes.EXISTS, `Could not find an unused symlink name for the repository in ${dir}: 00-generated to 99-generated are all taken. Remove the ones that lead nowhere.`, { path: dir });
}

export default verb({
  positionals: {
    mount: arg('Where the USB stick (or any removable medium) is mounted'),
    pairs: args('COLLECTION-ID REF pairs to copy onto it (COLLECTION-ID REF [COLLECTION-ID REF...])'),
  },
  options: {
    'disable-fsync': flag('Do not invoke fsync() (fast; unsafe if the stick is pulled out)'),
    'destination-repo': str('Use custom repository directory within the mount (default .ostree/repo)'),
    commit: str('Pull a specific commit (only works when a single ref is specified)'),
  },
  examples: [
    ['$0 --repo=repo create-usb /media/stick org.example.Os os/x86_64/stable', 'Copy a ref onto a mounted stick, for find-remotes --pull elsewhere'],
  ],
  details: 'The repository on the stick is an archive repository (fine on FAT: no xattrs, no ownership); the refs are written as refs/mirrors/COLLECTION/REF and a summary is generated. A host whose remote has the collection ID finds it with find-remotes and pulls from it with no network.',
  async run(o) {
    const mount = o.mount;
    const wanted = collectionRefPairs(o.pairs);
    if (o.commit !== undefined && wanted.length > 1) throw new OstreeTsError(Codes.USAGE, 'The --commit option can only be used when a single COLLECTION-ID REF pair is specified.');
    if (o.commit !== undefined && !isChecksum(o.commit)) throw new OstreeTsError(Codes.INVALID_CHECKSUM, `--commit=${o.commit} is not a full commit checksum.`, { commit: o.commit });
    const src = await openRepo(o);
    const mountStat = await fsp.stat(mount).catch((e: unknown) => {
      throw new OstreeTsError(Codes.NOT_FOUND, `Cannot open ${mount}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : (e as Error).message}. Give the directory the stick is mounted on.`, { path: mount }, { cause: e });
    });
    if (!mountStat.isDirectory()) throw new OstreeTsError(Codes.USAGE, `${mount} is not a directory: give the directory the stick is mounted on.`, { path: mount });
    // Every ref resolved before anything is made on the stick: a missing one leaves it as it was.
    const resolved: Array<CollectionRef & { commit: string }> = [];
    for (const w of wanted) {
      const commit = o.commit ?? (await resolveCollectionRef(src, w));
      if (!commit) {
        throw new OstreeTsError(Codes.REF_NOT_FOUND, `Collection–ref ${formatCollectionRef(w)} not found in ${src.path}; nothing was written to ${mount}. List what it has with 'ostree-ts --repo=${src.path} refs --collections'.`, { collectionId: w.collection, ref: w.ref, source: src.path });
      }
      resolved.push({ ...w, commit });
    }
    const destRel = o.destinationRepo ?? '.ostree/repo';
    if (path.isAbsolute(destRel) || destRel.split('/').includes('..')) {
      throw new OstreeTsError(Codes.USAGE, `--destination-repo must be a descendent of MOUNT-PATH: give a path inside ${mount} relative to it, without '..' (not ${destRel}).`, { path: destRel });
    }
    const destPath = path.resolve(mount, destRel);
    await mkdirp(destPath, 0o755);
    // Archive mode: no xattrs or ownership needed (FAT), compressed, as libostree writes sticks.
    const dest = await Repo.init(destPath, 'archive');
    const destStat = await fsp.stat(dest.path);
    if (destStat.dev !== mountStat.dev) throw new OstreeTsError(Codes.USAGE, `--destination-repo must be a descendent of MOUNT-PATH: ${destPath} is on another file system than ${mount}.`, { path: destPath });
    const srcStat = await fsp.stat(src.path);
    if (srcStat.dev === destStat.dev && srcStat.ino === destStat.ino) throw new OstreeTsError(Codes.USAGE, '--destination-repo must not be the source repository.', { path: destPath });
    if (o.disableFsync) dest.config.set('core', 'fsync', 'false');
    const progress = progressLine();
    await pullLocalCollectionRefs(dest, src, resolved, {
      fsync: o.disableFsync ? false : undefined,
      onProgress: (e) => progress.update(`Copying objects: ${e.metadata} metadata, ${e.content} content`),
    });
    progress.done();
    // A summary lists what the stick holds: find-remotes reads it.
    await regenerateSummary(dest);
    if (!WELL_KNOWN.has(destRel)) await linkRepo(mount, destRel, destStat.ino);
    write(`Copied ${wanted.length}/${wanted.length} refs successfully from ‘${src.path}’ to ‘${destRel}’ repository in ‘${mount}’.\n`);
  },
});
