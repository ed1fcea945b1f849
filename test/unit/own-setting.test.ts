// Own-setting programs: the proxy templates, the rules that keep explain's
// statement of what Tor sees true, and the plan they make. Pure code on real
// temporary configuration directories.
import { hostGuard } from '../support/guards';
import { describe, expect, it } from 'vitest';
import { renderTemplate } from '../../src/backends/own-setting';
import { placeholdersIn } from '../../src/backends/placeholders';
import { buildPlan } from '../../src/plan/build-plan';
import type { Plan } from '../../src/plan/types';
import { ConfigError } from '../../src/profile/config-error';
import { loadListeners } from '../../src/profile/load';
import { resolveProfile } from '../../src/profile/resolve';
import { findWeakenings } from '../../src/profile/weaken';
import { LISTENERS, writeLayer } from '../support/temp-config';

const endpoint = { address: '127.0.0.1', port: 9062 };
const userpass = { kind: 'userpass' as const, username: '<torS0X>0', password: 'tails-launch/app/x' };

describe('proxy templates', () => {
  it('render every placeholder; credentials percent-encoded in the URL, empty without credentials', () => {
    const all = '{socks.address}|{socks.host}|{socks.port}|{socks.username}|{socks.password}|{socks.url}';
    expect(renderTemplate(all, endpoint, userpass)).toBe(
      '127.0.0.1|127.0.0.1|9062|<torS0X>0|tails-launch/app/x|socks5h://%3CtorS0X%3E0:tails-launch%2Fapp%2Fx@127.0.0.1:9062',
    );
    expect(renderTemplate(all, endpoint, { kind: 'none' })).toBe('127.0.0.1|127.0.0.1|9062|||socks5h://127.0.0.1:9062');
    expect(renderTemplate('{socks.host}:{socks.port}', { address: '::1', port: 9050 }, { kind: 'none' })).toBe(
      '[::1]:9050',
    );
    // Only placeholders are replaced: other braces stay (ssh's %h %p, JSON).
    expect(renderTemplate('nc -X 5 -x {socks.host}:{socks.port} %h %p {x}', endpoint, userpass)).toBe(
      'nc -X 5 -x 127.0.0.1:9062 %h %p {x}',
    );
  });

  it('tell known placeholders from unknown ones', () => {
    expect(placeholdersIn('--proxy={socks.url} {socks.pass} {socks.port}')).toEqual({
      known: ['socks.url', 'socks.port'],
      unknown: ['socks.pass'],
    });
  });
});

async function resolveText(text: string, name = 'p') {
  const layer = writeLayer('config-dir', { 'listeners.yml': LISTENERS, [`profiles/${name}.yml`]: text });
  return resolveProfile([layer], await loadListeners([layer]), name);
}
async function refusal(text: string): Promise<string> {
  const error = await resolveText(text).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return (error as Error).message;
}

describe('own-setting profiles: what Tor sees is what explain says', () => {
  it('isolation app or launch needs templates that hand the program the credentials', async () => {
    expect(
      await refusal(
        "listener: tails\nbackend: own-setting\nisolation: app\nproxy:\n  args: ['--proxy', '{socks.host}:{socks.port}']\n",
      ),
    ).toMatch(
      /p\.yml:3: isolation: isolation "app" needs credentials that reach Tor, but proxy hands the program none/,
    );
    await expect(
      resolveText(
        "listener: tails\nbackend: own-setting\nisolation: launch\nproxy:\n  args: ['--proxy', '{socks.url}']\n",
      ),
    ).resolves.toMatchObject({ isolation: 'launch' });
    await expect(
      resolveText(
        "listener: tails\nbackend: own-setting\nisolation: none\nproxy:\n  args: ['-x', '{socks.host}:{socks.port}']\n",
      ),
    ).resolves.toMatchObject({ isolation: 'none' });
  });

  it('isolation application only for own-setting; process never', async () => {
    expect(await refusal('listener: default\nbackend: torsocks\nisolation: application\n')).toMatch(
      /isolation "application" .* is for backend own-setting/,
    );
    expect(await refusal('listener: default\nbackend: env\nisolation: application\n')).toMatch(
      /is for backend own-setting/,
    );
    expect(await refusal('listener: default\nbackend: own-setting\nisolation: process\n')).toMatch(
      /isolation "process" needs backend torsocks/,
    );
    await expect(
      resolveText('listener: default\nbackend: own-setting\nisolation: application\n'),
    ).resolves.toMatchObject({ proxy: { args: [], env: {} } });
  });

  it('proxy belongs to own-setting; unknown placeholders and reserved variables are refused', async () => {
    expect(
      await refusal("listener: default\nbackend: torsocks\nisolation: app\nproxy:\n  args: ['{socks.url}']\n"),
    ).toMatch(/proxy: proxy is how an own-setting program is told its listener: backend torsocks does not use it/);
    expect(
      await refusal("listener: default\nbackend: own-setting\nisolation: none\nproxy:\n  args: ['{socks.pasword}']\n"),
    ).toMatch(/proxy\.args\.0: unknown placeholder \{socks\.pasword\}/);
    expect(
      await refusal(
        "listener: default\nbackend: own-setting\nisolation: none\nproxy:\n  env:\n    ALL_PROXY: '{socks.url}'\n",
      ),
    ).toMatch(/proxy\.env\.ALL_PROXY: may not be set/);
  });

  it('the user layer may not change or drop how a system own-setting profile hands over the listener', () => {
    const system = { proxy: { args: ['--proxy', '{socks.url}'] } };
    expect(findWeakenings(system, { proxy: { args: ['--proxy', '{socks.url}'] } })).toEqual([]);
    expect(findWeakenings(system, {})).toMatchObject([{ field: 'proxy', kind: 'drop' }]);
    expect(findWeakenings(system, { proxy: { args: [] } })).toMatchObject([{ field: 'proxy', kind: 'change' }]);
    expect(findWeakenings({ backend: 'own-setting' }, { backend: 'env' })).toMatchObject([
      { field: 'backend', kind: 'weaker' },
    ]);
    expect(findWeakenings({ isolation: 'none' }, { isolation: 'application' })).toMatchObject([
      { field: 'isolation', kind: 'coarser' },
    ]);
  });
});

