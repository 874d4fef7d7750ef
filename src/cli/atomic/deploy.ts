import { update } from '../../host/upgrade.js';
import { nodeHostEnv } from '../../io/host-env.js';
import { arg } from '../options.js';
import { updateLine } from './common.js';
import { sysrootOf, verb } from './index.js';
import { finish, UPDATE_OPTIONS } from './upgrade.js';

export default verb({
  positionals: { revision: arg('A version such as 2.0, or a commit checksum') },
  options: UPDATE_OPTIONS,
  examples: [['$0 deploy 2.0', 'Go to version 2.0 of the followed ref (the origin records it as override-commit)']],
  async run(o) {
    const r = await update({
      sysroot: sysrootOf(o), env: nodeHostEnv(), osname: o.os, revision: o.revision, lockWait: o.lockWait, onEvent: o.json ? undefined : updateLine,
    });
    return finish(r, o);
  },
});
