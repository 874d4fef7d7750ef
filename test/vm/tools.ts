/**
 * The VM boot test's tools: Debian packages (installed with apt-get when we
 * are root and one is missing), running programs, and the files the
 * packages ship that the test uses by path.
 */
import { spawn } from 'node:child_process';

/** Each package the test uses, and why. */
export const VM_PACKAGES: Record<string, string> = {
  'qemu-system-x86': 'qemu-system-x86_64: the machine (TCG)',
  ovmf: 'the UEFI firmware (OVMF_CODE_4M.fd, OVMF_VARS_4M.fd)',
  'systemd-boot-efi': 'systemd-bootx64.efi: the boot loader that counts the tries',
  'grub-efi-amd64-bin': 'the GRUB EFI modules, for the GRUB + grubenv scenario',
  'grub-common': 'grub-mkimage and grub-editenv',
  mtools: 'mcopy, mdir, mren: the ESP written and read without mounting it',
  dosfstools: 'mkfs.vfat: the ESP',
  gdisk: 'sgdisk: the GPT',
  e2fsprogs: 'mke2fs -d (the root file system from a directory) and debugfs (read back)',
  'busybox-static': 'the userland of the initramfs and of vm-os',
  ostree: 'the oracle: ostree admin status on the sysroot read back from the disk',
};

export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';
export const SYSTEMD_BOOT = '/usr/lib/systemd/boot/efi/systemd-bootx64.efi';
export const GRUB_EFI_MODULES = '/usr/lib/grub/x86_64-efi';
export const BUSYBOX = '/bin/busybox';

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a program to its end; its output kept. */
export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
  });
}

/** Run and insist on exit status 0; returns stdout. */
export async function must(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed with status ${r.code}:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** The packages of VM_PACKAGES that are not installed. */
export async function missingPackages(): Promise<string[]> {
  const names = Object.keys(VM_PACKAGES);
  const r = await run('dpkg-query', ['-W', '-f=${Package} ${db:Status-Status}\n', ...names]);
  const installed = new Set(r.stdout.split('\n').filter((l) => l.endsWith(' installed')).map((l) => l.split(' ')[0]));
  return names.filter((n) => !installed.has(n));
}

/**
 * Install what is missing (as root, with apt-get); returns what is still
 * missing (everything missing when we are not root).
 */
export async function ensurePackages(log: (s: string) => void): Promise<string[]> {
  let missing = await missingPackages();
  if (!missing.length || process.getuid?.() !== 0) return missing;
  log(`installing ${missing.join(' ')} (apt-get)`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  let r = await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env });
  if (r.code !== 0) {
    await run('apt-get', ['update', '-qq'], { env });
    r = await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env });
  }
  if (r.code !== 0) log(`apt-get install failed:\n${r.stderr.trim()}`);
  missing = await missingPackages();
  return missing;
}
