/**
 * An inconclusive health check uses no try: the bootloader spent one when
 * it booted the deployment (systemd-boot renamed `+L-D` to `+(L-1)-(D+1)`,
 * GRUB decremented `boot_counter`), so it is given back — the entry renamed
 * `+(L+1)-(D-1)` (on the ESP first, then /boot/loader), or `boot_counter`
 * raised by one. Nothing happens to an entry that was not tried (no DONE)
 * or carries no counter. The caller holds the sysroot lock.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { parseBootCounter, parseGrubenv, serializeGrubenv, withCounter } from '../format/index.js';
import { atomicWriteFile, fsp, isErrno, path, type HostEnv } from '../io/index.js';
import {
  durableRename, espDir, faultHit, loadSysroot, resolveBackend, sameDeployment, type BootBackend, type Deployment,
} from '../sysroot/index.js';

export async function giveBackTry(root: string, env: HostEnv, d: Deployment, backend: BootBackend): Promise<void> {
  const st = await loadSysroot(root, env, { bootedCheck: false });
  const index = st.deployments.findIndex((x) => sameDeployment(x, d));
  if (index < 0) throw new OstreeTsError(Codes.NOT_FOUND, `Deployment ${d.csum}.${d.deployserial} is not in the boot list of ${root}; its try cannot be given back.`, { deployment: `${d.csum}.${d.deployserial}` });
  const cur = st.deployments[index];
  if (backend.kind === 'grub') {
    if (index !== 0) return;
    const file = path.join(root, (await resolveBackend(root, backend)).grubenv ?? '/boot/grub2/grubenv');
    let buf: Buffer;
    try {
      buf = await fsp.readFile(file);
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return;
      throw e;
    }
    const vars = parseGrubenv(buf, file);
    const raw = vars.get('boot_counter');
    if (raw === undefined || !/^[0-9]+$/.test(raw)) return;
    vars.set('boot_counter', String(Number(raw) + 1));
    await atomicWriteFile(file, serializeGrubenv(vars));
    faultHit(backend.faults, 'grubenv');
    return;
  }
  const name = cur.entryFile;
  const c = name ? parseBootCounter(name) : null;
  if (!name || !c || c.done === 0) return;
  const back = withCounter(name, { left: c.left + 1, done: c.done - 1 });
  if (backend.kind === 'systemd-boot') {
    const dir = path.join(await espDir(root, backend), 'loader', 'entries');
    if ((await fsp.readdir(dir).catch(() => [] as string[])).includes(name)) {
      await durableRename(dir, name, back);
      faultHit(backend.faults, 'esp-entry-rename');
    }
  }
  await durableRename(path.join(root, 'boot', 'loader', 'entries'), name, back);
  faultHit(backend.faults, 'entry-rename');
}
