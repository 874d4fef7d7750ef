/** What the kernel says is mounted, and who this process runs as: the inputs of the media-mount rules (format/mountinfo.ts). */
import os from 'node:os';
import { fsp } from './fs.js';

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
