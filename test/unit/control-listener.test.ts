// Control listeners (kind: control) and onion-grater filters: programs that
// only ask Tor's control port (Onion Circuits, Tor Connection). Their plan
// checks the control port, not a SocksPort; explain says Tor sees no SOCKS
// session; the filter the package ships for Tails is the profile's, and
// says what Tails' own file says (test/fixtures/tails7/onion-grater.d/,
// copied from Tails 7.6.2). Every rule that would let such a profile claim
// SOCKS isolation, or a filter no namespace tells apart, is refused.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadListeners } from '../../src/profile/load';
import { resolveProfile } from '../../src/profile/resolve';
import { ConfigError } from '../../src/profile/config-error';
import { onionGraterFile } from '../../src/tor/onion-grater';
import type { Layer } from '../../src/profile/layers';
import { writeLayer } from '../support/temp-config';
import { launchOf, planOf } from '../support/shipped-plan';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SHIPPED: Layer[] = [{ name: 'shipped', dir: ROOT }];
const tails = (file: string) =>
  parse(readFileSync(fileURLToPath(new URL(`../fixtures/tails7/onion-grater.d/${file}`, import.meta.url)), 'utf8'));

/** The filter file of a shipped profile, parsed as onion-grater's yaml.safe_load would. */
async function shippedFilter(name: string) {
  const profile = await resolveProfile(SHIPPED, await loadListeners(SHIPPED), name);
  return parse(onionGraterFile(name, ['10.200.1.6'], profile.controlFilter!, 'x')) as Record<string, unknown>[];
}

describe("the shipped control-port profiles say what Tails' onion-grater files say", () => {
  it.each([
    ['onion-circuits', 'onioncircuits.yml', '10.200.1.6'],
    ['tor-connection', 'tor-connection-assistant.yml', '10.200.1.10'],
    // Tails' file also names users: [amnesia], which onion-grater matches for loopback clients only.
    ['tor-browser', 'tor-browser.yml', '10.200.1.2'],
  ])('%s: the same commands, confs and events as Tails 7 %s, for %s', async (name, file, host) => {
    const [ours] = await shippedFilter(name);
    const [theirs] = tails(file);
    const { hosts: _hosts, ...body } = ours!;
    const { hosts, users: _users, ...tailsBody } = theirs;
    expect(body).toEqual(tailsBody);
    const plan = await planOf(name, [], null, {}, 'tails');
    expect(hosts).toEqual([host]);
    expect(plan.controlFilter?.hosts).toEqual([host]);
  });

  it('onion-circuits: a plan that checks the control port, not a SocksPort, and says Tor sees no SOCKS session', async () => {
    const plan = await planOf('onion-circuits', [], null, {}, 'tails');
    expect(plan.listener).toMatchObject({ kind: 'control', address: '10.200.1.5', port: 951, netns: 'onioncircs' });
    expect(plan.checks.map((c) => c.kind)).toContain('control');
    expect(plan.checks.map((c) => c.kind)).not.toContain('socks5');
    expect(plan.checks.find((c) => c.kind === 'control')).toMatchObject({ address: '127.0.0.1', port: 951 });
    expect(plan.torSees.credentials.kind).toBe('control');
    expect(plan.env.set).toMatchObject({ TOR_CONTROL_ADDRESS: '127.0.0.1', TOR_CONTROL_PORT: '951' });
    expect(plan.guard).toMatchObject({ kind: 'jail', by: 'netns' });
    expect(plan.controlFilter?.allows).toContain('CLOSECIRCUIT');
  });

  it('a SocksPort profile has no filter: onion-grater gives it nothing', async () => {
    const plan = await planOf('curl', [], null, {}, 'tails');
    expect(plan.controlFilter).toBeNull();
    expect(plan.listener.kind).toBe('socks');
  });
});

describe("descriptors into a jail: root's own launch of a profile that names them (Tails' tca wrapper), no one else's", () => {
  const fds = [0, 1, 2, 3, 4, 7];
  it('root launching tor-connection with 3, 4 and 7 open: 3 and 4 reach the jail, 7 does not', async () => {
    const { plan } = await launchOf('tor-connection', [], null, {}, 'debian', false, { uid: 0, fds, session: true });
    expect(plan.placement.via).toBe('self');
    expect(plan.sandbox).not.toBeNull();
    expect(plan.fds).toEqual([0, 1, 2, 3, 4]);
  });

  it('amnesia launching onion-circuits (through sudo): 0-2 only', async () => {
    const { plan } = await launchOf('onion-circuits', [], null, {}, 'debian', false, { uid: 1000, fds, session: true });
    expect(plan.placement.via).toBe('sudo');
    expect(plan.fds).toEqual([0, 1, 2]);
  });

  it('root launching a jailed profile that names none: 0-2 only', async () => {
    const { plan } = await launchOf('onion-circuits', [], null, {}, 'debian', false, { uid: 0, fds, session: true });
    expect(plan.sandbox).not.toBeNull();
    expect(plan.fds).toEqual([0, 1, 2]);
  });

  it('a user layer may not add a descriptor (the user layer may add, never weaken)', async () => {
    const user = writeLayer('user', {
      'profiles/onion-circuits.yml': 'extends: onion-circuits\nsandbox: { display: wayland, inherit_fds: [3] }\n',
    });
    const layers: Layer[] = [...SHIPPED, user];
    const error = await resolveProfile(layers, await loadListeners(layers), 'onion-circuits').catch((e: Error) => e);
    expect(String(error)).toMatch(/descriptor 3/);
  });
});

