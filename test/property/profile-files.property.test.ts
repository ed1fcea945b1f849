// Property-based tests of the REAL launcher over generated profile files:
// valid-ish profiles (YAML or JSON) and mutations of them: wrong types,
// unknown fields (`__proto__` too), huge and odd numbers, NUL bytes, odd
// unicode, deep nesting, anchors and aliases (small alias bombs), YAML tags,
// duplicate keys, several documents, raw bytes spliced in (invalid UTF-8,
// a BOM, ESC). Each generated file is profiles/p.EXT of a configuration whose
// listeners are a live SOCKS5 server of the test's own, and whose command
// leaves a marker file when it runs: here a valid profile really launches.
// For each file, `validate FILE`, `validate` (the whole directory),
// `explain p` and a launch of p (the summary line counts the cases by these
// four statuses); whatever the file holds:
// - every exit status is one README documents (never 70, never a signal),
//   and stderr is `tails-launch: ...` lines without raw control characters,
//   stack frames or Node's own error output (one line for a refusal);
// - a launch happened (the marker is there) exactly when the launch exited 0,
//   and only from a configuration that validate and explain accept;
// - a configuration validate refuses is never launched: 64, 65 or 66;
// - validate FILE and validate agree that a file is invalid; explain and a
//   launch agree on "invalid configuration" (both use the same planning).
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import YAML from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { useSocks5Server, useTempDirs } from '../support/fixtures';
import { cleanEnv, runLauncher, type LauncherResult } from '../support/launcher';
import { checkProperty, expectCleanStderr, SCALE, Tally } from '../support/property';
import { EXIT } from '../support/expected';

const socks = useSocks5Server();
const { make: tempDir } = useTempDirs();

/** Where each case's configuration is written (one case at a time), and the marker application. */
let cases: string;
let app: string;
let marker: string;

beforeAll(() => {
  const dir = tempDir('profile-files');
  cases = join(dir, 'cases');
  mkdirSync(cases);
  marker = join(dir, 'marker');
  app = join(dir, 'app.sh');
  writeFileSync(app, `#!/bin/sh\necho ran >> '${marker}'\n`);
  chmodSync(app, 0o755);
});

/** Stands for the marker application's path in generated content (known only once the test runs). */
const APP = '@APP@';

// ---- generators ----------------------------------------------------------

/**
 * Mostly VALID values, sometimes one of the INVALID ones: a profile has up to
 * a dozen fields, and a run should still launch a fair share of its cases.
 */
const mostly = <T>(valid: T[], invalid: unknown[]) =>
  fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...valid) }, { weight: 1, arbitrary: fc.constantFrom(...invalid) });

const nasty = fc.string({
  unit: fc.constantFrom(
    '\n',
    '\r',
    '\t',
    '\x1b',
    '[',
    '\u009b',
    '\u202e',
    '\u2028',
    '\0',
    '\ufeff',
    'a',
    '"',
    "'",
    ':',
    '#',
    '&',
    '*',
    '!',
    '-',
    ' ',
    'é',
    '🧅',
  ),
  maxLength: 12,
});
const text = fc.oneof(fc.string({ maxLength: 20 }), nasty, fc.string({ unit: 'binary', maxLength: 12 }));
/** Ordinary names mostly; sometimes one the environment policy refuses, or no name at all. */
const envName = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('FOO', 'LANG', 'MY_VAR_1') },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'http_proxy',
      'ALL_PROXY',
      'TORSOCKS_CONF_FILE',
      'PROXYCHAINS_CONF_FILE',
      'LD_PRELOAD',
      'LD_AUDIT',
      'TAILS_LAUNCH_X',
      'bad name',
      '1X',
      '',
      'A=B',
      'A\0B',
    ),
  },
);
/** Rarely present (undefined is dropped before writing): placement makes a valid profile refuse to launch (77). */
const rarely = <T>(arbitrary: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary });

