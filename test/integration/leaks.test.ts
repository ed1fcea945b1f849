// Every way around Tor that an attacker's review found (issue 7), each tried
// for real in the leak harness (test/support/leak-harness.ts): the program
// runs in a network namespace where the only service is our SOCKS5 server on
// 127.0.0.1 ("Tor"), and a trap in the "world" namespace counts every packet
// that gets there. Each case asserts zero packets at the trap and the exit
// status; the controls first show that the trap does catch a direct attempt.
import { chmodSync, chownSync, copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixtureBinaries, type FixtureBinaries } from '../support/binaries';
import { BODY, CURL, EXIT } from '../support/expected';
import { useTempDirs } from '../support/fixtures';
import { useLeakHarness } from '../support/leak-harness';
import { buildVariant, cleanEnv, launcherForAnyone, makeConfigDir, ROOT } from '../support/launcher';

const NOBODY = 65534;

const net = useLeakHarness();
const { make: tempDir, track } = useTempDirs();
let bins: FixtureBinaries;
let config: string;
/** A private XDG_RUNTIME_DIR, as a desktop session has (proxychains needs one). */
let runtime: string;

beforeAll(async () => {
  bins = await fixtureBinaries();
  runtime = tempDir('runtime');
  chmodSync(runtime, 0o700);
  config = track(
    makeConfigDir(
      { default: { port: net.socksPort } },
      {
        default: 'listener: default\nisolation: launch\nbackend: torsocks\n',
        pathset: `listener: default\nisolation: launch\nbackend: torsocks\nenv:\n  set:\n    PATH: ${join(ROOT, '.cache', 'fake-wrappers')}:/usr/bin:/bin\n`,
        proxychains: 'listener: default\nisolation: app\nbackend: proxychains\nacknowledge: [udp-leak]\n',
        // The shipped curl profile, on the harness's "Tor".
        curl: readFileSync(join(ROOT, 'profiles', 'curl.yml'), 'utf8'),
      },
    ),
  );
  // A wrapper that wraps nothing, where a PATH lookup would find it first.
  const fakes = join(ROOT, '.cache', 'fake-wrappers');
  mkdirSync(fakes, { recursive: true });
  for (const name of ['torsocks', 'proxychains4'])
    writeFileSync(join(fakes, name), '#!/bin/sh\n[ "$1" = -q ] && shift\nexec "$@"\n', { mode: 0o755 });
}, 120_000);

const http = () => `http://${net.worldV4}/`;

describe('the leak harness', () => {
  it('catches a direct TCP connection over IPv4 and IPv6, and a UDP datagram (the controls)', async () => {
    const v4 = await net.inApp([bins.leakProbe, net.worldV4, '80']);
    expect(v4.stdout).toMatch(/^reply: HTTP\/1\.1 200/);
    const afterV4 = net.trapped();
    expect(afterV4).toBeGreaterThan(0);
    const v6 = await net.inApp([bins.leakProbe, net.worldV6, '80']);
    expect(v6.stdout).toMatch(/^reply: HTTP\/1\.1 200/);
    const afterV6 = net.trapped();
    expect(afterV6).toBeGreaterThan(afterV4);
    const udp = await net.inApp([bins.leakProbe, net.worldV4, '53', 'udp']);
    expect(udp.stdout).toBe('sent');
    await new Promise((r) => setTimeout(r, 100));
    expect(net.trapped()).toBeGreaterThan(afterV6);
  });

  it('sees a wrapped program go through "Tor" only: zero packets, the SOCKS server got the CONNECT', async () => {
    const result = await net.launch(['--config-dir', config, 'default', '--', bins.leakProbe, net.worldV4, '80']);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('reply: HTTP/1.1 200 OK');
    expect((await net.waitForRecords(1))[0]).toMatchObject({ command: 'connect', host: net.worldV4, port: 80 });
    expect(net.trapped()).toBe(0);
  });
});

