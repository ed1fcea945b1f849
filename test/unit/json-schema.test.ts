import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs build script without types
import { generate } from '../../scripts/schema.mjs';

describe('published JSON Schema', () => {
  it('matches src/profile/schema.ts (run node scripts/schema.mjs after changing it)', async () => {
    const files: Record<string, string> = await generate();
    for (const [path, text] of Object.entries(files)) expect(readFileSync(path, 'utf8'), path).toBe(text);
  });

  it('carries the rules editors need: names, enums, numeric addresses, flags', () => {
    const profile = JSON.parse(readFileSync('schema/profile.schema.json', 'utf8'));
    expect(profile.additionalProperties).toBe(false);
    expect(profile.properties.isolation.enum).toEqual(['app', 'launch', 'process', 'none', 'application']);
    expect(profile.properties.backend.enum).toEqual(['torsocks', 'env', 'proxychains', 'own-setting']);
    const listeners = JSON.parse(readFileSync('schema/listeners.schema.json', 'utf8'));
    const listener = listeners.properties.listeners.additionalProperties;
    expect(new RegExp(listener.properties.flags.items.pattern).test('NoIsolateDestAddr')).toBe(true);
    expect(new RegExp(listener.properties.flags.items.pattern).test('IsolateEverything')).toBe(false);
    expect(listener.required).toEqual(['address', 'port']);
  });
});
