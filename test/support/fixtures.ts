// vitest fixtures shared by the integration tests: each registers its own
// hooks, so a test file says what it needs in one line.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { startSocks5Server, type Socks5Server } from './socks5-server';

/** One SOCKS5 server for the test file, its records cleared before each test. */
export function useSocks5Server(): Socks5Server {
  let server: Socks5Server | undefined;
  beforeAll(async () => {
    server = await startSocks5Server();
  });
  beforeEach(() => server?.clear());
  afterAll(() => server?.close());
  const live = (): Socks5Server => {
    if (!server) throw new Error('the SOCKS5 server is used outside a test');
    return server;
  };
  return {
    get host() {
      return live().host;
    },
    get port() {
      return live().port;
    },
    get records() {
      return live().records;
    },
    waitForRecords: (count, timeoutMs) => live().waitForRecords(count, timeoutMs),
    clear: () => live().clear(),
    close: () => live().close(),
  };
}

/**
 * Temporary directories for the test file, all removed after its tests:
 * `make(prefix)` creates one, `track(dir)` adopts one made elsewhere.
 */
export function useTempDirs(): { make: (prefix: string) => string; track: (dir: string) => string } {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
  const track = (dir: string) => (dirs.push(dir), dir);
  return { track, make: (prefix) => track(mkdtempSync(join(tmpdir(), `tails-launch-${prefix}-`))) };
}

/** gst-launch-1.0's arguments for 10 s of Vorbis in Ogg (a sine), written to FILE: a clip for Totem. */
export function oggClipPipeline(file: string): string[] {
  return [
    '-q',
    'audiotestsrc',
    'num-buffers=430',
    '!',
    'audio/x-raw,rate=44100,channels=1',
    '!',
    'vorbisenc',
    '!',
    'oggmux',
    '!',
    'filesink',
    `location=${file}`,
  ];
}
