import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/profile/config-error';
import { readListenersFile, readProfileFile } from '../../src/profile/load';
import { listenersFileSchema, profileFileSchema } from '../../src/profile/schema';
import { writeLayer } from '../support/temp-config';
import { join } from 'node:path';

async function problems(kind: 'profile' | 'listeners', text: string) {
  const layer = writeLayer('config-dir', { [kind === 'profile' ? 'p.yml' : 'listeners.yml']: text });
  try {
    if (kind === 'profile') await readProfileFile(join(layer.dir, 'p.yml'));
    else await readListenersFile(join(layer.dir, 'listeners.yml'));
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).exitCode).toBe(65);
    return (error as ConfigError).problems.map(({ line, field, message }) => ({ line, field, message }));
  }
  throw new Error('expected a ConfigError');
}

describe('profile schema', () => {
  it('accepts a full profile', () => {
    const result = profileFileSchema.safeParse({
      description: 'x', extends: 'default', command: '/usr/bin/x', args: ['-a'], listener: 'default', isolation: 'app',
      backend: 'torsocks', env: { set: { A: '1' }, unset: ['B'] }, wait_for_tor: 5, netns: 'tbb', user: 'amnesia',
    });
    expect(result.success).toBe(true);
  });

  it('names the line and field of each mistake', async () => {
    const found = await problems('profile', ['description: fine', 'listener: default', 'isolation: sometimes', 'backend: direct', 'colour: blue', ''].join('\n'));
    expect(found).toEqual([
      { line: 3, field: 'isolation', message: 'must be one of "app", "launch", "process", "none"' },
      { line: 4, field: 'backend', message: 'must be one of "torsocks", "env", "proxychains"' },
      { line: 5, field: 'colour', message: "unknown field 'colour'" },
    ]);
  });

  it('refuses proxy and loader variables in env.set, pointing at their line', async () => {
    const found = await problems('profile', ['env:', '  set:', '    FOO: ok', '    https_proxy: http://elsewhere:8080', '    LD_PRELOAD: /tmp/x.so', ''].join('\n'));
    expect(found.map((p) => [p.line, p.field])).toEqual([
      [4, 'env.set.https_proxy'],
      [5, 'env.set.LD_PRELOAD'],
    ]);
    expect(found[0]!.message).toContain('may not be set by a profile');
  });

  it('refuses relative commands with a slash, process isolation under env, bad names', async () => {
    expect((await problems('profile', 'command: bin/x\n'))[0]).toMatchObject({ line: 1, field: 'command' });
    expect((await problems('profile', 'backend: env\nisolation: process\n'))[0]).toMatchObject({ line: 2, field: 'isolation' });
    expect((await problems('profile', 'extends: ../etc/passwd\n'))[0]).toMatchObject({ line: 1, field: 'extends' });
  });

  it('reports YAML syntax errors with their line', async () => {
    const [problem] = await problems('profile', 'listener: default\nisolation: [app\nbackend: torsocks\n');
    expect(problem!.message).toMatch(/^syntax error/);
    expect(problem!.line).toBeGreaterThanOrEqual(2);
  });
});

describe('listener schema', () => {
  it('accepts the Tails layout, IPv6 and SessionGroup', () => {
    const ok = listenersFileSchema.safeParse({
      listeners: {
        upgrader: { address: '127.0.0.1', port: 9063, flags: ['NoIsolateDestAddr', 'NoIsolateDestPort', 'NoIsolateClientProtocol'] },
        v6: { address: '::1', port: 9050, flags: ['SessionGroup=3', 'KeepAliveIsolateSOCKSAuth'] },
      },
    });
    expect(ok.success).toBe(true);
  });

  it('refuses host names, bad ports and unknown flags, by line', async () => {
    const found = await problems(
      'listeners',
      ['listeners:', '  default:', '    address: localhost', '    port: 70000', '    flags: [IsolateDestAddr, IsolateEverything]', ''].join('\n'),
    );
    expect(found.map((p) => [p.line, p.field])).toEqual([
      [3, 'listeners.default.address'],
      [4, 'listeners.default.port'],
      [5, 'listeners.default.flags.1'],
    ]);
    expect(found[0]!.message).toContain('numeric');
    expect(found[2]!.message).toBe('must be a Tor SocksPort flag (see tor(1), SocksPort)');
  });
});
