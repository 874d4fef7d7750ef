/** Objects a remote serves that are not what their names say: told as the remote's fault. */
import { Codes, OstreeTsError } from '../errors/index.js';
import type { ObjectType } from '../format/objects.js';
import { BadObjectError, verifyMetadata, verifyMetadataChecksum } from '../repo/verify-object.js';

export function badObject(checksum: string, type: ObjectType, why: string): OstreeTsError {
  return new OstreeTsError(Codes.OBJECT_CORRUPT, `The remote served a bad ${type} object ${checksum}: ${why.replace(/\.$/, '')}. Nothing of it was stored and no ref moved; pull again when the server is repaired.`, { checksum, type, why });
}

/** A BadObjectError from the store, as the remote's fault; any other error as it is. */
export function servedError(e: unknown): unknown {
  return e instanceof BadObjectError ? badObject(e.data.checksum, e.data.type, e.why) : e;
}

/** Check a fetched metadata object against its name and its type's rules (`parse: false`: its name only). */
export function checkServedMetadata(checksum: string, type: 'dirtree' | 'dirmeta' | 'commit', data: Uint8Array, opts: { parse?: boolean } = {}): void {
  try {
    if (opts.parse === false) verifyMetadataChecksum(checksum, type, data);
    else verifyMetadata(checksum, type, data);
  } catch (e) {
    throw servedError(e);
  }
}
