/** COLLECTION-ID REF pairs on the command line, as find-remotes and create-usb take them. */
import { Codes, OstreeTsError } from '../errors/index.js';
import { validateCollectionId, validateRefName, type CollectionRef } from '../format/refs.js';

export function collectionRefPairs(words: readonly string[]): CollectionRef[] {
  if (words.length < 2) throw new OstreeTsError(Codes.USAGE, 'At least one COLLECTION-ID REF pair must be specified.');
  if (words.length % 2 === 1) throw new OstreeTsError(Codes.USAGE, `Only complete COLLECTION-ID REF pairs may be specified: ${words[words.length - 1]} has no partner.`);
  const out: CollectionRef[] = [];
  for (let i = 0; i < words.length; i += 2) {
    validateCollectionId(words[i]);
    validateRefName(words[i + 1]);
    out.push({ collection: words[i], ref: words[i + 1] });
  }
  return out;
}
