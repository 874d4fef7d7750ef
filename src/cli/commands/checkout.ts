import { checkout } from '../../repo/index.js';
import { openRepo, verb } from '../common.js';
import { arg, flag, optionalArg, str } from '../options.js';

export default verb({
  positionals: {
    commit: arg('Ref or checksum'),
    destination: optionalArg('Directory to create (default: the commit argument)'),
  },
  options: {
    'user-mode': flag('Do not change file ownership or set xattrs (unprivileged)', { alias: 'U' }),
    union: flag('Keep existing directories, overwrite existing files'),
    subpath: str('Check out only this path of the commit'),
    'require-hardlinks': flag('Fail rather than copy when a hardlink is impossible', { alias: 'H' }),
    'force-copy': flag('Never hardlink; copy every file', { alias: 'C' }),
  },
  examples: [['$0 --repo=repo checkout -U os/x86_64 rootfs', 'Check out as an unprivileged user']],
  async run(o) {
    const repo = await openRepo(o);
    await checkout(repo, o.commit, o.destination ?? o.commit, {
      userMode: o.userMode, union: o.union, subpath: o.subpath, requireHardlinks: o.requireHardlinks, forceCopy: o.forceCopy,
    });
  },
});
