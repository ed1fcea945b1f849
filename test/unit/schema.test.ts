import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/profile/config-error';
import { readListenersFile, readProfileFile } from '../../src/profile/load';
import { listenersFileSchema, MAX_EXEC_STRING_BYTES, profileFileSchema } from '../../src/profile/schema';
import { writeLayer } from '../support/temp-config';
import { join } from 'node:path';
import { EXIT } from '../support/expected';

async function problems(kind: 'profile' | 'listeners', text: string) {
  const layer = writeLayer('config-dir', { [kind === 'profile' ? 'p.yml' : 'listeners.yml']: text });
  try {
    if (kind === 'profile') await readProfileFile(join(layer.dir, 'p.yml'));
    else await readListenersFile(join(layer.dir, 'listeners.yml'));
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).exitCode).toBe(EXIT.config);
    return (error as ConfigError).problems.map(({ line, field, message }) => ({ line, field, message }));
  }
  throw new Error('expected a ConfigError');
}

describe('profile schema', () => {
  it('accepts a full profile', () => {
    const result = profileFileSchema.safeParse({
      description: 'x',
      extends: 'default',
      command: '/usr/bin/x',
      args: ['-a'],
      listener: 'default',
      isolation: 'app',
      backend: 'torsocks',
      env: { set: { A: '1' }, unset: ['B'] },
      wait_for_tor: 5,
      netns: 'tbb',
      user: 'amnesia',
    });
    expect(result.success).toBe(true);
  });

  it('names the line and field of each mistake', async () => {
    const found = await problems(
      'profile',
      ['description: fine', 'listener: default', 'isolation: sometimes', 'backend: direct', 'colour: blue', ''].join(
        '\n',
      ),
    );
    expect(found).toEqual([
      { line: 3, field: 'isolation', message: 'must be one of "app", "launch", "process", "none", "application"' },
      { line: 4, field: 'backend', message: 'must be one of "torsocks", "env", "proxychains", "own-setting"' },
      { line: 5, field: 'colour', message: "unknown field 'colour'" },
    ]);
  });

  it('refuses proxy and loader variables in env.set, pointing at their line', async () => {
    const found = await problems(
      'profile',
      ['env:', '  set:', '    FOO: ok', '    https_proxy: http://elsewhere:8080', '    LD_PRELOAD: /tmp/x.so', ''].join(
        '\n',
      ),
    );
    expect(found.map((p) => [p.line, p.field])).toEqual([
      [4, 'env.set.https_proxy'],
      [5, 'env.set.LD_PRELOAD'],
    ]);
    expect(found[0]!.message).toContain('may not be set by a profile');
  });

  // (Process isolation under env is the env backend's own rule, checked on the resolved profile: resolve.test.ts.)
  it('refuses relative commands with a slash, bad names', async () => {
    expect((await problems('profile', 'command: bin/x\n'))[0]).toMatchObject({ line: 1, field: 'command' });
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
        upgrader: {
          address: '127.0.0.1',
          port: 9063,
          flags: ['NoIsolateDestAddr', 'NoIsolateDestPort', 'NoIsolateClientProtocol'],
        },
        v6: { address: '::1', port: 9050, flags: ['SessionGroup=3', 'KeepAliveIsolateSOCKSAuth'] },
      },
    });
    expect(ok.success).toBe(true);
  });

  it('refuses host names, bad ports and unknown flags, by line', async () => {
    const found = await problems(
      'listeners',
      [
        'listeners:',
        '  default:',
        '    address: localhost',
        '    port: 70000',
        '    flags: [IsolateDestAddr, IsolateEverything]',
        '',
      ].join('\n'),
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

/** Problems of a profile written as a .json file (JSON spells NUL \u0000). */
async function jsonProblems(data: unknown) {
  const layer = writeLayer('config-dir', { 'p.json': `${JSON.stringify(data, null, 2)}\n` });
  try {
    await readProfileFile(join(layer.dir, 'p.json'));
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems.map(({ line, field, message }) => ({ line, field, message }));
  }
  throw new Error('expected a ConfigError');
}

describe('values execve cannot carry', () => {
  const NUL = 'contains a NUL byte, which execve cannot pass';

  it('refuses a NUL byte in args and env values (YAML "\\0"), naming line and field', async () => {
    const found = await problems(
      'profile',
      ['listener: default', 'args: [ok, "a\\0b"]', 'env:', '  set:', '    GOOD: fine', '    BAD: "x\\0"', ''].join(
        '\n',
      ),
    );
    expect(found).toEqual([
      { line: 2, field: 'args.1', message: NUL },
      { line: 6, field: 'env.set.BAD', message: NUL },
    ]);
  });

  it('refuses a NUL byte written as JSON \\u0000', async () => {
    const found = await jsonProblems({ listener: 'default', args: ['-x', 'a\u0000'], env: { set: { V: '\u0000' } } });
    expect(found.map((p) => [p.field, p.message])).toEqual([
      ['args.1', NUL],
      ['env.set.V', NUL],
    ]);
    expect(found[0]!.line).toBeGreaterThan(1);
  });

  it('refuses environment names with "=" or a NUL byte', async () => {
    const found = await jsonProblems({ env: { set: { 'A=B': 'x', 'C\u0000': 'y' }, unset: ['D=E'] } });
    expect(found.map((p) => p.field)).toEqual(['env.set.A=B', 'env.set.C\\x00', 'env.unset.0']);
    for (const p of found) expect(p.message).toMatch(/^must be an environment variable name/);
  });

  it('refuses an argument or NAME=value longer than one execve string (MAX_ARG_STRLEN)', async () => {
    const long = 'x'.repeat(MAX_EXEC_STRING_BYTES + 1);
    const found = await jsonProblems({ args: [long] });
    expect(found.map((p) => p.field)).toEqual(['args.0']);
    expect(found[0]!.message).toBe(`is longer than execve accepts (${MAX_EXEC_STRING_BYTES} bytes)`);
    // LONG=... is one byte over as a whole string (5 + value).
    const env = await jsonProblems({ env: { set: { LONG: 'y'.repeat(MAX_EXEC_STRING_BYTES - 4) } } });
    expect(env).toEqual([
      {
        line: expect.any(Number),
        field: 'env.set.LONG',
        message: `NAME=value is longer than execve accepts (${MAX_EXEC_STRING_BYTES} bytes)`,
      },
    ]);
    // And at the bound exactly, both are fine.
    expect(
      profileFileSchema.safeParse({
        args: ['x'.repeat(MAX_EXEC_STRING_BYTES)],
        env: { set: { LONG: 'y'.repeat(MAX_EXEC_STRING_BYTES - 5) } },
      }).success,
    ).toBe(true);
  });

  it('refuses a NUL byte in the control port settings (paths and address)', async () => {
    const found = await problems(
      'listeners',
      ['listeners: {}', 'control:', '  address: "127.0.0.1:9051\\0"', '  cookie_file: "/run/tor/x\\0"', ''].join('\n'),
    );
    expect(found.map((p) => [p.line, p.field, p.message])).toEqual([
      [3, 'control.address', 'contains a NUL byte'],
      [4, 'control.cookie_file', 'contains a NUL byte'],
    ]);
  });
});

describe('what a file may stand for', () => {
  it('refuses a YAML alias bomb (a 1 MB scalar referenced 3000 times) in one short line', async () => {
    const bomb = `listener: default\ndescription: &big ${'x'.repeat(1_000_000)}\nargs: [${Array(3000).fill('*big').join(', ')}]\n`;
    const found = await problems('profile', bomb);
    expect(found).toEqual([
      {
        line: undefined,
        field: undefined,
        message: expect.stringMatching(/^stands for more than 2 MiB of data once its YAML aliases/),
      },
    ]);
  });

  it('refuses nested aliases ("billion laughs") and an alias cycle', async () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++)
      levels.push(
        `${'abcdefghij'[i]}: &${'abcdefghij'[i]} [${Array(10)
          .fill(`*${'abcdefghij'[i - 1]}`)
          .join(', ')}]`,
      );
    expect((await problems('profile', `${levels.join('\n')}\n`))[0]!.message).toMatch(/^stands for more than 2 MiB/);
    expect((await problems('profile', 'args: &a [*a]\n'))[0]!.message).toBe('nests deeper than 64 levels');
  });

  it('still accepts aliases that stay small', async () => {
    const layer = writeLayer('config-dir', { 'p.yml': 'listener: &l default\ndescription: *l\nargs: &a [one, two]\n' });
    expect(await readProfileFile(join(layer.dir, 'p.yml'))).toMatchObject({
      description: 'default',
      args: ['one', 'two'],
    });
  });

  it('names an unknown key of a huge file in a short, escaped message', async () => {
    const key = `k\u001b[2J${'y'.repeat(500_000)}`;
    const found = await jsonProblems({ listener: 'default', [key]: 1 });
    expect(found).toHaveLength(1);
    expect(found[0]!.message).toBe(`unknown field 'k\\x1b[2J${'y'.repeat(75)}…(500005 characters)'`);
    expect(found[0]!.field!.length).toBeLessThan(200);
  });
});
