import type { Argv } from 'yargs';
import { Codes, OstreeTsError } from '../../errors/index.js';
import { KeyFile } from '../../format/index.js';
import { fsp, nodeHostEnv, path } from '../../io/index.js';
import type { UpdateEvent } from '../../host/index.js';

/** The updater (and the transport it pulls with) is loaded only by the verbs that use it. */
const updater = (): Promise<typeof import('../../host/index.js')> => import('../../host/index.js');
import {
  deploy, initFs, loadSysroot, openSysrootRepo, osInit, withSysrootLock, writeList, writeOrigin, type DeployEvent,
} from '../../sysroot/index.js';
import { asList, last, write } from '../common.js';

export const command = 'admin <action> [args..]';
export const describe = 'Manage a sysroot: deployments, boot entries, upgrades (as ostree admin)';

const ACTIONS = ['init-fs', 'os-init', 'deploy', 'status', 'undeploy', 'cleanup', 'pin', 'set-origin', 'upgrade', 'switch', 'kargs', 'rollback'];

export function builder(y: Argv): Argv {
  return y
    .positional('action', { type: 'string', choices: ACTIONS, describe: 'What to do' })
    .positional('args', { type: 'string', describe: 'The action\'s arguments (a REF for deploy, an INDEX for undeploy and pin, …)' })
    .option('sysroot', { type: 'string', describe: 'The sysroot to act on (default /)' })
    .option('os', { type: 'string', describe: 'deploy, upgrade, switch: the stateroot (default: the booted one)' })
    .option('karg', { type: 'string', describe: 'deploy: set a kernel argument (KEY=VALUE replaces any KEY); repeatable' })
    .option('karg-append', { type: 'string', describe: 'deploy, kargs edit-in-place: append a kernel argument; repeatable' })
    .option('karg-delete', { type: 'string', describe: 'deploy, kargs edit-in-place: delete a kernel argument (KEY or KEY=VALUE); repeatable' })
    .option('karg-proc-cmdline', { type: 'boolean', describe: 'deploy: start from the running kernel\'s /proc/cmdline' })
    .option('origin-file', { type: 'string', describe: 'deploy: use this file as the new deployment\'s origin' })
    .option('retain', { type: 'boolean', describe: 'deploy: keep every existing deployment' })
    .option('retain-pending', { type: 'boolean', describe: 'deploy: keep pending deployments' })
    .option('retain-rollback', { type: 'boolean', describe: 'deploy: keep rollback deployments' })
    .option('not-as-default', { type: 'boolean', describe: 'deploy: add the deployment after the booted (or merge) one, not as the default' })
    .option('stage', { type: 'boolean', describe: 'deploy: finalize at shutdown (needs a booted OSTree system)' })
    .option('no-merge', { type: 'boolean', describe: 'deploy: a fresh /etc from the commit\'s defaults, without local changes' })
    .option('append-if-missing', { type: 'string', describe: 'kargs edit-in-place: append this argument to every deployment that lacks its key; repeatable' })
    .option('unpin', { alias: 'u', type: 'boolean', describe: 'pin: unpin instead' })
    .option('index', { type: 'string', describe: 'set-origin: the deployment index (default: the first)' })
    .option('json', { type: 'boolean', describe: 'status: the status document as JSON (apiVersion ostree-ts/v1)' })
    .option('allow-downgrade', { type: 'boolean', describe: 'upgrade, switch: accept a commit older than the deployed one' })
    .option('lock-wait', { type: 'boolean', describe: 'Wait for another change to the sysroot to finish instead of failing' })
    .example('$0 admin init-fs /mnt/sysroot', 'Lay out an empty sysroot with a bare repository at ostree/repo')
    .example('$0 admin --sysroot=/mnt/sysroot os-init debian', 'Create the stateroot debian (its /var)')
    .example('$0 admin --sysroot=/mnt/sysroot deploy --os=debian --karg=root=LABEL=root debian/stable', 'Deploy the commit debian/stable names, as the boot default')
    .example('$0 admin --sysroot=/mnt/sysroot status', 'The deployments, default first')
    .example('$0 admin --sysroot=/mnt/sysroot kargs edit-in-place --append-if-missing=quiet', 'Add an argument to every deployment\'s boot entry (switched atomically)');
}

