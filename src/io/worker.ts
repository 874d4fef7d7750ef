/** Worker threads, behind a small typed interface: the only place that touches node:worker_threads. */
import { Worker, isMainThread, parentPort } from 'node:worker_threads';
import { InternalError } from '../errors/index.js';

export interface WorkerHandle<In, Out> {
  /** Send a message; the buffers in `transfer` move to the worker (they become unusable here). */
  post(msg: In, transfer?: ArrayBuffer[]): void;
  /** Stop the worker. */
  terminate(): Promise<void>;
}

/**
 * Start the worker module at `url`. `onMessage` receives its replies;
 * `onError` a failure of the worker itself (it then stops).
 */
export function startWorker<In, Out>(url: URL, onMessage: (msg: Out) => void, onError: (e: Error) => void): WorkerHandle<In, Out> {
  const w = new Worker(url);
  w.on('message', onMessage);
  w.on('error', onError);
  w.on('exit', (code) => {
    if (code !== 0) onError(new InternalError(`the worker ${url.pathname} exited with status ${code}`, { worker: url.pathname, status: code }));
  });
  return {
    post(msg: In, transfer: ArrayBuffer[] = []): void {
      w.postMessage(msg, transfer);
    },
    async terminate(): Promise<void> {
      w.removeAllListeners('exit');
      await w.terminate();
    },
  };
}

/** In a worker module: answer each message with `handle`'s reply. */
export function serveWorker<In, Out>(handle: (msg: In) => { reply: Out; transfer?: ArrayBuffer[] }): void {
  if (isMainThread || !parentPort) throw new InternalError('serveWorker runs only inside a worker thread');
  const port = parentPort;
  port.on('message', (msg: In) => {
    const { reply, transfer } = handle(msg);
    port.postMessage(reply, transfer ?? []);
  });
}
