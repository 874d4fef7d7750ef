import { Codes, OstreeTsError } from '../../errors/index.js';
import { fsp } from '../../io/fs.js';
import { checkout, type CheckoutOptions } from '../../repo/checkout.js';
import { openRepo, verb } from '../common.js';
import { arg, flag, optionalArg, str, tristate } from '../options.js';

async function readInput(file: string | undefined, stdin: boolean): Promise<string> {
  if (stdin) {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
  return fsp.readFile(file as string, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new OstreeTsError(Codes.NOT_FOUND, `Cannot read the --from-file ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}.`, { path: file });
  });
}

/** --from-stdin / --from-file input: REV NUL SUBPATH NUL, repeated (as ostree reads it). */
export function parseManyCheckouts(text: string): Array<{ rev: string; subpath: string }> {
  const parts = text.split('\0');
  const out: Array<{ rev: string; subpath: string }> = [];
  for (let i = 0; i + 1 < parts.length; i += 2) {
    if (parts[i] === '') break;
    out.push({ rev: parts[i], subpath: parts[i + 1] });
  }
  return out;
}

export default verb({
  positionals: {
    commit: arg('Ref or checksum (with --from-stdin or --from-file: the destination)'),
    destination: optionalArg('Directory to create (default: the commit argument)'),
  },
  options: {
    'user-mode': flag('Do not change file ownership or set xattrs (unprivileged)', { alias: 'U' }),
    union: flag('Keep existing directories, overwrite existing files'),
    'union-add': flag('Keep existing files and directories, only add new ones'),
    'union-identical': flag('Like --union-add, but fail if a file there is not the same object (needs -H)'),
    subpath: str('Check out only this path of the commit'),
    'allow-noent': flag('Do nothing (and succeed) if the --subpath does not exist'),
    'require-hardlinks': flag('Fail rather than copy when a hardlink is impossible', { alias: 'H' }),
    'force-copy': flag('Never hardlink; copy every file', { alias: 'C' }),
    whiteouts: flag("Process Docker-style whiteouts: .wh.NAME removes NAME and is not checked out"),
    'process-passthrough-whiteouts': flag('Check out .ostree-wh.NAME as NAME, a 0:0 character device (an overlayfs whiteout; needs root)'),
    'skip-list': str('File of absolute paths (one per line, like /usr/share/doc) not to check out'),
    'bareuseronly-dirs': flag('Mask directory modes to 0775 (no setuid, setgid, sticky or world-writable bits)', { alias: 'M' }),
    'from-stdin': flag('Check out many REV NUL SUBPATH NUL pairs read from standard input into the destination'),
    'from-file': str('Check out many REV NUL SUBPATH NUL pairs read from FILE into the destination'),
    fsync: tristate('--fsync=true syncs the destination file system once written; false (the default here) does not'),
    'disable-cache': flag('Accepted: no uncompressed-object cache is kept or used'),
    'selinux-policy': str('Not supported (no SELinux labelling in this build): refused'),
    'selinux-prefix': str('Not supported (no SELinux labelling in this build): refused'),
  },
  examples: [
    ['$0 --repo=repo checkout -U os/x86_64 rootfs', 'Check out as an unprivileged user'],
    ["printf 'base\\0/\\0overlay\\0/etc\\0' | $0 --repo=repo checkout --union --from-stdin rootfs", 'Layer several checkouts into one directory'],
  ],
  async run(o) {
    if (o.selinuxPolicy !== undefined || o.selinuxPrefix !== undefined) {
      throw new OstreeTsError(Codes.USAGE, 'SELinux labelling (--selinux-policy, --selinux-prefix) is not available: check out without it and label the tree afterwards (setfiles).');
    }
    const repo = await openRepo(o);
    let skip: Set<string> | undefined;
    if (o.skipList !== undefined) {
      const text = await fsp.readFile(o.skipList, 'utf8').catch((e: NodeJS.ErrnoException) => {
        throw new OstreeTsError(Codes.NOT_FOUND, `Cannot read the --skip-list ${o.skipList}: ${e.code === 'ENOENT' ? 'no such file' : e.message}.`, { path: o.skipList });
      });
      skip = new Set(text.split('\n').filter((l) => l !== ''));
    }
    const opts: CheckoutOptions = {
      userMode: o.userMode, union: o.union, unionAdd: o.unionAdd, unionIdentical: o.unionIdentical, subpath: o.subpath,
      requireHardlinks: o.requireHardlinks, forceCopy: o.forceCopy, allowNoent: o.allowNoent, whiteouts: o.whiteouts,
      passthroughWhiteouts: o.processPassthroughWhiteouts, skip, bareuseronlyDirs: o.bareuseronlyDirs, fsync: o.fsync === true,
    };
    if (o.fromStdin || o.fromFile !== undefined) {
      const dest = o.commit;
      for (const one of parseManyCheckouts(await readInput(o.fromFile, o.fromStdin))) {
        await checkout(repo, one.rev, dest, { ...opts, subpath: one.subpath });
      }
      return;
    }
    await checkout(repo, o.commit, o.destination ?? o.commit, opts);
  },
});