interface AdminArgs {
  action: string; args?: string[]; sysroot?: string; os?: string;
  karg?: string | string[]; kargAppend?: string | string[]; kargDelete?: string | string[]; kargProcCmdline?: boolean;
  originFile?: string | string[]; retain?: boolean; retainPending?: boolean; retainRollback?: boolean; notAsDefault?: boolean;
  stage?: boolean; noMerge?: boolean; appendIfMissing?: string | string[]; unpin?: boolean; index?: string | string[]; json?: boolean; allowDowngrade?: boolean; lockWait?: boolean;
}

function sysrootOf(argv: AdminArgs): string {
  return path.resolve(last(argv.sysroot) ?? '/');
}

function index(s: string | undefined, what: string): number {
  if (s === undefined || !/^\d+$/.test(s)) throw new OstreeTsError(Codes.USAGE, `${what} needs a deployment INDEX (0 is the default; see 'ostree-ts admin status').`, { value: s ?? null });
  return Number(s);
}

function deployProgress(e: DeployEvent): void {
  if (e.type === 'etc') process.stderr.write(`Copying /etc changes: ${e.modified} modified, ${e.removed} removed, ${e.added} added\n`);
  else if (e.type === 'bootconfig') process.stderr.write(`Bootloader updated; bootconfig swap: ${e.swap ? 'yes' : 'no'}; bootversion: boot.${e.bootversion}.${e.subbootversion}, deployment count: ${e.deployments}\n`);
}

function updateProgress(e: UpdateEvent): void {
  if (e.type === 'deploy') deployProgress(e.event);
  else if (e.type === 'check') process.stderr.write(`Preflight ${e.result.check}: ${e.result.ok ? 'ok' : 'FAILED'} (${e.result.detail})\n`);
}

