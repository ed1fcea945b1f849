// File capabilities, like setuid (see inspect-binary.ts), put the kernel in
// secure-execution mode, where the loader ignores LD_PRELOAD: a program
// carrying them would escape torsocks and proxychains. Node has no API for
// extended attributes, so the question goes to libc (exec/libc.ts).
import { ERRNO, loadLibc } from '../exec/libc';

/**
 * Whether the open file FD carries file capabilities (the
 * `security.capability` extended attribute). Null when it cannot be told (no
 * koffi, or an error other than "no such attribute"): callers must then
 * refuse.
 */
export function hasFileCapabilities(fd: number): boolean | null {
  const r = loadLibc();
  if (!('libc' in r)) return null;
  // Size query: > 0 when present; -1 with ENODATA (or ENOTSUP: no xattrs on this filesystem) when absent.
  const size = r.libc.fgetxattr(fd, 'security.capability', null, 0);
  if (size >= 0) return size > 0;
  const errno = r.libc.koffi.errno();
  return errno === ERRNO.ENODATA || errno === ERRNO.ENOTSUP ? false : null;
}
