import { write } from '../common.js';
import { nodeHostEnv } from '../../io/host-env.js';
import { Codes, OstreeTsError } from '../../errors/index.js';
import { flag, OS_OPTION, REBOOT_OPTION, str } from '../options.js';
import { reboot } from '../atomic/reboot.js';
import { adminVerb, LOCKING, notBootedForStage, sysrootOf, updateProgress, updater } from './common.js';

export const UPDATE_OPTIONS = {
  os: OS_OPTION,
  reboot: REBOOT_OPTION,
  'allow-downgrade': flag('Accept a commit older than the deployed one'),
  ...LOCKING,
};

export default adminVerb({
  options: {
    ...UPDATE_OPTIONS,
    'override-commit': str('Deploy this commit (CHECKSUM) instead of the newest of the followed ref; recorded in the origin as override-commit'),
    'pull-only': flag('Download the update and move the followed ref; create no deployment'),
    'deploy-only': flag('Download nothing: deploy what the followed ref already holds here'),
    stage: flag('Finalize the deployment at shutdown (needs a booted OSTree system)'),
  },
  examples: [
    ['$0 admin --sysroot=/mnt/sysroot upgrade --pull-only', 'Download the update now ...'],
    ['$0 admin --sysroot=/mnt/sysroot upgrade --deploy-only', '... and deploy it later, with no network'],
  ],
  async run(o) {
    if (o.pullOnly && o.deployOnly) throw new OstreeTsError(Codes.USAGE, 'Cannot simultaneously specify --pull-only and --deploy-only');
    if (o.pullOnly && o.reboot) throw new OstreeTsError(Codes.USAGE, 'Cannot simultaneously specify --pull-only and --reboot');
    const host = await updater();
    const env = nodeHostEnv();
    const sysroot = sysrootOf(o);
    const opts = {
      sysroot, env, osname: o.os, allowDowngrade: o.allowDowngrade, lockWait: o.lockWait, onEvent: updateProgress,
      pullOnly: o.pullOnly, deployOnly: o.deployOnly,
      ...(o.overrideCommit ? { revision: o.overrideCommit, revisionChecksDowngrade: true } : {}),
    };
    if (o.stage) {
      // As ostree: no update is no error; an update cannot be staged on a sysroot this machine did not boot.
      const r = await host.update({ ...opts, check: true });
      if (r.outcome === 'no-update') {
        write('No update available.\n');
        return;
      }
      const { loadSysroot } = await import('../../sysroot/index.js');
      throw notBootedForStage((await loadSysroot(sysroot, env)).booted !== null);
    }
    const r = await host.update(opts);
    if (r.outcome === 'no-update') write('No update available.\n');
    else if (r.outcome === 'updated' && o.reboot) reboot(sysroot);
  },
});
