import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ConfigError } from '../../src/profile/config-error';
import { configLayers } from '../../src/profile/layers';
import { findProfile, loadListeners } from '../../src/profile/load';
import { resolveProfile, UnknownProfileError } from '../../src/profile/resolve';
import { LISTENERS, writeLayer } from '../support/temp-config';

const BASE = 'listener: default\nisolation: launch\nbackend: torsocks\n';

async function resolveIn(layers: ReturnType<typeof writeLayer>[], name: string) {
  return resolveProfile(layers, await loadListeners(layers), name);
}

async function configError(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return (error as Error).message;
}

describe('configuration layers', () => {
  it('are shipped, admin, user (XDG), or only --config-dir', () => {
    const layers = configLayers(undefined, { XDG_CONFIG_HOME: '/x', HOME: '/h' });
    expect(layers.map((l) => l.name)).toEqual(['shipped', 'admin', 'user']);
    expect(layers[1]!.dir).toBe('/etc/tails-launch');
    expect(layers[2]!.dir).toBe('/x/tails-launch');
    expect(configLayers(undefined, { XDG_CONFIG_HOME: 'relative', HOME: '/h' })[2]!.dir).toBe(
      '/h/.config/tails-launch',
    );
    expect(configLayers('/c', { HOME: '/h' })).toEqual([{ name: 'config-dir', dir: '/c' }]);
  });

  it('a later layer replaces a profile file whole, and a listener entry whole', async () => {
    // The admin layer may change anything (the user layer may not weaken: see below).
    const shipped = writeLayer('shipped', {
      'listeners.yml': LISTENERS,
      'profiles/default.yml': BASE,
      'profiles/app.yml': `extends: default\ncommand: /bin/app\n`,
    });
    const admin = writeLayer('admin', {
      'listeners.yml': 'listeners:\n  default: { address: 127.0.0.2, port: 9999 }\n',
      'profiles/app.yml': `extends: default\ncommand: /bin/other\nisolation: app\n`,
    });
    const profile = await resolveIn([shipped, admin], 'app');
    expect(profile.command).toBe('/bin/other');
    expect(profile.isolation).toBe('app');
    expect(profile.listener).toMatchObject({
      name: 'default',
      layer: 'admin',
      address: '127.0.0.2',
      port: 9999,
      flags: [],
    });
    expect(profile.sources).toEqual([join(admin.dir, 'profiles/app.yml'), join(shipped.dir, 'profiles/default.yml')]);
  });

  it('extending its own name means the definition one layer down', async () => {
    const shipped = writeLayer('shipped', {
      'listeners.yml': LISTENERS,
      'profiles/default.yml': BASE,
      'profiles/pidgin.yml':
        'extends: default\ncommand: /usr/bin/pidgin\nisolation: app\nenv:\n  set: { A: "1", B: "2" }\n',
    });
    const user = writeLayer('user', {
      'profiles/pidgin.yml': 'extends: pidgin\nenv:\n  set: { C: "3" }\n  unset: [A]\n',
    });
    const profile = await resolveIn([shipped, user], 'pidgin');
    expect(profile.command).toBe('/usr/bin/pidgin');
    expect(profile.isolation).toBe('app');
    expect(profile.env).toEqual({ set: { B: '2', C: '3' }, unset: ['A'], keep: null });
    expect(profile.sources).toHaveLength(3);
  });

  it('looks a profile up by file name only: other profiles are never parsed', async () => {
    const layer = writeLayer('config-dir', {
      'listeners.yml': LISTENERS,
      'profiles/good.yml': BASE,
      'profiles/broken.yml': 'isolation: [\n',
    });
    await expect(resolveIn([layer], 'good')).resolves.toMatchObject({ name: 'good' });
  });

  it('refuses unknown and malformed profile names as unknown', async () => {
    const layer = writeLayer('config-dir', { 'listeners.yml': LISTENERS, 'profiles/default.yml': BASE });
    await expect(resolveIn([layer], 'nope')).rejects.toBeInstanceOf(UnknownProfileError);
    expect(findProfile([layer], '../profiles/default')).toBeNull();
    expect(findProfile([layer], 'Default')).toBeNull();
  });

  it('reports missing fields, unknown listeners, cycles and netns mismatches with their file', async () => {
    const layer = writeLayer('config-dir', {
      'listeners.yml': LISTENERS,
      'profiles/bare.yml': 'command: /bin/x\n',
      'profiles/lost.yml': 'listener: nowhere\nisolation: app\nbackend: torsocks\n',
      'profiles/a.yml': 'extends: b\n',
      'profiles/b.yml': 'extends: a\n',
      'profiles/orphan.yml': 'extends: missing\n',
      'profiles/tb.yml': 'listener: browser\nisolation: none\nbackend: env\n',
      'profiles/envproc.yml': 'extends: base\nbackend: env\n',
      'profiles/base.yml': 'listener: default\nisolation: process\nbackend: torsocks\n',
    });
    expect(await configError(resolveIn([layer], 'bare'))).toContain('sets no listener');
    expect(await configError(resolveIn([layer], 'lost'))).toMatch(/lost\.yml:1: listener: no listener named 'nowhere'/);
    expect(await configError(resolveIn([layer], 'a'))).toContain('cycle');
    expect(await configError(resolveIn([layer], 'orphan'))).toMatch(
      /orphan\.yml:1: extends: no profile named 'missing'/,
    );
    expect(await configError(resolveIn([layer], 'tb'))).toContain("reachable only from network namespace 'tbb'");
    expect(await configError(resolveIn([layer], 'envproc'))).toMatch(
      /base\.yml:2: isolation: .*needs backend torsocks/,
    );
  });

  it('refuses credential isolation on a port that ignores or avoids credentials', async () => {
    const layer = writeLayer('config-dir', {
      'listeners.yml': `listeners:
  deaf: { address: 127.0.0.1, port: 9070, flags: [IsolateDestAddr, NoIsolateSOCKSAuth] }
  shy: { address: 127.0.0.1, port: 9071, flags: [PreferSOCKSNoAuth] }
  changed: { address: 127.0.0.1, port: 9072, flags: [NoIsolateSOCKSAuth, IsolateSOCKSAuth] }
`,
      'profiles/deaf.yml': 'listener: deaf\nisolation: app\nbackend: torsocks\n',
      'profiles/shy.yml': 'listener: shy\nisolation: launch\nbackend: env\n',
      'profiles/changed.yml': 'listener: changed\nisolation: app\nbackend: torsocks\n',
      'profiles/none.yml': 'listener: deaf\nisolation: none\nbackend: torsocks\n',
    });
    expect(await configError(resolveIn([layer], 'deaf'))).toMatch(
      /deaf\.yml:2: isolation: listener 'deaf' has NoIsolateSOCKSAuth/,
    );
    expect(await configError(resolveIn([layer], 'shy'))).toMatch(
      /shy\.yml:2: isolation: listener 'shy' has PreferSOCKSNoAuth/,
    );
    // The last flag wins, as in Tor; and isolation none needs no credentials.
    await expect(resolveIn([layer], 'changed')).resolves.toMatchObject({ isolation: 'app' });
    await expect(resolveIn([layer], 'none')).resolves.toMatchObject({ isolation: 'none' });
  });

  it('an error in a profile that is extended says which profile extends it', async () => {
    const layer = writeLayer('shipped', {
      'listeners.yml': LISTENERS,
      'profiles/p2.yml': `${BASE}bogus: 1\n`,
      'profiles/c2.yml': 'extends: p2\n',
    });
    const c2 = join(layer.dir, 'profiles', 'c2.yml');
    expect(await configError(resolveIn([layer], 'c2'))).toMatch(
      new RegExp(
        `p2\\.yml:4: bogus: unknown field 'bogus' \\(profile 'c2' in ${c2.replace(/[.]/g, '\\.')} extends it\\)`,
      ),
    );
    // Asked for directly, it needs no such note.
    expect(await configError(resolveIn([layer], 'p2'))).toMatch(/p2\.yml:4: bogus: unknown field 'bogus'$/);
  });

  it('needs at least one listener somewhere', async () => {
    const layer = writeLayer('config-dir', { 'profiles/default.yml': BASE });
    expect(await configError(loadListeners([layer]))).toContain('no listener is defined');
  });
});

