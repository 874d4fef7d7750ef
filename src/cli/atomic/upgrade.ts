import { update, type UpdateResult } from '../../host/upgrade.js';
import { nodeHostEnv } from '../../io/host-env.js';
import { printDocument, write } from '../output.js';
import { flag, JSON_OPTION, list, LOCK_WAIT_OPTION, OS_OPTION, REBOOT_OPTION } from '../options.js';
import { EXIT } from '../report.js';
import { renderUpdate, updateLine } from './common.js';
import { sysrootOf, verb } from './index.js';
import { reboot } from './reboot.js';

/** What upgrade, rebase and deploy share. */
export const UPDATE_OPTIONS = {
  reboot: REBOOT_OPTION,
  os: OS_OPTION,
  json: JSON_OPTION,
  'lock-wait': LOCK_WAIT_OPTION,
};

export default verb({
  options: {
    check: flag('Only say whether there is an update and how much it downloads (exit 77 when there is none)'),
    preview: flag('Download the update and list the files that change; deploy nothing'),
    'allow-downgrade': flag('Accept a commit older than the running one'),
    karg: list('Set a kernel argument on the new deployment (KEY=VALUE)'),
    ...UPDATE_OPTIONS,
  },
  examples: [
    ['$0 upgrade --check', 'Is there an update, and how big?'],
    ['$0 --sysroot=/mnt/sysroot upgrade', 'Deploy the update; the current default becomes the rollback'],
  ],
  async run(o) {
    const r = await update({
      sysroot: sysrootOf(o), env: nodeHostEnv(), osname: o.os, check: o.check, preview: o.preview, allowDowngrade: o.allowDowngrade,
      karg: o.karg, lockWait: o.lockWait, onEvent: o.json ? undefined : updateLine,
    });
    return finish(r, o);
  },
});

/** Print the result, reboot if asked; the exit status (77: `--check` found nothing). */
export function finish(r: UpdateResult, o: { json: boolean; reboot: boolean; check?: boolean; sysroot?: string }): number {
  if (o.json) printDocument('UpdateResult', r);
  else write(renderUpdate(r));
  if (o.reboot && r.outcome === 'updated') reboot(sysrootOf(o));
  return o.check && r.outcome === 'no-update' ? EXIT.NOTHING_TO_DO : EXIT.OK;
}
