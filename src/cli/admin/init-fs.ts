import { initFs } from '../../sysroot/index.js';
import { arg } from '../options.js';
import { adminVerb } from './common.js';

export default adminVerb({
  positionals: { directory: arg('Where to lay out the sysroot (created if missing)') },
  async run(o) {
    await initFs(o.directory);
  },
});