describe('the user layer may add, never weaken', () => {
  // A small system (shipped + admin) like the real one: default/ssh on `default`,
  // the security check on `tails`, the IUK download on `upgrader` as its own user.
  const SYSTEM_LISTENERS = `listeners:
  default: { address: 127.0.0.1, port: 9050, flags: [IsolateDestAddr, IsolateDestPort] }
  tails: { address: 127.0.0.1, port: 9062, flags: [IsolateDestAddr, IsolateDestPort] }
  upgrader: { address: 127.0.0.1, port: 9063, flags: [NoIsolateDestAddr, NoIsolateDestPort] }
`;
  const shippedFiles = {
    'listeners.yml': SYSTEM_LISTENERS,
    'profiles/default.yml': BASE,
    'profiles/ssh.yml': 'extends: default\ncommand: /usr/bin/ssh\n',
    'profiles/check.yml': 'command: /usr/bin/check\nlistener: tails\nisolation: app\nbackend: torsocks\n',
    'profiles/iuk.yml': 'command: /usr/bin/iuk\nlistener: upgrader\nisolation: none\nbackend: torsocks\nuser: iuk\n',
    'profiles/web.yml': 'listener: default\nisolation: app\nbackend: env\n',
    'profiles/chains.yml': 'listener: default\nisolation: app\nbackend: proxychains\nacknowledge: [udp-leak]\n',
  };
  const layered = (user: Record<string, string>, admin: Record<string, string> = {}) => {
    const shipped = writeLayer('shipped', shippedFiles);
    return { layers: [shipped, writeLayer('admin', admin), writeLayer('user', user)], shipped };
  };

  it.each([
    // [user file, its text, profile, expected line:field and message]
    [
      'check.yml',
      'extends: check\nlistener: upgrader\nisolation: none\n',
      'check',
      /check\.yml:2: listener: may not change the listener of the system profile 'check' \(listener tails, from \S+\/profiles\/check\.yml\) to upgrader: remove the line, or ask the administrator \(and 1 more: run 'tails-launch validate'\)$/,
    ],
    [
      'ssh.yml',
      'extends: ssh\nbackend: env\n',
      'ssh',
      /ssh\.yml:2: backend: may not weaken the system profile 'ssh' \(backend torsocks, from \S+\/profiles\/default\.yml\) to env \(allowed: torsocks\): remove the line/,
    ],
    [
      'check.yml',
      'extends: check\nisolation: none\n',
      'check',
      /check\.yml:2: isolation: may not weaken the system profile 'check' \(isolation app, from \S+\/check\.yml\) to none \(allowed: app, launch, process\)/,
    ],
    [
      'chains.yml',
      'extends: chains\nbackend: env\n',
      'chains',
      /chains\.yml:2: backend: .*\(backend proxychains, .*\) to env \(allowed: proxychains, torsocks\)/,
    ],
    [
      'iuk.yml',
      'extends: iuk\nuser: amnesia\n',
      'iuk',
      /iuk\.yml:2: user: may not change the placement of the system profile 'iuk' \(user iuk, from \S+\) to amnesia/,
    ],
    // A whole replacement that leaves a placement out drops it: the file is named, and the field.
    [
      'iuk.yml',
      'command: /usr/bin/iuk\nlistener: upgrader\nisolation: none\nbackend: torsocks\n',
      'iuk',
      /iuk\.yml:1: user: may not drop the placement of the system profile 'iuk' \(user iuk, from \S+\): set user: iuk, or ask the administrator$/,
    ],
    [
      'web.yml',
      'extends: web\nacknowledge: [udp-leak]\n',
      'web',
      /web\.yml:2: acknowledge: may not add the acknowledgement \[udp-leak\] to the system profile 'web' \(acknowledge \[\]\)/,
    ],
    // Replaced whole through another profile: the user's `extends` line carries the blame.
    [
      'ssh.yml',
      'description: mine\nextends: web\ncommand: /usr/bin/ssh\nisolation: launch\n',
      'ssh',
      /ssh\.yml:2: backend: may not weaken the system profile 'ssh' \(backend torsocks, from \S+\/default\.yml\) to env \(allowed: torsocks\): set backend: torsocks, or ask the administrator$/,
    ],
  ])('refuses a user %s weakening %s', async (file, text, name, expected) => {
    const { layers } = layered({ [`profiles/${file}`]: text });
    const message = await configError(resolveIn(layers, name));
    expect(message).toContain(`invalid configuration: ${join(layers[2]!.dir, 'profiles', file)}:`);
    expect(message).toMatch(expected);
  });

  it('refuses a user override of a profile the system profile extends (user default.yml under the shipped ssh)', async () => {
    const { layers } = layered({ 'profiles/default.yml': 'extends: default\nisolation: none\n' });
    const user = join(layers[2]!.dir, 'profiles/default.yml');
    // Both the user's default and the shipped ssh that extends it.
    expect(await configError(resolveIn(layers, 'default'))).toContain(
      `${user}:2: isolation: may not weaken the system profile 'default' (isolation launch`,
    );
    expect(await configError(resolveIn(layers, 'ssh'))).toContain(
      `${user}:2: isolation: may not weaken the system profile 'ssh' (isolation launch`,
    );
  });

  it('allows what weakens nothing: text fields, finer isolation, stronger backends, new placements, wait_for_tor', async () => {
    const { layers } = layered({
      'profiles/check.yml':
        'extends: check\ndescription: mine\ncommand: /opt/check\nargs: [-v]\nenv:\n  set: { LANG: C }\nisolation: process\nwait_for_tor: 30\n',
      'profiles/web.yml': 'extends: web\nbackend: torsocks\nisolation: launch\nnetns: mine\ncommand: /opt/web\n',
      'profiles/chains.yml': 'extends: chains\nbackend: torsocks\n',
      'profiles/iuk.yml': 'extends: iuk\nargs: [--debug]\n',
    });
    await expect(resolveIn(layers, 'check')).resolves.toMatchObject({
      description: 'mine',
      command: '/opt/check',
      args: ['-v'],
      isolation: 'process',
      waitForTor: 30,
    });
    await expect(resolveIn(layers, 'web')).resolves.toMatchObject({
      backend: 'torsocks',
      isolation: 'launch',
      placement: { netns: 'mine', user: null },
    });
    // The acknowledgement the system gave stays; it is not an added one.
    await expect(resolveIn(layers, 'chains')).resolves.toMatchObject({
      backend: 'torsocks',
      acknowledge: ['udp-leak'],
    });
    await expect(resolveIn(layers, 'iuk')).resolves.toMatchObject({ isolation: 'none', placement: { user: 'iuk' } });
  });

  it("allows new profiles of the user's own, whatever they do, even extending a system profile", async () => {
    const { layers } = layered({
      'listeners.yml': 'listeners:\n  mine: { address: 127.0.0.1, port: 19050 }\n',
      'profiles/myssh.yml': 'extends: ssh\nbackend: env\nisolation: none\n',
      'profiles/own.yml': 'listener: mine\nisolation: none\nbackend: env\n',
    });
    await expect(resolveIn(layers, 'myssh')).resolves.toMatchObject({
      backend: 'env',
      isolation: 'none',
      listener: { name: 'default' },
    });
    await expect(resolveIn(layers, 'own')).resolves.toMatchObject({
      listener: { name: 'mine', layer: 'user', port: 19050 },
    });
  });

  it('refuses a user listeners.yml that redefines a system listener, for every profile; a copy changing nothing is fine', async () => {
    const { layers, shipped } = layered({
      'listeners.yml':
        'listeners:\n  default: { address: 127.0.0.1, port: 9050, flags: [IsolateDestAddr, IsolateDestPort] }\n  tails:\n    address: 127.0.0.1\n    port: 9999\n',
    });
    const file = join(layers[2]!.dir, 'listeners.yml');
    for (const name of ['check', 'ssh']) {
      expect(await configError(resolveIn(layers, name))).toBe(
        `invalid configuration: ${file}:3: listeners.tails: may not redefine the system listener 'tails' (127.0.0.1:9062 [IsolateDestAddr IsolateDestPort], from ${join(shipped.dir, 'listeners.yml')}) as 127.0.0.1:9999: remove it (a new listener needs a new name), or ask the administrator`,
      );
    }
  });

  it('refuses user_may_override anywhere but the admin layer', async () => {
    const { layers } = layered({
      'listeners.yml': 'listeners: {}\nuser_may_override: [profiles]\n',
      'profiles/ssh.yml': 'extends: ssh\nbackend: env\n',
    });
    expect(await configError(resolveIn(layers, 'default'))).toMatch(
      /listeners\.yml:2: user_may_override: is honoured only in the administrator's \/\S+\/listeners\.yml: remove it$/,
    );
  });

  it('lets the administrator allow overrides in the admin listeners.yml', async () => {
    const user = {
      'listeners.yml': 'listeners:\n  tails: { address: 127.0.0.1, port: 9999 }\n',
      'profiles/ssh.yml': 'extends: ssh\nbackend: env\n',
    };
    const profilesOnly = layered(user, { 'listeners.yml': 'listeners: {}\nuser_may_override: [profiles]\n' });
    expect(await configError(resolveIn(profilesOnly.layers, 'ssh'))).toContain(
      "may not redefine the system listener 'tails'",
    );
    const both = layered(user, { 'listeners.yml': 'listeners: {}\nuser_may_override: [listeners, profiles]\n' });
    await expect(resolveIn(both.layers, 'ssh')).resolves.toMatchObject({ backend: 'env' });
    await expect(resolveIn(both.layers, 'check')).resolves.toMatchObject({
      listener: { name: 'tails', layer: 'user', port: 9999 },
    });
  });

  it('compares with the system profile as the admin layer left it', async () => {
    const admin = { 'profiles/check.yml': 'extends: check\nisolation: process\n' };
    const finer = layered({ 'profiles/check.yml': 'extends: check\nisolation: launch\n' }, admin);
    expect(await configError(resolveIn(finer.layers, 'check'))).toContain(
      `isolation: may not weaken the system profile 'check' (isolation process, from ${join(finer.layers[1]!.dir, 'profiles/check.yml')}) to launch (allowed: process)`,
    );
    // The admin layer itself may change anything.
    await expect(
      resolveIn(
        layered({}, { 'profiles/check.yml': 'extends: check\nisolation: none\nbackend: env\n' }).layers,
        'check',
      ),
    ).resolves.toMatchObject({ isolation: 'none', backend: 'env' });
  });

  it('compares nothing with --config-dir (one layer)', async () => {
    const layer = writeLayer('config-dir', {
      ...shippedFiles,
      'profiles/check.yml': 'command: /usr/bin/check\nlistener: upgrader\nisolation: none\nbackend: env\n',
    });
    await expect(resolveIn([layer], 'check')).resolves.toMatchObject({ isolation: 'none', backend: 'env' });
  });

  it('says which layer and file set each field', async () => {
    const { layers, shipped } = layered({
      'profiles/ssh.yml': 'extends: ssh\nisolation: process\nenv:\n  set: { A: "1" }\n  unset: [B]\n',
    });
    const profile = await resolveIn(layers, 'ssh');
    const user = join(layers[2]!.dir, 'profiles/ssh.yml');
    expect(profile.fieldSources).toEqual({
      command: { layer: 'shipped', file: join(shipped.dir, 'profiles/ssh.yml') },
      listener: { layer: 'shipped', file: join(shipped.dir, 'profiles/default.yml') },
      isolation: { layer: 'user', file: user },
      backend: { layer: 'shipped', file: join(shipped.dir, 'profiles/default.yml') },
      'env.set.A': { layer: 'user', file: user },
      'env.unset.B': { layer: 'user', file: user },
    });
    expect(Object.keys(profile.fieldSources).slice(0, 4)).toEqual(['command', 'listener', 'isolation', 'backend']);
  });
});

