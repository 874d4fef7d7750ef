/**
 * Metadata objects a remote serves, fetched under the same size limit as a
 * repository reads them (`MAX_METADATA_SIZE`), with the caller's signal.
 */
import type { ObjectType } from '../format/objects.js';
import type { Fetcher } from '../io/http-client.js';
import { MAX_METADATA_SIZE } from '../repo/repo.js';
import { objectUrl } from './pull-objects.js';

/** A metadata object (commit, dirtree, dirmeta, commitmeta) as the remote serves it, unchecked; null when it has none (404). */
export function fetchMetadataObject(fetcher: Fetcher, base: string, checksum: string, type: ObjectType, opts: { signal?: AbortSignal } = {}): Promise<Buffer | null> {
  return fetcher.get(objectUrl(base, checksum, type), { maxBytes: MAX_METADATA_SIZE, signal: opts.signal });
}

/** A commit's detached metadata (`.commitmeta`) as the remote serves it; null when it has none (404). */
export function fetchCommitMeta(fetcher: Fetcher, base: string, checksum: string, opts: { signal?: AbortSignal } = {}): Promise<Buffer | null> {
  return fetchMetadataObject(fetcher, base, checksum, 'commitmeta', opts);
}