describe('1. wrappers are never found on a PATH', () => {
  it("a fake torsocks first on the caller's PATH changes nothing", async () => {
    const result = await net.launch(['--config-dir', config, 'default', '--', bins.leakProbe, net.worldV4, '80'], {
      env: cleanEnv({ PATH: `${join(ROOT, '.cache', 'fake-wrappers')}:/usr/bin:/bin` }),
    });
    expect(result.stdout).toBe('reply: HTTP/1.1 200 OK');
    expect(await net.waitForRecords(1)).toHaveLength(1);
    expect(net.trapped()).toBe(0);
  });

  it("a profile's env.set PATH with a fake torsocks first changes nothing", async () => {
    const result = await net.launch(['--config-dir', config, 'pathset', '--', bins.leakProbe, net.worldV4, '80']);
    expect(result.stdout).toBe('reply: HTTP/1.1 200 OK');
    expect(await net.waitForRecords(1)).toHaveLength(1);
    expect(net.trapped()).toBe(0);
  });

  it('without the wrapper library installed, refuses with 127 and one line, nothing sent', async () => {
    const variant = await buildVariant(tempDir('variant'), { DEB_HOST_MULTIARCH: 'nonexistent-linux-gnu' });
    const result = await net.launch(
      ['--config-dir', config, 'default', '--', bins.leakProbe, net.worldV4, '80'],
      {},
      variant,
    );
    expect(result.exitCode).toBe(EXIT.notFound);
    expect(result.stderr).toBe(
      'tails-launch: torsocks is not installed (/usr/lib/nonexistent-linux-gnu/torsocks/libtorsocks.so is missing): install the torsocks package',
    );
    expect(result.stdout).toBe('');
    expect(net.records()).toEqual([]);
    expect(net.trapped()).toBe(0);
  });
});

describe('2. proxychains: every descendant gets the profile configuration', () => {
  it('a Python parent whose child closes every descriptor (subprocess, close_fds) still goes through "Tor", never ./proxychains.conf', async () => {
    const cwd = tempDir('hostile-cwd');
    // What libproxychains falls back to without its configuration: straight to the world.
    const hostile = `strict_chain\n[ProxyList]\nhttp ${net.worldV4} 80\n`;
    writeFileSync(join(cwd, 'proxychains.conf'), hostile);
    mkdirSync(join(cwd, '.proxychains'));
    writeFileSync(join(cwd, '.proxychains', 'proxychains.conf'), hostile);
    const child = `import subprocess; subprocess.run(["${bins.leakProbe}", "${net.worldV4}", "80"], close_fds=True, check=True)`;
    const result = await net.launch(['--config-dir', config, 'proxychains', '--', '/usr/bin/python3', '-c', child], {
      cwd,
      env: cleanEnv({ HOME: cwd, XDG_RUNTIME_DIR: runtime }),
    });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('reply: HTTP/1.1 200 OK');
    expect(await net.waitForRecords(1)).toHaveLength(1);
    expect(net.trapped()).toBe(0);
  });

  it('is refused without XDG_RUNTIME_DIR (77, one line), nothing sent', async () => {
    const result = await net.launch(['--config-dir', config, 'proxychains', '--', bins.leakProbe, net.worldV4, '80']);
    expect(result.exitCode).toBe(EXIT.refused);
    expect(result.stderr.split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/XDG_RUNTIME_DIR, which is not set/);
    expect(net.trapped()).toBe(0);
  });
});

describe("3. the caller's dynamic-loader variables never reach the application", () => {
  it.each([
    [
      'LD_PRELOAD naming torsocks under another directory',
      { LD_PRELOAD: '/nonexistent/usr/lib/x86_64-linux-gnu/torsocks/libtorsocks.so' },
    ],
    ['LD_LIBRARY_PATH', { LD_LIBRARY_PATH: '/nonexistent' }],
    ['LD_AUDIT', { LD_AUDIT: '/nonexistent/audit.so' }],
  ])('%s', async (_name, hostile) => {
    const result = await net.launch(
      [
        '--config-dir',
        config,
        'default',
        '--',
        '/bin/sh',
        '-c',
        `env | grep -E '^(LD_|GCONV)' ; exec ${bins.leakProbe} ${net.worldV4} 80`,
      ],
      {
        env: cleanEnv(hostile),
      },
    );
    // The only loader variable left is the preload the launcher set itself.
    expect(result.stdout).toBe('LD_PRELOAD=/usr/lib/x86_64-linux-gnu/torsocks/libtorsocks.so\nreply: HTTP/1.1 200 OK');
    expect(net.trapped()).toBe(0);
  });
});