describe('weakening, field by field (pure)', () => {
  it('orders isolation finest first and backends strongest first', async () => {
    const { findWeakenings, ISOLATION_FINEST_FIRST, BACKENDS_STRONGEST_FIRST } =
      await import('../../src/profile/weaken');
    expect(ISOLATION_FINEST_FIRST).toEqual(['process', 'launch', 'app', 'none', 'application']);
    expect(BACKENDS_STRONGEST_FIRST).toEqual(['torsocks', 'proxychains', 'own-setting', 'env']);
    for (const [i, system] of ISOLATION_FINEST_FIRST.entries()) {
      for (const [j, user] of ISOLATION_FINEST_FIRST.entries()) {
        expect(findWeakenings({ isolation: system }, { isolation: user }).length, `${system} -> ${user}`).toBe(
          j > i ? 1 : 0,
        );
      }
    }
    for (const [i, system] of BACKENDS_STRONGEST_FIRST.entries()) {
      for (const [j, user] of BACKENDS_STRONGEST_FIRST.entries()) {
        // A jailed backend (own-setting, env) moved to a preload one loses its jail: weaker too.
        const losesJail = ['own-setting', 'env'].includes(system) && ['torsocks', 'proxychains'].includes(user);
        expect(findWeakenings({ backend: system }, { backend: user }).length, `${system} -> ${user}`).toBe(
          j > i || losesJail ? 1 : 0,
        );
      }
    }
    expect(findWeakenings({ netns: 'tbb' }, {})).toMatchObject([{ field: 'netns', kind: 'drop' }]);
    // Who may have a placed profile launched: the system's list only, neither dropped nor changed.
    expect(findWeakenings({ callers: ['amnesia'] }, {})).toMatchObject([
      { field: 'callers', kind: 'drop', system: '["amnesia"]', user: null },
    ]);
    expect(findWeakenings({ callers: ['amnesia'] }, { callers: ['amnesia', 'mallory'] })).toMatchObject([
      { field: 'callers', kind: 'change', user: '["amnesia","mallory"]' },
    ]);
    expect(findWeakenings({ callers: ['amnesia'] }, { callers: ['amnesia'] })).toEqual([]);
    // caller_args may only become stricter: any < non-options < none (absent is any).
    const CALLER_ARGS = ['any', 'non-options', 'none'] as const;
    for (const [i, system] of CALLER_ARGS.entries()) {
      for (const [j, user] of CALLER_ARGS.entries()) {
        expect(findWeakenings({ caller_args: system }, { caller_args: user }).length, `${system} -> ${user}`).toBe(
          j < i ? 1 : 0,
        );
      }
    }
    expect(findWeakenings({ caller_args: 'non-options' }, {})).toMatchObject([
      { field: 'caller_args', kind: 'looser', user: 'any' },
    ]);
    expect(findWeakenings({}, { netns: 'tbb', user: 'x' })).toEqual([]);
    expect(findWeakenings({ acknowledge: ['udp-leak'] }, { acknowledge: ['udp-leak'] })).toEqual([]);
    expect(
      findWeakenings(
        { listener: 'a', description: 'x', command: '/a', wait_for_tor: 1 },
        { listener: 'a', description: 'y', command: '/b', wait_for_tor: 9 },
      ),
    ).toEqual([]);
  });

  it('sees a listener copied unchanged as no change, and any difference in effect as one', async () => {
    const { sameListener } = await import('../../src/profile/weaken');
    const tails = { address: '127.0.0.1', port: 9062, flags: ['IsolateDestAddr'] };
    expect(sameListener(tails, { ...tails, description: 'mine' })).toBe(true);
    expect(sameListener(tails, { ...tails, client_address: '127.0.0.1', client_port: 9062 })).toBe(true);
    expect(sameListener(tails, { ...tails, port: 9063 })).toBe(false);
    expect(sameListener(tails, { ...tails, flags: [] })).toBe(false);
    expect(sameListener(tails, { ...tails, client_port: 1 })).toBe(false);
  });
});

