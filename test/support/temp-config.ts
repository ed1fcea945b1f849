// Writes configuration layers as real directories, for tests of the pure
// loading and resolution code (no launcher process involved).
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Layer } from '../../src/profile/layers';

/** FILES maps a relative path (listeners.yml, profiles/x.yml) to its text. */
export function writeLayer(name: Layer['name'], files: Record<string, string>): Layer {
  const dir = mkdtempSync(join(tmpdir(), `tails-launch-${name}-`));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return { name, dir };
}

export const LISTENERS = `listeners:
  default: { address: 127.0.0.1, port: 9050, flags: [IsolateDestAddr, IsolateDestPort] }
  tails: { address: 127.0.0.1, port: 9062 }
  browser: { address: 10.200.1.1, port: 9050, netns: tbb, client_address: 127.0.0.1 }
`;