/** A profile object: every field optional, values mostly valid. */
const profileObject = fc.record(
  {
    description: fc.oneof({ weight: 6, arbitrary: fc.string({ maxLength: 20 }) }, { weight: 1, arbitrary: text }),
    extends: mostly(['base', 'base', 'spare-base'], ['p', 'nosuch', 'Base', '../base', '', 'base\0']),
    command: mostly([APP], ['app.sh', '/nonexistent/app', '', `${APP}\0`, 'bin/app', ' ']),
    args: fc.array(
      fc.oneof(
        { weight: 8, arbitrary: fc.string({ maxLength: 20 }) },
        { weight: 1, arbitrary: text },
        { weight: 1, arbitrary: fc.constant('a\0b') },
      ),
      { maxLength: 4 },
    ),
    listener: mostly(['default', 'spare'], ['nosuch', 'Default', '', 'default\n']),
    isolation: mostly(['app', 'launch', 'process', 'none', 'application'], ['sometimes', 'APP', '']),
    backend: mostly(['torsocks', 'env', 'proxychains', 'own-setting'], ['direct', 'none', 'TORSOCKS']),
    acknowledge: mostly([['udp-leak']], [[], ['bogus'], ['udp-leak', 'udp-leak'], 'udp-leak']),
    env: fc.record(
      {
        set: fc.dictionary(
          envName as fc.Arbitrary<string>,
          fc.oneof(
            { weight: 8, arbitrary: fc.string({ maxLength: 20 }) },
            { weight: 1, arbitrary: text },
            { weight: 1, arbitrary: fc.constant('a\0b') },
          ),
          { maxKeys: 3 },
        ),
        unset: fc.array(envName, { maxLength: 2 }),
      },
      { requiredKeys: [] },
    ),
    wait_for_tor: mostly([0, 1], [600, 601, -1, 1.5, 1e308, 2 ** 53 + 1, -0, '1']),
    netns: rarely(mostly(['tbb'], ['Bad Name', ''])),
    user: rarely(mostly(['nobody', 'root'], ['Bad', ''])),
  },
  { requiredKeys: [] },
);

const FIELDS = [
  'description',
  'extends',
  'command',
  'args',
  'listener',
  'isolation',
  'backend',
  'acknowledge',
  'env',
  'wait_for_tor',
  'netns',
  'user',
];
/** Values of the wrong type, or of the right type at the edges. */
const weird = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(
    1e308,
    -1e308,
    Number.MAX_SAFE_INTEGER + 2,
    -0,
    NaN,
    Infinity,
    -Infinity,
    0.1,
    null,
    true,
    [],
    {},
    'x\0y',
    '\ud800',
    '',
  ),
  text,
);
/** One mutation: a field (known or not, `__proto__` included) set to a weird value, or removed. */
const mutation = fc.record({
  key: fc.oneof(
    fc.constantFrom(...FIELDS),
    fc.constantFrom('frobnicate', '__proto__', 'constructor', 'toString', '', 'Listener', 'isolation '),
  ),
  value: fc.option(weird, { nil: undefined }),
});

function mutate(
  profile: Record<string, unknown>,
  mutations: { key: string; value: unknown }[],
): Record<string, unknown> {
  const out: Record<string, unknown> = Object.fromEntries(
    Object.entries(profile).filter(([, value]) => value !== undefined),
  );
  for (const { key, value } of mutations) {
    if (value === undefined) delete out[key];
    // defineProperty: an own `__proto__` key, as a parser would produce, not a prototype change here.
    else Object.defineProperty(out, key, { value, enumerable: true, configurable: true, writable: true });
  }
  return out;
}

/** A whole profile file: its extension and bytes (APP still a placeholder). */
interface GeneratedFile {
  ext: '.yml' | '.yaml' | '.json';
  text: string;
  /** Raw byte sequences spliced in after encoding. */
  splices: [number, number[]][];
}

/** Structured: a (mutated) object written as YAML or JSON. */
const structured = fc
  .record({
    profile: profileObject,
    // Half the objects as generated, half with 1-3 mutations.
    mutations: fc.oneof(
      fc.constant<{ key: string; value: unknown }[]>([]),
      fc.array(mutation, { minLength: 1, maxLength: 3 }),
    ),
    ext: fc.constantFrom<GeneratedFile['ext']>('.yml', '.yaml', '.json'),
  })
  .map(({ profile, mutations, ext }) => {
    const object = mutate(profile as Record<string, unknown>, mutations);
    return { ext, text: ext === '.json' ? JSON.stringify(object) : YAML.stringify(object) };
  });

/** Deeply nested flow collections, in a known field or not. */
const deepNesting = fc
  .record({
    depth: fc.integer({ min: 1, max: 20_000 }),
    field: fc.constantFrom('args', 'env', 'description', 'frobnicate'),
    map: fc.boolean(),
    json: fc.boolean(),
  })
  .map(({ depth, field, map, json }) => {
    const value = map
      ? `${json ? '{"a":'.repeat(depth) : '{a: '.repeat(depth)}1${'}'.repeat(depth)}`
      : `${'['.repeat(depth)}${']'.repeat(depth)}`;
    return json
      ? ({ ext: '.json', text: `{"extends":"base","${field}":${value}}` } as const)
      : ({ ext: '.yml', text: `extends: base\n${field}: ${value}\n` } as const);
  });

