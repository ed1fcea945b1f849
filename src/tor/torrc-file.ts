// Reads a torrc the way tor does and returns the SocksPort values it ends up
// with, each with the file and line it came from. Follows tor's line parser
// (parse_config_line_from_str_verbose) and its %include handling (conffile.c),
// checked against tor 0.4.9 (`tor --dump-config short -f FILE`):
//
// - Keywords are case-insensitive (`socksport`), but `%include` is not.
// - `#` starts a comment, also after a value; inside a quoted value it is text.
// - A backslash right before the newline continues the value on the next line.
//   Once a value is continued, `#` anywhere starts a comment that runs to the
//   end of its line AND swallows that newline, so the value goes on after it
//   (an indented comment line inside a continuation is skipped, and a comment
//   right after a continued line joins the next line to the value). An empty
//   line ends a continuation.
// - A quoted value (`"..."`, C escapes) must be followed by nothing but a comment.
// - `SocksPort` lines accumulate; `/SocksPort` drops those before it; a line
//   with an empty value is ignored; `+SocksPort` is the same as `SocksPort`.
// - `%include PATH`: a file is read where the line is; a directory's files are
//   read in byte order, skipping dot-files and subdirectories; `*` and `?`
//   are wildcards (backslash escapes them), matches read in byte order, dot
//   files matched only by a pattern starting with a dot, no match is no error.
//   A relative PATH is relative to tor's WORKING DIRECTORY, not to the file
//   that includes it. More than 31 nested %includes is an error, as is a path
//   that does not exist.
// - No SocksPort at all means tor's default, `SocksPort 9050`.
//
// Every file is read through src/profile/safe-read: only regular files of at
// most MAX_TORRC_BYTES, opened without blocking, so that `%include /dev/zero`
// or a FIFO is an ERROR line at once instead of a hang. (tor itself reads a
// FIFO to its end; a check that waits for a writer would never report.) And
// at most MAX_INCLUDED_FILES files in all: a file that includes itself twice
// would otherwise be read 2^31 times before the depth limit stops it.
// Paths quoted in messages come from the torrc's text (a quoted value may
// hold "\n"): they are escaped so that they cannot forge a line of output.
import { readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { printable } from '../files/printable';
import { errnoReason, FileReadError, MiB, readBoundedFile } from '../files/safe-read';
import { parseSocksPortValue, type SocksPortSpec } from './socks-flags';

/** tor's MAX_INCLUDE_RECURSION_LEVEL. */
export const MAX_INCLUDE_DEPTH = 31;

/**
 * The most one torrc file may hold. Tails' torrc is about 3 KiB and a torrc
 * with hundreds of bridge lines stays under 100 KiB; 4 MiB is far above any
 * real one and still parsed in well under a second.
 */
export const MAX_TORRC_BYTES = 4 * MiB;

/** The most files one check reads, includes of includes counted. */
export const MAX_INCLUDED_FILES = 1000;

/** Paths quoted in a message are cut to this many characters. */
const MAX_PATH_ECHO = 300;

export interface TorrcSocksPort {
  /** The value as tor sees it (continuations joined, comments removed, quotes decoded). */
  value: string;
  /** Null for `SocksPort 0`. */
  spec: SocksPortSpec | null;
  file: string;
  line: number;
}

export interface TorrcProblem {
  file: string;
  /** Null when the problem is not on one line (e.g. two lines that conflict). */
  line: number | null;
  message: string;
}

export interface Torrc {
  file: string;
  /** The SocksPort values tor ends up with, in order. */
  socksPorts: TorrcSocksPort[];
  /** True when the torrc sets no SocksPort, so tor opens its default 127.0.0.1:9050. */
  defaultSocksPort: boolean;
  /** What makes tor refuse this torrc (unreadable include, bad syntax, conflicting SocksPorts...). */
  problems: TorrcProblem[];
  /** Worth knowing, not fatal (relative %include paths, unrecognized flags). */
  notes: TorrcProblem[];
  /** Every file read, in order. */
  files: string[];
}

export interface ReadTorrcOptions {
  /** Tor's working directory, for relative %include paths (default: ours). */
  cwd?: string;
}

/** The torrc FILE could not be read at all. */
export class TorrcReadError extends Error {}

interface Entry {
  key: string;
  value: string;
  line: number;
}

const isSpace = (c: string | undefined) =>
  c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v';
const isOctal = (c: string | undefined) => c !== undefined && c >= '0' && c <= '7';
const isHex = (c: string | undefined) => c !== undefined && /^[0-9a-fA-F]$/.test(c);

/** tor's unescape_string: TEXT[START] is the opening quote. Returns the value and the index after the closing quote, or null. */
function unescape(text: string, start: number): { value: string; end: number } | null {
  let out = '';
  let i = start + 1;
  for (;;) {
    const c = text[i];
    if (c === undefined || c === '\n') return null;
    if (c === '"') return { value: out, end: i + 1 };
    if (c !== '\\') {
      out += c;
      i++;
      continue;
    }
    const e = text[i + 1];
    if (e === 'x' || e === 'X') {
      if (!isHex(text[i + 2]) || !isHex(text[i + 3])) return null;
      out += String.fromCharCode(parseInt(text.slice(i + 2, i + 4), 16));
      i += 4;
    } else if (isOctal(e)) {
      let n = 0;
      let j = i + 1;
      while (j < i + 4 && isOctal(text[j])) n = n * 8 + Number(text[j++]);
      if (n > 255) return null;
      out += String.fromCharCode(n);
      i = j;
    } else if (e === 'n' || e === 'r' || e === 't' || e === '"' || e === '\\' || e === "'") {
      out += e === 'n' ? '\n' : e === 'r' ? '\r' : e === 't' ? '\t' : e;
      i += 2;
    } else {
      return null;
    }
  }
}

/** Splits TEXT into (key, value) entries as tor does; an error stops parsing, as in tor. */
export function parseTorrcText(text: string): { entries: Entry[]; error: { line: number; message: string } | null } {
  const newlines: number[] = [];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) newlines.push(i);
  const lineAt = (pos: number) => {
    let lo = 0;
    let hi = newlines.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (newlines[mid]! < pos) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  };
  const entries: Entry[] = [];
  const skipComment = (p: number) => {
    while (p < text.length && text[p] !== '\n') p++;
    return p;
  };
  let pos = 0;
  for (;;) {
    while (isSpace(text[pos])) pos++;
    if (text[pos] === '#') {
      pos = skipComment(pos);
      continue;
    }
    if (pos >= text.length) break;
    const line = lineAt(pos);
    const keyStart = pos;
    while (
      pos < text.length &&
      !isSpace(text[pos]) &&
      text[pos] !== '#' &&
      !(text[pos] === '\\' && text[pos + 1] === '\n')
    )
      pos++;
    const key = text.slice(keyStart, pos);
    while (text[pos] === ' ' || text[pos] === '\t') pos++;
    let value: string;
    if (text[pos] === '"') {
      const quoted = unescape(text, pos);
      if (!quoted) return { entries, error: { line, message: 'invalid escape sequence or unterminated quoted value' } };
      if (quoted.value.includes('\0')) return { entries, error: { line, message: 'quoted value is not a C string' } };
      value = quoted.value;
      pos = quoted.end;
      while (text[pos] === ' ' || text[pos] === '\t') pos++;
      if (pos < text.length && text[pos] !== '#' && text[pos] !== '\n')
        return { entries, error: { line, message: 'excess data after quoted value' } };
    } else {
      const valueStart = pos;
      let continued = false;
      while (pos < text.length && text[pos] !== '\n' && (text[pos] !== '#' || continued)) {
        if (text[pos] === '\\' && text[pos + 1] === '\n') {
          continued = true;
          pos += 2;
        } else if (text[pos] === '#') {
          pos = skipComment(pos);
          if (text[pos] === '\n') pos++;
        } else {
          pos++;
        }
      }
      let end = pos;
      if (text[pos] === '\n') pos++;
      while (end > valueStart && isSpace(text[end - 1])) end--;
      value = text.slice(valueStart, end);
      if (continued) value = value.replace(/#[^\n]*(\n|$)|\\\n/g, '');
    }
    if (text[pos] === '#') pos = skipComment(pos);
    if (key) entries.push({ key, value, line });
  }
  return { entries, error: null };
}

/** `*` and `?` not escaped by a backslash. */
const hasWildcard = (pattern: string) => /(^|[^\\])(\\\\)*[*?]/.test(pattern);

function componentRegExp(component: string): RegExp {
  let source = '';
  for (let i = 0; i < component.length; i++) {
    const c = component[i]!;
    if (c === '\\' && i + 1 < component.length) source += component[++i]!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    else if (c === '*') source += '.*';
    else if (c === '?') source += '.';
    else source += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 's');
}

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** glob(3) as tor uses it: matches of PATTERN (absolute), sorted. */
function expandWildcards(pattern: string): string[] {
  const parts = pattern.split('/');
  let paths = [parts[0] === '' ? '/' : parts[0]!];
  for (const part of parts.slice(1)) {
    if (part === '') continue;
    const next: string[] = [];
    for (const base of paths) {
      if (!hasWildcard(part)) {
        next.push(join(base, part.replace(/\\(.)/g, '$1')));
        continue;
      }
      let names: string[];
      try {
        names = readdirSync(base);
      } catch {
        continue;
      }
      if (part.startsWith('.')) names.push('.', '..');
      const re = componentRegExp(part);
      for (const name of names)
        if (re.test(name) && (part.startsWith('.') || !name.startsWith('.'))) next.push(join(base, name));
    }
    paths = next;
  }
  return paths
    .filter((p) => {
      try {
        statSync(p);
        return true;
      } catch {
        return false;
      }
    })
    .sort(byteOrder);
}

/** Reads and parses the torrc FILE. Throws TorrcReadError when FILE itself cannot be read. */
export function readTorrc(file: string, options: ReadTorrcOptions = {}): Torrc {
  const reading: Reading = {
    cwd: options.cwd ?? process.cwd(),
    result: { file, socksPorts: [], defaultSocksPort: false, problems: [], notes: [], files: [] },
    stopped: false,
    filesRead: 0,
  };
  readOne(reading, file, 0, null);
  checkSocksPortSet(reading.result);
  reading.result.defaultSocksPort = reading.result.socksPorts.length === 0;
  return reading.result;
}

/** One reading of a torrc and everything it includes. */
interface Reading {
  cwd: string;
  result: Torrc;
  /** Tor stops reading at the first line it cannot parse (or at a runaway include). */
  stopped: boolean;
  filesRead: number;
}

type IncludedFrom = { file: string; line: number } | null;

/** Reads PATH (the torrc itself when FROM is null) and follows its entries in order. */
function readOne(r: Reading, path: string, depth: number, from: IncludedFrom): void {
  if (++r.filesRead > MAX_INCLUDED_FILES) {
    r.result.problems.push({
      ...from!,
      message: `more than ${MAX_INCLUDED_FILES} files read through %include (a file included over and over?): stopped here`,
    });
    r.stopped = true;
    return;
  }
  let text: string;
  try {
    const read = readBoundedFile(resolve(r.cwd, path), { maxBytes: MAX_TORRC_BYTES });
    if (read === null) throw Object.assign(new Error('no such file or directory'), { code: 'ENOENT' });
    text = read.text;
  } catch (error) {
    const reason = error instanceof FileReadError ? error.reason : describe(error);
    if (!from) throw new TorrcReadError(`cannot read ${printable(path, MAX_PATH_ECHO)}: ${reason}`);
    r.result.problems.push({
      ...from,
      message: `cannot read included file ${printable(path, MAX_PATH_ECHO)}: ${reason}`,
    });
    return;
  }
  r.result.files.push(path);
  const { entries, error } = parseTorrcText(text);
  for (const entry of entries) {
    if (r.stopped) return;
    if (entry.key === '%include') include(r, entry.value, depth + 1, { file: path, line: entry.line });
    else addSocksPort(r.result, entry, path);
  }
  if (error && !r.stopped) {
    r.result.problems.push({ file: path, line: error.line, message: `tor cannot parse this line: ${error.message}` });
    r.stopped = true; // tor stops reading the configuration here
  }
}

/** `%include PATH`: a file, a directory (its files, in byte order, dot files skipped) or a wildcard. */
function include(r: Reading, path: string, depth: number, from: { file: string; line: number }): void {
  if (depth > MAX_INCLUDE_DEPTH) {
    r.result.problems.push({ ...from, message: `more than ${MAX_INCLUDE_DEPTH} nested %includes` });
    r.stopped = true;
    return;
  }
  if (!path) {
    r.result.problems.push({ ...from, message: '%include without a path' });
    return;
  }
  if (!isAbsolute(path)) {
    r.result.notes.push({
      ...from,
      message: `%include ${printable(path, MAX_PATH_ECHO)} is relative to tor's working directory (here ${printable(r.cwd)}), not to ${printable(from.file)}`,
    });
  }
  const absolute = resolve(r.cwd, path);
  for (const match of hasWildcard(path) ? expandWildcards(absolute) : [absolute]) {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(match).isDirectory();
    } catch (error) {
      r.result.problems.push({
        ...from,
        message: `cannot read included file or directory ${printable(path, MAX_PATH_ECHO)}: ${describe(error)}`,
      });
      continue;
    }
    if (isDirectory) includeDirectory(r, match, depth, from);
    else readOne(r, match, depth, from);
  }
}