export async function handler(argv: AdminArgs): Promise<void> {
  const args = asList(argv.args);
  const root = sysrootOf(argv);
  const lockWait = argv.lockWait === true;
  const env = nodeHostEnv();
  const now = env.now;
  switch (argv.action) {
    case 'init-fs': {
      const dir = args[0];
      if (!dir) throw new OstreeTsError(Codes.USAGE, 'admin init-fs needs a DIRECTORY.');
      await initFs(dir);
      return;
    }
    case 'os-init': {
      const os = args[0];
      if (!os) throw new OstreeTsError(Codes.USAGE, 'admin os-init needs a STATEROOT name.');
      await osInit(root, os);
      write(`ostree/deploy/${os} initialized as OSTree root\n`);
      return;
    }
    case 'status': {
      const { hostStatus, renderAdminStatus } = await import('../../host/status.js');
      const s = await hostStatus({ sysroot: root, env, signatures: argv.json === true });
      write(argv.json ? `${JSON.stringify(s, null, 2)}\n` : renderAdminStatus(s));
      return;
    }
    case 'deploy': {
      const rev = args[0];
      if (!rev) throw new OstreeTsError(Codes.USAGE, 'admin deploy needs a REFSPEC (a ref or commit of the sysroot\'s repository).');
      if (argv.stage) {
        throw new OstreeTsError(Codes.USAGE, '--stage finalizes the deployment at shutdown, which needs a booted OSTree system (/run/ostree-booted); this sysroot is not booted. Deploy without --stage.');
      }
      await withSysrootLock(root, { wait: lockWait, purpose: `admin deploy ${rev}`, now }, async () => {
        const st = await loadSysroot(root, env);
        const osname = last(argv.os) ?? st.booted?.osname;
        if (!osname) throw new OstreeTsError(Codes.USAGE, 'Not booted into an OSTree system, and no --os=STATEROOT given.');
        const originFile = last(argv.originFile);
        const origin = originFile ? KeyFile.parse(await fsp.readFile(originFile, 'utf8'), originFile) : undefined;
        const proc = argv.kargProcCmdline ? await env.procCmdline() : undefined;
        await deploy(root, env, {
          osname, revision: rev, origin, karg: asList(argv.karg), kargAppend: asList(argv.kargAppend), kargDelete: asList(argv.kargDelete),
          procCmdline: proc?.trim(), retain: argv.retain, retainPending: argv.retainPending, retainRollback: argv.retainRollback,
          notAsDefault: argv.notAsDefault, noMerge: argv.noMerge, onEvent: deployProgress,
        });
      });
      return;
    }
    case 'undeploy': {
      const i = index(args[0], 'admin undeploy');
      let gone = '';
      await withSysrootLock(root, { wait: lockWait, purpose: 'admin undeploy', now }, () => writeList(root, env, (st) => {
        const d = st.deployments[i];
        if (!d) throw new OstreeTsError(Codes.NOT_FOUND, `Out of range deployment index ${i} (there are ${st.deployments.length}).`, { index: i });
        gone = `${d.csum}.${d.deployserial}`;
        return st.deployments.filter((_, j) => j !== i);
      }, { onEvent: deployProgress }));
      write(`Deleted deployment ${gone}\n`);
      return;
    }
    case 'cleanup': {
      await (await updater()).cleanup({ sysroot: root, env, lockWait });
      return;
    }
    case 'pin': {
      if (!args.length) throw new OstreeTsError(Codes.USAGE, 'admin pin needs one or more deployment INDEXes.');
      for (const a of args) {
        const d = await (await updater()).pin({ sysroot: root, env, index: index(a, 'admin pin'), unpin: argv.unpin, lockWait });
        write(`Deployment ${d.csum}.${d.deployserial} is ${argv.unpin ? 'now unpinned' : 'now pinned'}\n`);
      }
      return;
    }
    case 'set-origin': {
      const [remote, url, branch] = args;
      if (!remote || !url || !branch) throw new OstreeTsError(Codes.USAGE, 'admin set-origin needs REMOTE URL BRANCH.');
      await withSysrootLock(root, { wait: lockWait, purpose: 'admin set-origin', now }, async () => {
        const st = await loadSysroot(root, env);
        const i = argv.index !== undefined ? index(last(argv.index), 'admin set-origin --index') : 0;
        const d = st.deployments[i];
        if (!d) throw new OstreeTsError(Codes.NOT_FOUND, `No deployment at index ${i}.`, { index: i });
        const repo = await openSysrootRepo(root);
        const section = `remote "${remote}"`;
        repo.config.set(section, 'url', url);
        await repo.saveConfig();
        const origin = KeyFile.parse(d.origin?.render() ?? '', 'origin');
        origin.set('origin', 'refspec', `${remote}:${branch}`);
        await writeOrigin(root, d, origin);
      });
      return;
    }
    case 'upgrade':
    case 'switch': {
      const rebase = argv.action === 'switch' ? args[0] : undefined;
      if (argv.action === 'switch' && !rebase) throw new OstreeTsError(Codes.USAGE, 'admin switch needs a REF (REMOTE:REF, or REF on the current remote).');
      const r = await (await updater()).update({
        sysroot: root, env, osname: last(argv.os), rebase, allowDowngrade: argv.allowDowngrade, lockWait, onEvent: updateProgress,
      });
      if (r.outcome === 'no-update') write('No update available.\n');
      return;
    }
    case 'rollback': {
      const r = await (await updater()).rollback({ sysroot: root, env, lockWait, onEvent: deployProgress });
      write(`Moving '${r.to}' to be first deployment\n`);
      return;
    }
    case 'kargs': {
      if (args[0] !== 'edit-in-place') throw new OstreeTsError(Codes.USAGE, 'admin kargs: the action is edit-in-place (--append-if-missing=ARG, for every deployment; or --karg-append, --karg, --karg-delete for the default one).');
      const aim = asList(argv.appendIfMissing);
      const { setKargs } = await updater();
      if (aim.length) await setKargs({ sysroot: root, env, appendIfMissingAll: aim, lockWait });
      else await setKargs({ sysroot: root, env, append: asList(argv.kargAppend), replace: asList(argv.karg), delete: asList(argv.kargDelete), lockWait });
      return;
    }
    default:
      throw new OstreeTsError(Codes.USAGE, `Unknown admin action '${argv.action}'.`);
  }
}
