/** --reboot: only the running system's own sysroot is rebooted into. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export function reboot(sysroot: string): void {
  if (sysroot !== '/' || !existsSync('/run/ostree-booted')) {
    process.stderr.write(`Not rebooting: ${sysroot} is not the sysroot this machine booted from. Boot it to use the new deployment.\n`);
    return;
  }
  const r = spawnSync('systemctl', ['reboot'], { stdio: 'inherit' });
  if (r.status !== 0) process.stderr.write("Could not reboot ('systemctl reboot' failed); reboot by hand to use the new deployment.\n");
}
