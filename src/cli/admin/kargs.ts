import { arg, list } from '../options.js';
import { nodeHostEnv } from '../../io/host-env.js';
import { adminVerb, LOCKING, sysrootOf, updater } from './common.js';

export default adminVerb({
  positionals: { action: arg('What to do', { choices: ['edit-in-place'] }) },
  options: {
    karg: list('Set a kernel argument of the default deployment (KEY=VALUE replaces any KEY)'),
    'karg-append': list('Append a kernel argument to the default deployment'),
    'karg-delete': list('Delete a kernel argument (KEY or KEY=VALUE) of the default deployment'),
    'append-if-missing': list('Append this argument to every deployment that lacks its key'),
    ...LOCKING,
  },
  examples: [['$0 admin --sysroot=/mnt/sysroot kargs edit-in-place --append-if-missing=quiet', 'Add an argument to every deployment\'s boot entry (switched atomically)']],
  async run(o) {
    const { setKargs } = await updater();
    const root = sysrootOf(o);
    if (o.appendIfMissing.length) await setKargs({ sysroot: root, env: nodeHostEnv(), appendIfMissingAll: o.appendIfMissing, lockWait: o.lockWait });
    else await setKargs({ sysroot: root, env: nodeHostEnv(), append: o.kargAppend, replace: o.karg, delete: o.kargDelete, lockWait: o.lockWait });
  },
});
