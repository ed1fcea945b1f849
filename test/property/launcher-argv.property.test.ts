// Property-based tests of the REAL launcher (built bundle, sh front) over
// generated command lines: random options, commands, profile names with
// control characters, unicode or nothing at all, `--` anywhere, values that
// look like options. Whatever the argv:
// - the exit status is one README documents (never 70, never a signal);
// - stderr is `tails-launch: ...` lines, ONE for a refusal (validate and
//   list: one per problem), without raw control characters, stack frames or
//   Node's own error output;
// - nothing is launched: every profile's listener is a port where nothing
//   listens, so a launch that got past the checks would need Tor (69); the
//   `marker` profile's application would leave a file behind, which must
//   never appear;
// - the outcome is what the pure parser predicts: its refusal, printed
//   exactly as one escaped line (64), or the status the profile leads to.
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { LaunchError } from '../../src/errors/launch-error';
import { oneLine } from '../../src/cli/output';
import { parseArgs, type Command } from '../../src/cli/parse-args';
import { userNamespaceProblem } from '../../src/jail/user-namespaces';
import { argvOf, argvWord } from '../support/argv-words';
import { useTempDirs } from '../support/fixtures';
import { cleanEnv, makeConfigDir, runLauncher } from '../support/launcher';
import { checkProperty, expectCleanStderr, SCALE, Tally } from '../support/property';
import { EXIT } from '../support/expected';

const { make: tempDir, track } = useTempDirs();

let config: string;
let work: string;
let app: string;
let marker: string;
let word: fc.Arbitrary<string>;
/** The shipped-like profiles of `config`, by what launching them must end in (Tor is never there). */
const PROFILES = ['default', 'marker', 'none', 'placed', 'broken'];
/** Why this machine cannot make user namespaces for a user jail, or null (the launcher's own reading of the kernel's knobs). */
const userNamespaces = userNamespaceProblem(process.getuid?.() ?? -1);

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  const dir = tempDir('argv-app');
  marker = join(dir, 'marker');
  app = join(dir, 'app.sh');
  writeFileSync(app, `#!/bin/sh\necho ran >> '${marker}'\n`);
  chmodSync(app, 0o755);
  config = track(
    makeConfigDir(
      { default: { port: await closedPort() } },
      {
        default: 'listener: default\nisolation: launch\nbackend: torsocks\n',
        marker: `extends: default\ncommand: ${app}\n`,
        none: 'extends: marker\nisolation: none\n',
        // A namespace no machine has: the launch is refused before anything starts.
        placed: 'extends: marker\nnetns: tl-absent\n',
        broken: 'extends: marker\nisolation: sometimes\n',
      },
    ),
  );
  // The current directory of every run: relative file names land here.
  work = tempDir('argv-cwd');
  mkdirSync(join(work, 'profiles'));
  const torrc = join(work, 'torrc');
  writeFileSync(torrc, 'SocksPort 127.0.0.1:9050 IsolateDestAddr\n');
  word = argvWord({
    names: [...PROFILES, 'nosuch', '', 'Marker', '../marker', 'marker.yml', app, ' ', '\u202emarker'],
    values: [
      'alice',
      'a b',
      '0',
      '1',
      '601',
      '-1',
      config,
      join(config, 'profiles', 'marker.yml'),
      join(config, 'profiles', 'broken.yml'),
      '/nonexistent',
      app,
      torrc,
      work,
    ],
    // No NUL (no real argv holds one); no ':' (doctor --control would look a
    // host name up: the tests stay on loopback); no long waits for Tor.
    keep: (w) => !w.includes('\0') && !w.includes(':') && !(/^\d+$/.test(w) && Number(w) > 1 && Number(w) <= 600),
  });
});

/** What the parser says, in the launcher's own terms: its argv is UTF-8, so a lone surrogate arrives as U+FFFD. */
function predict(words: string[]): Command | { refused: string } {
  try {
    return parseArgs(words.map((w) => Buffer.from(w).toString()));
  } catch (error) {
    if (!(error instanceof LaunchError)) throw error;
    return { refused: error.message };
  }
}

