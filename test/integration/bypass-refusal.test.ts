// Under the LD_PRELOAD backends (torsocks, proxychains), programs that would
// escape the wrapper are refused before anything runs: exit 78, one line,
// the program never started (it would have created its marker), nothing sent.
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  fixtureBinaries,
  scriptWithStaticInterpreter,
  setgidCopy,
  setuidCopy,
  type FixtureBinaries,
} from '../support/binaries';
import { useSocks5Server, useTempDirs } from '../support/fixtures';
import { execa } from 'execa';
import { cleanEnv, makeConfigDir, runLauncher } from '../support/launcher';
import { EXIT } from '../support/expected';

/** A copy of SOURCE with a file capability (setcap, from libcap2-bin). */
async function capabilityCopy(source: string, dir: string): Promise<string> {
  const copy = join(dir, 'with-caps');
  copyFileSync(source, copy);
  await execa('setcap', ['cap_net_raw+ep', copy]);
  return copy;
}

const socks = useSocks5Server();
const { make: tempDir, track } = useTempDirs();
let bins: FixtureBinaries;
let config: string;

beforeAll(async () => {
  bins = await fixtureBinaries();
  config = track(
    makeConfigDir(
      { default: { port: socks.port } },
      {
        torsocks: 'listener: default\nisolation: launch\nbackend: torsocks\n',
        proxychains: 'listener: default\nisolation: launch\nbackend: proxychains\nacknowledge: [udp-leak]\n',
        env: 'listener: default\nisolation: launch\nbackend: env\n',
      },
      // What the backends inspect, not the guard: env runs unjailed (a jail holds any program: jail-session.test.ts).
      { hostFirewall: ['root'] },
    ),
  );
});

async function attempt(profile: string, program: () => Promise<string> | string) {
  const marker = join(tempDir('marker'), 'ran');
  // A desktop session's private XDG_RUNTIME_DIR: proxychains hands its configuration over there.
  const runtime = tempDir('runtime');
  const result = await runLauncher(['--config-dir', config, profile, '--', await program(), marker], {
    env: cleanEnv({ XDG_RUNTIME_DIR: runtime }),
  });
  return { ...result, ran: existsSync(marker) };
}

describe.each(['torsocks', 'proxychains'])('backend %s refuses what would bypass it', (backend) => {
  it('launches the dynamic fixture (the control: refusals below are meaningful)', async () => {
    const r = await attempt(backend, () => bins.dynamic);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.ran).toBe(true);
  });

  it.each([
    ['a static binary', () => bins.static, 'is statically linked'],
    ['a static-pie binary', () => bins.staticPie, 'is statically linked'],
    ['a Go binary', () => bins.goLike, 'is a Go program'],
    ['a setuid program', () => setuidCopy(bins.dynamic, tempDir('suid')), 'is setuid'],
    ['a setgid program', () => setgidCopy(bins.dynamic, tempDir('sgid')), 'is setgid'],
    ['a program with file capabilities', () => capabilityCopy(bins.dynamic, tempDir('caps')), 'has file capabilities'],
    [
      'a script whose interpreter is static',
      () => scriptWithStaticInterpreter(tempDir('script')),
      '\\(through its interpreter /\\S+\\) is statically linked',
    ],
  ])('%s: 78, one line, never run, nothing sent', async (_what, program, detail) => {
    const r = await attempt(backend, program);
    expect(r.exitCode).toBe(EXIT.wouldBypass);
    expect(r.stderr.split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(
      new RegExp(`^tails-launch: /\\S+ ${detail}.*: ${backend} could not see its connections, so it would bypass Tor`),
    );
    expect(r.stdout).toBe('');
    expect(r.ran).toBe(false);
    expect(socks.records).toEqual([]);
  });
});

describe('backend env', () => {
  it('does not inspect binaries (it preloads nothing): a static program starts', async () => {
    const r = await attempt('env', () => bins.static);
    expect(r.exitCode).toBe(0);
    expect(r.ran).toBe(true);
  });
});
