/**
 * Fixture trees, built on demand because git cannot hold what they test
 * (ownership, xattrs, capabilities, setuid bits). See fixtures/README.md.
 */
import { chmod, chown, lchown, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { writeXattr } from '../../src/io/index.js';
import { isRoot } from './env.js';

/** Write `rel` under `root` with `mode`, replacing whatever is there and making its parents. */
export async function putFile(root: string, rel: string, content: string | Buffer, mode = 0o644): Promise<void> {
  const p = path.join(root, rel);
  await mkdir(path.dirname(p), { recursive: true });
  await rm(p, { recursive: true, force: true });
  await writeFile(p, content);
  await chmod(p, mode);
}

async function file(root: string, rel: string, content: string | Buffer, mode = 0o644): Promise<string> {
  const p = path.join(root, rel);
  await mkdir(path.dirname(p), { recursive: true });
  await writeFile(p, content);
  await chmod(p, mode);
  return p;
}

/** The spec's T2 tree: regular file, executable, symlink, nested and empty directories. */
export async function makeBasicTree(root: string): Promise<string> {
  await mkdir(path.join(root, 'sub', 'nested'), { recursive: true });
  await mkdir(path.join(root, 'emptydir'));
  await file(root, 'hello.txt', 'hello\n');
  await file(root, 'run.sh', '#!/bin/sh\necho hi\n', 0o755);
  await symlink('hello.txt', path.join(root, 'link'));
  await file(root, 'sub/nested/deep.txt', 'deep\n');
  for (const d of ['.', 'sub', 'sub/nested', 'emptydir']) await chmod(path.join(root, d), 0o755);
  return root;
}

/** A wider tree: empty file, absolute and dangling symlinks, unusual modes, unicode names, a large file. */
export async function makeRichTree(root: string): Promise<string> {
  await makeBasicTree(root);
  await file(root, 'empty', '');
  await symlink('/etc/does-not-exist', path.join(root, 'abs-dangling'));
  await symlink('../hello.txt', path.join(root, 'sub', 'up-link'));
  await file(root, 'private/secret', 'top secret\n', 0o600);
  await chmod(path.join(root, 'private'), 0o700);
  await file(root, 'bin/suid-tool', '#!/bin/sh\n', 0o4755);
  await file(root, 'bin/sticky-dir/x', 'x\n');
  await chmod(path.join(root, 'bin', 'sticky-dir'), 0o1777);
  await file(root, 'ünïcödé/日本語.txt', 'unicode\n');
  // Bigger than the streaming threshold, with content that does not compress to nothing.
  const big = Buffer.alloc(5 * 1024 * 1024 + 123);
  for (let i = 0; i < big.length; i += 32) createHash('sha256').update(`block ${i}`).digest().copy(big, i);
  await file(root, 'large.bin', big);
  return root;
}

/** vfs_cap_data v2 granting cap_net_bind_service, effective. */
export const NET_BIND_CAPABILITY = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

/** xattrs on a file and a directory (set out of order), and a file capability when root. */
export async function makeXattrTree(root: string): Promise<string> {
  await mkdir(path.join(root, 'xdir'), { recursive: true });
  await chmod(root, 0o755);
  await chmod(path.join(root, 'xdir'), 0o755);
  const attr = await file(root, 'attr.txt', 'x\n');
  await writeXattr(attr, 'user.zeta', Buffer.from('last'));
  await writeXattr(attr, 'user.alpha', Buffer.from('first'));
  await writeXattr(path.join(root, 'xdir'), 'user.dirattr', Buffer.from('d'));
  const bin = await file(root, 'ping', '\x7fELF-not-really\n', 0o755);
  if (isRoot) await writeXattr(bin, 'security.capability', NET_BIND_CAPABILITY);
  await writeXattr(bin, 'user.binary', Buffer.from([0, 1, 2, 255]));
  return root;
}

/** Files owned by 1000:1001 (only when running as root, which CI is). */
export async function makeOwnedTree(root: string): Promise<string> {
  await makeBasicTree(root);
  if (!isRoot) return root;
  for (const rel of ['hello.txt', 'run.sh', 'sub', 'sub/nested/deep.txt']) await chown(path.join(root, rel), 1000, 1001);
  await lchown(path.join(root, 'link'), 1000, 1001);
  await file(root, 'other/mixed', 'mixed\n');
  await chown(path.join(root, 'other', 'mixed'), 0, 1001);
  return root;
}

/** `count` small files in the root (walked first: a commit's worker threads take over among them), duplicates and empty ones among them, then the fixture trees below. */
export async function makeManyFilesTree(root: string, count = 200): Promise<string> {
  await mkdir(root, { recursive: true });
  for (let i = 0; i < count; i++) {
    const name = `f${String(i).padStart(3, '0')}`;
    // Every tenth file is empty and every seventh repeats another's content: the same object from both threads.
    const content = i % 10 === 0 ? '' : i % 7 === 0 ? 'shared content\n' : `file ${i}\n`.repeat(i);
    await writeFile(path.join(root, name), content, { mode: i % 3 === 0 ? 0o755 : 0o644 });
  }
  await makeRichTree(path.join(root, 'rich'));
  await makeXattrTree(path.join(root, 'xattrs'));
  await makeOwnedTree(path.join(root, 'owned'));
  return root;
}
