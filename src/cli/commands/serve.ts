import { atomicWriteFile, exists, fsp } from '../../io/fs.js';
import { startStaticServer } from '../../io/http-server.js';
import { openRepo, verb, write } from '../common.js';
import { flag, num, str } from '../options.js';

export default verb({
  options: {
    port: num('TCP port (default: any free port)', { alias: 'P' }),
    bind: str('Address to listen on (default 127.0.0.1, loopback only)'),
    'port-file': str('Write the chosen port to this file once listening'),
    autoexit: flag('Exit when the repository directory is deleted'),
    'log-file': str('Append one line per request: METHOD PATH STATUS BYTES'),
  },
  examples: [['$0 --repo=repo serve --port-file=port &', 'Serve on a free loopback port; pull from http://127.0.0.1:$(cat port)/']],
  async run(o) {
    const repo = await openRepo(o);
    const log = o.logFile ? await fsp.open(o.logFile, 'a') : null;
    const server = await startStaticServer({
      root: repo.path,
      host: o.bind ?? '127.0.0.1',
      port: o.port ?? 0,
      onRequest: log ? (e) => { void log.write(`${e.method} ${e.path} ${e.status} ${e.bytes}\n`); } : undefined,
    });
    if (o.portFile) await atomicWriteFile(o.portFile, `${server.port}\n`, { fsync: false });
    write(`Serving ${repo.path} at ${server.url}\n`);
    await new Promise<void>((resolve) => {
      const stop = (): void => resolve();
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      if (o.autoexit) {
        const timer = setInterval(() => {
          void exists(repo.path).then((ok) => { if (!ok) { clearInterval(timer); resolve(); } });
        }, 1000);
        timer.unref();
      }
    });
    await server.close();
    await log?.close();
  },
});