/** The statuses a launch of COMMAND may end in, Tor being unreachable. */
function launchStatuses(command: Extract<Command, { kind: 'run' }>): number[] {
  if (command.options.jail) {
    // No root jails are configured here (no pool, no jail_port), so --jail asks for a user jail (user
    // namespaces, bubblewrap). It changes the guard, not how far the launch gets: as far as without it
    // (Tor is not there), where this machine can make user namespaces; where it cannot, also "no guard"
    // (77). A profile placed in a namespace cannot be jailed too: a configuration error (65).
    if (command.profile === 'placed') return [EXIT.config];
    const unjailed = launchStatuses({ ...command, options: { ...command.options, jail: false } });
    return userNamespaces === null ? unjailed : [...unjailed, EXIT.refused];
  }
  switch (command.profile) {
    case 'marker':
      return [EXIT.torUnreachable];
    case 'none':
      // --identity makes no sense without isolation: a usage error.
      return command.options.identity === null ? [EXIT.torUnreachable] : [EXIT.usage];
    case 'placed':
      return [EXIT.noNamespace];
    case 'broken':
      return [EXIT.config];
    case 'default':
      // No command of its own: the first argument is the command.
      return command.args.length === 0
        ? [EXIT.usage]
        : command.args[0] === app
          ? [EXIT.torUnreachable]
          : [EXIT.usage, EXIT.torUnreachable, EXIT.wouldBypass, EXIT.cannotExecute, EXIT.notFound];
    default:
      return [EXIT.unknownProfile];
  }
}

describe('the real launcher over generated argv', () => {
  it(
    'exits with a documented status, one clean line for a refusal, as the parser predicts, and never launches',
    async () => {
      const argv = argvOf(word);
      /** What the parser made of the argv, and the launcher's status, e.g. `run:69`. */
      const tally = new Tally();
      await checkProperty(
        'argv -> real launcher: documented status, one clean line, no launch',
        fc.asyncProperty(argv, async (generated) => {
          const words = ['--config-dir', config, ...generated];
          const result = await runLauncher(words, { cwd: work, env: cleanEnv() });
          const expected = predict(words);
          tally.add(`${'refused' in expected ? 'refused' : expected.kind}:${result.exitCode}`);
          const status = result.exitCode ?? -1;
          // validate and list name every problem, one line each; any other refusal is one line.
          const manyProblems = !('refused' in expected) && (expected.kind === 'validate' || expected.kind === 'list');
          expectCleanStderr(result, status >= EXIT.usage && !manyProblems);
          expect(existsSync(marker), 'the marker application ran').toBe(false);
          if ('refused' in expected) {
            expect({ status, stderr: result.stderr, stdout: result.stdout }).toEqual({
              status: EXIT.usage,
              stderr: oneLine(`tails-launch: ${expected.refused}`),
              stdout: '',
            });
            return;
          }
          switch (expected.kind) {
            case 'help':
              expect(status).toBe(0);
              expect(result.stdout).toMatch(/^Usage: tails-launch /);
              break;
            case 'version':
              expect(status).toBe(0);
              expect(result.stdout).toMatch(/^tails-launch \d/);
              break;
            case 'run':
              expect(launchStatuses(expected)).toContain(status);
              break;
            case 'explain':
              expect([0, EXIT.usage, EXIT.config, EXIT.unknownProfile]).toContain(status);
              break;
            case 'list':
            case 'validate':
              // `broken` is in the configuration; files may be anything.
              expect([0, EXIT.config]).toContain(status);
              if (expected.kind === 'list' || expected.files.length === 0) expect(status).toBe(EXIT.config);
              break;
            case 'torrc':
              expect([0, EXIT.checkFailed]).toContain(status);
              break;
            case 'doctor':
              // Tor is not there: never all well.
              expect([EXIT.checkFailed, EXIT.usage, EXIT.config, EXIT.unknownProfile]).toContain(status);
              break;
          }
        }),
        200,
        240_000,
        tally,
      );
    },
    300_000 * SCALE,
  );
});
