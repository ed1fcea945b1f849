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
  const error = await promise.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(ConfigError);
  return (error as Error).message;
}

describe('configuration layers', () => {
  it('are shipped, admin, user (XDG), or only --config-dir', () => {
    const layers = configLayers(undefined, { XDG_CONFIG_HOME: '/x', HOME: '/h' });
    expect(layers.map((l) => l.name)).toEqual(['shipped', 'admin', 'user']);
    expect(layers[1]!.dir).toBe('/etc/tails-launch');
    expect(layers[2]!.dir).toBe('/x/tails-launch');
    expect(configLayers(undefined, { XDG_CONFIG_HOME: 'relative', HOME: '/h' })[2]!.dir).toBe('/h/.config/tails-launch');
    expect(configLayers('/c', { HOME: '/h' })).toEqual([{ name: 'config-dir', dir: '/c' }]);
  });

  it('a later layer replaces a profile file whole, and a listener entry whole', async () => {
    const shipped = writeLayer('shipped', { 'listeners.yml': LISTENERS, 'profiles/default.yml': BASE, 'profiles/app.yml': `extends: default\ncommand: /bin/app\n` });
    const user = writeLayer('user', {
      'listeners.yml': 'listeners:\n  default: { address: 127.0.0.2, port: 9999 }\n',
      'profiles/app.yml': `extends: default\ncommand: /bin/other\nisolation: app\n`,
    });
    const profile = await resolveIn([shipped, user], 'app');
    expect(profile.command).toBe('/bin/other');
    expect(profile.isolation).toBe('app');
    expect(profile.listener).toMatchObject({ name: 'default', address: '127.0.0.2', port: 9999, flags: [] });
    expect(profile.sources).toEqual([join(user.dir, 'profiles/app.yml'), join(shipped.dir, 'profiles/default.yml')]);
  });

  it('extending its own name means the definition one layer down', async () => {
    const shipped = writeLayer('shipped', {
      'listeners.yml': LISTENERS,
      'profiles/default.yml': BASE,
      'profiles/pidgin.yml': 'extends: default\ncommand: /usr/bin/pidgin\nisolation: app\nenv:\n  set: { A: "1", B: "2" }\n',
    });
    const user = writeLayer('user', { 'profiles/pidgin.yml': 'extends: pidgin\nenv:\n  set: { C: "3" }\n  unset: [A]\n' });
    const profile = await resolveIn([shipped, user], 'pidgin');
    expect(profile.command).toBe('/usr/bin/pidgin');
    expect(profile.isolation).toBe('app');
    expect(profile.env).toEqual({ set: { B: '2', C: '3' }, unset: ['A'] });
    expect(profile.sources).toHaveLength(3);
  });

  it('looks a profile up by file name only: other profiles are never parsed', async () => {
    const layer = writeLayer('config-dir', { 'listeners.yml': LISTENERS, 'profiles/good.yml': BASE, 'profiles/broken.yml': 'isolation: [\n' });
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
    expect(await configError(resolveIn([layer], 'orphan'))).toMatch(/orphan\.yml:1: extends: no profile named 'missing'/);
    expect(await configError(resolveIn([layer], 'tb'))).toContain("reachable only from network namespace 'tbb'");
    expect(await configError(resolveIn([layer], 'envproc'))).toMatch(/base\.yml:2: isolation: .*needs backend torsocks/);
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
    expect(await configError(resolveIn([layer], 'deaf'))).toMatch(/deaf\.yml:2: isolation: listener 'deaf' has NoIsolateSOCKSAuth/);
    expect(await configError(resolveIn([layer], 'shy'))).toMatch(/shy\.yml:2: isolation: listener 'shy' has PreferSOCKSNoAuth/);
    // The last flag wins, as in Tor; and isolation none needs no credentials.
    await expect(resolveIn([layer], 'changed')).resolves.toMatchObject({ isolation: 'app' });
    await expect(resolveIn([layer], 'none')).resolves.toMatchObject({ isolation: 'none' });
  });

  it('needs at least one listener somewhere', async () => {
    const layer = writeLayer('config-dir', { 'profiles/default.yml': BASE });
    expect(await configError(loadListeners([layer]))).toContain('no listener is defined');
  });
});
