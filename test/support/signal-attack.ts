// The caller's attack on the privileged entry through sudo's signal relay,
// in a clean image (test/support/clean-image.ts): sudo keeps the caller's
// real uid on its own process, so the caller may signal it, and sudo relays
// SIGUSR1, SIGUSR2 and SIGHUP to its command. Were that command (or anything
// it runs on the caller's behalf, as root or as a service account) Node, it
// would open its inspector on 127.0.0.1:9229, where Runtime.evaluate runs
// code with its privileges.
//
// The attacker is test/fixtures/clean-image/signal-attacker.c, compiled
// statically here and run in the image as its user (no interpreter of ours
// between it and the launch: one process, 1 ms signal cadence). It prints
// one JSON line per run; this module sets the image up for it (a service
// account and its admin profile; a deliberately bad Node-as-root entry for
// the control), runs it, and sorts the runs into outcomes.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { expect } from 'vitest';
import type { CleanImage } from './clean-image';

/** The attacker, inside the image. */
export const ATTACKER = '/usr/local/bin/tl-signal-attacker';
/** The service account, its profile (same name) and the stand-in it runs. */
export const SERVICE = 'tl-svc';
const STAND_IN = '/usr/local/bin/tl-svc-stand-in';
/** A profile only root may start (its sudo rule names root alone), for the entry's own caller check. */
export const ROOT_ONLY = 'tl-svc-root';
const PROFILES = '/etc/tails-launch/profiles';
/** The control: Node as root through sudo, as the entry used to be. */
export const BAD_ENTRY = '/usr/local/lib/tl-bad-entry';
const BAD_RULE = '/etc/sudoers.d/tl-bad-entry';
/** A broad rule of the test's own (any arguments to the entry): the entry's checks alone then stand. */
const BROAD_RULE = '/etc/sudoers.d/tl-broad-entry';
export const ENTRY = '/usr/lib/tails-launch/place';

export const SIGNALS = { SIGHUP: 1, SIGUSR1: 10, SIGUSR2: 12 } as const;
export type SignalName = keyof typeof SIGNALS;

export interface AttackProcess {
  pid: number;
  ppid: number;
  uid: number;
  /** Every name it had, '>'-separated (sudo>place>tl-svc-stand-in>id: the same process). */
  comms: string;
  /** When the attacker first and last saw it alive, in µs after sudo appeared. */
  from_us: number;
  to_us: number;
}

export interface AttackRun {
  /** The offset of the first signal, in ms after sudo appeared; sig 0: none sent. */
  k: number;
  sig: number;
  /** From the start to sudo (null: the launch never became sudo). */
  sudo_us: number | null;
  /** From sudo appearing to the launch's exit: the path's life. */
  life_us: number;
  exit: number | null;
  killed: number | null;
  sent: number;
  /** Probes at which a connection to an inspector port succeeded. */
  inspector: number;
  /** The caller's own kill(2) and PTRACE_ATTACH on the launch's processes not its own. */
  kill_ok: number;
  kill_eperm: number;
  ptrace_ok: number;
  ptrace_eperm: number;
  /** sudo's descendants, as seen. */
  procs: AttackProcess[];
  /** What of the launch, or of the service account, was still alive a second after it. */
  left: { pid: number; uid: number; comm: string }[];
  stdout: string;
  stderr: string;
}

/** Compiles the attacker on the host (static: it needs nothing of the image) and puts it into IMAGE. */
export async function installAttacker(image: CleanImage, work: string): Promise<void> {
  const out = join(work, 'signal-attacker');
  const source = new URL('../fixtures/clean-image/signal-attacker.c', import.meta.url).pathname;
  await execa('cc', ['-static', '-O2', '-Wall', '-Wextra', '-Werror', '-o', out, source]);
  image.copyIn(out, ATTACKER);
  chmodSync(image.path(ATTACKER), 0o755);
}

function writeIn(image: CleanImage, path: string, text: string, mode: number): void {
  writeFileSync(image.path(path), text, { mode });
  chmodSync(image.path(path), mode);
}

/**
 * As an administrator would: the service account (a system user), the
 * stand-in it runs (prints its uid), its admin profile naming the image's
 * user as caller, a root-only twin, and the grants. The account's uid.
 */
