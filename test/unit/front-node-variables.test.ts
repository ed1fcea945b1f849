// The sh front (bin/tails-launch) keeps Node's start-up variables away from
// the launcher's Node; the launcher puts back exactly the ones it lists. The
// two lists must be the same, or a variable would be lost or reach Node.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NODE_VARIABLES } from '../../src/exec/caller-state';
import { ROOT } from '../support/launcher';

describe("the caller's Node variables", () => {
  it('the front and the launcher list the same ones', () => {
    const front = readFileSync(join(ROOT, 'bin/tails-launch'), 'utf8');
    const loop = /^for v in ((?:[^;]|\\\n)*); do$/m.exec(front);
    expect(loop, 'the front has no `for v in ...; do` loop').not.toBeNull();
    const listed = loop![1]!.replace(/\\\n/g, ' ').split(/\s+/).filter(Boolean);
    expect(listed).toEqual([...NODE_VARIABLES]);
  });
});