async function planOf(text: string, args: string[] = [], identity: string | null = null): Promise<Plan> {
  const profile = await resolveText(text);
  return buildPlan({
    profile,
    identity,
    args,
    environment: { PATH: '/usr/bin:/bin', HOME: '/home/amnesia', ALL_PROXY: 'socks5://evil:1' },
    cwd: '/home/amnesia',
    fds: [0, 1, 2],
    execMethod: { method: 'execve', via: 'koffi' },
    randomHex: () => '0123456789abcdef0123456789abcdef',
    findExecutable: (command) => ({ status: 'ok', path: command }),
    followProgram: (path, argv) => ({ ok: true, file: path, argv, chain: [path] }),
    runtimeDir: null,
    // As on Tails: the host's firewall holds it (what a jail changes is tested in jail.test.ts).
    guard: hostGuard(profile.name),
  }).plan;
}

describe('the plan of an own-setting profile', () => {
  it("hands the listener and the group through the arguments (before the profile's own) and variables; no preload, no proxy variables", async () => {
    const plan = await planOf(
      "command: /usr/bin/app\nargs: [--quiet]\nlistener: tails\nbackend: own-setting\nisolation: app\nproxy:\n  args: ['--proxy', '{socks.url}']\n  env:\n    APP_SOCKS_PASSWORD: '{socks.password}'\n",
      ['user-arg'],
    );
    expect(plan.exec.argv).toEqual([
      '/usr/bin/app',
      '--proxy',
      'socks5h://%3CtorS0X%3E0:tails-launch%2Fapp%2Fp@127.0.0.1:9062',
      '--quiet',
      'user-arg',
    ]);
    expect(plan.exec.preload).toBeNull();
    expect(plan.env.set).toEqual({ APP_SOCKS_PASSWORD: 'tails-launch/app/p' });
    expect(plan.env.removed).toEqual(['ALL_PROXY']);
    expect(plan.torSees).toEqual({
      listener: 'tails',
      address: '127.0.0.1',
      port: 9062,
      credentials: { kind: 'userpass', username: '<torS0X>0', password: 'tails-launch/app/p', perLaunch: false },
      carriedBy: 'the application, from the proxy arguments and variables tails-launch hands it',
      clientAddress: null,
    });
    expect(plan.checks.find((c) => c.kind === 'socks5')).toMatchObject({ auth: 'userpass', port: 9062 });
  });

  it('isolation application: explain says the program decides, --identity is refused, the preflight offers no credentials', async () => {
    const text = 'command: /usr/bin/pidgin\nlistener: default\nbackend: own-setting\nisolation: application\n';
    const plan = await planOf(text);
    expect(plan.torSees.credentials).toMatchObject({
      kind: 'application',
      description: expect.stringMatching(/own settings/),
    });
    expect(plan.torSees.carriedBy).toBe('the application, from its own settings');
    expect(plan.isolation.socks).toMatchObject({ auth: 'application' });
    expect(plan.checks.find((c) => c.kind === 'socks5')).toMatchObject({ auth: 'none' });
    await expect(planOf(text, [], 'alice')).rejects.toThrow(
      /--identity cannot be honoured: .* isolation "application"/,
    );
  });
});
