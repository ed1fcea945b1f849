// The one bounded reader (src/profile/safe-read.ts) on real special files:
// none of them may block or be read past the bound. Each read that used to
// hang (readFileSync on a FIFO or /dev/zero) must return at once here; the
// test timeout is what fails if it does not.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileReadError, readBoundedFile } from '../../src/files/safe-read';

const root = mkdtempSync(join(tmpdir(), 'tails-launch-safe-read-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const path = (name: string) => join(root, `${n++}-${name}`);

function refusal(file: string, options = { maxBytes: 1024 }): FileReadError {
  try {
    readBoundedFile(file, options);
  } catch (error) {
    expect(error).toBeInstanceOf(FileReadError);
    return error as FileReadError;
  }
  throw new Error(`${file} was read`);
}

describe('readBoundedFile', () => {
  it('reads a regular file, also through a symlink (the final file is what counts)', () => {
    const file = path('file');
    writeFileSync(file, 'listeners: {}\n');
    const link = path('link');
    symlinkSync(file, link);
    expect(readBoundedFile(file, { maxBytes: 1024 })?.text).toBe('listeners: {}\n');
    expect(readBoundedFile(link, { maxBytes: 1024 })?.text).toBe('listeners: {}\n');
  });

  it('returns null for a missing file, and below a file (ENOTDIR)', () => {
    const file = path('file');
    writeFileSync(file, 'x');
    expect(readBoundedFile(path('missing'), { maxBytes: 1024 })).toBeNull();
    expect(readBoundedFile(join(file, 'below'), { maxBytes: 1024 })).toBeNull();
  });

  it('refuses a FIFO without waiting for a writer', () => {
    const fifo = path('fifo');
    execFileSync('mkfifo', [fifo]);
    const started = Date.now();
    expect(refusal(fifo).reason).toBe('is not a regular file (a FIFO)');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('refuses /dev/zero, directly and through a symlink, without reading it', () => {
    const link = path('zero');
    symlinkSync('/dev/zero', link);
    expect(refusal('/dev/zero').reason).toBe('is not a regular file (a character device)');
    expect(refusal(link).reason).toBe('is not a regular file (a character device)');
  });

  it('refuses a directory and a socket', () => {
    expect(refusal(root).reason).toBe('is not a regular file (a directory)');
    const socket = path('sock');
    execFileSync('python3', ['-c', `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(socket)})`]);
    expect(refusal(socket).reason).toBe('is not a regular file (a socket)');
  });

  it('reads exactly the bound, and refuses one byte more', () => {
    const exact = path('exact');
    writeFileSync(exact, 'x'.repeat(1024));
    expect(readBoundedFile(exact, { maxBytes: 1024 })?.text).toHaveLength(1024);
    const over = path('over');
    writeFileSync(over, 'x'.repeat(1025));
    expect(refusal(over).reason).toBe('is larger than 1 KiB');
  });

  it('with noFollow, refuses a symlink as the last component', () => {
    const file = path('file');
    writeFileSync(file, 'x');
    const link = path('link');
    symlinkSync(file, link);
    expect(refusal(link, { maxBytes: 1024, noFollow: true } as never).reason).toBe('is a symbolic link');
  });

  it("applies the caller's check to the opened file's fstat", () => {
    const file = path('file');
    writeFileSync(file, 'x', { mode: 0o644 });
    const error = refusal(file, {
      maxBytes: 1024,
      check: (s: { mode: number }) => ((s.mode & 0o777) === 0o600 ? null : 'not 0600'),
    } as never);
    expect(error.reason).toBe('not 0600');
  });
});
