/**
 * OpenPGP keys made by the real GnuPG at fixed times (under faketime), and
 * commands run at a fixed time, so that tests printing signature dates never
 * depend on today's date.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { TestContext } from 'node:test';
import { ok, requireTool, run, type RunResult } from './env.js';

/** `cmd args` with the clock set to `when` (`YYYY-MM-DD hh:mm:ss`, UTC), stopped there. */
export function atTime(when: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return run('faketime', ['-f', when, cmd, ...args], { env: { TZ: 'UTC', FAKETIME_DONT_FAKE_MONOTONIC: '1', ...env } });
}

export interface GpgKey {
  home: string;
  fingerprint: string;
  /** The long key ID, upper case, as ostree prints it. */
  keyId: string;
  /** The exported public key, armored. */
  publicFile: string;
}

/** faketime and gpg must be there (.ci/run installs both); skipped locally without them. */
export async function requireGpgTools(t: TestContext): Promise<boolean> {
  return (await requireTool(t, 'gpg', 'gnupg')) && (await requireTool(t, 'faketime', 'faketime'));
}

/**
 * A GnuPG home holding one RSA signing key made at `created` (UTC), expiring
 * `expire` after that (gpg's notation: `never`, `1y`, ...).
 */
export async function makeGpgKey(dir: string, name: string, created: string, expire = 'never'): Promise<GpgKey> {
  const home = path.join(dir, `gnupg-${name.replace(/\W+/g, '-').toLowerCase()}`);
  await mkdir(home, { mode: 0o700 });
  const gpg = (when: string, ...a: string[]): Promise<string> =>
    ok(atTime(when, 'gpg', ['--homedir', home, '--batch', '--pinentry-mode', 'loopback', '--passphrase', '', ...a]), `gpg ${a[0]}`);
  await gpg(created, '--quick-gen-key', `${name} <${name.replace(/\W+/g, '.').toLowerCase()}@example.org>`, 'rsa2048', 'sign', expire);
  const colons = await gpg(created, '--list-keys', '--with-colons');
  const fingerprint = colons.split('\n').find((l) => l.startsWith('fpr:'))?.split(':')[9] as string;
  const publicFile = path.join(dir, `${path.basename(home)}.asc`);
  await writeFile(publicFile, await gpg(created, '--export', '--armor'));
  return { home, fingerprint, keyId: fingerprint.slice(-16).toUpperCase(), publicFile };
}

/** Revoke `key` at `when` with the revocation certificate gpg made with it; its public file then carries the revocation. */
export async function revokeGpgKey(key: GpgKey, when: string): Promise<void> {
  const certFile = path.join(key.home, 'openpgp-revocs.d', `${key.fingerprint}.rev`);
  // gpg guards the stored certificate with a ':' before its armor line.
  const cert = (await readFile(certFile, 'utf8')).replace(/^:-----BEGIN/m, '-----BEGIN');
  const gpg = (...a: string[]): Promise<string> =>
    ok(atTime(when, 'gpg', ['--homedir', key.home, '--batch', '--pinentry-mode', 'loopback', '--passphrase', '', ...a]), `gpg ${a[0]}`);
  const fixed = path.join(key.home, 'revocation.asc');
  await writeFile(fixed, cert);
  await gpg('--import', fixed);
  await writeFile(key.publicFile, await gpg('--export', '--armor'));
}
