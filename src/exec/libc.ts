import { createRequire } from 'node:module';
import type * as KoffiModule from 'koffi';

// The launcher's one binding to libc, through koffi: loaded once, at the
// first call that needs it, and the Linux ABI it relies on (numbers, struct
// sizes). Users: exec/execve.ts (replacing the process),
// preflight/file-capabilities.ts (fgetxattr), placement/ (the user database,
// the grant handed to the privileged entry in a memfd) and doctor (setns, as
// root), desktop/system-directory.ts (openat, renameat2, unlinkat: what
// `desktop --install` changes as root, reached without following links).
// Nothing here switches user or makes a namespace: that is the privileged
// entry's, which is not Node (src/place/place.c).
//
// Every function is called synchronously on the main thread: errno is per
// thread and koffi's async calls run in a worker pool, where errno is lost.
//
// Constants are Linux's generic values (x86, x86_64, arm, arm64, riscv);
// Tails only ships amd64.

type Koffi = typeof KoffiModule;
type Fn = (...args: unknown[]) => number;

// fcntl(2)
export const F_GETFD = 1;
export const F_SETFD = 2;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const FD_CLOEXEC = 1;
export const O_NONBLOCK = 0o4000;

// openat(2), renameat2(2), unlinkat(2): what Node's fs.constants lacks (O_DIRECTORY,
// O_NOFOLLOW and the others are there, with this platform's values).
export const AT_FDCWD = -100;
export const O_CLOEXEC = 0o2000000;
export const O_PATH = 0o10000000;
export const RENAME_NOREPLACE = 1;

// signal(2), sigprocmask(2)
export const SIG_DFL = 0;
export const SIG_IGN = 1;
export const SIG_SETMASK = 2;
export const SIGKILL = 9;
export const SIGSTOP = 19;
/** glibc reserves 32 (SIGCANCEL) and 33 (SIGSETXID) for itself; sigaction refuses them. */
export const GLIBC_RESERVED = new Set([32, 33]);
/** glibc's sigset_t: 1024 bits, of which the kernel uses the first 64. */
export const SIGSET_SIZE = 128;
/** Generous room for glibc's struct sigaction (152 bytes on x86_64); only ever saved and restored opaque. */
export const SIGACTION_SIZE = 256;

// prlimit(2)
export const RLIMIT_NOFILE = 7;
export const RLIM_INFINITY = 0xffff_ffff_ffff_ffffn;
/** struct rlimit64: two 64-bit values, on every architecture (hence prlimit64). */
export const RLIMIT64_SIZE = 16;

// setns(2): the namespace type of a network namespace (doctor looks into one).
export const CLONE_NEWNET = 0x4000_0000;

export const ERRNO = { ENOENT: 2, ENXIO: 6, ENOEXEC: 8, ENOTDIR: 20, ELOOP: 40, ENODATA: 61, ENOTSUP: 95 } as const;

export interface Libc {
  koffi: Koffi;
  execve: Fn;
  fexecve: Fn;
  fcntl: Fn;
  /** Variadic: the mode, when O_CREAT is given, as `'uint32', mode`. */
  openat: Fn;
  renameat2: Fn;
  unlinkat: Fn;
  signal: Fn;
  sigaction: Fn;
  sigprocmask: Fn;
  prlimit64: Fn;
  fgetxattr: Fn;
  setns: Fn;
  memfd_create: Fn;
  dup2: Fn;
  getgrouplist: Fn;
  /** A pointer to libc's static struct passwd (decode it with `passwd`), or null. */
  getpwnam: (name: string) => unknown;
  getpwuid: (uid: number) => unknown;
  /** A pointer to libc's static struct group (decode it with `group`), or null. */
  getgrnam: (name: string) => unknown;
  getgrgid: (gid: number) => unknown;
  /** struct passwd and struct group, for koffi.decode. */
  passwd: unknown;
  group: unknown;
  strerror: (errnum: number) => string | null;
}

let loaded: { libc: Libc } | { error: string } | undefined;

/** Loads koffi and libc once; never throws: the error says why koffi is unusable. */
export function loadLibc(): { libc: Libc } | { error: string } {
  if (loaded) return loaded;
  try {
    // Required at call time, not imported: `explain`, --help and errors must
    // not pay for loading a native addon. The bundle keeps koffi external.
    const require = createRequire(import.meta.url);
    const koffi = require('koffi') as Koffi;
    const lib = koffi.load('libc.so.6');
    const libc: Libc = {
      koffi,
      execve: lib.func('int execve(const char *path, const char **argv, const char **envp)') as Fn,
      // execveat(fd, "", …, AT_EMPTY_PATH) in glibc: runs exactly the open file.
      fexecve: lib.func('int fexecve(int fd, const char **argv, const char **envp)') as Fn,
      fcntl: lib.func('int fcntl(int fd, int cmd, ...)') as Fn,
      openat: lib.func('int openat(int dirfd, const char *path, int flags, ...)') as Fn,
      renameat2: lib.func(
        'int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags)',
      ) as Fn,
      unlinkat: lib.func('int unlinkat(int dirfd, const char *path, int flags)') as Fn,
      signal: lib.func('intptr_t signal(int sig, intptr_t handler)') as Fn,
      sigaction: lib.func('int sigaction(int sig, const void *act, void *oldact)') as Fn,
      sigprocmask: lib.func('int sigprocmask(int how, const void *set, void *oldset)') as Fn,
      prlimit64: lib.func('int prlimit64(int pid, int resource, const void *newlim, void *oldlim)') as Fn,
      fgetxattr: lib.func('intptr_t fgetxattr(int fd, const char *name, void *value, size_t size)') as Fn,
      setns: lib.func('int setns(int fd, int nstype)') as Fn,
      memfd_create: lib.func('int memfd_create(const char *name, unsigned int flags)') as Fn,
      dup2: lib.func('int dup2(int oldfd, int newfd)') as Fn,
      getgrouplist: lib.func('int getgrouplist(const char *user, uint32 group, void *groups, void *ngroups)') as Fn,
      getpwnam: lib.func('void *getpwnam(const char *name)') as (name: string) => unknown,
      getpwuid: lib.func('void *getpwuid(uint32 uid)') as (uid: number) => unknown,
      getgrnam: lib.func('void *getgrnam(const char *name)') as (name: string) => unknown,
      getgrgid: lib.func('void *getgrgid(uint32 gid)') as (gid: number) => unknown,
      group: koffi.struct('tails_launch_group', {
        gr_name: 'const char *',
        gr_passwd: 'const char *',
        gr_gid: 'uint32',
        gr_mem: 'void *',
      }),
      passwd: koffi.struct('tails_launch_passwd', {
        pw_name: 'const char *',
        pw_passwd: 'const char *',
        pw_uid: 'uint32',
        pw_gid: 'uint32',
        pw_gecos: 'const char *',
        pw_dir: 'const char *',
        pw_shell: 'const char *',
      }),
      strerror: lib.func('const char *strerror(int errnum)') as (errnum: number) => string | null,
    };
    loaded = { libc };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    loaded = { error: `koffi could not be loaded: ${message.split('\n')[0]}` };
  }
  return loaded;
}

/** strerror's text for ERRNO, or the number when libc has none. */
export function errorText(libc: Libc, errno: number): string {
  return libc.strerror(errno) ?? `errno ${errno}`;
}
