// The file format of desktop entries and of D-Bus .service files (the
// freedesktop.org Desktop Entry Specification, "Basic format of the file"),
// read line by line so that a rewrite changes the lines it means to and
// leaves every other byte alone: comments, translations (Name[fr]=...),
// unknown groups and keys, their order.

export interface KeyLine {
  kind: 'key';
  /** The key without its locale: `Name` for `Name[fr]`. */
  key: string;
  /** `fr` for `Name[fr]`, null for `Name`. */
  locale: string | null;
  /** The raw value: after the '=' and the spaces around it, escapes NOT decoded. */
  value: string;
  raw: string;
}

export type Line = { kind: 'other'; raw: string } | KeyLine;

export interface Group {
  /** `Desktop Entry` for `[Desktop Entry]`. */
  name: string;
  raw: string;
  lines: Line[];
}

export interface KeyFile {
  /** Comments and blank lines before the first group. */
  head: string[];
  groups: Group[];
  /** Whether the text ended with a newline (kept as it was). */
  finalNewline: boolean;
}

export class KeyFileError extends Error {}

const GROUP = /^\[([^\[\]\x00-\x1f\x7f]+)\]$/;
// Key names: A-Za-z0-9-; a locale in brackets; spaces around '=' are ignored.
const KEY = /^([A-Za-z0-9-]+)(?:\[([^\]\s]+)\])?[ \t]*=[ \t]*(.*)$/;

export function parseKeyFile(text: string): KeyFile {
  if (text.includes('\0')) throw new KeyFileError('contains a NUL byte');
  const finalNewline = text.endsWith('\n');
  const lines = (finalNewline ? text.slice(0, -1) : text).split('\n');
  const file: KeyFile = { head: [], groups: [], finalNewline };
  const seen = new Set<string>();
  lines.forEach((raw, index) => {
    const trimmed = raw.trim();
    const group = file.groups[file.groups.length - 1];
    if (trimmed === '' || trimmed.startsWith('#')) {
      if (group) group.lines.push({ kind: 'other', raw });
      else file.head.push(raw);
      return;
    }
    const header = GROUP.exec(raw);
    if (header) {
      // Two groups of one name: which one a reader takes is undefined.
      if (seen.has(header[1]!)) throw new KeyFileError(`line ${index + 1}: group [${header[1]}] appears twice`);
      seen.add(header[1]!);
      file.groups.push({ name: header[1]!, raw, lines: [] });
      return;
    }
    const key = KEY.exec(raw);
    if (!key) throw new KeyFileError(`line ${index + 1}: neither a group, a key=value pair nor a comment`);
    if (!group) throw new KeyFileError(`line ${index + 1}: a key before the first group`);
    const line: KeyLine = { kind: 'key', key: key[1]!, locale: key[2] ?? null, value: key[3]!, raw };
    if (group.lines.some((l) => l.kind === 'key' && l.key === line.key && l.locale === line.locale))
      throw new KeyFileError(`line ${index + 1}: key ${raw.split('=')[0]!.trim()} appears twice in [${group.name}]`);
    group.lines.push(line);
  });
  return file;
}

export function serializeKeyFile(file: KeyFile): string {
  const out = [...file.head];
  for (const group of file.groups) out.push(group.raw, ...group.lines.map((l) => l.raw));
  return out.join('\n') + (file.finalNewline ? '\n' : '');
}

export function findGroup(file: KeyFile, name: string): Group | undefined {
  return file.groups.find((g) => g.name === name);
}

/** The unlocalized value of KEY in GROUP (raw, escapes not decoded). */
export function getValue(group: Group, key: string): string | undefined {
  for (const line of group.lines)
    if (line.kind === 'key' && line.key === key && line.locale === null) return line.value;
  return undefined;
}

/** Sets KEY (unlocalized) in GROUP: in place when present, else after the last key line. */
export function setValue(group: Group, key: string, value: string): void {
  const raw = `${key}=${value}`;
  const index = group.lines.findIndex((l) => l.kind === 'key' && l.key === key && l.locale === null);
  const line: KeyLine = { kind: 'key', key, locale: null, value, raw };
  if (index >= 0) {
    group.lines[index] = line;
    return;
  }
  let last = -1;
  group.lines.forEach((l, i) => {
    if (l.kind === 'key') last = i;
  });
  group.lines.splice(last + 1, 0, line);
}

/** Removes KEY (every locale) from GROUP. */
export function removeKey(group: Group, key: string): void {
  group.lines = group.lines.filter((l) => !(l.kind === 'key' && l.key === key));
}

/**
 * A value of type boolean as GLib reads it (g_key_file_get_boolean, through
 * g_key_file_parse_value_as_boolean in glib/gkeyfile.c): `true` or `1` is
 * true, `false` or `0` false, case-sensitive; trailing white space (GLib's
 * g_ascii_isspace) is ignored, as the parser has already dropped the leading
 * one. Anything else is an error for GLib, and null here: GLib then treats a
 * DBusActivatable as false, KDE (which also takes `yes` and `on`) may not, so
 * callers decide what an invalid value means for them.
 */
export function glibBoolean(value: string): boolean | null {
  const trimmed = value.replace(/[ \t\n\v\f\r]+$/, '');
  if (trimmed === 'true' || trimmed === '1') return true;
  if (trimmed === 'false' || trimmed === '0') return false;
  return null;
}

/**
 * A value of type string or localestring, decoded: the spec's escapes \s,
 * \n, \t, \r and \\. Any other backslash sequence is refused, not guessed.
 */
export function decodeString(value: string): string {
  return value.replace(/\\(.?)/g, (_, c: string) => {
    switch (c) {
      case 's':
        return ' ';
      case 'n':
        return '\n';
      case 't':
        return '\t';
      case 'r':
        return '\r';
      case '\\':
        return '\\';
      default:
        throw new KeyFileError(`unknown escape '\\${c}'`);
    }
  });
}

/** The inverse of decodeString (a leading space is written \s, as the spec asks). */
export function encodeString(value: string): string {
  return value
    .replace(/\\/g, '\\\\')
    .replace(/\n/g, '\\n')
    .replace(/\t/g, '\\t')
    .replace(/\r/g, '\\r')
    .replace(/^ /, '\\s');
}
