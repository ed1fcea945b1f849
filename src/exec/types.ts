/**
 * What the exec stage needs: the last, side-effecting end of the pipeline.
 * Everything here is plain data taken from the plan.
 */
export interface ExecRequest {
  /** Absolute path of the program to execute. */
  file: string;
  /**
   * When set, the program is executed through this open descriptor (fexecve)
   * rather than by `file`, which then only names it in messages.
   */
  fd?: number;
  /** Complete argv, argv[0] included. */
  argv: string[];
  /** Complete environment of the new program image (no inheritance beyond this). */
  env: Record<string, string>;
  /**
   * Descriptors the new image must receive: exactly the caller's inherited
   * ones (0-2 and whatever it passed), never one of Node's own.
   */
  fds: number[];
  /**
   * Entries to pass as these exact bytes instead of their string (arguments
   * and inherited variables that are not UTF-8; see raw-bytes.ts): argv
   * index -> C string, variable name -> `NAME=VALUE` C string.
   */
  raw?: { argv: Map<number, Buffer>; env: Map<string, Buffer> };
  /**
   * Files the plan hands over by path (proxychains' configuration), written
   * just before the exec into the user's private runtime directory.
   */
  files?: { path: string; content: string }[];
}

/** How the launcher will hand over to the application. */
export type ExecMethod = { method: 'execve'; via: 'koffi' } | { method: 'spawn'; via: 'execa'; reason: string };
