/**
 * libostree's binding check: a commit bound to refs (`ostree.ref-binding`)
 * may only be taken as one of them, and from a remote with a collection ID
 * only a commit bound to that collection (`ostree.collection-binding`). A
 * server (or another repository) cannot pass off one branch's commit under
 * another's name. `pull` and `pull-local` both check here.
 */
import { Codes, OstreeTsError } from '../errors/index.js';
import { lookup } from '../format/gvariant.js';
import type { Commit } from '../format/objects.js';

export interface RefBindingCheck {
  /** The ref the commit is taken as; null for a parent commit (only the collection is checked). */
  ref: string | null;
  /** The collection ID the source has, if any: the commit must then be bound to it. */
  collectionId?: string | null;
  /** Where the commit comes from, put after its checksum in the message: `ref os of remote 'origin'`. */
  origin?: string;
  /** What to do next, the message's last sentence. */
  next: string;
}

/** Throws E_REF_BINDING when `commit` may not be taken as `check.ref` (or from `check.collectionId`). */
export function checkRefBinding(commit: Commit, checksum: string, check: RefBindingCheck): void {
  const { ref } = check;
  const collectionId = check.collectionId ?? null;
  const bound = lookup(commit.metadata, 'ostree.ref-binding', 'as') as string[] | undefined;
  const refuse = (why: string): OstreeTsError => new OstreeTsError(Codes.REF_BINDING,
    `Commit ${checksum}${check.origin ? ` (${check.origin})` : ''} ${why}. ${check.next}`,
    { checksum, ref, bindings: bound ?? null, collectionId });
  if (!bound) {
    if (collectionId) throw refuse('has no ref binding metadata, but the remote has a collection ID');
    return;
  }
  if (ref !== null && !bound.includes(ref)) {
    throw refuse(`has no requested ref ‘${ref}’ in ref binding metadata (${bound.length ? bound.map((b) => `‘${b}’`).join(', ') : 'no refs'})`);
  }
  if (collectionId) {
    const cb = lookup(commit.metadata, 'ostree.collection-binding', 's') as string | undefined;
    if (cb === undefined) throw refuse('has no collection binding metadata, but the remote has a collection ID');
    if (cb !== collectionId) throw refuse(`is bound to collection ‘${cb}’, while the remote has collection ID ‘${collectionId}’`);
  }
}