describe("4. a proxy-aware program's own configuration cannot send it direct", () => {
  it.each([
    ['~/.curlrc', (home: string) => (writeFileSync(join(home, '.curlrc'), 'noproxy = "*"\n'), {})],
    [
      '$CURL_HOME/.curlrc',
      (home: string) => (
        mkdirSync(join(home, 'ch')),
        writeFileSync(join(home, 'ch', '.curlrc'), 'noproxy = "*"\n'),
        { CURL_HOME: join(home, 'ch') }
      ),
    ],
    [
      '$XDG_CONFIG_HOME/.curlrc',
      (home: string) => (
        mkdirSync(join(home, 'xdg')),
        writeFileSync(join(home, 'xdg', '.curlrc'), 'proxy = ""\n'),
        { XDG_CONFIG_HOME: join(home, 'xdg') }
      ),
    ],
    ['NO_PROXY=*', () => ({ NO_PROXY: '*', no_proxy: '*' })],
  ])('curl with %s', async (_name, prepare) => {
    const home = tempDir('curl-home');
    const extra = prepare(home);
    const result = await net.launch(['--config-dir', config, 'curl', '-s', '--max-time', '5', http()], {
      env: cleanEnv({ HOME: home, ...extra }),
    });
    expect(result.stdout).toBe(BODY);
    // Through "Tor" (a retry under load may make it two CONNECTs, never a direct one).
    expect((await net.waitForRecords(1)).length).toBeGreaterThanOrEqual(1);
    expect(net.trapped()).toBe(0);
  });

  it('control: the same ~/.curlrc does send curl direct when it is run without -q', async () => {
    const home = tempDir('curl-home');
    writeFileSync(join(home, '.curlrc'), 'noproxy = "*"\n');
    const url = `socks5h://127.0.0.1:${net.socksPort}`;
    const result = await net.inApp([
      '/usr/bin/env',
      `HOME=${home}`,
      `ALL_PROXY=${url}`,
      CURL,
      '-s',
      '--max-time',
      '5',
      http(),
    ]);
    expect(result.stdout).toBe('direct');
    expect(net.trapped()).toBeGreaterThan(0);
  });
});

describe('5. static programs reached through env are judged', () => {
  it('#!/usr/bin/env NAME with a static NAME first on the PATH: 78, nothing sent', async () => {
    const dir = tempDir('env-path');
    copyFileSync(bins.leakProbeStatic, join(dir, 'probe'));
    chmodSync(join(dir, 'probe'), 0o755);
    const script = join(dir, 'run');
    writeFileSync(script, '#!/usr/bin/env probe\n', { mode: 0o755 });
    const result = await net.launch(['--config-dir', config, 'default', '--', script, net.worldV4, '80'], {
      env: cleanEnv({ PATH: `${dir}:/usr/bin:/bin` }),
    });
    expect(result.exitCode).toBe(EXIT.wouldBypass);
    expect(result.stderr).toMatch(/through its interpreter \/usr\/bin\/env, then .*\/probe\) is statically linked/);
    expect(result.stdout).toBe('');
    expect(net.trapped()).toBe(0);
  });

  it('#!/usr/bin/env -S /path/static ARGS: 78, nothing sent', async () => {
    const dir = tempDir('env-split');
    const script = join(dir, 'run');
    writeFileSync(script, `#!/usr/bin/env -S ${bins.leakProbeStatic} ${net.worldV4} 80\n`, { mode: 0o755 });
    const result = await net.launch(['--config-dir', config, 'default', '--', script]);
    expect(result.exitCode).toBe(EXIT.wouldBypass);
    expect(result.stdout).toBe('');
    expect(net.trapped()).toBe(0);
  });

  it("control: #!/usr/bin/env -S with a dynamic program runs it, wrapped, with env's argv", async () => {
    const dir = tempDir('env-split-ok');
    const script = join(dir, 'run');
    // env -S gives argv: probe WORLD 80 SCRIPT (the script's path last, ignored by the probe).
    writeFileSync(script, `#!/usr/bin/env -S ${bins.leakProbe} ${net.worldV4} 80\n`, { mode: 0o755 });
    const result = await net.launch(['--config-dir', config, 'default', '--', script]);
    expect(result.stdout).toBe('reply: HTTP/1.1 200 OK');
    expect(net.trapped()).toBe(0);
  });
});

