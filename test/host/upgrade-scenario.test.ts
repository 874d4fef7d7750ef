/**
 * Acceptance 2: a host follows a signed ref served over HTTP. v1 is pulled and
 * deployed; the user edits /etc; v2 is published and `atomic upgrade` deploys
 * it with the /etc edits carried over, v1 kept as the rollback; upgrading
 * again changes nothing; rollback swaps them back; `--check` and `--preview`
 * report v3 (served by nginx) without deploying it; then it is deployed. The
 * real ostree reads the sysroot alike at every step and fscks its repository.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, lstat, readFile, readlink, rm, stat, symlink, writeFile, mkdir, readdir } from 'node:fs/promises';
import * as path from 'node:path';
import { ok, ostree, ots, requireOstree, requireTool, tempDir, type RunResult } from '../helpers/env.js';
import { startNginx } from '../helpers/nginx.js';
import { serveRepo } from '../helpers/serve.js';
import {
  atomic, bootState, deployDir, deploymentDir, makeOsTree, parseAdminStatus, statusFacts, type OsTreeOptions,
} from '../helpers/sysroot.js';

const OS = 'testos';
const REFSPEC = 'origin:testos/stable';

async function stdout(p: Promise<RunResult>, what: string): Promise<string> {
  const r = await p;
  assert.equal(r.code, 0, `${what} failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

/** The configuration defaults every version ships in usr/etc, then what each version changes. */
const ETC_V1: Record<string, string | null> = {
  'a.conf': 'default-a\n', 'b.conf': 'default-b\n', 'sub/c.conf': 'default-c\n', 'mode.conf': 'mode-1\n',
};
const ETC_LINKS = { 'link.conf': 'a.conf' };

