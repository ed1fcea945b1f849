// The validated content of the shipped configuration files, made when the
// launcher is built: scripts/build.mjs parses every file of profiles/ and
// listeners.yml with ./parse-file, the very code a launch would run, and
// puts the result in the bundle. An ordinary launch of a shipped profile
// then loads neither js-yaml nor zod nor the schemas (~18 ms of a launch).
//
// The key is a file's CONTENT: every launch still reads each file it uses
// (through ./trust, so the trust checks and the size bound apply), and the
// built-in data is used only when the text just read is exactly, character
// for character, the text of a shipped file of the same kind, in a `.yml`
// file (what the shipped files are: a `.json` file is parsed by another
// loader). Which files a launch reads is decided afresh every time, so an
// override in a higher layer is always seen. Anything else (an
// administrator's or a user's file, an edited shipped file) is parsed and
// validated on every launch.
//
// Nothing here is written at run time, nor read from where a user's program
// could write: an earlier cache of parsed data in $XDG_RUNTIME_DIR could be
// forged by any program of the user (a host_firewall in the data of the
// shipped listeners.yml, a shipped profile's jail taken away), around the
// rules that keep the user layer from weakening the system layers.

/** [kind, text, validated data] of each shipped file; set by scripts/build.mjs, absent when run from source. */
declare const __SHIPPED_PARSED__: Array<[Kind, string, unknown]>;

type Kind = 'listeners' | 'profile';

export interface ParsedCache {
  /** FILE's validated content: built-in when TEXT is a shipped file's text, else from PARSE. */
  read<T>(kind: Kind, file: string, text: string, parse: () => Promise<T>): Promise<T>;
}

/** Parses every file (validate, doctor, tests from source). */
export const NO_CACHE: ParsedCache = { read: (_kind, _file, _text, parse) => parse() };

let table: Map<string, unknown> | null = null;

/** The built-in table, keyed by kind and text; made on first use (a Map: no text can reach Object.prototype). */
function shippedTable(): Map<string, unknown> {
  table ??= new Map(
    (typeof __SHIPPED_PARSED__ === 'undefined' ? [] : __SHIPPED_PARSED__).map(([kind, text, data]) => [
      `${kind}\0${text}`,
      data,
    ]),
  );
  return table;
}

/** The shipped files' validated data, for the files whose text is exactly a shipped file's. */
export const SHIPPED_PARSED: ParsedCache = {
  async read(kind, file, text, parse) {
    const key = `${kind}\0${text}`;
    const known = file.endsWith('.yml') ? shippedTable() : null;
    // structuredClone: callers may not change what the next read returns.
    if (known?.has(key)) return structuredClone(known.get(key)) as never;
    return parse();
  },
};
