// Root's own placed launch, handed to the privileged entry's preflight: the
// plan root made (from root's configuration, --config-dir included), the
// environment and files it computed, and the caller's exact bytes, as one
// JSON document after the grant line in the memfd (handover.ts writes it,
// src/cli/placed.ts reads it as the application's account).
import type { PlannedLaunch } from '../plan/build-plan';
import type { ExecRequest } from '../exec/types';

export type RawBytes = NonNullable<ExecRequest['raw']>;

interface Encoded {
  v: 1;
  launch: PlannedLaunch;
  raw: { argv: [number, string][]; env: [string, string][] };
}

export function encodeLaunch(launch: PlannedLaunch, raw: RawBytes): Buffer {
  const doc: Encoded = {
    v: 1,
    launch,
    raw: {
      argv: [...raw.argv].map(([i, b]) => [i, b.toString('base64')]),
      env: [...raw.env].map(([n, b]) => [n, b.toString('base64')]),
    },
  };
  return Buffer.from(JSON.stringify(doc));
}

/** The document after the grant's line; throws on anything else (the entry made it from root's own, so it is a bug). */
export function decodeLaunch(bytes: Buffer): { launch: PlannedLaunch; raw: RawBytes } {
  const text = bytes.toString('utf8');
  const doc = JSON.parse(text.slice(text.indexOf('\n') + 1)) as Encoded;
  if (doc.v !== 1) throw new Error('the launch handed to the entry has an unknown version');
  return {
    launch: doc.launch,
    raw: {
      argv: new Map(doc.raw.argv.map(([i, b]) => [i, Buffer.from(b, 'base64')])),
      env: new Map(doc.raw.env.map(([n, b]) => [n, Buffer.from(b, 'base64')])),
    },
  };
}