describe('6. a file swapped between check and use', () => {
  it('a symlink flipped between a dynamic and a static program by another user never runs the static one (60 launches)', async () => {
    // A directory of nobody's, where nobody flips `prog` as fast as it can:
    // what the launcher judged must be what runs.
    const dir = tempDir('swap');
    chownSync(dir, NOBODY, NOBODY);
    chmodSync(dir, 0o755);
    for (const [name, source] of [
      ['dyn', bins.leakProbe],
      ['static', bins.leakProbeStatic],
    ] as const) {
      copyFileSync(source, join(dir, name));
      chmodSync(join(dir, name), 0o755);
      chownSync(join(dir, name), NOBODY, NOBODY);
    }
    const flipper = `
      cd ${dir}
      while :; do
        ln -sfn dyn .a && mv -T .a prog
        ln -sfn static .b && mv -T .b prog
      done`;
    symlinkSync('dyn', join(dir, 'prog'));
    const swapper: ResultPromise = execa(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', '/bin/sh', '-c', flipper],
      { reject: false, stdin: 'ignore' },
    );
    const outcomes = { wrapped: 0, refused: 0, other: 0 };
    try {
      for (let i = 0; i < 60; i++) {
        const r = await net.launch(['--config-dir', config, 'default', '--', join(dir, 'prog'), net.worldV4, '80']);
        if (r.exitCode === 0 && r.stdout === 'reply: HTTP/1.1 200 OK') outcomes.wrapped++;
        else if (r.exitCode === EXIT.wouldBypass) outcomes.refused++;
        else outcomes.other++;
      }
    } finally {
      swapper.kill('SIGKILL');
      await swapper;
    }
    console.log(`symlink swap: ${JSON.stringify(outcomes)} of 60 launches`);
    expect(net.trapped()).toBe(0);
    expect(outcomes.wrapped + outcomes.refused + outcomes.other).toBe(60);
    // Both programs were really in play.
    expect(outcomes.wrapped).toBeGreaterThan(0);
    expect(outcomes.refused).toBeGreaterThan(0);
  }, 120_000);
});

describe('7. a check that cannot run refuses', () => {
  /** The launcher copied without its node_modules: koffi cannot load (as a broken install would have it). */
  let withoutKoffi = '';
  beforeAll(() => {
    withoutKoffi = launcherForAnyone(tempDir('no-koffi'));
  });

  it('koffi cannot load: a program with file capabilities is refused, 77, nothing sent', async () => {
    const dir = tempDir('caps');
    const capable = join(dir, 'probe');
    copyFileSync(bins.leakProbe, capable);
    await execa('setcap', ['cap_net_raw+ep', capable]);
    const result = await net.launch(
      ['--config-dir', config, 'default', '--', capable, net.worldV4, '80'],
      {},
      withoutKoffi,
    );
    expect(result.exitCode).toBe(EXIT.refused);
    expect(result.stderr).toMatch(/^tails-launch: backend torsocks needs koffi .*refusing to launch/);
    expect(result.stderr.split('\n')).toHaveLength(1);
    expect(result.stdout).toBe('');
    expect(net.trapped()).toBe(0);
  });

  it('koffi cannot load: a jail is refused (77) rather than left to a launcher that waits; nothing sent', async () => {
    const result = await net.launch(
      ['--config-dir', config, '--jail', 'default', '--', bins.leakProbe, net.worldV4, '80'],
      {},
      withoutKoffi,
    );
    expect(result.exitCode, result.stderr).toBe(EXIT.refused);
    expect(result.stderr).toMatch(/^tails-launch: a jail must replace the launcher .*refusing to launch/);
    expect(result.stderr.split('\n')).toHaveLength(1);
    expect(result.stdout).toBe('');
    expect(net.trapped()).toBe(0);
    // Control: the real launcher makes that jail, and the probe inside it goes through the SOCKS port only.
    const jailed = await net.launch([
      '--config-dir',
      config,
      '--jail',
      'default',
      '--',
      bins.leakProbe,
      net.worldV4,
      '80',
    ]);
    expect(jailed.stderr).toBe('');
    expect((await net.waitForRecords(1)).map((r) => r.host)).toEqual([net.worldV4]);
    expect(net.trapped()).toBe(0);
  });
});

