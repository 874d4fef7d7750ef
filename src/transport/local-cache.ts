/**
 * `pull --localcache-repo=PATH`: objects the remote would send are taken
 * from local repositories that hold them, in the form the remote serves them
 * (an archive `.filez`, a metadata object's bytes), so they go through the
 * same checks as served objects and nothing is trusted for being local.
 * Everything else (summaries, deltas, objects no cache holds) is fetched.
 */
import { encodeArchiveHeader, S_IFLNK, S_IFMT } from '../format/objects.js';
import { deflateRaw } from '../io/compress.js';
import { fsp } from '../io/fs.js';
import type { Fetcher, FetchOptions, SpoolOptions, SpooledBody } from '../io/http-client.js';
import type { Repo } from '../repo/repo.js';

const OBJECT = /objects\/([0-9a-f]{2})\/([0-9a-f]{62})\.(filez|dirtree|dirmeta|commit)$/;
/** A regular file of a non-archive cache is compressed in memory to be served: larger ones are fetched instead. */
const MAX_CONVERTED = 16 * 1024 * 1024;

async function fromCache(repos: Repo[], checksum: string, type: 'file' | 'dirtree' | 'dirmeta' | 'commit'): Promise<Buffer | null> {
  for (const r of repos) {
    if (!(await r.hasObject(checksum, type))) continue;
    if (type !== 'file') return r.readMetadataBytes(type, checksum);
    if (r.isArchive) return fsp.readFile(r.objectPath(checksum, 'file'));
    const f = await r.loadFile(checksum);
    if ((f.header.mode & S_IFMT) === S_IFLNK) return encodeArchiveHeader(f.header, 0);
    if (f.size > MAX_CONVERTED) continue;
    return Buffer.concat([encodeArchiveHeader(f.header, f.size), await deflateRaw(await f.read(), 1)]);
  }
  return null;
}

export function withLocalCache(inner: Fetcher, base: string, repos: Repo[]): Fetcher {
  const cached = async (url: string): Promise<Buffer | null> => {
    if (!url.startsWith(base)) return null;
    const m = OBJECT.exec(url.slice(base.length));
    if (!m) return null;
    return fromCache(repos, m[1] + m[2], m[3] === 'filez' ? 'file' : (m[3] as 'dirtree' | 'dirmeta' | 'commit')).catch(() => null);
  };
  return {
    async get(url: string, opts?: FetchOptions): Promise<Buffer | null> {
      return (await cached(url)) ?? inner.get(url, opts);
    },
    async getOrSpool(url: string, opts: SpoolOptions): Promise<Buffer | SpooledBody | null> {
      return (await cached(url)) ?? inner.getOrSpool(url, opts);
    },
    close: () => inner.close(),
    get stats() {
      return inner.stats;
    },
  };
}
