/**
 * A bounded, depth-first walk over a tree of directories: directories are
 * opened one at a time in depth-first order, their files go to a fixed number
 * of workers, and each directory is finished (post-order) once all of its
 * files and subdirectories are. Only the walk's frontier is held in memory,
 * so memory does not grow with the size of the tree.
 */

export interface TreeWalker<D, F> {
  /** Open a directory; returns its files and its subdirectories. */
  list(dir: D): Promise<{ files: F[]; dirs: D[] }>;
  /** Handle one file of `dir`. */
  file(file: F, dir: D): Promise<void>;
  /** Everything below `dir` is done; `parent` is null for the root. */
  finish(dir: D, parent: D | null): Promise<void>;
}

interface Node<D> {
  data: D;
  parent: Node<D> | null;
  pending: number;
  listed: boolean;
  finished: boolean;
}

export async function walkTree<D, F>(root: D, walker: TreeWalker<D, F>, opts: { workers?: number; signal?: AbortSignal } = {}): Promise<void> {
  const stack: Array<Node<D>> = [{ data: root, parent: null, pending: 0, listed: false, finished: false }];
  const finishing: Array<Promise<void>> = [];
  let failure: { error: unknown } | null = null;

  const finish = (node: Node<D>): void => {
    if (!node.listed || node.pending !== 0 || node.finished) return;
    node.finished = true;
    finishing.push(walker.finish(node.data, node.parent?.data ?? null).then(() => {
      if (node.parent) {
        node.parent.pending--;
        finish(node.parent);
      }
    }).catch((error: unknown) => {
      failure ??= { error };
    }));
  };

  async function* jobs(): AsyncGenerator<{ file: F; node: Node<D> }> {
    while (stack.length && !failure) {
      opts.signal?.throwIfAborted();
      const node = stack.pop() as Node<D>;
      const { files, dirs } = await walker.list(node.data);
      node.pending += files.length + dirs.length;
      node.listed = true;
      // Deeper directories first: the walk stays narrow.
      for (let i = dirs.length - 1; i >= 0; i--) stack.push({ data: dirs[i], parent: node, pending: 0, listed: false, finished: false });
      for (const file of files) {
        if (failure) return;
        yield { file, node };
      }
      finish(node);
    }
  }

  const gen = jobs();
  const worker = async (): Promise<void> => {
    try {
      for (;;) {
        const n = await gen.next();
        if (n.done) return;
        await walker.file(n.value.file, n.value.node.data);
        n.value.node.pending--;
        finish(n.value.node);
      }
    } catch (error) {
      // The first failure stops the walk: no new work is handed out.
      failure ??= { error };
    }
  };
  await Promise.all(Array.from({ length: opts.workers ?? 8 }, () => worker()));
  // Finishing a directory may finish its parent, which adds to the list: walk it by index.
  for (let i = 0; i < finishing.length; i++) await finishing[i];
  if (failure) throw (failure as { error: unknown }).error;
}
