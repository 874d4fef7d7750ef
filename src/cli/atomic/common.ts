/** What the atomic verbs that change the sysroot share: progress lines and the text of results. */
import type { UpdateEvent, UpdateResult } from '../../host/upgrade.js';
import type { DeployEvent } from '../../sysroot/deploy.js';

/** Progress on stderr: one line per step (stdout stays for the result). */
export function deployLine(e: DeployEvent): void {
  if (e.type === 'checkout') process.stderr.write(`Checking out ${e.deployment}\n`);
  else if (e.type === 'etc') process.stderr.write(`Merging /etc: ${e.modified} modified, ${e.removed} removed, ${e.added} added\n`);
  else if (e.type === 'bootconfig') process.stderr.write(`Boot configuration written (${e.swap ? `boot version ${e.bootversion}` : `links ${e.bootversion}.${e.subbootversion}`}, ${e.deployments} deployments)\n`);
}

export function updateLine(e: UpdateEvent): void {
  if (e.type === 'check') process.stderr.write(`  ${e.result.ok ? 'ok  ' : 'FAIL'} ${e.result.check}: ${e.result.detail}\n`);
  else if (e.type === 'resolve') process.stderr.write(`${e.refspec}: ${e.checksum === e.current ? 'up to date' : `${e.current.slice(0, 12)} → ${e.checksum.slice(0, 12)}`}\n`);
  else if (e.type === 'deploy') deployLine(e.event);
  else if (e.type === 'pull' && e.event.type === 'done') process.stderr.write(`Fetched ${e.event.result.fetched} objects (${e.event.result.bytes} bytes)\n`);
}

/** The result of an update, for people. */
export function renderUpdate(r: UpdateResult): string {
  const v = r.version ? ` (version ${r.version})` : '';
  switch (r.outcome) {
    case 'no-update': {
      const q = r.checks.find((c) => c.check === 'quarantine' && !c.ok);
      if (q) return `No update available: the newest commit of ${r.refspec}, ${r.to}${v}, is quarantined: ${q.detail.replace(/^commit \S+ (\(version [^)]*\) )?is in quarantine /, '')}\n`;
      return `No update available: ${r.refspec} is at ${r.to}${v}.\n`;
    }
    case 'available': return `Update available: ${r.refspec} ${r.from} → ${r.to}${v}\n  download: ${r.download?.objects ?? 0} objects${r.download?.bytes != null ? `, ${r.download.bytes} bytes` : ''}\n`;
    case 'previewed': {
      const d = r.diff;
      const lines = d ? [...d.added.map((p) => `A    ${p}`), ...d.modified.map((p) => `M    ${p}`), ...d.removed.map((p) => `D    ${p}`)] : [];
      return `Changes from ${r.from} to ${r.to}${v}:\n${lines.join('\n')}${lines.length ? '\n' : ''}${d ? `${d.added.length} added, ${d.modified.length} modified, ${d.removed.length} removed\n` : ''}`;
    }
    case 'pulled': return `Fetched ${r.refspec} ${r.to}${v}; nothing was deployed.\n`;
    case 'updated': return `Deployed ${r.deployment}${v} as the boot default; the previous default is the rollback. Reboot to use it.\n`;
  }
}
