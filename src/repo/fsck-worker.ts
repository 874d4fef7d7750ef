/** The worker thread behind fsck's parallel check: batches of loose objects, each verified by `verifyObjectSync`. */
import { serveWorker } from '../io/worker.js';
import type { ObjectType } from '../format/objects.js';
import { verifyObjectSync, type FsckProfile } from './fsck-verify.js';

export interface FsckRequest {
  id: number;
  profile: FsckProfile;
  items: Array<{ checksum: string; type: ObjectType; path: string }>;
}

/** Per item: null (sound), a problem, 'defer', or a failure to read it at all (errno). */
export type FsckItemResult = string | null | 'defer' | { errno?: string; message: string; path?: string; syscall?: string };

export interface FsckReply {
  id: number;
  results: FsckItemResult[];
}

const scratch = Buffer.allocUnsafe(256 * 1024);

serveWorker<FsckRequest, FsckReply>((req) => ({
  reply: {
    id: req.id,
    results: req.items.map((o): FsckItemResult => {
      try {
        return verifyObjectSync(req.profile, o.checksum, o.type, o.path, scratch);
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        return { errno: err.code, message: err.message, path: err.path ?? o.path, syscall: err.syscall };
      }
    }),
  },
}));
