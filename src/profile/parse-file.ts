// Parsing and validating one configuration file: YAML/JSON through
// cosmiconfig's loaders, then the zod schema and the profile lint. This is
// the expensive part of reading configuration (js-yaml, zod and the schemas
// cost ~14 ms to load), so it is imported only when a file must really be
// parsed: by validate, and on a launch whose parsed-file cache misses.
import { ConfigError } from './config-error';
import { problemsFromIssues, type SchemaIssue } from './describe-issue';
import { lintProfile } from './lint';
import { readConfigFile, type LoadedFile } from './read-config-file';
import { listenersFileSchema, profileFileSchema, type ListenersFile, type ProfileFile } from './schema';

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

/** The listeners file FILE (listeners, control port), validated; null when FILE does not exist. */
export async function parseListenersFile(file: string): Promise<ListenersFile | null> {
  const loaded = readConfigFile(file);
  return loaded && validateData(loaded, listenersFileSchema);
}

/** The profile in FILE, validated; null when FILE does not exist. */
export async function parseProfileFile(file: string): Promise<ProfileFile | null> {
  const loaded = readConfigFile(file);
  return loaded && validateData(loaded, profileFileSchema, lintProfile);
}

/** Problems pointing at PATH in FILE (for errors found after parsing, e.g. an unknown listener). */
export async function locateInFile(file: string, path: PropertyKey[], message: string) {
  const loaded = readConfigFile(file);
  const issue: SchemaIssue = { code: 'custom', path, message };
  return loaded ? problemsFromIssues(file, loaded.text, [issue]) : [{ file, field: path.join('.'), message }];
}
