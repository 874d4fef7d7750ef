/**
 * Kernel arguments of a deployment (by default the booted one, else the
 * default): read, or changed in place — its boot entries are written anew
 * and switched atomically.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { Kargs } from '../format/bls.js';
import { writeList } from '../sysroot/deploy.js';
import { deploymentName, loadSysroot, openSysrootRepo, sameDeployment, type SysrootState } from '../sysroot/state.js';
import { readAtomicConfig } from './atomic-conf.js';
import { bootBackend } from './boot-backend.js';
import { underLock, type HostVerbOptions } from './common.js';
import { withoutOstreeArg } from './status.js';

/** The deployment kernel arguments are read from and written to: `index` when given, else the booted one, else the default (0). */
export function kargsIndex(st: Pick<SysrootState, 'deployments' | 'booted'>, index?: number): number {
  if (index !== undefined) return index;
  return st.booted ? Math.max(0, st.deployments.findIndex((d) => sameDeployment(d, st.booted))) : 0;
}

export interface KargsReadOptions extends Omit<HostVerbOptions, 'lockWait'> {
  index?: number;
}

/** A deployment's kernel arguments (without `ostree=`); nulls when there is no such deployment. */
export async function readKargs(opts: KargsReadOptions): Promise<{ deployment: string | null; kernelArguments: string | null }> {
  const st = await loadSysroot(opts.sysroot, opts.env);
  const d = st.deployments[kargsIndex(st, opts.index)];
  return { deployment: d ? deploymentName(d) : null, kernelArguments: d ? withoutOstreeArg(d.kargs) : null };
}

export interface KargsOptions extends HostVerbOptions {
  index?: number;
  append?: string[];
  /** KEY=VALUE replacing any KEY. */
  replace?: string[];
  delete?: string[];
  /** Replace the whole line. */
  set?: string;
  /** `admin kargs edit-in-place --append-if-missing`: every deployment gets these unless it has the key already. */
  appendIfMissingAll?: string[];
}

/** Change kernel arguments in place; `before` and `after` are the (first) changed deployment's, without `ostree=`. */
export async function setKargs(opts: KargsOptions): Promise<{ before: string; after: string }> {
  return underLock(opts, 'kargs', async (root) => {
    const conf = await readAtomicConfig(root, (await openSysrootRepo(root)).config);
    let before = '';
    let after = '';
    await writeList(root, opts.env, (st) => {
      const list = st.deployments.map((d) => ({ ...d }));
      if (opts.appendIfMissingAll) {
        if (!list.length) throw new OstreeTsError(Codes.NOT_FOUND, `No deployments in ${root}.`, { sysroot: root });
        for (const d of list) {
          const k = Kargs.parse(d.kargs);
          for (const a of opts.appendIfMissingAll) if (!k.has(Kargs.keyOf(a))) k.append(a);
          d.kargs = k.toString();
        }
        before = withoutOstreeArg(st.deployments[0].kargs);
        after = withoutOstreeArg(list[0].kargs);
        return list;
      }
      const i = kargsIndex(st, opts.index);
      const d = list[i];
      if (!d) throw new OstreeTsError(Codes.NOT_FOUND, `No deployment at index ${i}.`, { index: i });
      before = withoutOstreeArg(d.kargs);
      const k = opts.set !== undefined ? Kargs.parse(opts.set) : Kargs.parse(d.kargs);
      for (const a of opts.replace ?? []) k.replace(a);
      for (const a of opts.append ?? []) k.append(a);
      for (const a of opts.delete ?? []) {
        if (!k.delete(a)) throw new OstreeTsError(Codes.NOT_FOUND, `Kernel argument ${a} is not set, so it cannot be deleted.`, { karg: a });
      }
      d.kargs = k.toString();
      after = withoutOstreeArg(d.kargs);
      return list;
    }, { noClean: true, boot: bootBackend(conf, opts.faults) });
    return { before, after };
  });
}