describe('the user layer cannot weaken a system profile (the shipped layer is the checkout\'s; "Tor" answers on Tails\' ports too)', () => {
  /** A user layer in a fresh XDG_CONFIG_HOME with FILES (path -> text). */
  function userLayer(files: Record<string, string>): Record<string, string> {
    const home = tempDir('xdg');
    mkdirSync(join(home, 'tails-launch', 'profiles'), { recursive: true });
    for (const [path, text] of Object.entries(files)) writeFileSync(join(home, 'tails-launch', path), text);
    return cleanEnv({ XDG_CONFIG_HOME: home });
  }
  const probe = () => `command: ${bins.leakProbe}\nargs: ['${net.worldV4}', '80']\n`;

  it('tails-security-check moved to the upgrader listener without isolation: 65, zero packets; the control goes to 9062', async () => {
    const weakened = await net.launch(['tails-security-check'], {
      env: userLayer({
        'profiles/tails-security-check.yml': `extends: tails-security-check\n${probe()}listener: upgrader\nisolation: none\n`,
      }),
    });
    expect(weakened.exitCode).toBe(EXIT.config);
    expect(weakened.stderr).toMatch(
      /tails-security-check\.yml:\d+: listener: may not change the listener of the system profile/,
    );
    expect(net.records()).toEqual([]);
    // The control: the security check connects to its listener itself (own-setting; its stand-in, told 9062 by "its own settings").
    const standin = `command: ${join(ROOT, 'test/fixtures/standins/own-setting.py')}\nenv:\n  set:\n    STANDIN_TARGET: '${net.worldV4}:80'\n    STANDIN_OWN_SETTINGS: socks5 127.0.0.1 9062\n`;
    const control = await net.launch(['tails-security-check'], {
      env: userLayer({ 'profiles/tails-security-check.yml': `extends: tails-security-check\n${standin}` }),
    });
    expect(control.stdout).toBe('reply: HTTP/1.1 200 OK');
    expect((await net.waitForRecords(1))[0]).toMatchObject({ serverPort: 9062, auth: 'none' });
    expect(net.trapped()).toBe(0);
  });

  it('ssh on backend env (a program that ignores proxy variables would go direct): 65, zero packets', async () => {
    const weakened = await net.launch(['ssh'], {
      env: userLayer({ 'profiles/ssh.yml': `extends: ssh\n${probe()}backend: env\n` }),
    });
    expect(weakened.exitCode).toBe(EXIT.config);
    expect(weakened.stderr).toMatch(/ssh\.yml:\d+: backend: may not weaken the system profile 'ssh'/);
    expect(net.trapped()).toBe(0);
    const control = await net.launch(['ssh'], { env: userLayer({ 'profiles/ssh.yml': `extends: ssh\n${probe()}` }) });
    expect(control.stdout).toBe('reply: HTTP/1.1 200 OK');
    expect((await net.waitForRecords(1))[0]).toMatchObject({ serverPort: 9050 });
    expect(net.trapped()).toBe(0);
  });

  it("a user listeners.yml moving 'tails' to another port: 65, nothing sent", async () => {
    const env = userLayer({
      'listeners.yml': `listeners:\n  tails:\n    address: 127.0.0.1\n    port: ${net.socksPort}\n`,
      'profiles/tails-security-check.yml': `extends: tails-security-check\n${probe()}`,
    });
    const moved = await net.launch(['tails-security-check'], { env });
    expect(moved.exitCode).toBe(EXIT.config);
    expect(moved.stderr).toMatch(/listeners\.yml:2: listeners\.tails: may not redefine the system listener 'tails'/);
    expect(net.records()).toEqual([]);
    expect(net.trapped()).toBe(0);
  });
});

