/**
 * The VM's disk, built and read without mounting anything: a GPT (sgdisk)
 * with an EFI system partition (FAT32, mkfs.vfat -C, filled with mcopy) and
 * the ext4 root (mke2fs -d from the sysroot directory); read back with
 * mtools (`IMG@@OFFSET`) and debugfs (`IMG?offset=N`).
 */
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { must, run } from './tools.js';

const MiB = 1024 * 1024;
export const ESP_LABEL = 'VMOS-ESP';
export const ROOT_LABEL = 'vmos-root';
const ESP_MIB = 64;

export interface Disk {
  file: string;
  espOffset: number;
  rootOffset: number;
}

async function duBytes(dir: string): Promise<number> {
  const out = await must('du', ['-sb', dir]);
  return Number(out.split(/\s/)[0]);
}

/**
 * A disk at `file`: the ESP holds the files of `espDir`, the root the files
 * of `rootDir` (whose `skip` subdirectory, the ESP's mount point, is left
 * empty there).
 */
export async function buildDisk(file: string, espDir: string, rootDir: string, skip: string, work: string): Promise<Disk> {
  await mkdir(work, { recursive: true });
  const esp = path.join(work, 'esp.img');
  const rootImg = path.join(work, 'root.img');
  await rm(esp, { force: true });
  await rm(rootImg, { force: true });
  await must('mkfs.vfat', ['-C', '-F', '32', '-n', ESP_LABEL, esp, String(ESP_MIB * 1024)]);
  const names = await readdir(espDir);
  if (names.length) await must('mcopy', ['-s', '-i', esp, ...names.map((n) => path.join(espDir, n)), '::/'], { env: { MTOOLS_SKIP_CHECK: '1' } });
  // The ESP's mount point is empty on the root: its content goes aside while mke2fs copies the tree.
  const aside = path.join(work, 'esp-aside');
  await rm(aside, { recursive: true, force: true });
  await must('mv', [path.join(rootDir, skip), aside]);
  await mkdir(path.join(rootDir, skip));
  try {
    const bytes = await duBytes(rootDir);
    const rootMiB = Math.ceil((bytes * 1.25) / MiB) + 96;
    await must('mke2fs', ['-q', '-t', 'ext4', '-L', ROOT_LABEL, '-E', 'root_owner=0:0', '-d', rootDir, rootImg, `${rootMiB}M`]);
  } finally {
    await rm(path.join(rootDir, skip), { recursive: true, force: true });
    await must('mv', [aside, path.join(rootDir, skip)]);
  }
  const rootSize = (await stat(rootImg)).size;
  const espOffset = MiB;
  const rootOffset = espOffset + ESP_MIB * MiB;
  const total = rootOffset + rootSize + MiB;
  await rm(file, { force: true });
  await must('truncate', ['-s', String(total), file]);
  // sgdisk has no -q: its output is dropped instead.
  await must('sgdisk', ['-n', `1:${espOffset / 512}:${rootOffset / 512 - 1}`, '-t', '1:ef00', '-c', '1:ESP',
    '-n', `2:${rootOffset / 512}:${(rootOffset + rootSize) / 512 - 1}`, '-t', '2:8304', '-c', '2:root', file]);
  await must('dd', [`if=${esp}`, `of=${file}`, 'bs=1M', `seek=${espOffset / MiB}`, 'conv=notrunc,sparse', 'status=none']);
  await must('dd', [`if=${rootImg}`, `of=${file}`, 'bs=1M', `seek=${rootOffset / MiB}`, 'conv=notrunc,sparse', 'status=none']);
  await rm(esp);
  await rm(rootImg);
  return { file, espOffset, rootOffset };
}

/** A copy of a disk (sparse), for one scenario. */
export async function copyDisk(d: Disk, file: string): Promise<Disk> {
  await must('cp', ['--sparse=always', d.file, file]);
  return { ...d, file };
}

/** The file names in an ESP directory (mdir -b). */
export async function espList(d: Disk, dir: string): Promise<string[]> {
  const r = await run('mdir', ['-b', '-i', `${d.file}@@${d.espOffset}`, `::${dir}`], { env: { MTOOLS_SKIP_CHECK: '1' } });
  if (r.code !== 0) return [];
  return r.stdout.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => path.posix.basename(l)).filter((n) => n !== '.' && n !== '..').sort();
}

/** A file of the ESP (mtype). */
export async function espCat(d: Disk, p: string): Promise<string> {
  return must('mtype', ['-i', `${d.file}@@${d.espOffset}`, `::${p}`], { env: { MTOOLS_SKIP_CHECK: '1' } });
}

/** Copy the whole ESP into `dest`. */
export async function espExtract(d: Disk, dest: string): Promise<void> {
  await mkdir(dest, { recursive: true });
  await must('mcopy', ['-s', '-n', '-i', `${d.file}@@${d.espOffset}`, '::/*', dest], { env: { MTOOLS_SKIP_CHECK: '1' } });
}

/** A file of the root file system (debugfs; the journal is not replayed, so the guest leaves it clean). */
export async function rootCat(d: Disk, p: string): Promise<string> {
  return must('debugfs', ['-R', `cat ${p}`, `${d.file}?offset=${d.rootOffset}`]);
}

/** A directory of the root file system, copied out to `dest`/its name (debugfs rdump). */
export async function rootDump(d: Disk, p: string, dest: string): Promise<void> {
  await mkdir(dest, { recursive: true });
  await must('debugfs', ['-R', `rdump ${p} ${dest}`, `${d.file}?offset=${d.rootOffset}`]);
}

/** The names in a directory of the root file system. */
export async function rootList(d: Disk, p: string): Promise<string[]> {
  const out = await must('debugfs', ['-R', `ls -p ${p}`, `${d.file}?offset=${d.rootOffset}`]);
  // ls -p: /INODE/MODE/UID/GID/NAME/SIZE/
  return out.split('\n').map((l) => l.split('/')[5]).filter((n) => n && n !== '.' && n !== '..').sort();
}

/** The ext4 file system is clean (e2fsck -fn finds nothing to fix). */
export async function rootFsck(d: Disk): Promise<{ ok: boolean; output: string }> {
  const r = await run('e2fsck', ['-fn', `${d.file}?offset=${d.rootOffset}`]);
  return { ok: r.code === 0, output: r.stdout + r.stderr };
}
