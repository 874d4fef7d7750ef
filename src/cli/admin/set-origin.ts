import { Codes, OstreeTsError } from '../../errors/index.js';
import { nodeHostEnv } from '../../io/host-env.js';
import { KeyFile } from '../../format/index.js';
import { loadSysroot, openSysrootRepo, withSysrootLock, writeOrigin } from '../../sysroot/index.js';
import { arg, str } from '../options.js';
import { adminVerb, deploymentIndex, LOCKING, sysrootOf } from './common.js';

export default adminVerb({
  positionals: { remote: arg('Remote name (added, or its URL replaced)'), url: arg('Repository URL'), branch: arg('Branch to follow') },
  options: { index: str('The deployment index (default: the first)'), ...LOCKING },
  async run(o) {
    const root = sysrootOf(o);
    const env = nodeHostEnv();
    await withSysrootLock(root, { wait: o.lockWait, purpose: 'admin set-origin', now: env.now }, async () => {
      const st = await loadSysroot(root, env);
      const i = o.index !== undefined ? deploymentIndex(o.index, 'admin set-origin --index') : 0;
      const d = st.deployments[i];
      if (!d) throw new OstreeTsError(Codes.NOT_FOUND, `No deployment at index ${i}.`, { index: i });
      const repo = await openSysrootRepo(root);
      const section = `remote "${o.remote}"`;
      repo.config.set(section, 'url', o.url);
      await repo.saveConfig();
      const origin = KeyFile.parse(d.origin?.render() ?? '', 'origin');
      origin.set('origin', 'refspec', `${o.remote}:${o.branch}`);
      await writeOrigin(root, d, origin);
    });
  },
});