describe('connects_as: the account whose firewall holds a program that lowers itself to it', () => {
  const shipped = () =>
    writeLayer('shipped', {
      'listeners.yml': LISTENERS,
      'profiles/clock.yml': `command: /usr/sbin/clock\nlistener: default\nisolation: app\nbackend: own-setting\nproxy: { args: [--proxy, "{socks.url}"] }\nguard: host\nconnects_as: htp\n`,
      'profiles/chat.yml': 'command: /usr/bin/chat\nlistener: default\nisolation: application\nbackend: own-setting\n',
    });

  it('the system layers say it (htpdate: started as root, connects as htp)', async () => {
    expect((await resolveIn([shipped()], 'clock')).connectsAs).toBe('htp');
    expect((await resolveIn([shipped()], 'chat')).connectsAs).toBeNull();
  });

  it.each([
    [
      "a profile of the user's own",
      'mine.yml',
      'command: /usr/bin/chat\nlistener: default\nisolation: application\nbackend: own-setting\nconnects_as: htp\n',
      'mine',
    ],
    ['a user file over a system profile', 'chat.yml', 'extends: chat\nconnects_as: htp\n', 'chat'],
    ['a user file changing it', 'clock.yml', 'extends: clock\nconnects_as: amnesia\n', 'clock'],
  ])('%s may not say it: a held account would take the program out of its jail', async (_what, file, text, name) => {
    const layers = [shipped(), writeLayer('admin', {}), writeLayer('user', { [`profiles/${file}`]: text })];
    expect(await configError(resolveIn(layers, name))).toMatch(
      /connects_as: only the shipped and admin layers may say which account a program connects as/,
    );
  });

  // Found by the attacker pass: `extends: apt` with a command of the user's ran unjailed, as mallory,
  // under a firewall declared for _apt only.
  it.each([
    [
      'a profile of its own that extends it',
      'mine.yml',
      'extends: clock\ncommand: /tmp/leak\ncallers: [mallory]\n',
      'mine',
    ],
    [
      'a user file over it, even without a new command',
      'clock.yml',
      'extends: clock\nenv: { set: { A: b } }\n',
      'clock',
    ],
  ])(
    'a user file may not build on it (%s): its program is not the one that lowers itself',
    async (_what, file, text, name) => {
      const layers = [shipped(), writeLayer('admin', {}), writeLayer('user', { [`profiles/${file}`]: text })];
      expect(await configError(resolveIn(layers, name))).toMatch(
        new RegExp(`profile '${name}' builds on a profile that connects as 'htp'`),
      );
    },
  );
});
