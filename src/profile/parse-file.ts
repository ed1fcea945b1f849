// Parsing and validating one configuration file: YAML/JSON through
// cosmiconfig's loaders, then the zod schema and the profile lint. This is
// the expensive part of reading configuration (js-yaml, zod and the schemas
// cost ~14 ms to load), so it is imported only when a file must really be
// parsed: by validate, and on a launch of a file that is not shipped. The
// text itself was read before (./trust's readConfigText), on every launch.
import { ConfigError } from './config-error';
import { problemsFromIssues, type SchemaIssue } from './describe-issue';
import { lintProfile } from './lint';
import { parseConfigText, type LoadedFile } from './read-config-file';
import { listenersFileSchema, profileFileSchema, type ListenersFile, type ProfileFile } from './schema';
import { readConfigText } from './trust';

async function validateData<T>(
  loaded: LoadedFile,
  schema: { safeParse(data: unknown): { success: true; data: T } | { success: false; error: { issues: unknown[] } } },
  lint?: (data: T) => SchemaIssue[],
): Promise<T> {
  const result = schema.safeParse(loaded.data);
  const issues = result.success ? (lint?.(result.data) ?? []) : (result.error.issues as SchemaIssue[]);
  if (issues.length) throw new ConfigError(await problemsFromIssues(loaded.file, loaded.text, issues));
  return (result as { data: T }).data;
}

/** The listeners file FILE, whose text is TEXT, validated. */
export function parseListenersText(file: string, text: string): Promise<ListenersFile> {
  return validateData({ file, text, data: parseConfigText(file, text) }, listenersFileSchema);
}

/** The profile in FILE, whose text is TEXT, validated. */
export function parseProfileText(file: string, text: string): Promise<ProfileFile> {
  return validateData({ file, text, data: parseConfigText(file, text) }, profileFileSchema, lintProfile);
}

/** Problems pointing at PATH in FILE (for errors found after parsing, e.g. an unknown listener). */
export async function locateInFile(file: string, path: PropertyKey[], message: string) {
  let text: string | null = null;
  try {
    text = readConfigText(file);
  } catch {
    // It was read before this error was found; if it cannot be now, the problem goes without its line.
  }
  const issue: SchemaIssue = { code: 'custom', path, message };
  return text !== null ? problemsFromIssues(file, text, [issue]) : [{ file, field: path.join('.'), message }];
}
