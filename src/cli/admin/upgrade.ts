import { write } from '../common.js';
import { nodeHostEnv } from '../../io/host-env.js';
import { flag, OS_OPTION } from '../options.js';
import { adminVerb, LOCKING, sysrootOf, updateProgress, updater } from './common.js';

export const UPDATE_OPTIONS = {
  os: OS_OPTION,
  'allow-downgrade': flag('Accept a commit older than the deployed one'),
  ...LOCKING,
};

export default adminVerb({
  options: UPDATE_OPTIONS,
  async run(o) {
    const r = await (await updater()).update({
      sysroot: sysrootOf(o), env: nodeHostEnv(), osname: o.os, allowDowngrade: o.allowDowngrade, lockWait: o.lockWait, onEvent: updateProgress,
    });
    if (r.outcome === 'no-update') write('No update available.\n');
  },
});
