// Integration tests run the BUILT launcher (bin/tails-launch -> dist/), the
// same artefact that ships, so build it once before any test file runs; and
// the launcher must run on Node 18.20 (Debian bookworm), so fetch that Node
// once (scripts/fetch-node18.sh does nothing when it is there already).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'inherit' });
  execFileSync('sh', ['scripts/fetch-node18.sh'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
}
