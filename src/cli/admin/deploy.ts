import { Codes, OstreeTsError } from '../../errors/index.js';
import { nodeHostEnv } from '../../io/host-env.js';
import { KeyFile } from '../../format/keyfile.js';
import { fsp } from '../../io/fs.js';
import { deploy } from '../../sysroot/deploy.js';
import { withSysrootLock } from '../../sysroot/lock.js';
import { loadSysroot } from '../../sysroot/state.js';
import { path } from '../../io/fs.js';
import { arg, flag, list, OS_OPTION, str } from '../options.js';
import { adminVerb, deployProgress, LOCKING, notBootedForStage, sysrootOf } from './common.js';

export default adminVerb({
  positionals: { refspec: arg("A ref or commit of the sysroot's repository") },
  options: {
    os: OS_OPTION,
    karg: list('Set a kernel argument (KEY=VALUE replaces any KEY)'),
    'karg-append': list('Append a kernel argument'),
    'karg-delete': list('Delete a kernel argument (KEY or KEY=VALUE)'),
    'karg-proc-cmdline': flag('Start from the running kernel\'s /proc/cmdline'),
    'overlay-initrd': list('Also load this initramfs image after the tree\'s own (repeatable; copied into /boot/ostree/initramfs-overlays/ by its checksum)'),
    'karg-none': flag('Start from no kernel arguments, not the merge deployment\'s (then --karg and --karg-append add to nothing)'),
    'no-prune': flag('Remove the deployments no longer listed, but do not prune the repository afterwards'),
    'origin-file': str('Use this file as the new deployment\'s origin'),
    retain: flag('Keep every existing deployment'),
    'retain-pending': flag('Keep pending deployments'),
    'retain-rollback': flag('Keep rollback deployments'),
    'not-as-default': flag('Add the deployment after the booted (or merge) one, not as the default'),
    stage: flag('Finalize at shutdown (needs a booted OSTree system)'),
    'no-merge': flag('A fresh /etc from the commit\'s defaults, without local changes'),
    ...LOCKING,
  },
  examples: [['$0 admin --sysroot=/mnt/sysroot deploy --os=debian --karg=root=LABEL=root debian/stable', 'Deploy the commit debian/stable names, as the boot default']],
  async run(o) {
    const root = sysrootOf(o);
    const rev = o.refspec;
    if (o.stage) throw notBootedForStage((await loadSysroot(root, nodeHostEnv())).booted !== null);
    const env = nodeHostEnv();
    await withSysrootLock(root, { wait: o.lockWait, purpose: `admin deploy ${rev}`, now: env.now }, async () => {
      const st = await loadSysroot(root, env);
      const osname = o.os ?? st.booted?.osname;
      if (!osname) throw new OstreeTsError(Codes.USAGE, 'Not booted into an OSTree system, and no --os=STATEROOT given.');
      const originFile = o.originFile;
      const origin = originFile ? KeyFile.parse(await fsp.readFile(originFile, 'utf8'), originFile) : undefined;
      const proc = o.kargProcCmdline ? await env.procCmdline() : undefined;
      await deploy(root, env, {
        osname, revision: rev, origin, karg: o.karg, kargAppend: o.kargAppend, kargDelete: o.kargDelete,
        procCmdline: proc?.trim(), retain: o.retain, retainPending: o.retainPending, retainRollback: o.retainRollback,
        notAsDefault: o.notAsDefault, noMerge: o.noMerge, kargNone: o.kargNone, noPrune: o.noPrune, overlayInitrds: o.overlayInitrd.map((f) => path.resolve(f)), onEvent: deployProgress,
      });
    });
  },
});
