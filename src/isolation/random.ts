import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { EXIT } from '../errors/exit-codes';
import { LaunchError } from '../errors/launch-error';

/** Linux's /dev/urandom: character device, major 1 (mem), minor 9. */
const URANDOM_MAJOR = 1;
const URANDOM_MINOR = 9;

/** The major and minor numbers of a device number as glibc's makedev packs them (what Node's rdev holds). */
export function deviceNumbers(rdev: number): { major: number; minor: number } {
  const dev = BigInt(rdev);
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & 0xfffff000n));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & 0xffffff00n));
  return { major, minor };
}

/** Null when STATS is the kernel's /dev/urandom; else what it is instead. */
export function randomSourceProblem(stats: Pick<Stats, 'rdev'> & { isCharacterDevice(): boolean }): string | null {
  if (!stats.isCharacterDevice()) return 'is not a character device';
  const { major, minor } = deviceNumbers(stats.rdev);
  return major === URANDOM_MAJOR && minor === URANDOM_MINOR
    ? null
    : `is device ${major}:${minor}, not the kernel's random device 1:9`;
}

/**
 * COUNT random bytes from SOURCE, which must be the kernel's urandom device.
 *
 * A per-launch isolation key that someone can predict is no isolation, so a
 * broken source must refuse the launch, never yield a weak key: SOURCE is
 * opened (O_NONBLOCK: a FIFO put there cannot block the open) and checked on
 * its descriptor to be character device 1:9, whatever its path holds (a
 * regular file, /dev/zero, a FIFO bind-mounted over it), and read until COUNT
 * bytes came (a read may return fewer); end of file or an error refuses.
 * The refusal is exit 70: nothing in the configuration can fix it.
 */
export function readRandomBytes(count: number, source = '/dev/urandom'): Buffer {
  const refuse = (why: string) =>
    new LaunchError(EXIT.internal, `cannot make a random isolation key: ${source} ${why}`);
  let fd: number;
  try {
    fd = openSync(source, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (error) {
    throw refuse(`cannot be opened (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  try {
    const problem = randomSourceProblem(fstatSync(fd));
    if (problem) throw refuse(problem);
    const bytes = Buffer.alloc(count);
    let filled = 0;
    while (filled < count) {
      let n: number;
      try {
        n = readSync(fd, bytes, filled, count - filled, null);
      } catch (error) {
        throw refuse(`could not be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
      }
      if (n === 0) throw refuse(`ended after ${filled} of ${count} bytes`);
      filled += n;
    }
    return bytes;
  } finally {
    closeSync(fd);
  }
}

/**
 * 128 random bits as hex, for per-launch isolation keys. Read straight from
 * the kernel: loading node:crypto (OpenSSL) would cost the launch ~3.5 ms.
 */
export function randomHex(): string {
  return readRandomBytes(16).toString('hex');
}
