/** The permission bits a regular file's content object gets in each repository mode (libostree's rules). */
import { Codes, OstreeTsError } from '../errors/index.js';
import { S_IFMT } from '../format/index.js';
import type { RepoMode } from './repo.js';

/**
 * bare-user keeps the real mode in an xattr and stores the file readable by
 * its owner and never setuid; bare-user-only refuses what it cannot store;
 * bare (and archive) keep the mode as it is.
 */
export function storedFileMode(repoMode: RepoMode, mode: number): number {
  if (repoMode === 'bare-user') return (mode & 0o775) | 0o400;
  if (repoMode === 'bare-user-only' && (mode & ~(S_IFMT | 0o775)) !== 0) {
    throw new OstreeTsError(Codes.UNSUPPORTED_MODE, `A bare-user-only repository cannot store mode 0${(mode & 0o7777).toString(8)} (setuid, setgid and sticky bits, and world-writable files, are refused). Commit with canonical permissions, or use another mode.`, { mode, hint: { option: 'canonicalPermissions' } });
  }
  return mode & 0o7777;
}
