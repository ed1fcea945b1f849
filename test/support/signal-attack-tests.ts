// Issue 16's attacker test, run in each clean image of
// test/integration/clean-image.test.ts (the images are built once, there):
// the caller (the image's user) signals sudo, which relays SIGUSR1, SIGUSR2
// and SIGHUP to the privileged entry, at every millisecond of a launch's
// life, and tries the launch's other processes directly. No inspector may
// ever open, no direct signal or ptrace may succeed, and each launch either
// runs the application right (as the service account) or dies of the signal
// sent, leaving nothing behind. The control, a deliberately Node-as-root
// entry granted the same way, shows that the same attack finds its inspector.
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CleanImage, Suite } from './clean-image';
import {
  attack,
  BAD_ENTRY,
  ENTRY,
  expectHardenedElf,
  installAttacker,
  outcomeOf,
  phaseOf,
  phases,
  ROOT_ONLY,
  SERVICE,
  setUpBadEntry,
  setUpService,
  SIGNALS,
  tally,
  tearDownService,
  withBroadRule,
  type AttackRun,
  type SignalName,
} from './signal-attack';

/** The caller's own sudo command line: what `tails-launch tl-svc` execs (the front is not needed to attack). */
const SUDO_ENTRY = ['/usr/bin/sudo', '-n', '--', ENTRY, SERVICE, '--'];
/** Unsignalled runs that measure the path's life; the sweeps cover its longest. */
const MEASURE_RUNS = 5;
/**
 * The sweeps end this far past the median measured life: past the path's
 * end in most runs (one loaded run can live twice as long, and the sweep's
 * cost grows with the square of its end), which the sweep shows by runs
 * that launched before their first signal.
 */
const PAST_MEDIAN = 1.25;
/** The sweeps' step for the other signals, and through the front. */
const COARSE_MS = 5;
const FRONT_MS = 25;

/** Every run's problems (none may have any), and the tally printed for the closing note. */
function judge(suite: Suite, what: string, runs: AttackRun[], serviceUid: number): string[] {
  console.log(`signals ${suite}: ${what}: ${tally(runs, serviceUid)}`);
  return runs.map((run) => outcomeOf(run, serviceUid)).flatMap((o) => (o.outcome === 'problem' ? [o.why] : []));
}

/** The outcomes of runs whose signals met the preflight's Node (its process was seen), by outcome. */
function duringPreflight(runs: AttackRun[], serviceUid: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const run of runs.filter((r) => r.sig !== 0 && phaseOf(r) === 'preflight')) {
    const { outcome } = outcomeOf(run, serviceUid);
    counts[outcome] = (counts[outcome] ?? 0) + 1;
  }
  return counts;
}

interface State {
  image: CleanImage;
  serviceUid: number;
  /** The sweeps' end, in whole ms: PAST_MEDIAN times the measured life's median. */
  lifeMs: number;
}

export function signalAttackTests(suite: Suite, context: () => { image: CleanImage; work: string }): void {
  describe('the caller signals the privileged entry through sudo (issue 16)', () => {
    const state: State = { image: undefined as unknown as CleanImage, serviceUid: 0, lifeMs: 0 };
    hooks(state, context);
    entryTests(state);
    sweepTests(suite, state);
    otherTests(suite, state);
  });
}

/** The image set up for the attack (sudo, the service account and its profile, the control, the attacker), and back. */
function hooks(state: State, context: () => { image: CleanImage; work: string }): void {
  beforeAll(async () => {
    state.image = context().image;
    // sudo is only Recommended by the package, and the image installs no recommends.
    await state.image.apt(['install', 'sudo']);
    // As an installed system has it: sudo names its host, and says so on stderr when it cannot resolve it.
    await state.image.must(['sh', '-c', `echo "127.0.1.1 ${hostname()}" >>/etc/hosts`], { net: false });
    state.serviceUid = await setUpService(state.image);
    await setUpBadEntry(state.image);
    await installAttacker(state.image, context().work);
  }, 300_000);

  afterAll(async () => {
    if ((state.image as CleanImage | undefined) !== undefined) await tearDownService(state.image);
  }, 60_000);
}

