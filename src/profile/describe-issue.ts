// Turns schema issues into problems that name the file, the line and the
// field. The line is found by re-parsing the file with the `yaml` package,
// which keeps source positions; it is loaded only here, on the error path,
// so that an ordinary launch does not pay for it.
import type { ConfigProblem } from './config-error';
import { MAX_ECHO, printable } from '../files/printable';

/** At most this many unknown keys are named in one message (a file may hold thousands). */
const MAX_KEYS_NAMED = 5;

export interface SchemaIssue {
  code: string;
  path: PropertyKey[];
  message: string;
  keys?: string[];
  values?: unknown[];
  expected?: string;
  minimum?: number | bigint;
  maximum?: number | bigint;
  origin?: string;
  format?: string;
  /** invalid_key (a record's key, e.g. an env.set name): what is wrong with the key. */
  issues?: SchemaIssue[];
}

function describe(issue: SchemaIssue): string {
  switch (issue.code) {
    case 'unrecognized_keys': {
      // Keys come from the file: each is cut short and escaped, and only the first few are named.
      const keys = issue.keys ?? [];
      const named = keys
        .slice(0, MAX_KEYS_NAMED)
        .map((k) => `'${printable(k, MAX_ECHO)}'`)
        .join(', ');
      const more = keys.length > MAX_KEYS_NAMED ? ` and ${keys.length - MAX_KEYS_NAMED} more` : '';
      return `unknown field${keys.length > 1 ? 's' : ''} ${named}${more}`;
    }
    case 'invalid_value':
      return `must be one of ${issue.values?.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_type':
      return issue.expected ? `must be ${article(issue.expected)}` : 'has the wrong type';
    case 'too_small':
      return issue.origin === 'string' ? `must not be empty` : `must be at least ${issue.minimum}`;
    case 'too_big':
      return `must be at most ${issue.maximum}`;
    case 'invalid_format':
      return issue.format === 'regex'
        ? `must be ${issue.message}`
        : `must be ${article(issue.format ?? 'valid')} address`;
    case 'invalid_key':
      // The key itself is wrong (`A=B` as a variable name): say what a key must be.
      return issue.issues?.[0] ? describe(issue.issues[0]) : 'is not a valid name';
    case 'invalid_union':
      return 'must be an IPv4 or IPv6 address (numeric: no host names)';
    default:
      return issue.message;
  }
}

function article(word: string): string {
  return /^[aeiou]/i.test(word) ? `an ${word}` : `a ${word}`;
}

export async function problemsFromIssues(file: string, text: string, issues: SchemaIssue[]): Promise<ConfigProblem[]> {
  // `yaml` is CommonJS under Node: in the ESM bundle its exports sit on `default`.
  const imported = await import('yaml');
  const { LineCounter, parseDocument, isMap, isPair, isScalar } =
    (imported as unknown as { default?: typeof imported }).default ?? imported;
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  const lineOf = (offset: number | undefined) => (offset === undefined ? undefined : lineCounter.linePos(offset).line);

  // The node at PATH, or the deepest existing ancestor's.
  function locate(path: PropertyKey[], key?: string): number | undefined {
    let node: unknown = doc.contents;
    let line = lineOf((node as { range?: [number] } | null)?.range?.[0]);
    for (const segment of key === undefined ? path : [...path, key]) {
      if (!isMap(node) && !(node && typeof node === 'object' && 'items' in node)) break;
      const items = (node as { items: unknown[] }).items;
      const item = isMap(node)
        ? items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(segment))
        : items[Number(segment)];
      if (!item) break;
      const keyNode = isPair(item) ? item.key : item;
      line = lineOf((keyNode as { range?: [number] } | null)?.range?.[0]) ?? line;
      node = isPair(item) ? item.value : item;
    }
    return line;
  }

  return issues.map((issue) => {
    const key = issue.code === 'unrecognized_keys' ? issue.keys?.[0] : undefined;
    const fieldPath = key === undefined ? issue.path : [...issue.path, key];
    return {
      file,
      line: locate(issue.path, key),
      // Path segments may be keys from the file (env.set.<name>): cut short and escaped.
      field: fieldPath.length ? fieldPath.map((segment) => printable(String(segment), MAX_ECHO)).join('.') : undefined,
      message: describe(issue),
    };
  });
}
