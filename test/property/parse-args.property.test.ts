// Property-based tests of the command-line parser (pure, so thousands of
// cases): whatever argv holds, parseArgs returns a command or refuses with
// ONE usage error (64), never anything else; what it returns is sane; words
// after the profile name never change the launcher's options; a refusal
// prints as one line without terminal escapes. The real launcher's side is
// test/property/launcher-argv.property.test.ts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LaunchError } from '../../src/errors/launch-error';
import { oneLine } from '../../src/cli/output';
import { parseArgs, type Command } from '../../src/cli/parse-args';
import { IDENTITY_PATTERN, RESERVED_NAMES } from '../../src/vocabulary/names';
import { argvOf, argvWord } from '../support/argv-words';
import { checkProperty, UNSAFE_CHARACTER } from '../support/property';
import { EXIT } from '../support/expected';

const word = argvWord();
const argv = argvOf(word, 12);

/** The application's arguments after a profile name: one leading `--` dropped. */
const appArgs = (rest: string[]) => (rest[0] === '--' ? rest.slice(1) : rest);

/** parseArgs, its refusal turned into a value; anything but a LaunchError(64) fails the property. */
function parse(words: string[]): Command | { refused: string } {
  try {
    return parseArgs(words);
  } catch (error) {
    expect(error).toBeInstanceOf(LaunchError);
    expect((error as LaunchError).exitCode).toBe(EXIT.usage);
    return { refused: (error as LaunchError).message };
  }
}

function expectSane(command: Command): void {
  if (!('options' in command)) return;
  const { identity, configDir, waitForTor } = command.options;
  if (identity !== null) expect(identity).toMatch(IDENTITY_PATTERN);
  if (configDir !== undefined) expect(configDir).not.toBe('');
  if (waitForTor !== undefined) expect(Number.isInteger(waitForTor) && waitForTor >= 0 && waitForTor <= 600).toBe(true);
  switch (command.kind) {
    case 'run':
      expect(command.profile).not.toBe('');
      expect(RESERVED_NAMES.has(command.profile)).toBe(false);
      break;
    case 'explain':
      expect(command.profile).not.toBe('');
      break;
    case 'validate':
      for (const file of command.files) expect(file).not.toBe('');
      break;
    case 'doctor':
      for (const name of command.profiles) expect(name).not.toBe('');
      for (const value of Object.values(command.control)) expect(value).not.toBe('');
      break;
    case 'torrc':
      expect(command.check).not.toBe('');
      break;
  }
}

describe('parseArgs over generated argv', () => {
  it('returns a sane command or refuses with one usage error (64) that prints as one safe line', async () => {
    await checkProperty(
      'argv -> parseArgs: a sane command or one usage error',
      fc.property(argv, (words) => {
        const result = parse(words);
        if ('refused' in result) {
          const line = oneLine(`tails-launch: ${result.refused}`);
          expect(line).not.toMatch(UNSAFE_CHARACTER);
          expect(line).not.toContain('\n');
          expect(line.length).toBeLessThan(4200);
          expect(result.refused).toMatch(/\(see 'tails-launch --help'\)$/);
        } else {
          expectSane(result);
        }
      }),
      5000,
    );
  });

  it("never lets a word after the profile name change the launcher's options", async () => {
    // PREFIX PROFILE parses as a launch of PROFILE; anything after it is the application's.
    const launch = fc.tuple(argv, fc.constantFrom('default', 'pidgin', 'curl', 'x.y_z-1'), argv);
    await checkProperty(
      "argv -> parseArgs: words after the profile are the application's",
      fc.property(launch, ([prefix, profile, rest]) => {
        const alone = parse([...prefix, profile]);
        fc.pre(!('refused' in alone) && alone.kind === 'run' && alone.profile === profile && alone.args.length === 0);
        expect(parse([...prefix, profile, ...rest])).toEqual({ ...alone, args: appArgs(rest) });
      }),
      3000,
    );
  });

  it('refuses any launcher option given twice before the profile', async () => {
    const twice = fc.tuple(
      fc.constantFrom<[string, string]>(['--identity', 'alice'], ['--config-dir', '/c'], ['--wait-for-tor', '1']),
      fc.boolean(),
      fc.boolean(),
      fc.array(word, { maxLength: 6 }),
    );
    await checkProperty(
      'argv -> parseArgs: an option given twice is refused',
      fc.property(twice, ([[option, value], inlineFirst, run, rest]) => {
        const first = inlineFirst ? [`${option}=${value}`] : [option, value];
        const result = parse([...first, ...(run ? ['run'] : []), option, value, 'default', ...rest]);
        expect(result).toEqual({ refused: `option ${option} is given twice (see 'tails-launch --help')` });
      }),
      1000,
    );
  });

  it('answers --help first, whatever follows', async () => {
    await checkProperty(
      'argv -> parseArgs: --help first is help',
      fc.property(fc.constantFrom('--help', '-h'), argv, (help, rest) => {
        expect(parseArgs([help, ...rest])).toEqual({ kind: 'help' });
      }),
      1000,
    );
  });
});