/** The files of DIR, as tor includes them. */
function includeDirectory(r: Reading, dir: string, depth: number, from: { file: string; line: number }): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    r.result.problems.push({
      ...from,
      message: `cannot read included directory ${printable(dir, MAX_PATH_ECHO)}: ${describe(error)}`,
    });
    return;
  }
  for (const name of names.filter((n) => !n.startsWith('.')).sort(byteOrder)) {
    const child = join(dir, name);
    let isFile = false;
    try {
      isFile = statSync(child).isFile();
    } catch {
      // a dangling link: tor skips what is not a file
    }
    if (isFile) readOne(r, child, depth, from);
  }
}

/** A `SocksPort` line (`/SocksPort` clears the list, `+SocksPort` appends, as in tor). */
function addSocksPort(result: Torrc, entry: Entry, path: string): void {
  const key = entry.key.replace(/^[+/]/, '').toLowerCase();
  if (key !== 'socksport') return;
  if (entry.key.startsWith('/')) {
    result.socksPorts = [];
    return;
  }
  if (!entry.value.trim()) return; // tor ignores an empty value
  const problem = (message: string) => result.problems.push({ file: path, line: entry.line, message });
  let spec: SocksPortSpec | null;
  try {
    spec = parseSocksPortValue(entry.value);
  } catch (error) {
    problem(`SocksPort ${printable(entry.value, MAX_PATH_ECHO)}: ${(error as Error).message}`);
    return;
  }
  result.socksPorts.push({ value: entry.value, spec, file: path, line: entry.line });
  if (
    spec &&
    spec.port !== 'auto' &&
    spec.unixPath === null &&
    !(Number.isInteger(spec.port) && spec.port! >= 1 && spec.port! <= 65535)
  ) {
    problem(`SocksPort ${printable(entry.value, MAX_PATH_ECHO)}: tor rejects this address or port`);
  }
}

