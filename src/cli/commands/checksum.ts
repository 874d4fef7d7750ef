import { checksumPath } from '../../repo/checksum-path.js';
import { verb, write } from '../common.js';
import { arg, flag } from '../options.js';

export default verb({
  positionals: { path: arg('File, symlink or directory') },
  options: {
    'ignore-xattrs': flag("Don't include xattrs in checksum"),
  },
  examples: [['$0 checksum /etc/os-release', 'The content checksum the file would have as an object in a repository']],
  async run(o) {
    write(`${await checksumPath(o.path, { ignoreXattrs: o.ignoreXattrs })}\n`);
  },
});
