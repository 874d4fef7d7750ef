/**
 * The mounted filesystems this process sees (/proc/self/mountinfo), and which
 * of them a desktop would show as removable media: the mounts libostree's
 * mount finder looks on for repositories (through GIO's volume monitor,
 * whose rules these follow).
 */
import os from 'node:os';
import { fsp } from './fs.js';

export interface MountEntry {
  /** The directory of the filesystem that is mounted here ('/' unless it is a bind mount of a subdirectory). */
  root: string;
  mountPoint: string;
  fsType: string;
  source: string;
}

/** Undo the kernel's octal escapes (`\040` for a space). */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Each line of mountinfo as an entry; lines that do not parse are skipped. */
export function parseMountInfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const sep = fields.indexOf('-', 6);
    if (fields.length < 10 || sep < 0 || sep + 2 >= fields.length) continue;
    out.push({ root: unescape(fields[3]), mountPoint: unescape(fields[4]), fsType: fields[sep + 1], source: unescape(fields[sep + 2]) });
  }
  return out;
}

const SYSTEM_FS_TYPES = new Set([
  'adfs', 'afs', 'auto', 'autofs', 'autofs4', 'cgroup', 'configfs', 'cxfs', 'debugfs', 'devfs', 'devpts', 'devtmpfs', 'ecryptfs',
  'fdescfs', 'fusectl', 'gfs', 'gfs2', 'gpfs', 'hugetlbfs', 'kernfs', 'linprocfs', 'linsysfs', 'lustre', 'lustre_lite', 'mfs',
  'mqueue', 'ncpfs', 'nfsd', 'nullfs', 'ocfs2', 'overlay', 'proc', 'procfs', 'pstore', 'ptyfs', 'rootfs', 'rpc_pipefs',
  'securityfs', 'selinuxfs', 'sysfs', 'tmpfs', 'usbfs', 'zfs',
]);
const SYSTEM_DEVICES = new Set(['none', 'sunrpc', 'devpts', 'nfsd', '/dev/loop', '/dev/vn']);
const SYSTEM_MOUNT_POINTS = new Set([
  '/', '/bin', '/boot', '/compat/linux/proc', '/compat/linux/sys', '/dev', '/etc', '/home', '/lib', '/lib64', '/libexec',
  '/live/cow', '/live/image', '/media', '/mnt', '/opt', '/rescue', '/root', '/sbin', '/srv', '/tmp', '/usr', '/usr/X11R6',
  '/usr/local', '/usr/obj', '/usr/ports', '/usr/src', '/usr/xobj', '/var', '/var/crash', '/var/local', '/var/log',
  '/var/log/audit', '/var/mail', '/var/run', '/var/tmp', '/proc', '/net', '/sys',
]);

/** A filesystem of the system itself (proc, tmpfs, the root, …), never removable media. */
export function isSystemMount(m: MountEntry): boolean {
  if (SYSTEM_FS_TYPES.has(m.fsType) || SYSTEM_DEVICES.has(m.source) || SYSTEM_MOUNT_POINTS.has(m.mountPoint)) return true;
  return /^\/(dev|proc|sys)\//.test(m.mountPoint) || m.mountPoint.endsWith('/.gvfs');
}

/**
 * The mounts shown as media: not of the system, a whole filesystem (no bind
 * mount of a subdirectory), not inside a dot directory, and under /media/,
 * /run/media/USER/ or the home directory. A mount point mounted over again
 * counts once, as its last mount.
 */
export function mediaMounts(entries: MountEntry[], who: { user: string; home: string }): MountEntry[] {
  const last = new Map<string, MountEntry>();
  for (const m of entries) last.set(m.mountPoint, m);
  return [...last.values()].filter((m) => {
    if (isSystemMount(m) || m.root !== '/' || m.mountPoint.includes('/.')) return false;
    if (m.mountPoint.startsWith('/media/') || m.mountPoint.startsWith(`/run/media/${who.user}/`)) return true;
    return who.home !== '' && who.home !== '/' && m.mountPoint.startsWith(`${who.home.replace(/\/$/, '')}/`);
  });
}

/** /proc/self/mountinfo as text; empty when /proc is not there to say. */
export function readMountInfo(): Promise<string> {
  return fsp.readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
}

/** The user name and home directory GIO would judge mounts by. */
export function currentUser(): { user: string; home: string } {
  let user = process.env.USER ?? '';
  try {
    user = os.userInfo().username;
  } catch {
    // No passwd entry: the environment's name stands.
  }
  return { user, home: process.env.HOME ?? os.homedir() };
}

/** The media mounts of this machine, in mount order. */
export async function listMediaMounts(): Promise<MountEntry[]> {
  return mediaMounts(parseMountInfo(await readMountInfo()), currentUser());
}