export async function setUpService(image: CleanImage): Promise<number> {
  await image.must(['useradd', '--system', '--no-create-home', '--shell', '/usr/sbin/nologin', SERVICE], {
    net: false,
  });
  writeIn(image, STAND_IN, '#!/bin/sh\nexec id -u\n', 0o755);
  await image.must(['mkdir', '-p', PROFILES], { net: false });
  const profile = (callers: string) =>
    [
      'description: signal-relay test stand-in, run as a service account',
      `command: ${STAND_IN}`,
      `user: ${SERVICE}`,
      `callers: [${callers}]`,
      'listener: default',
      'backend: own-setting',
      'isolation: application',
      '',
    ].join('\n');
  // The administrator's firewall holds the service account (as Tails' ferm holds its own): what these
  // tests attack is the relay of signals through sudo, not the guard (a chroot allows no user namespace).
  writeIn(
    image,
    `${PROFILES}/../listeners.yml`,
    `listeners: {}\nhost_firewall: { description: "the image's firewall", users: [${SERVICE}] }\n`,
    0o644,
  );
  writeIn(image, `${PROFILES}/${SERVICE}.yml`, profile('amnesia'), 0o644);
  writeIn(image, `${PROFILES}/${ROOT_ONLY}.yml`, profile('root'), 0o644);
  await image.must(['tails-launch', 'grants', '--write']);
  return Number((await image.must(['id', '-u', SERVICE], { net: false })).trim());
}

/** The control's entry: a root-owned script that execs Node, granted to the image's user. */
export async function setUpBadEntry(image: CleanImage): Promise<void> {
  writeIn(image, BAD_ENTRY, "#!/bin/sh\nexec /usr/bin/node -e 'setTimeout(() => {}, 1500)'\n", 0o755);
  writeIn(image, BAD_RULE, `amnesia ALL = (root) NOPASSWD: ${BAD_ENTRY}\n`, 0o440);
  await image.must(['visudo', '-c', '-f', BAD_RULE], { net: false });
}

/** Runs BODY with a sudoers rule letting the image's user run the entry with any arguments. */
export async function withBroadRule<T>(image: CleanImage, body: () => Promise<T>): Promise<T> {
  writeIn(image, BROAD_RULE, `amnesia ALL = (root) NOPASSWD: ${ENTRY}\n`, 0o440);
  try {
    await image.must(['visudo', '-c', '-f', BROAD_RULE], { net: false });
    return await body();
  } finally {
    await image.must(['rm', '-f', BROAD_RULE], { net: false });
  }
}

/** Everything setUpService and setUpBadEntry added, gone; the grants written again without them. */
export async function tearDownService(image: CleanImage): Promise<void> {
  const files = [
    STAND_IN,
    `${PROFILES}/${SERVICE}.yml`,
    `${PROFILES}/${ROOT_ONLY}.yml`,
    `${PROFILES}/../listeners.yml`,
    BAD_ENTRY,
    BAD_RULE,
    ATTACKER,
  ];
  await image.must(['rm', '-f', ...files], { net: false });
  await image.must(['rmdir', '--ignore-fail-on-non-empty', PROFILES, '/etc/tails-launch'], { net: false });
  await image.must(['tails-launch', 'grants', '--write']);
  await image.must(['userdel', SERVICE], { net: false });
}

export interface Sweep {
  signal: number;
  from: number;
  to: number;
  step: number;
  repeat?: number;
  /** The uid whose processes must all be gone after each run. */
  serviceUid: number;
  argv: string[];
  /** The launch on a terminal of its own: sudo's use_pty monitor relays to the command's process group. */
  pty?: boolean;
}

