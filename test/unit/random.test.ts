// Launch keys (src/isolation/random.ts): only the kernel's urandom device
// may supply them; any other source refuses (70) instead of yielding a
// predictable key.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LaunchError } from '../../src/errors/launch-error';
import { deviceNumbers, randomHex, randomSourceProblem, readRandomBytes } from '../../src/isolation/random';
import { EXIT } from '../support/expected';

const root = mkdtempSync(join(tmpdir(), 'tails-launch-random-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function refusal(source: string): LaunchError {
  try {
    readRandomBytes(16, source);
  } catch (error) {
    expect(error).toBeInstanceOf(LaunchError);
    expect((error as LaunchError).exitCode).toBe(EXIT.internal);
    expect((error as LaunchError).message).not.toContain('\n');
    return error as LaunchError;
  }
  throw new Error(`${source} gave a key`);
}

describe('random launch keys', () => {
  it('come from /dev/urandom: 32 hex digits, different every time', () => {
    const keys = new Set(Array.from({ length: 50 }, () => randomHex()));
    expect(keys.size).toBe(50);
    for (const key of keys) expect(key).toMatch(/^[0-9a-f]{32}$/);
  });

  it('decode device numbers as glibc packs them (/dev/urandom is 1:9, /dev/zero 1:5)', () => {
    expect(deviceNumbers(statSync('/dev/urandom').rdev)).toEqual({ major: 1, minor: 9 });
    expect(deviceNumbers(statSync('/dev/zero').rdev)).toEqual({ major: 1, minor: 5 });
    // A large device number: major 259, minor 65536 (glibc makedev).
    expect(deviceNumbers(Number(((259n & 0xfffn) << 8n) | (65536n & 0xffn) | ((65536n & ~0xffn) << 12n)))).toEqual({
      major: 259,
      minor: 65536,
    });
  });

  it('accept only character device 1:9', () => {
    expect(randomSourceProblem(statSync('/dev/urandom'))).toBeNull();
    expect(randomSourceProblem(statSync('/dev/zero'))).toBe("is device 1:5, not the kernel's random device 1:9");
    expect(randomSourceProblem(statSync('/dev/null'))).toBe("is device 1:3, not the kernel's random device 1:9");
    expect(randomSourceProblem(statSync(root))).toBe('is not a character device');
  });

  it('refuse /dev/zero (all zeros would be a predictable key), a regular file, a FIFO (at once) and a missing source', () => {
    expect(refusal('/dev/zero').message).toBe(
      "cannot make a random isolation key: /dev/zero is device 1:5, not the kernel's random device 1:9",
    );
    const file = join(root, 'file');
    writeFileSync(file, 'x'.repeat(64));
    expect(refusal(file).message).toContain('is not a character device');
    const fifo = join(root, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const started = Date.now();
    expect(refusal(fifo).message).toContain('is not a character device');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(refusal(join(root, 'missing')).message).toContain('cannot be opened (ENOENT)');
  });
});
