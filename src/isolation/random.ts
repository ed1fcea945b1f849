import { closeSync, openSync, readSync } from 'node:fs';

/**
 * 128 random bits as hex, for per-launch isolation keys. Read straight from
 * the kernel: loading node:crypto (OpenSSL) would cost the launch ~3.5 ms.
 */
export function randomHex(): string {
  const bytes = Buffer.alloc(16);
  const fd = openSync('/dev/urandom', 'r');
  try {
    if (readSync(fd, bytes, 0, 16, null) !== 16) throw new Error('short read from /dev/urandom');
  } finally {
    closeSync(fd);
  }
  return bytes.toString('hex');
}