/** What makes tor refuse the set of SocksPorts: `0` mixed with others, the same port twice. */
function checkSocksPortSet(result: Torrc): void {
  const ports = result.socksPorts;
  const zero = ports.find((p) => p.spec === null);
  const open = ports.filter((p) => p.spec !== null);
  if (zero && open.length) {
    result.problems.push({
      file: zero.file,
      line: zero.line,
      message: `SocksPort 0 together with other SocksPorts (${where(open[0]!)}): tor refuses this configuration`,
    });
  }
  const seen = new Map<string, TorrcSocksPort>();
  for (const p of open) {
    if (p.spec!.port === 'auto') continue;
    const id = p.spec!.unixPath !== null ? `unix:${p.spec!.unixPath}` : `${p.spec!.address}:${p.spec!.port}`;
    const first = seen.get(id);
    if (first) {
      result.problems.push({
        file: p.file,
        line: p.line,
        message: `${id} is already a SocksPort at ${where(first)}: tor cannot bind it twice and does not start`,
      });
    } else {
      seen.set(id, p);
    }
  }
}

/** `ENOENT: no such file or directory, open '/x'` -> `no such file or directory`. */
function describe(error: unknown): string {
  return errnoReason(error);
}

function where(p: { file: string; line: number }): string {
  return `${p.file}:${p.line}`;
}
