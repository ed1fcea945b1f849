// Runs the real, built launcher through its real sh front, and builds
// throw-away configuration directories for --config-dir.
import { chmodSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type Options } from 'execa';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const LAUNCHER = join(ROOT, 'bin', 'tails-launch');
export const SHIPPED_PROFILES = join(ROOT, 'profiles');

/** A small, clean environment: the developer's proxy variables never leak into a test. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: process.env.HOME ?? '/root', LANG: 'C.UTF-8', ...extra };
}

export interface LauncherResult {
  exitCode: number | undefined;
  signal: string | undefined;
  stdout: string;
  stderr: string;
  pid: number | undefined;
}

/** Runs `bin/tails-launch ARGS` (or another LAUNCHER, e.g. the installed one), never throwing on a non-zero exit. */
export async function runLauncher(args: string[], options: Options = {}, launcher = LAUNCHER): Promise<LauncherResult> {
  const subprocess = execa(launcher, args, {
    reject: false,
    extendEnv: false,
    env: cleanEnv(),
    timeout: 20_000,
    stdin: 'ignore',
    ...options,
  } as Options);
  // The launcher's PID, which the application keeps after execve.
  const pid = subprocess.pid;
  const result = await subprocess;
  return {
    exitCode: result.exitCode,
    signal: result.signal,
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? ''),
    pid,
  };
}

export interface ListenerSpec {
  kind?: 'socks' | 'control';
  address?: string;
  port: number;
  flags?: string[];
  netns?: string;
  client_address?: string;
  client_port?: number;
}

/**
 * Writes a configuration directory: listeners.yml from LISTENERS and one
 * profiles/NAME.yml per entry of PROFILES (YAML text, written verbatim).
 */
/**
 * HOST_FIREWALL declares that the host's firewall holds these users (as Tails
 * declares its ferm): their own-setting and env programs then run unjailed,
 * for tests of something else than the guard (the guard's own tests jail them).
 */
export function makeConfigDir(
  listeners: Record<string, ListenerSpec>,
  profiles: Record<string, string>,
  options: { hostFirewall?: string[] } = {},
): string {
  const dir = mkdtempSync(join(tmpdir(), 'tails-launch-config-'));
  mkdirSync(join(dir, 'profiles'));
  const lines = ['listeners:'];
  for (const [name, l] of Object.entries(listeners)) {
    lines.push(`  ${name}:`, `    address: ${l.address ?? '127.0.0.1'}`, `    port: ${l.port}`);
    if (l.kind) lines.push(`    kind: ${l.kind}`);
    if (l.flags) lines.push(`    flags: [${l.flags.join(', ')}]`);
    if (l.netns) lines.push(`    netns: ${l.netns}`);
    if (l.client_address) lines.push(`    client_address: ${l.client_address}`);
    if (l.client_port) lines.push(`    client_port: ${l.client_port}`);
  }
  if (options.hostFirewall)
    lines.push(`host_firewall: { description: "a test's declaration", users: [${options.hostFirewall.join(', ')}] }`);
  writeFileSync(join(dir, 'listeners.yml'), `${lines.join('\n')}\n`);
  for (const [name, text] of Object.entries(profiles)) writeFileSync(join(dir, 'profiles', `${name}.yml`), text);
  return dir;
}

/**
 * A launcher built with other build-time settings (e.g. DEB_HOST_MULTIARCH
 * naming a triplet whose preload libraries do not exist): the real sh front
 * and a bundle of its own in a temporary tree, koffi taken from the
 * checkout's node_modules. Returns the front's path; remove DIR afterwards.
 */
export async function buildVariant(dir: string, env: Record<string, string>): Promise<string> {
  mkdirSync(join(dir, 'bin'), { recursive: true });
  copyFileSync(LAUNCHER, join(dir, 'bin', 'tails-launch'));
  chmodSync(join(dir, 'bin', 'tails-launch'), 0o755);
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  await execa(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], {
    cwd: ROOT,
    env: { ...process.env, TAILS_LAUNCH_SHIPPED_DIR: ROOT, TAILS_LAUNCH_OUTDIR: join(dir, 'dist'), ...env },
  });
  return join(dir, 'bin', 'tails-launch');
}

/** Runs a command as nobody (util-linux setpriv): prefix for argv. */
export const AS_NOBODY = ['setpriv', '--reuid', 'nobody', '--regid', 'nogroup', '--clear-groups'];

/**
 * The front and bundle copied into DIR (made 0755), for a launcher that
 * another user (nobody) can run: the checkout may sit under a directory only
 * root may enter (a clone in a 0700 temporary directory). koffi stays
 * behind, so such a copy plans and refuses but cannot exec through koffi.
 * Returns the copy's front.
 */
export function launcherForAnyone(dir: string): string {
  chmodSync(dir, 0o755);
  cpSync(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
  cpSync(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true });
  return join(dir, 'bin', 'tails-launch');
}