/**
 * Anchors and aliases: a chain of LEVELS anchors, each a list of FANOUT
 * aliases of the one before (an alias bomb expands to FANOUT^LEVELS leaves),
 * used in a field that takes a list of strings, a string, or an unknown one;
 * or a harmless alias of a string.
 */
const aliases = fc.oneof(
  fc
    .record({
      levels: fc.integer({ min: 1, max: 6 }),
      fanout: fc.integer({ min: 1, max: 8 }),
      leaf: fc.integer({ min: 1, max: 1000 }),
      use: fc.constantFrom('args', 'description', 'frobnicate', 'env'),
    })
    .map(({ levels, fanout, leaf, use }) => {
      const lines = ['extends: base', `x0: &x0 "${'l'.repeat(leaf)}"`];
      for (let i = 1; i < levels; i++)
        lines.push(`x${i}: &x${i} [${Array.from({ length: fanout }, () => `*x${i - 1}`).join(', ')}]`);
      lines.push(`${use}: *x${levels - 1}`);
      return { ext: '.yml', text: `${lines.join('\n')}\n` } as const;
    }),
  fc.constant({
    ext: '.yml',
    text: `description: &d hello\ncommand: ${APP}\nextends: base\nargs: [*d, *d]\n`,
  } as const),
  fc.constant({ ext: '.yml', text: `extends: base\nargs: &a [*a]\n` } as const),
  fc.constant({ ext: '.yml', text: `extends: base\nargs: *nosuch\n` } as const),
  fc.constant({ ext: '.yml', text: `extends: base\n<<: {listener: spare, isolation: none}\n` } as const),
);

/** YAML's corners: tags, duplicate keys, several documents, complex keys, directives. */
const yamlCorners = fc
  .constantFrom(
    'command: !!binary QEFQUEA=\n',
    'args: !!set {a, b}\n',
    'args: !!omap [a: 1]\n',
    'wait_for_tor: !!float 1\n',
    'wait_for_tor: !!int "1"\n',
    'wait_for_tor: 0x1\n',
    'wait_for_tor: 1_0\n',
    'description: !!timestamp 2001-12-14\n',
    'description: !!js/function "function(){}"\n',
    'description: !<tag:yaml.org,2002:str> hi\n',
    'isolation: none\nisolation: app\n',
    'listener: default\n---\nisolation: none\n',
    '--- \n...\n',
    '? [a, b]\n: c\n',
    '%YAML 1.1\n---\nisolation: app\n',
    '%TAG ! tag:example.com,2000:\n---\nisolation: !x app\n',
    'isolation: app # comment\u2028listener: spare\n',
    'env: {set: {FOO: *x}}\n',
    '"\\0": 1\n',
    'description: "\\x1b[2J\\u202e"\n',
    '',
    '[]\n',
    '"just a string"\n',
    '~\n',
  )
  .map((extra) => ({ ext: '.yml', text: `extends: base\n${extra}` }) as const);

/** Raw bytes that break decoders and terminals, spliced in after encoding. */
const BYTES = [
  [0x00],
  [0xff],
  [0xfe, 0xff],
  [0xef, 0xbb, 0xbf],
  [0x0d],
  [0x09],
  [0x1b],
  [0x7f],
  [0xc2, 0x9b],
  [0xe2, 0x80, 0xa8],
  [0x0a, 0x2d, 0x2d, 0x2d, 0x0a],
  [0x26],
  [0x2a],
  [0x21],
  [0x25],
  [0x7b],
  [0x22],
];
const splices = fc.array(fc.tuple(fc.nat(), fc.constantFrom(...BYTES)), { maxLength: 3 });

const generatedFile: fc.Arbitrary<GeneratedFile> = fc
  .tuple(
    fc.oneof(
      { weight: 8, arbitrary: structured },
      { weight: 1, arbitrary: deepNesting },
      { weight: 2, arbitrary: aliases },
      { weight: 2, arbitrary: yamlCorners },
    ),
    fc.oneof({ weight: 5, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: splices }),
  )
  .map(([file, bytes]) => ({ ...file, splices: bytes as [number, number[]][] }));

// ---- the property ----------------------------------------------------------

/** FILE's bytes with APP filled in and the splices made. */
function render(file: GeneratedFile): Buffer {
  let bytes = Buffer.from(file.text.replaceAll(APP, app));
  for (const [at, splice] of file.splices) {
    const i = at % (bytes.length + 1);
    bytes = Buffer.concat([bytes.subarray(0, i), Buffer.from(splice), bytes.subarray(i)]);
  }
  return bytes;
}