describe('bad configuration never launches (the profile would go direct: backend env, a program that ignores proxy variables)', () => {
  const leaky = () => `listener: default\nisolation: launch\nbackend: env\ncommand: ${bins.leakProbe}\n`;
  // The control needs a launch that is not jailed: a firewall is declared for root (none exists here, so it leaks).
  function configWith(name: string, write: (file: string) => void, hostFirewall: string[] | null = ['root']): string {
    const dir = track(
      makeConfigDir({ default: { port: net.socksPort } }, {}, { hostFirewall: hostFirewall ?? undefined }),
    );
    write(join(dir, 'profiles', name));
    return dir;
  }

  it('control: the same profile, valid, does go direct (so "never launches" is what the cases below show)', async () => {
    const dir = configWith('p.yml', (f) => writeFileSync(f, leaky()));
    const r = await net.launch(['--config-dir', dir, 'p', net.worldV4, '80']);
    expect(r.stdout).toBe('reply: HTTP/1.1 200 OK');
    expect(net.trapped()).toBeGreaterThan(0);
  });

  it('and where no firewall is declared, the same program is jailed by default: nothing leaves, over IPv4 or IPv6', async () => {
    const dir = configWith('p.yml', (f) => writeFileSync(f, leaky()), null);
    const explained = await net.launch(['--config-dir', dir, 'explain', '--json', 'p']);
    expect(JSON.parse(explained.stdout).guard).toMatchObject({ kind: 'jail', by: 'user' });
    for (const target of [net.worldV4, net.worldV6]) {
      const r = await net.launch(['--config-dir', dir, 'p', target, '80']);
      expect(r.stdout).toMatch(/^refused: /);
    }
    expect(net.trapped()).toBe(0);
  });

  it.each([
    [
      'a NUL byte in args',
      'p.json',
      (f: string) =>
        writeFileSync(
          f,
          JSON.stringify({
            listener: 'default',
            isolation: 'launch',
            backend: 'env',
            command: bins.leakProbe,
            args: ['a\u0000b'],
          }),
        ),
    ],
    ['a profile writable by others (0666)', 'p.yml', (f: string) => (writeFileSync(f, leaky()), chmodSync(f, 0o666))],
    // Every field valid: a 100 kB description referenced 3000 times as arguments (300 MB once expanded).
    [
      'a YAML alias bomb',
      'p.yml',
      (f: string) =>
        writeFileSync(
          f,
          `${leaky()}description: &a "${'y'.repeat(100_000)}"\nargs: [${Array(3000).fill('*a').join(', ')}]\n`,
        ),
    ],
    ['a FIFO as the profile', 'p.yml', (f: string) => execFileSync('mkfifo', [f])],
  ])('%s: 65, one line, zero packets', async (_name, file, write) => {
    const dir = configWith(file, write);
    const r = await net.launch(['--config-dir', dir, 'p', net.worldV4, '80'], { timeout: 10_000 });
    expect(r.exitCode).toBe(EXIT.config);
    expect(r.stderr.split('\n')).toHaveLength(1);
    expect(r.stdout).toBe('');
    expect(net.trapped()).toBe(0);
  });
});

describe('what each backend holds (documented in README "Security")', () => {
  it('torsocks refuses UDP and IPv6 from a careless program: zero packets', async () => {
    const udp = await net.launch(['--config-dir', config, 'default', '--', bins.leakProbe, net.worldV4, '53', 'udp']);
    expect(udp.stdout).toMatch(/^refused: /);
    const v6 = await net.launch(['--config-dir', config, 'default', '--', bins.leakProbe, net.worldV6, '80']);
    expect(v6.stdout).toMatch(/^refused: /);
    await new Promise((r) => setTimeout(r, 100));
    expect(net.trapped()).toBe(0);
  });

  it('proxychains lets UDP out, as its acknowledge: [udp-leak] says', async () => {
    const udp = await net.launch(
      ['--config-dir', config, 'proxychains', '--', bins.leakProbe, net.worldV4, '53', 'udp'],
      { env: cleanEnv({ XDG_RUNTIME_DIR: runtime }) },
    );
    expect(udp.stdout).toBe('sent');
    await new Promise((r) => setTimeout(r, 100));
    expect(net.trapped()).toBeGreaterThan(0);
  });
});
