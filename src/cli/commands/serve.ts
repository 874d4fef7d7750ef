import type { Argv } from 'yargs';
import { atomicWriteFile, exists, fsp, startStaticServer } from '../../io/index.js';
import { last, openRepo, write, type GlobalArgs } from '../common.js';

export const command = 'serve';
export const describe = 'Serve the repository over HTTP (static files, byte ranges), for pulls';

export function builder(y: Argv): Argv {
  return y
    .option('port', { alias: 'P', type: 'number', describe: 'TCP port (default: any free port)' })
    .option('bind', { type: 'string', describe: 'Address to listen on (default 127.0.0.1, loopback only)' })
    .option('port-file', { type: 'string', describe: 'Write the chosen port to this file once listening' })
    .option('autoexit', { type: 'boolean', describe: 'Exit when the repository directory is deleted' })
    .option('log-file', { type: 'string', describe: 'Append one line per request: METHOD PATH STATUS BYTES' })
    .example('$0 --repo=repo serve --port-file=port &', 'Serve on a free loopback port; pull from http://127.0.0.1:$(cat port)/');
}

export async function handler(argv: GlobalArgs & { port?: number | number[]; bind?: string | string[]; portFile?: string | string[]; autoexit?: boolean; logFile?: string | string[] }): Promise<void> {
  const repo = await openRepo(argv);
  const logFile = last(argv.logFile);
  const log = logFile ? await fsp.open(logFile, 'a') : null;
  const port = last(argv.port);
  const server = await startStaticServer({
    root: repo.path,
    host: last(argv.bind) ?? '127.0.0.1',
    port: port === undefined ? 0 : Number(port),
    onRequest: log ? (e) => { void log.write(`${e.method} ${e.path} ${e.status} ${e.bytes}\n`); } : undefined,
  });
  const portFile = last(argv.portFile);
  if (portFile) await atomicWriteFile(portFile, `${server.port}\n`, { fsync: false });
  write(`Serving ${repo.path} at ${server.url}\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    if (argv.autoexit) {
      const timer = setInterval(() => {
        void exists(repo.path).then((ok) => { if (!ok) { clearInterval(timer); resolve(); } });
      }, 1000);
      timer.unref();
    }
  });
  await server.close();
  await log?.close();
}
