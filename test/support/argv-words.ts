// Words for generated command lines (fast-check): the launcher's options and
// commands, names and values, and strings with the characters that break
// command lines and terminals. Shared by the pure parser properties and the
// ones that run the real launcher.
import fc from 'fast-check';

export const OPTION_WORDS = [
  '--config-dir',
  '--identity',
  '--wait-for-tor',
  '--jail',
  '--jail=1',
  '--json',
  '--check',
  '--control',
  '--control-cookie',
  '--control-password-file',
  '--help',
  '-h',
  '--version',
  '-V',
  '--',
  '-',
  '-x',
  '-hV',
  '--bogus',
  '--identity=alice',
  '--config-dir=/c',
  '--wait-for-tor=0',
  '--wait-for-tor=',
  '--json=1',
  '--=x',
  '---',
  '--check=-',
];
export const COMMAND_WORDS = ['run', 'explain', 'list', 'validate', 'torrc', 'doctor', 'desktop', 'netns', 'jail'];
export const NAME_WORDS = ['default', 'pidgin', 'curl', 'a', '', 'Pidgin', '../x', 'x/y', ' ', 'p.yml'];
export const VALUE_WORDS = [
  'alice',
  'a b',
  '0',
  '1',
  '601',
  '-1',
  '1.5',
  '/tmp',
  '/c',
  '127.0.0.1:9051',
  'unix:/run/tor/control',
];

/** Strings of the characters that have broken command lines and terminals before. */
export const nastyString = fc.string({
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
    'a',
    '-',
    '=',
    '/',
    '.',
    ' ',
    'é',
    '🧅',
  ),
  maxLength: 10,
});

/**
 * One argv word. NAMES and VALUES replace the defaults (e.g. the profiles and
 * files of a test's configuration); KEEP filters every generated word (e.g.
 * no NUL, which no real argv can hold).
 */
export function argvWord({
  names = NAME_WORDS,
  values = VALUE_WORDS,
  keep = () => true,
}: { names?: string[]; values?: string[]; keep?: (word: string) => boolean } = {}): fc.Arbitrary<string> {
  return fc
    .oneof(
      { weight: 4, arbitrary: fc.constantFrom(...OPTION_WORDS) },
      { weight: 2, arbitrary: fc.constantFrom(...COMMAND_WORDS) },
      { weight: 3, arbitrary: fc.constantFrom(...names) },
      { weight: 2, arbitrary: fc.constantFrom(...values) },
      { weight: 2, arbitrary: nastyString },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 16 }) },
    )
    .filter(keep);
}

/**
 * A whole command line of WORDs: half of them free, half shaped like real use
 * (a few launcher options, a command, then anything), so that every command
 * is reached often, not only by chance.
 */
export function argvOf(word: fc.Arbitrary<string>, maxLength = 10): fc.Arbitrary<string[]> {
  const option = fc.oneof(
    fc.constantFrom(['--identity', 'alice'], ['--wait-for-tor', '0'], ['--identity=bob'], ['--wait-for-tor=1']),
    word.map((w) => [w]),
  );
  const shaped = fc
    .tuple(
      fc.array(option, { maxLength: 2 }),
      fc.constantFrom(...COMMAND_WORDS),
      fc.array(word, { maxLength: maxLength - 3 }),
    )
    .map(([options, command, rest]) => [...options.flat(), command, ...rest]);
  return fc.oneof(fc.array(word, { maxLength }), shaped);
}