/** The attacker's sweep, as the image's user; one AttackRun per launch. */
export async function attack(image: CleanImage, sweep: Sweep): Promise<AttackRun[]> {
  const { signal, from, to, step, repeat = 1, serviceUid, argv, pty = false } = sweep;
  const args = [signal, from, to, step, repeat, serviceUid].map(String);
  const runs = Math.ceil((to - from + 1) / step) * repeat;
  const r = await image.run([ATTACKER, ...args, '--', ...argv], {
    user: true,
    env: pty ? { TL_ATTACK_PTY: '1' } : {},
    timeout: 30_000 + runs * 5_000,
  });
  if (r.exitCode !== 0) throw new Error(`${image.suite}: the attacker exited ${r.exitCode}:\n${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as AttackRun);
}

/** How far the launch got: the entry (place), the preflight (node, a child of it), the application (the stand-in or id). */
export function phaseOf(run: AttackRun): 'sudo' | 'entry' | 'preflight' | 'application' {
  const comms = new Set(run.procs.flatMap((p) => p.comms.split('>')));
  if (comms.has('id') || comms.has('tl-svc-stand-in') || run.stdout !== '') return 'application';
  if (comms.has('node')) return 'preflight';
  return comms.has('place') ? 'entry' : 'sudo';
}

/**
 * One run's outcome: 'launched' (exit 0, the stand-in printed the service
 * account's uid, nothing else), 'killed' (sudo, or its command, died of the
 * signal sent; nothing printed, or the stand-in's uid when the signal met
 * the application itself), or a problem: anything else, an inspector, a
 * successful direct kill or ptrace, a process left behind.
 */
export function outcomeOf(
  run: AttackRun,
  serviceUid: number,
): { outcome: 'launched' | 'killed' | 'problem'; why: string } {
  const problems: string[] = [];
  if (/Debugger listening|ws:\/\//.test(run.stderr)) problems.push('an inspector on stderr');
  if (run.inspector > 0) problems.push(`an inspector port accepted ${run.inspector} connection(s)`);
  if (run.kill_ok > 0 || run.ptrace_ok > 0) problems.push(`kill ${run.kill_ok} / ptrace ${run.ptrace_ok} succeeded`);
  if (run.left.length > 0) problems.push(`left running: ${JSON.stringify(run.left)}`);
  if (run.sudo_us === null) problems.push('never became sudo');
  const printed = run.stdout === '' || run.stdout === `${serviceUid}\n`;
  const launched = run.exit === 0 && run.stdout === `${serviceUid}\n` && run.stderr === '';
  const killed = run.sig !== 0 && run.killed === run.sig && printed && run.stderr === '';
  // The signal killed sudo's own monitor (use_pty) while it started the entry: sudo reports that its
  // child's exec status never came back (EPIPE on its back channel) and exits 1; nothing ran.
  const sudoLostItsChild =
    run.sig !== 0 &&
    run.exit === 1 &&
    run.stdout === '' &&
    run.stderr === 'sudo: unable to execute /usr/lib/tails-launch/place: Broken pipe\n';
  if (!launched && !killed && !sudoLostItsChild) problems.push(`exit ${run.exit}, signal ${run.killed}`);
  const why = `${problems.join('; ')} (k ${run.k} ms, signal ${run.sig}): stdout ${JSON.stringify(run.stdout)}, stderr ${JSON.stringify(run.stderr)}`;
  return { outcome: problems.length > 0 ? 'problem' : launched ? 'launched' : 'killed', why };
}

const ms = (us: number) => Math.round(us / 100) / 10;

/** The runs' tally: outcomes, by the phase each got to, and the life of the path. */
export function tally(runs: AttackRun[], serviceUid: number): string {
  const counts = new Map<string, number>();
  for (const run of runs) {
    const key = `${outcomeOf(run, serviceUid).outcome} in ${phaseOf(run)}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const lives = runs.map((r) => r.life_us).sort((a, b) => a - b);
  const sent = runs.reduce((n, r) => n + r.sent, 0);
  const eperm = runs.reduce((n, r) => n + r.kill_eperm + r.ptrace_eperm, 0);
  return [
    `${runs.length} runs, ${sent} signals sent through sudo, ${eperm} direct kill/ptrace attempts refused (EPERM)`,
    [...counts].map(([k, n]) => `${k}: ${n}`).join(', '),
    `life ${ms(lives[0] ?? 0)}..${ms(lives.at(-1) ?? 0)} ms`,
  ].join('; ');
}

/** The path's phases in unsignalled runs: when the entry, the preflight and the application were seen, in ms after sudo. */
export function phases(runs: AttackRun[]): string {
  return runs
    .map((run) => {
      const seen = (comm: string) => run.procs.filter((p) => p.comms.split('>').includes(comm));
      const span = (ps: AttackProcess[]) =>
        ps.length === 0
          ? '-'
          : `${ms(Math.min(...ps.map((p) => p.from_us)))}..${ms(Math.max(...ps.map((p) => p.to_us)))}`;
      const node = seen('node');
      const uids = [...new Set(node.map((p) => p.uid))].join(',');
      const entry = seen('place');
      const names = [...new Set(entry.map((p) => p.comms))].join(', ');
      return `life ${ms(run.life_us)} ms: entry ${span(entry)} (its process: ${names}), preflight node ${span(node)} (uid ${uids || '-'})`;
    })
    .join('\n');
}

/** PATH is a position-independent ELF with full RELRO (BIND_NOW), the stack protector and fortified calls: what dpkg's hardening=+all gives. */
export async function expectHardenedElf(path: string): Promise<void> {
  const readelf = async (...args: string[]) => (await execa('readelf', ['-W', ...args, path])).stdout;
  expect(await readelf('-h')).toMatch(/Type:\s+DYN \(Position-Independent Executable file\)/);
  expect(await readelf('-l')).toMatch(/GNU_RELRO/);
  const dynamic = await readelf('-d');
  expect(dynamic).toMatch(/\(FLAGS\)\s+BIND_NOW/);
  expect(dynamic).toMatch(/\(FLAGS_1\)\s+Flags: NOW PIE/);
  const symbols = await readelf('--dyn-syms');
  expect(symbols).toMatch(/__stack_chk_fail/);
  expect(symbols).toMatch(/__\w+_chk@/);
  // No interpreter of ours: an ELF, not a script (nothing for NODE_OPTIONS to reach).
  expect((await execa('file', ['-b', path])).stdout).toMatch(/^ELF 64-bit LSB pie executable/);
}
