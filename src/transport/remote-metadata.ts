/**
 * Metadata a remote serves beside its objects, fetched under the same size
 * limit as a repository reads it (`MAX_METADATA_SIZE`).
 */
import type { Fetcher } from '../io/index.js';
import { MAX_METADATA_SIZE } from '../repo/index.js';
import { objectUrl } from './pull-objects.js';

/** A commit's detached metadata (`.commitmeta`) as the remote serves it; null when it has none (404). */
export function fetchCommitMeta(fetcher: Fetcher, base: string, checksum: string, opts: { signal?: AbortSignal } = {}): Promise<Buffer | null> {
  return fetcher.get(objectUrl(base, checksum, 'commitmeta'), { maxBytes: MAX_METADATA_SIZE, signal: opts.signal });
}