/** A configuration directory for one case: live listeners, a valid base, the generated p. */
function writeCase(file: GeneratedFile, n: number): { dir: string; path: string } {
  const dir = join(cases, String(n));
  mkdirSync(join(dir, 'profiles'), { recursive: true });
  const listener = (name: string) =>
    `  ${name}:\n    address: 127.0.0.1\n    port: ${socks.port}\n    flags: [IsolateDestAddr, IsolateDestPort]\n`;
  // What validate accepts is what this checks, not the guard: a firewall is declared for root, so an env or
  // own-setting profile runs unjailed and its marker (in a temporary directory) is seen.
  writeFileSync(
    join(dir, 'listeners.yml'),
    `listeners:\n${listener('default')}${listener('spare')}host_firewall: { description: "the test's", users: [root] }\n`,
  );
  writeFileSync(
    join(dir, 'profiles', 'base.yml'),
    `listener: default\nisolation: app\nbackend: torsocks\ncommand: ${app}\n`,
  );
  writeFileSync(join(dir, 'profiles', 'spare-base.yml'), 'extends: base\nlistener: spare\nbackend: env\n');
  const path = join(dir, 'profiles', `p${file.ext}`);
  writeFileSync(path, render(file));
  return { dir, path };
}

let counter = 0;
/** validate FILE/validate/explain/launch statuses per case, e.g. `0/0/0/0`. */
const tally = new Tally();

describe('the real launcher over generated profile files', () => {
  it(
    'never crashes, prints clean lines, and launches only what validate accepts',
    async () => {
      await checkProperty(
        'profile files -> validate, explain, launch: documented statuses, clean lines, no launch from an invalid configuration',
        fc.asyncProperty(generatedFile, async (file) => {
          rmSync(marker, { force: true });
          const { dir, path } = writeCase(file, counter++);
          try {
            const env = cleanEnv();
            const run = (args: string[]): Promise<LauncherResult> => runLauncher(args, { cwd: dir, env });
            // validate FILE judges the file against the configuration it would join (its `extends`, its listener).
            const fileCheck = await run(['--config-dir', dir, 'validate', path]);
            const dirCheck = await run(['--config-dir', dir, 'validate']);
            // With the launch's own arguments: a profile without a command takes it from them.
            const explain = await run(['--config-dir', dir, 'explain', 'p', '--', app]);
            const launch = await run(['--config-dir', dir, 'p', app]);
            const launched = existsSync(marker);
            const statuses = {
              fileCheck: fileCheck.exitCode,
              dirCheck: dirCheck.exitCode,
              explain: explain.exitCode,
              launch: launch.exitCode,
              launched,
            };
            tally.add(`${fileCheck.exitCode}/${dirCheck.exitCode}/${explain.exitCode}/${launch.exitCode}`);

            for (const check of [fileCheck, dirCheck]) {
              expectCleanStderr(check, false);
              expect([0, EXIT.config], JSON.stringify(statuses)).toContain(check.exitCode);
            }
            expect(fileCheck.stdout === '1 file valid', JSON.stringify(statuses)).toBe(fileCheck.exitCode === 0);
            expectCleanStderr(explain, explain.exitCode !== 0);
            expect([0, EXIT.usage, EXIT.config, EXIT.unknownProfile], JSON.stringify(statuses)).toContain(
              explain.exitCode,
            );
            // Exit 0 is the application's own: its stderr is not ours to judge.
            if (launch.exitCode !== 0) expectCleanStderr(launch, true);
            expect(launched, `launched <=> exit 0: ${JSON.stringify(statuses)}`).toBe(launch.exitCode === 0);

            // Never a launch from a configuration validate or explain refuses.
            if (dirCheck.exitCode === EXIT.config || fileCheck.exitCode === EXIT.config)
              expect([EXIT.usage, EXIT.config, EXIT.unknownProfile], JSON.stringify(statuses)).toContain(
                launch.exitCode,
              );
            if (launched) expect(statuses).toMatchObject({ fileCheck: 0, dirCheck: 0, explain: 0 });
            // The two validates agree on an invalid file; explain and launch plan alike.
            if (fileCheck.exitCode === EXIT.config)
              expect(dirCheck.exitCode, JSON.stringify(statuses)).toBe(EXIT.config);
            expect(explain.exitCode === EXIT.config, `explain and launch on 65: ${JSON.stringify(statuses)}`).toBe(
              launch.exitCode === EXIT.config,
            );
            // What validate accepts, a launch does not call invalid.
            if (dirCheck.exitCode === 0) expect(launch.exitCode, JSON.stringify(statuses)).not.toBe(EXIT.config);
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        }),
        150,
        280_000,
        tally,
      );
    },
    330_000 * SCALE,
  );
});