/** The first problem resolving PROFILE (with these listeners) reports, as `file:line: field: message`. */
async function problemOf(listeners: string, profile: string): Promise<string> {
  const layer = writeLayer('config-dir', { 'listeners.yml': listeners, 'profiles/p.yml': profile });
  try {
    await resolveProfile([layer], await loadListeners([layer]), 'p');
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.field ?? ''}: ${p.message}`).join('\n');
    throw error;
  }
  return 'resolved';
}

const CONTROL = `listeners:
  c: { kind: control, address: 10.200.1.5, port: 951, netns: ns, client_address: 127.0.0.1 }
  s: { address: 127.0.0.1, port: 9050 }
`;
const OK = `command: /usr/bin/true
listener: c
backend: own-setting
isolation: none
netns: ns
proxy: { env: { TOR_CONTROL_PORT: "{control.port}" } }
control_filter: { commands: { GETINFO: ['version'] } }
`;

describe('what a control listener and a filter may not be', () => {
  it('the rules below start from a profile that resolves', async () => {
    expect(await problemOf(CONTROL, OK)).toBe('resolved');
  });

  it.each([
    [
      'a LD_PRELOAD backend',
      OK.replace('own-setting', 'torsocks').replace(/proxy:.*\n/, ''),
      /use backend own-setting/,
    ],
    [
      'isolation by credentials',
      OK.replace('isolation: none', 'isolation: app'),
      /nothing to isolate: use isolation none/,
    ],
    ['a jail', `${OK}jail: true\n`, /a jail's one way out is a SOCKS forwarder/],
    [
      'a SocksPort placeholder',
      OK.replace('{control.port}', '{socks.port}'),
      /\{socks.port\} is for a SocksPort listener/,
    ],
  ])('%s, for a control listener', async (_what, profile, message) => {
    expect(await problemOf(CONTROL, profile)).toMatch(message);
  });

  it('a control placeholder for a SocksPort listener', async () => {
    const profile = OK.replace('listener: c', 'listener: s')
      .replace('netns: ns\n', '')
      .replace(/control_filter:.*\n/, '');
    expect(await problemOf(CONTROL, profile)).toMatch(/\{control.port\} is for a control listener/);
  });

  it('a filter for a listener reached from no namespace (onion-grater could not tell its clients apart)', async () => {
    const listeners = CONTROL.replace(', netns: ns, client_address: 127.0.0.1', '');
    expect(await problemOf(listeners, OK.replace('netns: ns\n', ''))).toMatch(
      /control_filter: an onion-grater filter tells its clients apart by the address of their network namespace/,
    );
  });

  it.each([
    [
      'flags on a control listener',
      CONTROL.replace('port: 951,', 'port: 951, flags: [IsolateDestAddr],'),
      OK,
      /no flags/,
    ],
    [
      'a jail port on a control listener',
      CONTROL.replace('port: 951,', 'port: 951, jail_port: 9070,'),
      OK,
      /no jail_port/,
    ],
    ['a pattern that is no regular expression', CONTROL, OK.replace("['version']", "['(']"), /a regular expression/],
    ['a pattern on two lines', CONTROL, OK.replace("['version']", '["a\\nb"]'), /one line/],
    // YAML reads a NEL back as a space: the file would not say what the profile says (the attacker pass).
    ['a pattern with a NEL', CONTROL, OK.replace("['version']", '["a\\u0085b"]'), /printable ASCII/],
    ['a command in lower case', CONTROL, OK.replace('GETINFO', 'getinfo'), /in capitals/],
    ['an unknown key in the filter', CONTROL, OK.replace('commands:', 'hosts: [1.2.3.4], commands:'), /hosts/],
  ])('%s', async (_what, listeners, profile, message) => {
    expect(await problemOf(listeners, profile).catch((e: Error) => e.message)).toMatch(message);
  });
});
