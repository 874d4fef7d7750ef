import { initFs } from '../../sysroot/deploy.js';
import { arg, flag } from '../options.js';
import { adminVerb } from './common.js';

export default adminVerb({
  positionals: { directory: arg('Where to lay out the sysroot (created if missing)') },
  options: {
    modern: flag('Only boot/ and ostree/ (no dev, home, proc, root, run, sys, tmp toplevels)'),
  },
  async run(o) {
    await initFs(o.directory, { modern: o.modern });
  },
});
