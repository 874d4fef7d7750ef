/**
 * libostree's free-space floor: `core.min-free-space-percent` (default 3) or
 * `core.min-free-space-size` (`500MB`, `2GB`, `1TB`; when given it wins over
 * the percentage). A transaction measures the filesystem when it begins and
 * reserves blocks for every content object it writes (its size in blocks,
 * plus one); an object that would eat into the floor fails with libostree's
 * message. Metadata objects are not counted, as in libostree: they are small
 * and keep the repository tidy.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import type { KeyFile } from '../format/keyfile.js';
import { filesystemSpace, formatSize } from '../io/space.js';

/** What the repository's configuration asks to keep free. */
export type MinFreeSpace =
  | { kind: 'size'; mb: number }
  | { kind: 'percent'; percent: number }
  | { kind: 'none' };

const SIZE_FORMAT = /^([0-9]+)(G|M|T)B$/;

/** Parse `core.min-free-space-size` / `-percent` as libostree does (errors name the repository's config file). */
export function readMinFreeSpace(config: KeyFile, configPath: string): MinFreeSpace {
  const sizeText = config.get('core', 'min-free-space-size');
  const percentText = config.get('core', 'min-free-space-percent');
  let mb = 0;
  let percent = 0;
  if (sizeText !== undefined) {
    const m = SIZE_FORMAT.exec(sizeText);
    if (!m) {
      throw new OstreeTsError(Codes.REPO_CONFIG, `Invalid min-free-space-size '${sizeText}': It should be of the format '123MB', '123GB' or '123TB' (in ${configPath}).`, { path: configPath, key: 'min-free-space-size', value: sizeText });
    }
    const shift = { M: 0, G: 10, T: 20 }[m[2] as 'M' | 'G' | 'T'];
    const n = BigInt(m[1]) << BigInt(shift);
    // Megabytes, as bytes, must fit in 64 bits (libostree's limit); beyond 2^53 bytes no filesystem counts anyway.
    if (n > (2n ** 64n - 1n) >> 20n) throw new OstreeTsError(Codes.REPO_CONFIG, `Invalid min-free-space-size '${sizeText}': Value was too high (in ${configPath}).`, { path: configPath, key: 'min-free-space-size', value: sizeText });
    mb = Number(n);
  }
  if (percentText !== undefined) {
    if (!/^[0-9]*$/.test(percentText)) throw new OstreeTsError(Codes.REPO_CONFIG, `Invalid min-free-space-percent '${percentText}': must be a number (in ${configPath}).`, { path: configPath, key: 'min-free-space-percent', value: percentText });
    percent = Number(percentText || '0');
    if (percent > 99) throw new OstreeTsError(Codes.REPO_CONFIG, `Invalid min-free-space-percent '${percentText}' (in ${configPath}): give 0 to 99.`, { path: configPath, key: 'min-free-space-percent', value: percentText });
  } else if (sizeText === undefined) {
    percent = 3;
  }
  if (mb > 0) return { kind: 'size', mb };
  if (percent > 0) return { kind: 'percent', percent };
  return { kind: 'none' };
}

/** libostree's words for the floor being reached ("min-free-space-percent '3%' would be exceeded, at least 4.1 kB requested"). */
export function minFreeSpaceMessage(floor: MinFreeSpace, requested: number): string {
  const tail = requested > 0 ? `would be exceeded, at least ${formatSize(requested)} requested` : 'would be exceeded';
  return floor.kind === 'size' ? `min-free-space-size ${floor.mb}MB ${tail}` : `min-free-space-percent '${floor.kind === 'percent' ? floor.percent : 0}%' ${tail}`;
}

/** The blocks a transaction may still fill before it reaches the floor. */
export class SpaceReserve {
  private constructor(
    private readonly repoPath: string,
    private readonly floor: MinFreeSpace,
    private readonly blockSize: number,
    private maxBlocks: number,
    private readonly freeBytes: number,
  ) {}

  /** Measure the filesystem of `repoPath` now; `privileged`: root may use the blocks kept for root (f_bfree, as libostree). */
  static async measure(repoPath: string, floor: MinFreeSpace, privileged: boolean): Promise<SpaceReserve | null> {
    if (floor.kind === 'none') return null;
    const s = await filesystemSpace(repoPath);
    const reservedBytes = floor.kind === 'size' ? floor.mb * 1024 * 1024 : Math.floor(s.fragmentSize * s.blocks * (floor.percent / 100));
    const reservedBlocks = Math.floor(reservedBytes / s.blockSize);
    const free = privileged ? s.freeBlocks : s.availableBlocks;
    return new SpaceReserve(repoPath, floor, s.blockSize, Math.max(0, free - reservedBlocks), free * s.blockSize);
  }

  /** Reserve room for a content object of `size` bytes, or fail with libostree's message. */
  take(size: number, what: string): void {
    const blocks = Math.floor(size / this.blockSize) + 1;
    if (blocks > this.maxBlocks) {
      const key = this.floor.kind === 'size' ? 'core.min-free-space-size' : 'core.min-free-space-percent';
      throw new OstreeTsError(Codes.NO_SPACE,
        `${minFreeSpaceMessage(this.floor, blocks * this.blockSize)} (writing ${what} into ${this.repoPath}, whose filesystem had ${formatSize(this.freeBytes)} free when the transaction began). Free some space there, or lower ${key} in ${this.repoPath}/config, then run it again; what was stored before is kept.`,
        { operation: 'write', path: this.repoPath, object: what, requested: blocks * this.blockSize, freeBytes: this.freeBytes, floor: this.floor });
    }
    this.maxBlocks -= blocks;
  }
}
