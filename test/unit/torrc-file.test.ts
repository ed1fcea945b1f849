// The torrc reader, one syntax rule at a time, on small torrc files in temp
// dirs. Each expectation is what tor 0.4.9 itself makes of the text (checked
// with `tor --dump-config short`; test/integration/torrc.test.ts asks tor).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  MAX_INCLUDE_DEPTH,
  MAX_INCLUDED_FILES,
  MAX_TORRC_BYTES,
  parseTorrcText,
  readTorrc,
  TorrcReadError,
} from '../../src/tor/torrc-file';

const root = mkdtempSync(join(tmpdir(), 'tails-launch-torrc-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

/** Writes FILES (relative path -> text) into a fresh dir; returns the dir. */
function tree(files: Record<string, string>): string {
  const dir = join(root, `t${n++}`);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

/** SocksPort values (as tor sees them) of TEXT as a torrc. */
function values(text: string, extra: Record<string, string> = {}) {
  const dir = tree({ torrc: text, ...extra });
  return readTorrc(join(dir, 'torrc'), { cwd: dir }).socksPorts.map((p) => p.value);
}

describe('torrc lines', () => {
  it('matches keywords in any case and keeps every SocksPort line, with its line number', () => {
    const dir = tree({ torrc: 'socksport 9050\nDataDirectory /x\nSOCKSPORT 9062 IsolateDestAddr\n' });
    const t = readTorrc(join(dir, 'torrc'));
    expect(t.socksPorts.map((p) => [p.value, p.line])).toEqual([
      ['9050', 1],
      ['9062 IsolateDestAddr', 3],
    ]);
    expect(t.socksPorts[1]!.file).toBe(join(dir, 'torrc'));
    expect(t.problems).toEqual([]);
  });
  it('drops comments: full lines, indented, and after a value', () => {
    expect(values('# SocksPort 1\n   # SocksPort 2\nSocksPort 9050 IsolateDestAddr # trailing\n')).toEqual([
      '9050 IsolateDestAddr',
    ]);
  });
  it('decodes quoted values, where # is text, and allows a comment after them', () => {
    expect(values('SocksPort "9050 IsolateDestAddr" # c\nSocksPort "9062\\tIsolateDestPort"\n')).toEqual([
      '9050 IsolateDestAddr',
      '9062\tIsolateDestPort',
    ]);
  });
  it('stops at text after a quoted value, as tor does (a problem)', () => {
    const dir = tree({ torrc: 'SocksPort 9062\nSocksPort "9050 # x" IsolateDestAddr\nSocksPort 9063\n' });
    const t = readTorrc(join(dir, 'torrc'));
    expect(t.socksPorts.map((p) => p.value)).toEqual(['9062']);
    expect(t.problems).toMatchObject([{ line: 2, message: expect.stringContaining('excess data') }]);
  });
  it('joins backslash-continued lines, skipping comment lines inside them', () => {
    expect(
      values('SocksPort 127.0.0.1:9062 \\\n# a comment\n  IsolateDestAddr \\\n  IsolateDestPort\nSocksPort 9063\n'),
    ).toEqual(['127.0.0.1:9062   IsolateDestAddr   IsolateDestPort', '9063']);
  });
  it('continues after a comment inside a continuation (the comment swallows its newline)', () => {
    expect(values('SocksPort 9050 \\\nIsolateDestAddr # c\nIsolateDestPort\n')).toEqual([
      '9050 IsolateDestAddr IsolateDestPort',
    ]);
    // ...even into what looks like the next line
    expect(values('SocksPort 9050 IsolateDestAddr \\\n# last\nSocksPort 9062\n')).toEqual([
      '9050 IsolateDestAddr SocksPort 9062',
    ]);
  });
  it('ends a continuation at an empty line, and does not continue from a trailing comment', () => {
    const t = parseTorrcText('SocksPort 9050 \\\n\nIsolateDestAddr\n');
    // the backslash stays in the value (tor then warns about a flag `\`)
    expect(t.entries).toEqual([
      { key: 'SocksPort', value: '9050 \\', line: 1 },
      { key: 'IsolateDestAddr', value: '', line: 3 },
    ]);
    expect(parseTorrcText('SocksPort 9050 # c \\\nIsolateDestAddr\n').entries.map((e) => e.key)).toEqual([
      'SocksPort',
      'IsolateDestAddr',
    ]);
  });
  it('ignores an empty SocksPort, clears earlier ones on /SocksPort, appends on +SocksPort', () => {
    expect(values('SocksPort 9050\nSocksPort\nSocksPort 9060\n')).toEqual(['9050', '9060']);
    expect(values('SocksPort 9050\n/SocksPort\nSocksPort 9060\n+SocksPort 9070\n')).toEqual(['9060', '9070']);
  });
  it('trims CR line ends', () => {
    expect(values('SocksPort 9050 IsolateDestAddr\r\n')).toEqual(['9050 IsolateDestAddr']);
  });
  it('parses SocksPort 0, auto, unix: paths, [::1]:port and a bare port', () => {
    const dir = tree({
      torrc:
        'SocksPort auto\nSocksPort unix:/run/tor/s\nSocksPort unix:"/tmp/a b"\nSocksPort [::1]:9070\nSocksPort 9071\n',
    });
    const specs = readTorrc(join(dir, 'torrc')).socksPorts.map((p) => p.spec);
    expect(specs.map((s) => [s!.address, s!.port, s!.unixPath])).toEqual([
      ['127.0.0.1', 'auto', null],
      [null, null, '/run/tor/s'],
      [null, null, '/tmp/a b'],
      ['::1', 9070, null],
      ['127.0.0.1', 9071, null],
    ]);
    const zero = tree({ torrc: 'SocksPort 0\n' });
    const t = readTorrc(join(zero, 'torrc'));
    expect(t.socksPorts.map((p) => p.spec)).toEqual([null]);
    expect(t.problems).toEqual([]);
    expect(t.defaultSocksPort).toBe(false);
  });
  it("says when there is no SocksPort at all (tor's default 9050 applies)", () => {
    const dir = tree({ torrc: '# nothing\n' });
    expect(readTorrc(join(dir, 'torrc')).defaultSocksPort).toBe(true);
  });
  it('reports what makes tor refuse the torrc: SocksPort 0 with others, a port twice, an address without a port', () => {
    const dir = tree({
      torrc: 'SocksPort 0\nSocksPort 9050\nSocksPort 127.0.0.1:9050 IsolateDestAddr\nSocksPort 127.0.0.1\n',
    });
    const t = readTorrc(join(dir, 'torrc'));
    expect(t.problems.map((p) => [p.line, p.message])).toEqual([
      [4, expect.stringContaining('tor rejects')],
      [1, expect.stringContaining('SocksPort 0 together with other SocksPorts')],
      [3, expect.stringContaining('127.0.0.1:9050 is already a SocksPort at')],
    ]);
  });
});

describe('%include', () => {
  it('reads a file where the line is', () => {
    expect(values('SocksPort 1\n%include inc.conf\nSocksPort 3\n', { 'inc.conf': 'SocksPort 2\n' })).toEqual([
      '1',
      '2',
      '3',
    ]);
  });
  it('is case-sensitive (%INCLUDE is an unknown option, not an include)', () => {
    expect(values('%INCLUDE inc.conf\n', { 'inc.conf': 'SocksPort 2\n' })).toEqual([]);
  });
  it("reads a directory's files in byte order, skipping dot-files and subdirectories", () => {
    const files = {
      'd/b': 'SocksPort 2\n',
      'd/a': 'SocksPort 1\n',
      'd/B': 'SocksPort 0\n',
      'd/.hidden': 'SocksPort 9\n',
      'd/sub/c': 'SocksPort 8\n',
    };
    expect(values('%include d\n', files)).toEqual(['0', '1', '2']);
  });
  it('expands * and ? (sorted; dot-files only for a dot pattern; directories matched are read as directories)', () => {
    const files = {
      'w/a.conf': 'SocksPort 1\n',
      'w/b.txt': 'SocksPort 2\n',
      'w/.c.conf': 'SocksPort 3\n',
      'w/sub/d.conf': 'SocksPort 4\n',
    };
    expect(values('%include w/*.conf\n', files)).toEqual(['1']);
    expect(values('%include w/*\n', files)).toEqual(['1', '2', '4']);
    expect(values('%include w/?.txt\n', files)).toEqual(['2']);
    expect(values('%include w/*/d.conf\n', files)).toEqual(['4']);
    expect(values('%include w/*.none\n', files)).toEqual([]);
  });
  it('takes a backslash-escaped * literally', () => {
    const dir = tree({ torrc: '%include w/\\*.conf\n', 'w/a.conf': 'SocksPort 1\n' });
    expect(readTorrc(join(dir, 'torrc'), { cwd: dir }).problems).toMatchObject([
      { line: 1, message: expect.stringContaining('cannot read') },
    ]);
  });
  it("resolves a relative path against tor's working directory, not the including file's, and notes it", () => {
    const dir = tree({
      'etc/torrc': '%include inc.conf\n',
      'etc/inc.conf': 'SocksPort 1\n',
      'inc.conf': 'SocksPort 2\n',
    });
    const t = readTorrc(join(dir, 'etc/torrc'), { cwd: dir });
    expect(t.socksPorts.map((p) => [p.value, p.file])).toEqual([['2', join(dir, 'inc.conf')]]);
    expect(t.notes).toMatchObject([
      { line: 1, message: expect.stringContaining("relative to tor's working directory") },
    ]);
  });
  it('accepts a quoted path and a trailing comment', () => {
    expect(values('%include "inc.conf" # c\n', { 'inc.conf': 'SocksPort 2\n' })).toEqual(['2']);
  });
  it('reports a missing include with its line, and goes on', () => {
    const dir = tree({ torrc: 'SocksPort 1\n%include /nonexistent/x\nSocksPort 2\n' });
    const t = readTorrc(join(dir, 'torrc'));
    expect(t.socksPorts.map((p) => p.value)).toEqual(['1', '2']);
    expect(t.problems).toMatchObject([
      { file: join(dir, 'torrc'), line: 2, message: expect.stringContaining('/nonexistent/x') },
    ]);
  });
  it(`stops after ${MAX_INCLUDE_DEPTH} nested includes (a file including itself)`, () => {
    const dir = tree({ torrc: '%include self\n', self: 'SocksPort 1\n%include self\n' });
    const t = readTorrc(join(dir, 'torrc'), { cwd: dir });
    expect(t.socksPorts).toHaveLength(MAX_INCLUDE_DEPTH);
    expect(t.problems[0]).toMatchObject({ line: 2, message: `more than ${MAX_INCLUDE_DEPTH} nested %includes` });
  });
  it('skips a dangling link in an included directory', () => {
    const dir = tree({ 'd/a': 'SocksPort 1\n' });
    symlinkSync('/nonexistent', join(dir, 'd/b'));
    writeFileSync(join(dir, 'torrc'), '%include d\n');
    expect(readTorrc(join(dir, 'torrc'), { cwd: dir }).socksPorts.map((p) => p.value)).toEqual(['1']);
  });
  it('throws TorrcReadError when the torrc itself cannot be read', () => {
    expect(() => readTorrc(join(root, 'missing'))).toThrow(TorrcReadError);
    expect(() => readTorrc(root)).toThrow(TorrcReadError);
  });
});

describe('reading only regular files of bounded size', () => {
  // Each of these hung `tails-launch torrc --check` before: the test timeout fails them if they still do.
  it('reports `%include /dev/zero` as an ERROR at once, and goes on', () => {
    const dir = tree({ torrc: 'SocksPort 1\n%include /dev/zero\nSocksPort 2\n' });
    const t = readTorrc(join(dir, 'torrc'));
    expect(t.socksPorts.map((p) => p.value)).toEqual(['1', '2']);
    expect(t.problems).toEqual([
      {
        file: join(dir, 'torrc'),
        line: 2,
        message: 'cannot read included file /dev/zero: is not a regular file (a character device)',
      },
    ]);
  });
  it('reports an included FIFO without waiting for a writer', () => {
    const dir = tree({});
    mkdirSync(dir, { recursive: true });
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    writeFileSync(join(dir, 'torrc'), `%include ${join(dir, 'fifo')}\n`);
    expect(readTorrc(join(dir, 'torrc')).problems).toMatchObject([
      { line: 1, message: expect.stringContaining('is not a regular file (a FIFO)') },
    ]);
  });
  it('refuses a FIFO or a device as the torrc itself (TorrcReadError)', () => {
    const dir = tree({});
    mkdirSync(dir, { recursive: true });
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    expect(() => readTorrc(join(dir, 'fifo'))).toThrow(/is not a regular file \(a FIFO\)/);
    expect(() => readTorrc('/dev/zero')).toThrow(/is not a regular file \(a character device\)/);
  });
  it(`refuses a file larger than ${MAX_TORRC_BYTES / 1024 / 1024} MiB`, () => {
    const dir = tree({ torrc: `%include ${root}/big\n` });
    writeFileSync(join(root, 'big'), `# ${'x'.repeat(MAX_TORRC_BYTES)}\n`);
    expect(readTorrc(join(dir, 'torrc')).problems).toMatchObject([
      { line: 1, message: expect.stringContaining('is larger than 4 MiB') },
    ]);
  });
  it(`stops after reading ${MAX_INCLUDED_FILES} files (includes that fan out)`, () => {
    // 40 x 40 = 1600 reads without ever nesting deeper than 2.
    const dir = tree({ leaf: '# nothing\n', mid: '%include leaf\n'.repeat(40) });
    writeFileSync(join(dir, 'torrc'), '%include mid\n'.repeat(40));
    const t = readTorrc(join(dir, 'torrc'), { cwd: dir });
    expect(t.files.length).toBeLessThanOrEqual(MAX_INCLUDED_FILES);
    expect(t.problems).toMatchObject([
      { message: expect.stringContaining(`more than ${MAX_INCLUDED_FILES} files read through %include`) },
    ]);
  });
  it('escapes a newline in a quoted include path: it cannot forge a line of output', () => {
    const dir = tree({ torrc: '%include "/nonexistent/x\\nok       listener default"\n' });
    const [problem] = readTorrc(join(dir, 'torrc')).problems;
    expect(problem!.message).not.toContain('\n');
    expect(problem!.message).toContain('/nonexistent/x\\nok');
  });
});