test('atomic upgrade over HTTP: v1 → v2 with /etc carried over, no-op upgrade, rollback, --check and --preview of v3 via nginx', async (t) => {
  if (!(await requireOstree(t))) return;
  if (!(await requireTool(t, 'nginx', 'nginx'))) return;
  const dir = await tempDir(t, 'ots-upgrade-');
  const srv = path.join(dir, 'server-repo');
  const keys = path.join(dir, 'keys');
  const secret = path.join(keys, 'secret.ed25519');
  await ok(ots('sign', 'generate', `--out=${keys}`));
  await ok(ostree('init', `--repo=${srv}`, '--mode=archive'));

  /** Commit a version on the server with the real ostree, sign it and update the signed summary. */
  const publish = async (name: string, version: string, timestamp: string, o: OsTreeOptions): Promise<string> => {
    const tree = await makeOsTree(path.join(dir, `tree-${name}`), o);
    const c = await ok(ostree('commit', `--repo=${srv}`, '-b', 'testos/stable', `--add-metadata-string=version=${version}`,
      `--timestamp=${timestamp}`, '-s', `TestOS ${version}`, `--tree=dir=${tree}`));
    await ok(ots(`--repo=${srv}`, 'sign', c, `--keys-file=${secret}`), 'sign');
    await ok(ots(`--repo=${srv}`, 'summary', '-u', `--keys-file=${secret}`), 'summary -u');
    return c;
  };
  const c1 = await publish('v1', '1.0', '2023-01-01T00:00:00Z', { etc: ETC_V1, etcLinks: ETC_LINKS });
  const server = await serveRepo(t, srv, dir);

  // The host: a sysroot whose origin remote requires ed25519 signatures.
  const S = path.join(dir, 'sysroot');
  const sysrepo = path.join(S, 'ostree', 'repo');
  await ok(ots('admin', 'init-fs', S));
  await ok(ots('admin', `--sysroot=${S}`, 'os-init', OS));
  await ok(ots(`--repo=${sysrepo}`, 'remote', 'add', '--no-gpg-verify', '--set=sign-verify=true',
    `--set=verification-ed25519-file=${path.join(keys, 'public.ed25519')}`, 'origin', server.url));
  await ok(ots(`--repo=${sysrepo}`, 'pull', 'origin', 'testos/stable'), 'pull v1');
  await ok(ots('admin', `--sysroot=${S}`, 'deploy', `--os=${OS}`, '--karg=root=/dev/vda1', REFSPEC), 'deploy v1');

  const status = async (): Promise<ReturnType<typeof statusFacts>> => statusFacts(await stdout(atomic(`--sysroot=${S}`, 'status', '--json'), 'atomic status'));
  /** atomic status and the real ostree admin status list the same deployments, in this order. */
  const expectList = async (ids: string[], versions: string[], label: string): Promise<void> => {
    const f = await status();
    assert.deepEqual(f.map((d) => d.id), ids, `${label}: atomic status`);
    assert.deepEqual(f.map((d) => d.version), versions, `${label}: atomic status versions`);
    assert.deepEqual(f.map((d) => d.origin), ids.map(() => REFSPEC), `${label}: atomic status origins`);
    const theirs = parseAdminStatus(await stdout(ostree('admin', `--sysroot=${S}`, 'status'), 'ostree admin status'));
    assert.deepEqual(theirs.map((d) => d.id), ids, `${label}: ostree admin status`);
    assert.deepEqual(theirs.map((d) => d.version), versions, `${label}: ostree admin status versions`);
    assert.deepEqual(theirs.map((d) => d.origin), ids.map(() => REFSPEC), `${label}: ostree admin status origins`);
  };
  const followed = async (): Promise<string> => ok(ostree('rev-parse', `--repo=${sysrepo}`, REFSPEC));
  /** Everything an upgrade could change: the status document, the boot configuration, the deployments, the ref. */
  const snapshot = async (): Promise<unknown> => ({
    status: await stdout(atomic(`--sysroot=${S}`, 'status', '--json'), 'atomic status'),
    boot: await bootState(S),
    deployments: await deployDir(S, OS),
    ref: await followed(),
  });

  await expectList([`${c1}.0`], ['1.0'], 'v1 deployed');
  const doc = JSON.parse(await stdout(atomic(`--sysroot=${S}`, 'status', '--json'), 'atomic status')) as { deployments: Array<{ signature: { state: string } }> };
  assert.equal(doc.deployments[0].signature.state, 'verified', 'v1 carries a valid ed25519 signature for the remote\'s policy');

  // The user's changes to v1's /etc.
  const etc1 = path.join(deploymentDir(S, OS, `${c1}.0`), 'etc');
  assert.equal(await readFile(path.join(etc1, 'a.conf'), 'utf8'), 'default-a\n');
  await writeFile(path.join(etc1, 'a.conf'), 'user-a\n');
  await writeFile(path.join(etc1, 'new.conf'), 'user-new\n');
  await mkdir(path.join(etc1, 'newdir'));
  await writeFile(path.join(etc1, 'newdir', 'f'), 'user-f\n');
  await rm(path.join(etc1, 'sub', 'c.conf'));
  await chmod(path.join(etc1, 'mode.conf'), 0o600);
  await rm(path.join(etc1, 'link.conf'));
  await symlink('new.conf', path.join(etc1, 'link.conf'));

  // v2: new defaults for a.conf (edited by the user), b.conf (untouched), sub/c.conf (deleted by the user),
  // mode.conf (re-moded by the user); a new default d.conf; a changed program.
  const c2 = await publish('v2', '2.0', '2023-01-02T00:00:00Z', {
    etc: { ...ETC_V1, 'a.conf': 'default-a2\n', 'b.conf': 'default-b2\n', 'sub/c.conf': 'default-c2\n', 'mode.conf': 'mode-2\n', 'd.conf': 'default-d\n' },
    etcLinks: ETC_LINKS, hello: 'echo hello 2',
  });
  const up = await atomic(`--sysroot=${S}`, 'upgrade', '--json');
  assert.equal(up.code, 0, up.stderr);
  const r2 = JSON.parse(up.stdout) as { outcome: string; from: string; to: string; version: string; deployment: string; checks: Array<{ check: string; ok: boolean }> };
  assert.equal(r2.outcome, 'updated');
  assert.equal(r2.from, c1);
  assert.equal(r2.to, c2);
  assert.equal(r2.version, '2.0');
  assert.equal(r2.deployment, `${c2}.0`);
  assert.deepEqual(r2.checks.map((c) => [c.check, c.ok]), [['signature', true], ['downgrade', true], ['quarantine', true], ['repo-space', true], ['boot-space', true], ['etc-merge', true]]);
  await expectList([`${c2}.0`, `${c1}.0`], ['2.0', '1.0'], 'after upgrade to v2');
  assert.equal(await followed(), c2, 'the followed ref names v2');
  assert.equal(await ok(ots(`--repo=${sysrepo}`, 'rev-parse', REFSPEC)), c2);

  // v2's /etc: the user's edits win, the user's deletion holds, untouched files take the new defaults.
  const d2 = deploymentDir(S, OS, `${c2}.0`);
  const etc2 = path.join(d2, 'etc');
  assert.equal(await readFile(path.join(etc2, 'a.conf'), 'utf8'), 'user-a\n', 'a.conf keeps the user value');
  assert.equal(await readFile(path.join(etc2, 'new.conf'), 'utf8'), 'user-new\n');
  assert.equal(await readFile(path.join(etc2, 'newdir', 'f'), 'utf8'), 'user-f\n');
  assert.equal(await lstat(path.join(etc2, 'sub', 'c.conf')).then(() => 'present', () => 'absent'), 'absent', 'c.conf stays deleted');
  assert.equal((await stat(path.join(etc2, 'mode.conf'))).mode & 0o7777, 0o600, 'the mode change is carried');
  assert.equal(await readFile(path.join(etc2, 'mode.conf'), 'utf8'), 'mode-1\n', 'a re-moded file is the user\'s version, content included');
  assert.equal(await readlink(path.join(etc2, 'link.conf')), 'new.conf', 'the changed symlink is carried');
  assert.equal(await readFile(path.join(etc2, 'b.conf'), 'utf8'), 'default-b2\n', 'an untouched file takes the new default');
  assert.equal(await readFile(path.join(etc2, 'd.conf'), 'utf8'), 'default-d\n', 'a new default arrives');
  assert.equal(await readFile(path.join(d2, 'usr', 'etc', 'a.conf'), 'utf8'), 'default-a2\n', 'usr/etc holds v2\'s defaults');
  assert.match(await readFile(path.join(d2, 'usr', 'bin', 'hello'), 'utf8'), /echo hello 2/);
  // v1 is left as it was.
  assert.equal(await readFile(path.join(etc1, 'a.conf'), 'utf8'), 'user-a\n');
  assert.match(await readFile(path.join(deploymentDir(S, OS, `${c1}.0`), 'usr', 'bin', 'hello'), 'utf8'), /^echo hello$/m);
  assert.equal((await bootState(S)).loader, 'loader.0', 'a new boot version is the default');

  // Nothing newer: upgrade says so and changes nothing; --check exits 77.
  const before = await snapshot();
  const again = await atomic(`--sysroot=${S}`, 'upgrade');
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, new RegExp(`^No update available: ${REFSPEC} is at ${c2} \\(version 2\\.0\\)`));
  assert.deepEqual(await snapshot(), before, 'a no-op upgrade changes nothing');
  const none = await atomic(`--sysroot=${S}`, 'upgrade', '--check');
  assert.equal(none.code, 77, `--check with nothing new: ${none.stderr}`);
  assert.match(none.stdout, /No update available/);
  assert.deepEqual(await snapshot(), before, '--check changes nothing');

  // Rollback: v1 is the default again, v2 second.
  const rb = await atomic(`--sysroot=${S}`, 'rollback');
  assert.equal(rb.code, 0, rb.stderr);
  assert.match(rb.stdout, new RegExp(`Moving '${c1}\\.0' to be first deployment`));
  await expectList([`${c1}.0`, `${c2}.0`], ['1.0', '2.0'], 'after rollback');
  assert.equal((await bootState(S)).loader, 'loader.1');

  // v3 is published; the host now fetches through nginx serving the same directory.
  const web = await startNginx(t, srv, dir);
  await ok(ots(`--repo=${sysrepo}`, 'config', 'set', 'remote "origin".url', web.url));
  const c3 = await publish('v3', '3.0', '2023-01-03T00:00:00Z', {
    etc: { ...ETC_V1, 'a.conf': 'default-a3\n', 'b.conf': 'default-b3\n' }, etcLinks: ETC_LINKS, hello: 'echo hello 3',
    extra: { 'usr/share/testos/v3.txt': 'new in v3\n' },
  });
  const beforeCheck = await snapshot();
  const avail = await atomic(`--sysroot=${S}`, 'upgrade', '--check');
  assert.equal(avail.code, 0, `--check with an update: ${avail.stderr}`);
  assert.match(avail.stdout, new RegExp(`^Update available: ${REFSPEC} ${c1} → ${c3} \\(version 3\\.0\\)`));
  const availJson = await atomic(`--sysroot=${S}`, 'upgrade', '--check', '--json');
  assert.equal(availJson.code, 0, availJson.stderr);
  const rc = JSON.parse(availJson.stdout) as { outcome: string; to: string; download: { objects: number } };
  assert.equal(rc.outcome, 'available');
  assert.equal(rc.to, c3);
  assert.ok(rc.download.objects > 0, 'the check says how much there is to fetch');
  assert.deepEqual(await snapshot(), beforeCheck, '--check deploys nothing and moves no ref');

  // --preview: the files that change from the default (v1) to v3, as `ostree diff` lists them; nothing deployed.
  const expected = (await ok(ostree('diff', `--repo=${srv}`, c1, c3))).split('\n').filter(Boolean).sort();
  assert.ok(expected.length >= 4, `ostree diff lists the changes: ${expected.join(', ')}`);
  const pv = await atomic(`--sysroot=${S}`, 'upgrade', '--preview');
  assert.equal(pv.code, 0, pv.stderr);
  const listed = pv.stdout.split('\n').filter((l) => /^[AMD] {4}\//.test(l)).sort();
  assert.deepEqual(listed, expected, '--preview lists what ostree diff lists');
  assert.ok(listed.includes('A    /usr/share/testos/v3.txt') && listed.includes('M    /usr/bin/hello'));
  const pj = JSON.parse(await stdout(atomic(`--sysroot=${S}`, 'upgrade', '--preview', '--json'), 'preview --json')) as { outcome: string; diff: { added: string[]; modified: string[]; removed: string[] } };
  assert.equal(pj.outcome, 'previewed');
  assert.deepEqual([...pj.diff.added.map((p) => `A    ${p}`), ...pj.diff.modified.map((p) => `M    ${p}`), ...pj.diff.removed.map((p) => `D    ${p}`)].sort(), expected);
  assert.deepEqual(await snapshot(), beforeCheck, '--preview deploys nothing and moves no ref');

  // Now deploy v3: from the default (v1), whose /etc the user edited; v2 (neither default nor booted) goes.
  const up3 = await atomic(`--sysroot=${S}`, 'upgrade');
  assert.equal(up3.code, 0, up3.stderr);
  assert.match(up3.stdout, new RegExp(`Deployed ${c3}\\.0 \\(version 3\\.0\\) as the boot default`));
  await expectList([`${c3}.0`, `${c1}.0`], ['3.0', '1.0'], 'after upgrade to v3');
  assert.equal(await followed(), c3);
  const etc3 = path.join(deploymentDir(S, OS, `${c3}.0`), 'etc');
  assert.equal(await readFile(path.join(etc3, 'a.conf'), 'utf8'), 'user-a\n');
  assert.equal(await readFile(path.join(etc3, 'b.conf'), 'utf8'), 'default-b3\n');
  assert.deepEqual((await readdir(etc3)).sort(), ['a.conf', 'b.conf', 'link.conf', 'mode.conf', 'new.conf', 'newdir', 'sub']);
  assert.deepEqual(await deployDir(S, OS), [`${c1}.0`, `${c1}.0.origin`, `${c3}.0`, `${c3}.0.origin`].sort(), 'v2\'s deployment was removed');
  const log = await web.log();
  assert.ok(log.some((l) => /^GET \/summary 200$/.test(l)), `the summary came from nginx: ${log.join('; ')}`);
  assert.ok(log.some((l) => new RegExp(`^GET /objects/${c3.slice(0, 2)}/${c3.slice(2)}\\.commit 200$`).test(l)), 'v3\'s commit came from nginx');
  const check3 = await atomic(`--sysroot=${S}`, 'upgrade', '--check');
  assert.equal(check3.code, 77, check3.stderr);

  const fsck = await ostree('fsck', `--repo=${sysrepo}`);
  assert.equal(fsck.code, 0, `ostree fsck of the system repository:\n${fsck.stderr}\n${fsck.stdout}`);
  assert.equal((await ots(`--repo=${sysrepo}`, 'fsck')).code, 0);
});
