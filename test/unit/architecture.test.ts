// The folders of src/ stack: each imports only folders below it in STACK
// (README "Layout" draws it, one line a folder). Read from the source with
// TypeScript's own parser: static imports, re-exports and import() alike.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = join(dirname(new URL(import.meta.url).pathname), '..', '..');
const SRC = join(ROOT, 'src');

/** Bottom first: a folder may import the folders before it, and itself. */
export const STACK = [
  'errors',
  'files',
  'vocabulary',
  'exec',
  'system',
  'tor',
  'isolation',
  'backends',
  'profile',
  'jail',
  'placement',
  'plan',
  'preflight',
  'handover',
  'desktop',
  'circuits',
  'cli',
];

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

const folderOf = (path: string) => relative(SRC, path).split('/')[0]!;

/** Every relative module FILE names (import, export from, import()). */
function specifiers(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    )
      found.push(node.moduleSpecifier.text);
    if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    )
      found.push(node.arguments[0].text);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found.filter((s) => s.startsWith('.'));
}

describe('the house: folders that stack', () => {
  const files = sources(SRC);

  it('every folder of src/ has its floor', () => {
    const folders = readdirSync(SRC).filter((f) => statSync(join(SRC, f)).isDirectory() && f !== 'place');
    expect(folders.filter((f) => !STACK.includes(f))).toEqual([]);
  });

  it('each folder imports only the folders below it', () => {
    const upward: string[] = [];
    for (const file of files) {
      const from = folderOf(file);
      for (const spec of specifiers(file)) {
        const to = folderOf(resolve(dirname(file), spec));
        if (to !== from && STACK.indexOf(to) > STACK.indexOf(from))
          upward.push(`${relative(SRC, file)} imports ${spec} (${from} is below ${to})`);
      }
    }
    expect(upward).toEqual([]);
  });

  it("README's layout draws this stack, top floor first", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const layout = readme.slice(readme.indexOf('## Layout'));
    const drawn = [...layout.matchAll(/^ {4}src\/([a-z]+)\//gm)].map((m) => m[1]);
    expect(drawn).toEqual([...STACK].reverse());
  });
});
