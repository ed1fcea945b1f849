// The README, docs/ and the manual page point at each other: a link to a
// file that is not there, or to a heading that is not in it, fails here; so
// does a docs/ page that neither the README nor the manual page names, and a
// README that outgrows a newcomer's five minutes.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HELP } from '../../src/cli/help';

const ROOT = join(dirname(new URL(import.meta.url).pathname), '..', '..');
const DOCS = join(ROOT, 'docs');
const PAGES = [
  join(ROOT, 'README.md'),
  ...readdirSync(DOCS)
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(DOCS, f)),
];

/** The text outside code (fenced blocks, indented blocks, `spans`): where links are links. */
function prose(text: string): string[] {
  const out: string[] = [];
  let fence = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) {
      fence = !fence;
      continue;
    }
    if (fence || /^( {4}|\t)/.test(line)) continue;
    out.push(line.replace(/`[^`]*`/g, ''));
  }
  return out;
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as '-'. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/`/g, '')
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

function anchors(file: string): Set<string> {
  let fence = false;
  const found = new Set<string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('```')) fence = !fence;
    const m = fence ? null : /^#{1,6} (.*)$/.exec(line);
    if (m) found.add(slug(m[1]!));
  }
  return found;
}

/** Every [text](target) of FILE's prose, links spanning two lines included. */
function links(file: string): string[] {
  const text = prose(readFileSync(file, 'utf8')).join('\n');
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
}

describe('README, docs/ and the manual page', () => {
  it.each(PAGES.map((p) => [relative(ROOT, p), p]))('every link of %s reaches a file and a heading', (_, page) => {
    const broken: string[] = [];
    for (const target of links(page)) {
      if (/^[a-z]+:/.test(target)) continue;
      const [path, anchor] = target.split('#') as [string, string | undefined];
      const file = path === '' ? page : join(dirname(page), path);
      if (!existsSync(file)) broken.push(`${target}: no such file`);
      else if (anchor !== undefined && file.endsWith('.md') && !anchors(file).has(anchor))
        broken.push(`${target}: no heading '${anchor}' in ${relative(ROOT, file)}`);
    }
    expect(broken).toEqual([]);
  });

  it('every page of docs/ is linked from the README and named in the manual page, and no more', () => {
    const pages = readdirSync(DOCS).filter((f) => f.endsWith('.md'));
    const readme = new Set(links(join(ROOT, 'README.md')).map((t) => t.split('#')[0]));
    expect(pages.filter((p) => !readme.has(`docs/${p}`))).toEqual([]);
    const man = readFileSync(join(ROOT, 'debian', 'tails-launch.1'), 'utf8').replace(/\\-/g, '-');
    const seeAlso = man.slice(man.indexOf('.SH SEE ALSO'));
    const named = [...seeAlso.matchAll(/^\.IR? ([a-z-]+\.md)\b/gm)].map((m) => m[1]!);
    expect(named.sort()).toEqual([...pages].sort());
    expect(seeAlso).toContain('/usr/share/doc/tails-launch/docs/');
  });

  it('every command the help names has a row in the README table and a place in docs/commands.md, every option in docs/', () => {
    // The same reading of the help as test/unit/man-page.test.ts: what holds
    // the manual page to the help holds docs/ to it too.
    const usage = HELP.slice(0, HELP.indexOf('\n\n'));
    const commands = [...new Set([...usage.matchAll(/tails-launch \[[^\]]*\] ([a-z][a-z-]*)/g)].map((m) => m[1]!))];
    const options = [...new Set([...HELP.matchAll(/--[a-z][a-z-]*[a-z]/g)].map((m) => m[0]))];
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const reference = readFileSync(join(DOCS, 'commands.md'), 'utf8');
    const docs = readdirSync(DOCS)
      .filter((f) => f.endsWith('.md'))
      .map((f) => readFileSync(join(DOCS, f), 'utf8'))
      .join('\n');
    expect(commands.length).toBeGreaterThan(10);
    expect(commands.filter((c) => !new RegExp(`^\\| \`(\\[)?${c}\\b`, 'm').test(readme))).toEqual([]);
    expect(commands.filter((c) => !new RegExp(`\\b${c}\\b`).test(reference))).toEqual([]);
    expect(options.filter((o) => !new RegExp(`${o}(?![a-z-])`).test(docs))).toEqual([]);
  });

  it('the package installs docs/ beside the README', () => {
    expect(readFileSync(join(ROOT, 'debian', 'docs'), 'utf8').split('\n')).toEqual(['README.md', 'docs', '']);
  });

  it('the README stays a five-minute read (250 lines at most)', () => {
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n').length).toBeLessThanOrEqual(251);
  });
});
