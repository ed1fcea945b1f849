// Publishes the configuration schemas as JSON Schema for editors
// (schema/listeners.schema.json, schema/profile.schema.json). The source of
// truth is src/profile/schema.ts; test/unit/json-schema.test.ts fails when the
// published files fall behind it. Usage: node scripts/schema.mjs [--check]
import { readFileSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

export async function generate() {
  const { outputFiles } = await build({
    entryPoints: ['src/profile/schema.ts'],
    bundle: true,
    format: 'esm',
    platform: 'node',
    write: false,
    logLevel: 'error',
  });
  const url = `data:text/javascript;base64,${Buffer.from(outputFiles[0].text).toString('base64')}`;
  const { listenersFileSchema, profileFileSchema } = await import(url);
  const { toJSONSchema } = await import('zod/mini');
  const render = (schema, id, title) =>
    `${JSON.stringify({ ...toJSONSchema(schema, { unrepresentable: 'any' }), $id: id, title }, null, 2)}\n`;
  return {
    'schema/listeners.schema.json': render(
      listenersFileSchema,
      'tails-launch/listeners.schema.json',
      'tails-launch listeners.yml',
    ),
    'schema/profile.schema.json': render(
      profileFileSchema,
      'tails-launch/profile.schema.json',
      'tails-launch profile (profiles/NAME.yml)',
    ),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const files = await generate();
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const [path, text] of Object.entries(files)) {
    if (check) {
      let current = '';
      try {
        current = readFileSync(path, 'utf8');
      } catch {}
      if (current !== text) {
        console.error(`${path} is out of date: run node scripts/schema.mjs`);
        stale++;
      }
    } else {
      writeFileSync(path, text);
      console.log(`wrote ${path}`);
    }
  }
  process.exit(stale ? 1 : 0);
}
