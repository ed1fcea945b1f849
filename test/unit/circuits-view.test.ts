// `circuits` and `new-identity` in their pure parts: the grouping of Tor's
// circuits by what launched them, the listener of a stream's client
// address, the watch's event handling, the renewal of an app group's key
// (key, file), the command line, the control port a user reaches, and the
// desktop action. Tor's real answers are in test/integration/circuits.test.ts.
import { mkdtempSync, mkdirSync, symlinkSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { groupCircuits, labelOf, profilesOf, type StreamState, type TorState } from '../../src/circuits/attribute';
import { controlTarget } from '../../src/circuits/connect';
import { formatCircuits } from '../../src/circuits/format';
import type { ProfileFacts } from '../../src/circuits/model';
import { listenerOfSource, peersIn } from '../../src/circuits/source-listener';
import { applyEvent, type LiveState } from '../../src/circuits/watch';
import { parseArgs } from '../../src/cli/parse-args';
import { readRenewal, renewalFile, writeRenewal } from '../../src/cli/renewal';
import { NEW_CIRCUIT_ACTION, rewrite } from '../../src/desktop/rewrite';
import { groupKey } from '../../src/isolation/credentials';
import { groupOfKey } from '../../src/isolation/owner';
import { appGroup, appGroupKey, parsePool } from '../../src/jail/address';
import { parseCircuitLine } from '../../src/tor/circuit-status';
import { LaunchError } from '../../src/errors/launch-error';

const FP = (c: string) => c.repeat(40);
const PATH = `$${FP('A')}~guard1,$${FP('B')}~middle1,$${FP('C')}~exit1`;
const circuit = (id: string, creds: string | null, status = 'BUILT') =>
  parseCircuitLine(`${id} ${status} ${PATH} PURPOSE=GENERAL TIME_CREATED=2026-12-07T10:00:00.000000${creds ?? ''}`)!;
const creds = (username: string, password: string) => ` SOCKS_USERNAME="${username}" SOCKS_PASSWORD="${password}"`;
const stream = (id: string, circuitId: string, extra: Partial<StreamState> = {}): StreamState => ({
  id,
  status: 'SUCCEEDED',
  circuit: circuitId,
  target: '10.99.0.1:443',
  sourceAddress: null,
  purpose: null,
  socks: null,
  listener: null,
  ...extra,
});

const PROFILES: ProfileFacts[] = [
  { name: 'electrum', isolation: 'app', listener: 'default' },
  { name: 'curl', isolation: 'launch', listener: 'default' },
  { name: 'tor-browser', isolation: 'application', listener: 'browser' },
  { name: 'pidgin', isolation: 'application', listener: 'default' },
  { name: 'onion-circuits', isolation: 'none', listener: 'onioncircs' },
  { name: 'htpdate', isolation: 'none', listener: 'tails' },
];
const NOW = Date.parse('2026-12-07T10:03:30Z');
const state = (circuits: TorState['circuits'], streams: StreamState[] = []): TorState => ({
  circuits,
  streams,
  relays: new Map([[FP('C'), { nickname: 'exit1', address: '10.0.0.3', country: 'de' }]]),
  programs: new Map([[4242, 'git']]),
});
const context = { profiles: PROFILES, jail: null, now: NOW };

describe('grouping circuits by what launched them', () => {
  it('reads back every kind of group from the credentials Tor reports, profiles first', () => {
    const groups = groupCircuits(
      state(
        [
          circuit('1', creds('<torS0X>0', 'tails-launch/app/electrum')),
          circuit('2', creds('<torS0X>0', 'tails-launch/app/electrum/identity/work')),
          circuit('3', creds('<torS0X>0', `tails-launch/launch/curl/${'ab'.repeat(16)}`)),
          circuit('4', creds('example.com:0', '0123456789abcdef0123456789abcdef')),
          circuit('5', creds('torsocks-4242:1765100000', '0')),
          circuit('6', creds('alice', 'secret')),
          circuit('7', null),
          circuit('8', null, 'CLOSED'),
        ],
        [stream('10', '1'), stream('11', '7', { listener: 'tails', sourceAddress: '127.0.0.1:5000' })],
      ),
      context,
    );
    expect(groups.map((g) => [g.owner.kind, g.circuits.map((c) => c.id)])).toEqual([
      ['profile', ['3']],
      ['profile', ['1']],
      ['profile', ['2']],
      ['site', ['4']],
      ['own', ['6']],
      ['process', ['5']],
      ['listener', ['7']],
    ]);
    expect(groups.map((g) => g.label)).toEqual([
      `curl (isolation launch, launch abababab)`,
      'electrum (isolation app)',
      'electrum (isolation app, identity work)',
      "site example.com, pidgin, tor-browser's own credentials",
      "pidgin, tor-browser's own credentials (alice)",
      "process 4242 (git), torsocks' own group (isolation process)",
      'no credentials, on listener tails (htpdate)',
    ]);
    const electrum = groups[1]!.circuits[0]!;
    expect(electrum).toMatchObject({ id: '1', status: 'BUILT', purpose: 'GENERAL', ageSeconds: 210 });
    expect(electrum.created).toBe('2026-12-07T10:00:00.000Z');
    expect(electrum.relays.map((r) => [r.nickname, r.country])).toEqual([
      ['guard1', null],
      ['middle1', null],
      ['exit1', 'de'],
    ]);
    expect(electrum.streams).toEqual([
      { id: '10', status: 'SUCCEEDED', target: '10.99.0.1:443', listener: null, source: null },
    ]);
    expect(groups.map((g) => profilesOf(g.owner))).toEqual([
      ['curl'],
      ['electrum'],
      ['electrum'],
      ['pidgin', 'tor-browser'],
      ['pidgin', 'tor-browser'],
      [],
      ['htpdate'],
    ]);
  });

  it("a site's or a program's own credentials are narrowed to the profiles of the listener a stream came in on", () => {
    const [group] = groupCircuits(
      state([circuit('4', creds('example.com:2', 'n'))], [stream('9', '4', { listener: 'browser' })]),
      context,
    );
    expect(group!.owner).toEqual({ kind: 'site', profiles: ['tor-browser'], site: 'example.com', container: '2' });
    expect(group!.label).toBe("site example.com (container 2), tor-browser's own credentials");
  });

  it('a renewed app group is the same profile, with its renewal', () => {
    const key = groupKey({
      mode: 'app',
      profile: 'electrum',
      identity: null,
      renewal: '0123456789abcdef',
      randomHex: () => '',
    });
    expect(key).toBe('tails-launch/app/electrum/renewed/0123456789abcdef');
    const [group] = groupCircuits(state([circuit('1', creds('<torS0X>0', key!))]), context);
    expect(group!.owner).toEqual({
      kind: 'profile',
      profile: 'electrum',
      isolation: 'app',
      identity: null,
      launchKey: null,
      renewal: '0123456789abcdef',
    });
    expect(groupOfKey('tails-launch/app/electrum/renewed/0123456789abcdef/identity/w')).toMatchObject({
      identity: 'w',
    });
    // A profile may be called `identity` or `renewed`: the key is read by position (found by the attacker pass).
    expect(groupOfKey(`tails-launch/launch/identity/${'ab'.repeat(16)}`)).toEqual({
      kind: 'group',
      mode: 'launch',
      profile: 'identity',
      identity: null,
      launchKey: 'ab'.repeat(16),
    });
    expect(groupOfKey(`tails-launch/launch/identity/${'ab'.repeat(16)}/identity/identity`)).toMatchObject({
      profile: 'identity',
      identity: 'identity',
    });
    expect(groupOfKey('tails-launch/app/renewed')).toMatchObject({ profile: 'renewed', launchKey: null });
    expect(groupOfKey('tails-launch/app/identity/identity/x')).toMatchObject({ profile: 'identity', identity: 'x' });
    // Not ours: a renewal that is not 16 hex digits, or anything after it.
    for (const bad of [
      'tails-launch/app/electrum/renewed/0123',
      'tails-launch/app/electrum/renewed/0123456789abcdef/x',
      'tails-launch/launch/curl/renewed/0123456789abcdef',
      'tails-launch/app/electrum/renewed',
      'tails-launch/app/electrum/identity',
      'tails-launch/app/electrum/identity/x/y',
      `tails-launch/launch/curl/${'ab'.repeat(16)}/renewed/0123456789abcdef`,
    ])
      expect(groupOfKey(bad), bad).toBeNull();
  });

  it('streams without credentials from a jail are told by the address Tor saw; with none of that, nothing is claimed', () => {
    const pool = parsePool('10.201.0.0/16');
    const address = appGroup(pool, appGroupKey(1000, 'electrum', null)).address;
    const jailed = groupCircuits(
      state([circuit('7', null)], [stream('1', '7', { sourceAddress: `${address}:40000` })]),
      { ...context, jail: { pool, uid: 1000 } },
    );
    expect(jailed[0]!.owner).toEqual({ kind: 'jail', profile: 'electrum', isolation: 'app', address });
    const unknown = groupCircuits(state([circuit('7', null)], [stream('1', '7')]), context);
    expect(unknown[0]!.owner).toEqual({ kind: 'unknown' });
    expect(labelOf({ kind: 'unknown' })).toMatch(/^not launched by tails-launch/);
  });

  it("what Tor repeats from a client is escaped: a site, a username, a target can't drive the terminal", () => {
    const groups = groupCircuits(
      state(
        [circuit('4', creds('ex\\x1b[2Jample.com:0', 'n')), circuit('6', creds('a\\x9bb', 's'))],
        [stream('1', '4', { target: 'evil\u001b[31m.com:80' })],
      ),
      context,
    );
    const text = formatCircuits({ version: 1, tor: '0.4.9.11', time: '2026-12-07T10:03:30.000Z', groups });
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(text).toContain('evil\\x1b[31m.com:80');
    // A purpose only a fake Tor sends: escaped too. A padded username is cut short of a line of its own.
    const odd = groupCircuits(
      state([
        parseCircuitLine(`9 BUILT ${PATH} PURPOSE="A\\nB"${creds(`x${' '.repeat(100)}alpha (isolation app)`, 's')}`)!,
      ]),
      context,
    );
    expect(odd[0]!.circuits[0]!.purpose).toBe('A\\nB');
    expect(odd[0]!.label.length).toBeLessThan(80);
    // UTF-8 from a client reads as UTF-8 (the control connection reads bytes as latin1).
    const utf8 = groupCircuits(
      state([circuit('5', creds(Buffer.from('café', 'utf8').toString('latin1'), 'p'))]),
      context,
    );
    expect(utf8[0]!.owner).toMatchObject({ kind: 'own', username: 'café' });
  });

  it('the text view: a heading per group, a line per circuit and stream, a summary', () => {
    const groups = groupCircuits(
      state(
        [circuit('1', creds('<torS0X>0', 'tails-launch/app/electrum'))],
        [stream('10', '1', { listener: 'default' })],
      ),
      context,
    );
    expect(formatCircuits({ version: 1, tor: '0.4.9.11', time: '2026-12-07T10:03:30.000Z', groups })).toBe(
      [
        'electrum (isolation app)',
        '  circuit 1  BUILT  3 min  guard1 $AAAAAAAA > middle1 $BBBBBBBB > exit1 $CCCCCCCC (de)',
        '    stream 10  SUCCEEDED  10.99.0.1:443  (listener default)',
        '',
        '1 group, 1 circuit, 1 stream (Tor 0.4.9.11, 2026-12-07 10:03:30 UTC)',
        '',
      ].join('\n'),
    );
  });
});

describe("a stream's listener, from the client address Tor reports", () => {
  const listeners = [
    { name: 'default', address: '127.0.0.1', port: 9050, netnsClient: null },
    { name: 'tails', address: '127.0.0.1', port: 9062, netnsClient: null },
    { name: 'browser', address: '10.200.1.1', port: 9050, netnsClient: '10.200.1.2' },
  ];
  // /proc/net/tcp: 127.0.0.1:41000 -> 127.0.0.1:9062 (0x2366), and another socket.
  const table = [
    '  sl  local_address rem_address   st',
    '   0: 0100007F:A028 0100007F:2366 01 00000000:00000000',
    '   1: 0100007F:A029 0100007F:235A 01 00000000:00000000',
    // Tor's own connection to a relay from the same local port as a client's (another 4-tuple).
    '   2: 0100007F:A02A 0100007F:13F0 01 00000000:00000000',
    '   3: 0100007F:A02A 0100007F:235A 01 00000000:00000000',
  ].join('\n');
  it('a loopback client: the peer of its socket is the SocksPort', () => {
    expect(peersIn(table, '127.0.0.1:41000')).toEqual(['127.0.0.1:9062']);
    expect(listenerOfSource('127.0.0.1:41000', listeners, () => table)).toBe('tails');
    // 0x235A is 9050: default.
    expect(listenerOfSource('127.0.0.1:41001', listeners, () => table)).toBe('default');
    // Two connections from 41002: the one to a listener tells.
    expect(listenerOfSource('127.0.0.1:41002', listeners, () => table)).toBe('default');
    expect(listenerOfSource('127.0.0.1:41003', listeners, () => table)).toBeNull();
  });
  it("a namespace's client address names its listener; the socket table is not read for it", () => {
    expect(
      listenerOfSource('10.200.1.2:5555', listeners, () => {
        throw new Error('read');
      }),
    ).toBe('browser');
    expect(listenerOfSource('10.9.9.9:1', listeners, () => table)).toBeNull();
    expect(listenerOfSource('garbage', listeners, () => table)).toBeNull();
  });
});

describe('the watch: STREAM events keep the streams, with what their NEW event said', () => {
  it('NEW gives the source and the listener; later events keep them; CLOSED removes; a handshake closed unopened never shows', () => {
    const live: LiveState = { streams: new Map() };
    const listenerOf = (source: string) => (source.startsWith('127.0.0.1:') ? 'default' : null);
    expect(applyEvent(live, 'STREAM 5 NEW 0 10.99.0.1:8080 SOURCE_ADDR=127.0.0.1:4000 PURPOSE=USER', listenerOf)).toBe(
      true,
    );
    expect(applyEvent(live, 'STREAM 5 SUCCEEDED 12 10.99.0.1:8080', listenerOf)).toBe(true);
    expect(live.streams.get('5')).toMatchObject({
      circuit: '12',
      sourceAddress: '127.0.0.1:4000',
      listener: 'default',
    });
    // The preflight's handshake: credentials, no request; Tor reports it closed, with no target.
    expect(applyEvent(live, 'STREAM 6 CLOSED 0 :0 SOCKS_USERNAME="<torS0X>0" SOCKS_PASSWORD="x"', listenerOf)).toBe(
      false,
    );
    expect(applyEvent(live, 'CIRC 12 BUILT', listenerOf)).toBe(true);
    expect(applyEvent(live, 'STREAM 5 CLOSED 12 10.99.0.1:8080 REASON=DONE', listenerOf)).toBe(true);
    expect(live.streams.size).toBe(0);
    expect(applyEvent(live, 'BW 1 2', listenerOf)).toBe(false);
  });
});

describe('the renewal of an app group', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tails-launch-renewal-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const uid = process.getuid!();

  it("lives in the caller's state directory, per profile and identity", () => {
    expect(renewalFile({ HOME: '/home/amnesia' }, 'electrum', null)).toBe(
      '/home/amnesia/.local/state/tails-launch/renewed/electrum/-',
    );
    expect(renewalFile({ HOME: '/h', XDG_STATE_HOME: '/s' }, 'electrum', 'work')).toBe(
      '/s/tails-launch/renewed/electrum/work',
    );
    // A relative XDG_STATE_HOME is ignored (the XDG spec); without an absolute HOME there is none.
    expect(renewalFile({ HOME: '/h', XDG_STATE_HOME: 'rel' }, 'e', null)).toBe(
      '/h/.local/state/tails-launch/renewed/e/-',
    );
    expect(renewalFile({ HOME: 'h' }, 'e', null, () => null)).toBeNull();
  });

  it('is written whole and read back; missing is none', () => {
    const file = join(dir, 'a', 'renewed', 'electrum', '-');
    expect(readRenewal(file, uid)).toBeNull();
    writeRenewal(file, '0123456789abcdef');
    expect(readFileSync(file, 'utf8')).toBe('0123456789abcdef\n');
    expect(readRenewal(file, uid)).toBe('0123456789abcdef');
    writeRenewal(file, 'fedcba9876543210');
    expect(readRenewal(file, uid)).toBe('fedcba9876543210');
  });

  it("is never written where it cannot be, in one line (77), and never loops (/proc/self: Node's recursive mkdir would)", () => {
    writeFileSync(join(dir, 'file-not-dir'), '');
    for (const base of ['/proc/self', '/sys', '/dev/null', join(dir, 'file-not-dir')]) {
      let error: unknown = null;
      try {
        writeRenewal(join(base, 'tails-launch', 'renewed', 'electrum', '-'), '0123456789abcdef');
      } catch (e) {
        error = e;
      }
      expect(error, base).toBeInstanceOf(LaunchError);
      expect((error as LaunchError).exitCode).toBe(77);
      expect((error as Error).message).toMatch(/^cannot keep the group renewal in .* -> /);
    }
  });

  it('a parent in its own tree that is not a directory refuses the launch; a HOME that is not one (/dev/null) is no renewal', () => {
    mkdirSync(join(dir, 'c', 'tails-launch', 'renewed'), { recursive: true });
    writeFileSync(join(dir, 'c', 'tails-launch', 'renewed', 'electrum'), 'x');
    expect(() => readRenewal(join(dir, 'c', 'tails-launch', 'renewed', 'electrum', '-'), uid)).toThrow(
      /renewal directory .* is not a directory/,
    );
    expect(readRenewal('/dev/null/.local/state/tails-launch/renewed/electrum/-', uid)).toBeNull();
    // Without an absolute HOME or XDG_STATE_HOME: the account's home, as the configuration layers.
    expect(renewalFile({}, 'e', null, () => '/home/amnesia')).toBe(
      '/home/amnesia/.local/state/tails-launch/renewed/e/-',
    );
  });

  it("anything else refuses the launch in one line: other text, a FIFO, a symlink, a directory, another user's file", () => {
    const refuses = (file: string, pattern: RegExp, owner = uid) => {
      let error: unknown = null;
      try {
        readRenewal(file, owner);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(LaunchError);
      expect((error as LaunchError).exitCode).toBe(65);
      expect((error as Error).message).toMatch(pattern);
      expect((error as Error).message).not.toContain('\n');
    };
    mkdirSync(join(dir, 'b'));
    writeFileSync(join(dir, 'b', 'text'), 'not hex\n');
    refuses(join(dir, 'b', 'text'), /is not what 'tails-launch new-identity' writes/);
    execFileSync('mkfifo', [join(dir, 'b', 'fifo')]);
    refuses(join(dir, 'b', 'fifo'), /FIFO/);
    writeFileSync(join(dir, 'b', 'target'), '0123456789abcdef\n');
    symlinkSync(join(dir, 'b', 'target'), join(dir, 'b', 'link'));
    refuses(join(dir, 'b', 'link'), /symbolic link/);
    refuses(join(dir, 'b'), /not a regular file|directory/);
    refuses(join(dir, 'b', 'target'), /belongs to uid/, uid + 1);
  });
});

describe('the command line and the control port', () => {
  it('circuits and new-identity take the control options; circuits --watch', () => {
    expect(parseArgs(['circuits', 'electrum', '--watch', '--json', '--control', 'unix:/run/tor/control'])).toEqual({
      kind: 'circuits',
      profiles: ['electrum'],
      json: true,
      watch: true,
      control: { address: 'unix:/run/tor/control' },
      options: { identity: null },
    });
    expect(parseArgs(['new-identity', 'electrum', '--identity', 'work'])).toMatchObject({
      kind: 'new-identity',
      profile: 'electrum',
      options: { identity: 'work' },
    });
    for (const bad of [
      ['new-identity'],
      ['new-identity', 'a', 'b'],
      ['new-identity', 'a', '--watch'],
      ['new-identity', 'a', '--jail'],
      ['circuits', '--watch', '--watch'],
      ['circuits', '--identity', 'x'],
      ['--identity', 'x', 'circuits'],
      ['circuits', '--wait-for-tor', '3'],
      ['doctor', '--watch'],
    ])
      expect(() => parseArgs(bad), bad.join(' ')).toThrow(LaunchError);
  });

  it("a user other than root reaches the filtered port (onion-grater) with no credentials; root and --control reach Tor's", () => {
    const config = {
      address: '127.0.0.1:9052',
      cookie_file: '/run/tor/control.authcookie',
      filtered_address: '127.0.0.1:951',
    };
    expect(controlTarget({}, config, 1000)).toEqual({ cli: {}, config: { address: '127.0.0.1:951' }, filtered: true });
    expect(controlTarget({}, config, 0)).toMatchObject({ config, filtered: false });
    expect(controlTarget({ address: '127.0.0.1:9051' }, config, 1000)).toMatchObject({ config, filtered: false });
    // Tor's cookie or password named: Tor's own port, never the filter.
    expect(controlTarget({ passwordFile: '/p' }, config, 1000)).toMatchObject({ config, filtered: false });
    const plain = { address: '127.0.0.1:9051' };
    expect(controlTarget({}, plain, 1000)).toMatchObject({ config: plain, filtered: false });
  });
});

describe('the desktop action', () => {
  const entry = [
    '[Desktop Entry]',
    'Type=Application',
    'Name=Electrum Bitcoin Wallet',
    'Exec=electrum %u',
    'Actions=Testnet;',
    '',
    '[Desktop Action Testnet]',
    'Name=Testnet mode',
    'Exec=electrum --testnet %u',
    '',
  ].join('\n');
  const input = (newCircuit: boolean) => ({
    kind: 'entry' as const,
    id: 'electrum.desktop',
    source: '/usr/share/applications/electrum.desktop',
    text: entry,
    launcher: '/usr/bin/tails-launch',
    profile: { name: 'electrum', command: '/usr/bin/electrum', callerArgs: 'any' as const, named: [], newCircuit },
  });
  it('"New Tor circuit for NAME" runs new-identity PROFILE, beside the application\'s own actions', () => {
    const text = rewrite(input(true));
    expect(text).toContain(`Actions=Testnet;${NEW_CIRCUIT_ACTION};\n`);
    expect(text).toContain(
      `\n\n[Desktop Action ${NEW_CIRCUIT_ACTION}]\nName=New Tor circuit for Electrum Bitcoin Wallet\nExec=/usr/bin/tails-launch new-identity electrum\n`,
    );
    expect(text).toContain('Exec=/usr/bin/tails-launch electrum -- --testnet %u');
    // desktop-file-validate, where installed, accepts it.
    const file = join(mkdtempSync(join(tmpdir(), 'tails-launch-action-')), 'electrum.desktop');
    writeFileSync(file, text);
    let validate: string | null = null;
    try {
      validate = execFileSync('desktop-file-validate', [file], { encoding: 'utf8' });
    } catch (error) {
      const e = error as { code?: string; stdout?: string };
      if (e.code !== 'ENOENT') validate = `failed: ${e.stdout}`;
    }
    if (validate !== null) expect(validate.split('\n').filter((l) => /error/i.test(l))).toEqual([]);
  });
  it('none for a profile whose circuits new-identity cannot tell (isolation application, process, none)', () => {
    expect(rewrite(input(false))).not.toContain(NEW_CIRCUIT_ACTION);
  });
});
