// The folders of src/ stack: each imports only folders below it in STACK
// (README "Layout" draws it, one line a folder). Read from the source with
// TypeScript's own parser: static imports, re-exports and import() alike.
// And no function in src/ (TypeScript or C) is over 80 lines: longer ones
// are split into named steps.
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

describe('short functions', () => {
  const MAX = 80;

  it(`no TypeScript function in src/ is over ${MAX} lines`, () => {
    const long: string[] = [];
    for (const file of sources(SRC)) {
      const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
      const visit = (node: ts.Node) => {
        if (
          ts.isFunctionDeclaration(node) ||
          ts.isMethodDeclaration(node) ||
          ts.isArrowFunction(node) ||
          ts.isFunctionExpression(node) ||
          ts.isConstructorDeclaration(node)
        ) {
          const first = source.getLineAndCharacterOfPosition(node.getStart()).line;
          const last = source.getLineAndCharacterOfPosition(node.getEnd()).line;
          const name = 'name' in node && node.name ? node.name.getText() : '(anonymous)';
          if (last - first + 1 > MAX)
            long.push(`${relative(SRC, file)}:${first + 1} ${name}: ${last - first + 1} lines`);
        }
        ts.forEachChild(node, visit);
      };
      visit(source);
    }
    expect(long).toEqual([]);
  });

  it(`no C function in src/ is over ${MAX} lines`, () => {
    const long: string[] = [];
    for (const file of ['place/place.c', 'jail/jail.c']) {
      const lines = readFileSync(join(SRC, file), 'utf8').split('\n');
      let depth = 0;
      let start: number | null = null;
      lines.forEach((line, i) => {
        // Braces in strings, characters and comments are not the code's.
        const code = line
          .replace(/"(\\.|[^"\\])*"/g, '""')
          .replace(/'(\\.|[^'\\])*'/g, "''")
          .replace(/\/\/.*$/, '');
        const open = (code.match(/\{/g) ?? []).length;
        const close = (code.match(/\}/g) ?? []).length;
        if (depth === 0 && open > 0) start = i;
        depth += open - close;
        if (depth === 0 && close > 0 && start !== null) {
          if (i - start + 1 > MAX) long.push(`${file}:${start + 1}: ${i - start + 1} lines`);
          start = null;
        }
      });
    }
    expect(long).toEqual([]);
  });
});