/** The profile's grant and launch, and the entry's own hardening, from the caller's side. */
function entryTests(state: State): void {
  it(`an admin profile run as the service account ${SERVICE}: grants --write gives it to amnesia, and it launches`, async () => {
    const { image, serviceUid } = state;
    const listed = await image.must(['sudo', '-l', '-U', 'amnesia'], { net: false });
    const commands = listed.slice(listed.indexOf('may run the following commands'));
    expect(commands).toContain(`${ENTRY} ${SERVICE} --`);
    expect(commands, `${ROOT_ONLY} is root's alone`).not.toContain(`${ENTRY} ${ROOT_ONLY} --`);
    const r = await image.run(['tails-launch', SERVICE], { user: true });
    expect({ exit: r.exitCode, stdout: r.stdout, stderr: r.stderr }).toEqual({
      exit: 0,
      stdout: String(serviceUid), // execa strips the final newline
      stderr: '',
    });
  });

  it('the entry from outside: a hardened ELF; a forged SUDO_UID, --grant-fd and preload variables get nowhere', async () => {
    const { image, serviceUid } = state;
    await expectHardenedElf(image.path(ENTRY));
    const asCaller = (argv: string[], env: Record<string, string> = {}) => image.run(argv, { user: true, env });
    // sudo's env_reset: the caller's variables never reach the entry, which runs as usual.
    const preload = await asCaller(SUDO_ENTRY, { LD_PRELOAD: '/nonexistent.so', NODE_OPTIONS: '--inspect' });
    expect({ exit: preload.exitCode, stdout: preload.stdout, stderr: preload.stderr }).toEqual({
      exit: 0,
      stdout: String(serviceUid),
      stderr: '',
    });
    const rootOnly = [ENTRY, ROOT_ONLY, '--'];
    // sudo alone: no rule for it, and no way to set or keep SUDO_UID.
    for (const argv of [
      ['sudo', '-n', '--', ...rootOnly],
      ['sudo', '-n', 'SUDO_UID=0', ...rootOnly],
      ['sudo', '-n', '-E', '--', ...rootOnly],
    ])
      expect((await asCaller(argv, { SUDO_UID: '0' })).exitCode, argv.join(' ')).toBe(1);
    // With a broad sudoers rule (any arguments), the entry's own checks stand.
    await withBroadRule(image, async () => {
      const forged = await asCaller(['sudo', '-n', '--', ...rootOnly], { SUDO_UID: '0' });
      expect(forged.exitCode, forged.stderr).toBe(77);
      expect(forged.stderr).toMatch(new RegExp(`amnesia may not start profile '${ROOT_ONLY}'`));
      const grantFd = await asCaller(['sudo', '-n', '--', ENTRY, '--grant-fd', '3', SERVICE, '--']);
      expect(grantFd.exitCode, grantFd.stderr).toBe(77);
      expect(grantFd.stderr).toMatch(/--grant-fd is root's own/);
      expect(forged.stdout + grantFd.stdout).toBe('');
    });
  });
}

/** The sweeps straight through sudo, as the front would run it. */
function sweepTests(suite: Suite, state: State): void {
  it('SIGUSR1 through sudo from every millisecond of the path on: no inspector, the launch right or killed', async () => {
    const { image, serviceUid } = state;
    const measured = await attack(image, {
      signal: 0,
      from: 0,
      to: 0,
      step: 1,
      repeat: MEASURE_RUNS,
      serviceUid,
      argv: SUDO_ENTRY,
    });
    console.log(
      `signals ${suite}: the path unsignalled (sudo -> entry -> preflight -> application):\n${phases(measured)}`,
    );
    expect(judge(suite, 'unsignalled', measured, serviceUid)).toEqual([]);
    expect(measured.map((r) => outcomeOf(r, serviceUid).outcome)).toEqual(measured.map(() => 'launched'));
    const lives = measured.map((r) => r.life_us).sort((a, b) => a - b);
    const lifeMs = (state.lifeMs = Math.ceil((PAST_MEDIAN * lives[Math.floor(lives.length / 2)]!) / 1000));
    const runs = await attack(image, {
      signal: SIGNALS.SIGUSR1,
      from: 0,
      to: lifeMs,
      step: 1,
      serviceUid,
      argv: SUDO_ENTRY,
    });
    expect(judge(suite, `SIGUSR1 from each ms of 0..${lifeMs}`, runs, serviceUid)).toEqual([]);
    const preflight = duringPreflight(runs, serviceUid);
    console.log(`signals ${suite}: SIGUSR1 runs whose signals met the preflight's Node: ${JSON.stringify(preflight)}`);
    // The sweep did reach the Node preflight, and killed the launch there (the entry died; its preflight with it).
    expect(preflight.killed ?? 0).toBeGreaterThan(0);
    // ... and went past the path's end: launches that ended before their first signal.
    expect(runs.filter((r) => r.sent === 0 && outcomeOf(r, serviceUid).outcome === 'launched').length).toBeGreaterThan(
      0,
    );
  }, 1_800_000);

  for (const name of ['SIGUSR2', 'SIGHUP'] as SignalName[])
    it(`${name} through sudo from every ${COARSE_MS} ms of the path on: the same`, async () => {
      const { image, serviceUid, lifeMs } = state;
      expect(lifeMs, 'the SIGUSR1 sweep measured the path').toBeGreaterThan(0);
      const sweep = { signal: SIGNALS[name], from: 0, to: lifeMs, step: COARSE_MS, serviceUid, argv: SUDO_ENTRY };
      const runs = await attack(image, sweep);
      expect(judge(suite, `${name} from every ${COARSE_MS} ms of 0..${lifeMs}`, runs, serviceUid)).toEqual([]);
      expect(duringPreflight(runs, serviceUid).killed ?? 0).toBeGreaterThan(0);
    }, 900_000);
}

/** The same from other positions (a terminal, the front), and the control. */
function otherTests(suite: Suite, state: State): void {
  it(`on a terminal (sudo's use_pty: its monitor signals the entry's process group), SIGUSR1 from every ${COARSE_MS} ms: the same`, async () => {
    const { image, serviceUid, lifeMs } = state;
    expect(lifeMs, 'the SIGUSR1 sweep measured the path').toBeGreaterThan(0);
    const sweep = {
      signal: SIGNALS.SIGUSR1,
      from: 0,
      to: lifeMs,
      step: COARSE_MS,
      serviceUid,
      argv: SUDO_ENTRY,
      pty: true,
    };
    const runs = await attack(image, sweep);
    expect(judge(suite, `on a terminal, SIGUSR1 from every ${COARSE_MS} ms of 0..${lifeMs}`, runs, serviceUid)).toEqual(
      [],
    );
    expect(duringPreflight(runs, serviceUid).killed ?? 0).toBeGreaterThan(0);
  }, 900_000);

  it(`through the front (tails-launch ${SERVICE}), SIGUSR1 from every ${FRONT_MS} ms: the same`, async () => {
    const { image, serviceUid, lifeMs } = state;
    expect(lifeMs, 'the SIGUSR1 sweep measured the path').toBeGreaterThan(0);
    const argv = ['/usr/bin/tails-launch', SERVICE];
    const runs = await attack(image, {
      signal: SIGNALS.SIGUSR1,
      from: 0,
      to: lifeMs,
      step: FRONT_MS,
      serviceUid,
      argv,
    });
    expect(
      judge(suite, `through the front, SIGUSR1 from every ${FRONT_MS} ms of 0..${lifeMs}`, runs, serviceUid),
    ).toEqual([]);
  }, 900_000);

  it('control: the same attack on a Node-as-root entry granted through sudo finds its inspector', async () => {
    const { image, serviceUid } = state;
    const argv = ['/usr/bin/sudo', '-n', BAD_ENTRY];
    const runs = await attack(image, { signal: SIGNALS.SIGUSR1, from: 0, to: 300, step: 100, serviceUid, argv });
    const found = runs.filter(
      (r) => r.inspector > 0 && r.stderr.includes('Debugger listening on ws://127.0.0.1:9229/'),
    );
    console.log(
      `signals ${suite}: control (${BAD_ENTRY}, Node as root): ${found.length} of ${runs.length} runs opened the inspector as root, ` +
        `${found.reduce((n, r) => n + r.inspector, 0)} connections to it succeeded; ${tally(runs, serviceUid)}`,
    );
    expect(found.length).toBeGreaterThan(0);
    // It is root's Node that listens: the process sudo ran, as uid 0.
    expect(found[0]!.procs.some((p) => p.uid === 0 && p.comms.endsWith('node'))).toBe(true);
  }, 120_000);
}
