/*
 * tails-launch's rootless jail helper: /usr/lib/tails-launch/jail.
 *
 * Not set-user-ID: the launcher (Node, as the user) execve()s it as the last
 * step of a jailed launch, so it runs at the launcher's PID, as the user. It
 * makes a network namespace whose only way out is a forwarder to Tor's
 * SocksPort, starts D-Bus filtering proxies, runs Debian's bubblewrap (user,
 * mount and PID namespaces, the filesystem view: its arguments are the
 * launcher's) and supervises it.
 *
 *   jail [--rundir DIR] [--share-net | --forward LPORT=HOST:HPORT...] [--dbus-proxy N ARG1..ARGN]... -- BWRAP_ARG...
 *
 * Among BWRAP_ARG, `--bind-fd PATH DEST` and `--ro-bind-fd PATH DEST` name
 * a path (what the launcher resolved and checked): opened here without
 * following any link and passed to bwrap as the descriptor ("?PATH": skipped
 * if missing). Descriptors 0-2 that are directories, O_PATH or network
 * sockets are refused.
 *
 * --share-net: the network namespace the caller is in already holds the
 * sockets (a netns root made, such as Tails' tbb, or a root jail): P makes
 * none, F only runs the proxies; the rest is the same.
 *
 *   caller --execve--> P  the launcher's PID; a user namespace of its own (its uid
 *                      |  and gid mapped to themselves) owning a network one: lo
 *                      |  and the forwarder's listeners, nothing else
 *                      |-- F  "outside": the host's namespaces, a process group of
 *                      |   |  its own (a terminal's ^C never reaches it); relays
 *                      |   |  127.0.0.1:LPORT and [::1]:LPORT in P's namespace to
 *                      |   |  HOST:HPORT from the host's
 *                      |   `-- xdg-dbus-proxy --fd=W ARGS   (one per --dbus-proxy)
 *                      `-- B  bwrap --info-fd K --die-with-parent BWRAP_ARGS, in P's
 *                          |  namespaces, under P's no_new_privs and seccomp filter
 *                          `-- the application: PID 1 of bwrap's PID namespace
 *                              (--as-pid-1), with the caller's descriptors, mask
 *                              and dispositions
 *
 * All of them run as the user, who can signal each. The application and its
 * descendants see only bwrap's PID namespace: P, B, F and the proxies are out
 * of their reach. P forwards HUP INT QUIT TERM USR1 USR2 WINCH CONT ALRM to
 * the application; PID 1 gets only the signals it catches, so one it neither
 * catches nor ignores whose default is to terminate becomes SIGKILL (and the
 * caller then sees the original signal). A terminal's ^C or ^\ reaches B as
 * well, and bwrap 0.8.0 dies of it (bubblewrap#369), taking the application
 * with it even if it catches the signal. B dies with P (PDEATHSIG), the
 * application with B (--die-with-parent), F with P (PDEATHSIG TERM, and its
 * socket to P), the proxies with F (PDEATHSIG, and their --fd). When B exits,
 * P ends F (which kills the proxies and removes the rundir), waits for it and
 * exits as B did.
 *
 * Status: 64 usage, nothing done; 71 the helper's own failure before bwrap
 * runs, everything it started ended (both one line); then bwrap's: the
 * application's exit code, or its death by a signal re-raised here (bwrap
 * reports one as 128+N, read back as the signal: the application's own exit
 * codes 129-192 read the same).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef BWRAP
#define BWRAP "/usr/bin/bwrap"
#endif
#ifndef XDG_DBUS_PROXY
#define XDG_DBUS_PROXY "/usr/bin/xdg-dbus-proxy"
#endif

/* The seccomp filter's architectures: the native one and its 32-bit compat ABI; x32 is refused outright. */
#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#define COMPAT_ARCH AUDIT_ARCH_I386
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#define COMPAT_ARCH AUDIT_ARCH_ARM
#else
#define NO_FILTER 1 /* not written for this architecture: the helper refuses to run */
#define NATIVE_ARCH 0
#define COMPAT_ARCH 0
#endif
#define COMPAT_IOCTL 54 /* ioctl on i386 and arm EABI */
#if defined(__x86_64__) /* i386's numbers */
#define COMPAT_ADD_KEY 286
#define COMPAT_REQUEST_KEY 287
#define COMPAT_KEYCTL 288
#else /* arm EABI's */
#define COMPAT_ADD_KEY 309
#define COMPAT_REQUEST_KEY 310
#define COMPAT_KEYCTL 311
#endif
#define X32_SYSCALL_BIT 0x40000000u

enum { USAGE = 64, OSERR = 71 };
#define MAX_FORWARDS 16
#define MAX_PROXIES 8
#define MAX_PROXY_ARGS 64
#define MAX_CONNS 1024
#define BUF (64 * 1024) /* per connection and direction */
#define READY_MS 5000
#define USAGE_LINE "usage: jail [--rundir DIR] [--forward LPORT=HOST:HPORT]... [--dbus-proxy N ARG...]... -- BWRAP_ARG..."
#define RUN_BY "(it is run by tails-launch, not by hand)"

struct forward {
	int lport;
	struct sockaddr_storage to;
	socklen_t tolen;
};
struct proxy {
	char **args;
	int nargs, ready; /* ready: the read end of its --fd, held for its whole life */
	pid_t pid;
};
static struct {
	const char *rundir;
	struct forward fw[MAX_FORWARDS];
	struct proxy px[MAX_PROXIES];
	int nfw, npx, nbwrap, share_net;
	char **bwrap;
} cfg;

/* What die() undoes: P's rundir until F owns it, then F. In F, its line goes to P until F said it was ready. */
static const char *made_rundir;
static pid_t outside_pid = -1;
static int ctl_fd = -1, rundir_fd = -1, in_outside, outside_ready;
static void clean_outside(void);

/* One line, then STATUS. Quoted text has its control characters replaced. */
__attribute__((noreturn, format(printf, 2, 3))) static void die(int status, const char *fmt, ...) {
	char line[1024] = "E";
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line + 1, sizeof line - 1, fmt, ap);
	va_end(ap);
	for (char *c = line + 1; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
	if (in_outside) {
		if (outside_ready || send(ctl_fd, line, strlen(line), MSG_NOSIGNAL) < 0) dprintf(2, "tails-launch: jail: forwarder: %s\n", line + 1);
		clean_outside();
		_exit(OSERR);
	}
	if (made_rundir) rmdir(made_rundir);
	if (outside_pid > 0) /* F ends when its socket closes, and removes the rundir and its proxies */
		for (close(ctl_fd); waitpid(outside_pid, NULL, 0) < 0 && errno == EINTR;) continue;
	dprintf(2, "tails-launch: jail: %s\n", line + 1);
	_exit(status);
}

#define CHECK(call, what) \
	do { \
		if ((call) < 0) die(OSERR, "%s: %s (report it: this should not fail)", what, strerror(errno)); \
	} while (0)

static void close_from(int from) {
	if (syscall(SYS_close_range, from, ~0U, 0) < 0)
		for (int fd = from; fd < 65536; fd++) close(fd);
}

/* ---- 1. the command line ------------------------------------------- */

/* 1-65535, decimal, no sign or leading zero: N characters of S. */
static int parse_port(const char *s, size_t n) {
	int p = 0;
	if (n == 0 || n > 5 || s[0] == '0') return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9') return -1;
		p = p * 10 + (s[i] - '0');
	}
	return p <= 65535 ? p : -1;
}

/* LPORT=A.B.C.D:HPORT or LPORT=[IPV6]:HPORT, literals only. */
static int parse_forward(const char *arg, struct forward *f) {
	const char *eq = strchr(arg, '='), *host = eq ? eq + 1 : "", *end, *port;
	char addr[INET6_ADDRSTRLEN];
	int v6 = host[0] == '[', hport;
	if (!eq || (f->lport = parse_port(arg, (size_t)(eq - arg))) < 0) return 0;
	host += v6, end = strchr(host, v6 ? ']' : ':'), port = end ? end + v6 : NULL;
	if (!end || *port != ':' || (size_t)(end - host) >= sizeof addr || (hport = parse_port(port + 1, strlen(port + 1))) < 0) return 0;
	memcpy(addr, host, (size_t)(end - host));
	addr[end - host] = 0;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&f->to;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&f->to;
	memset(&f->to, 0, sizeof f->to);
	if (v6) a6->sin6_family = AF_INET6, a6->sin6_port = htons((uint16_t)hport), f->tolen = sizeof *a6;
	else a4->sin_family = AF_INET, a4->sin_port = htons((uint16_t)hport), f->tolen = sizeof *a4;
	return inet_pton(v6 ? AF_INET6 : AF_INET, addr, v6 ? (void *)&a6->sin6_addr : (void *)&a4->sin_addr) == 1;
}

/* Absolute, no empty, "." or ".." component, no trailing slash. */
static int good_rundir(const char *d) {
	size_t n = strlen(d);
	if (d[0] != '/' || n < 2 || n >= 1024 || d[n - 1] == '/' || strstr(d, "//")) return 0;
	for (const char *c = d; c; c = strchr(c + 1, '/'))
		if (!strncmp(c, "/./", 3) || !strncmp(c, "/../", 4) || !strcmp(c, "/.") || !strcmp(c, "/..")) return 0;
	return 1;
}

static void parse_args(int argc, char **argv) {
	int i = 1;
	for (; i < argc && strcmp(argv[i], "--"); i++) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(opt, "--rundir") && val) {
			if (cfg.rundir) die(USAGE, "--rundir given twice %s", RUN_BY);
			if (!good_rundir(val)) die(USAGE, "--rundir '%.200s': not an absolute, normalised path %s", val, RUN_BY);
			cfg.rundir = argv[++i];
		} else if (!strcmp(opt, "--share-net")) {
			/* A namespace root made (netns tbb, a root jail) holds the sockets already: no namespace of ours. */
			cfg.share_net = 1;
		} else if (!strcmp(opt, "--forward") && val) {
			struct forward *f = &cfg.fw[cfg.nfw];
			if (cfg.nfw == MAX_FORWARDS) die(USAGE, "more than %d --forward %s", MAX_FORWARDS, RUN_BY);
			if (!parse_forward(val, f)) die(USAGE, "--forward '%.200s': not LPORT=IPV4:PORT or LPORT=[IPV6]:PORT %s", val, RUN_BY);
			for (int k = 0; k < cfg.nfw; k++)
				if (cfg.fw[k].lport == f->lport) die(USAGE, "--forward: port %d given twice %s", f->lport, RUN_BY);
			cfg.nfw++, i++;
		} else if (!strcmp(opt, "--dbus-proxy") && val) {
			int n = parse_port(val, strlen(val));
			if (cfg.npx == MAX_PROXIES) die(USAGE, "more than %d --dbus-proxy %s", MAX_PROXIES, RUN_BY);
			if (n < 2 || n > MAX_PROXY_ARGS || n > argc - i - 2)
				die(USAGE, "--dbus-proxy '%.20s': N must count the 2 to %d arguments that follow %s", val, MAX_PROXY_ARGS, RUN_BY);
			for (int k = i + 2; k < i + 2 + n; k++)
				if (!strcmp(argv[k], "--") || !strncmp(argv[k], "--fd", 4))
					die(USAGE, "--dbus-proxy: '%.80s' cannot be an argument of the proxy %s", argv[k], RUN_BY);
			cfg.px[cfg.npx++] = (struct proxy){.args = argv + i + 2, .nargs = n, .ready = -1};
			i += 1 + n;
		} else
			die(USAGE, "unknown option or missing value '%.80s' (%s) %s", opt, USAGE_LINE, RUN_BY);
	}
	if (i >= argc) die(USAGE, "no '--' before bwrap's arguments (%s) %s", USAGE_LINE, RUN_BY);
	if (i + 1 >= argc) die(USAGE, "nothing after '--': bwrap needs at least the program (%s) %s", USAGE_LINE, RUN_BY);
	if (cfg.npx && !cfg.rundir) die(USAGE, "--dbus-proxy needs --rundir, where its socket goes %s", RUN_BY);
	if (cfg.share_net && cfg.nfw) die(USAGE, "--share-net and --forward: a shared network namespace has nothing to forward %s", RUN_BY);
	cfg.bwrap = argv + i + 1, cfg.nbwrap = argc - i - 1;
}

/*
 * Descriptors 0-2 go into the jail as the caller gave them, and each is a way
 * to what it is open on. A directory (or an O_PATH descriptor) would give the
 * jail every file under it through /proc/self/fd/N; a socket of any family but
 * AF_UNIX is a connection out, around Tor. Refused; a file, a pipe, a terminal
 * or a Unix socket (the journal's) is passed on.
 */
static void check_stdio(void) {
	for (int fd = 0; fd <= 2; fd++) {
		struct stat st;
		int domain = -1, flags = fcntl(fd, F_GETFL);
		socklen_t len = sizeof domain;
		if (flags < 0 || fstat(fd, &st) < 0) continue; /* closed: nothing passed on */
		if (S_ISDIR(st.st_mode) || (flags & O_PATH))
			die(OSERR, "descriptor %d is a directory or a path: the jail would reach the files under it through it (give it a file, a pipe or a terminal)", fd);
		if (S_ISSOCK(st.st_mode) && (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 || domain != AF_UNIX))
			die(OSERR, "descriptor %d is a network socket: it would be the jail's way out, around Tor (give it a file, a pipe or a terminal)", fd);
	}
}

/* ---- 2. outside: F, the proxies and the forwarder ------------------ */

/* Made here, so nobody else's (an existing path is refused), and the user's alone. */
static int make_rundir(void) {
	if (mkdir(cfg.rundir, 0700) < 0) {
		if (errno == EEXIST) die(OSERR, "the run directory %s exists already (left by a launch that was killed? remove it)", cfg.rundir);
		die(OSERR, "cannot create the run directory %s: %s (its parent must exist and be yours)", cfg.rundir, strerror(errno));
	}
	made_rundir = cfg.rundir;
	int fd = open(cfg.rundir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	CHECK(fd, "open the run directory");
	CHECK(fchmod(fd, 0700), "chmod the run directory");
	return fd;
}

/* F's end: the proxies killed, the rundir emptied (one level: the sockets) and removed. */
static void clean_outside(void) {
	for (int p = 0; p < cfg.npx; p++)
		if (cfg.px[p].pid > 0)
			for (kill(cfg.px[p].pid, SIGKILL); waitpid(cfg.px[p].pid, NULL, 0) < 0 && errno == EINTR;) continue;
	if (rundir_fd < 0) return;
	int fd = dup(rundir_fd);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	for (struct dirent *e; dir && (e = readdir(dir));)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) unlinkat(rundir_fd, e->d_name, 0);
	if (dir) closedir(dir);
	rmdir(cfg.rundir);
}

/* Each proxy: xdg-dbus-proxy --fd=W ARGS, dead with F; then up to 5 s in all for their readiness bytes. */
static void start_proxies(void) {
	pid_t self = getpid();
	for (int p = 0; p < cfg.npx; p++) {
		int fds[2];
		CHECK(pipe2(fds, O_CLOEXEC), "pipe");
		pid_t pid = fork();
		CHECK(pid, "fork");
		if (pid == 0) {
			sigset_t none;
			char fdarg[32], *argv[MAX_PROXY_ARGS + 3] = {"xdg-dbus-proxy", fdarg};
			int w = fcntl(fds[1], F_DUPFD, 10); /* without close-on-exec */
			sigemptyset(&none);
			if (w < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != self || sigprocmask(SIG_SETMASK, &none, NULL) < 0 ||
			    signal(SIGPIPE, SIG_DFL) == SIG_ERR)
				_exit(126);
			snprintf(fdarg, sizeof fdarg, "--fd=%d", w);
			memcpy(argv + 2, cfg.px[p].args, (size_t)cfg.px[p].nargs * sizeof *argv);
			execve(XDG_DBUS_PROXY, argv, environ);
			_exit(127);
		}
		close(fds[1]);
		cfg.px[p].pid = pid, cfg.px[p].ready = fds[0];
	}
	struct timespec now, end;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += READY_MS / 1000;
	for (int p = 0; p < cfg.npx; p++) {
		struct pollfd pf = {cfg.px[p].ready, POLLIN, 0};
		char x;
		int status = 0, n;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long left = (end.tv_sec - now.tv_sec) * 1000 + (end.tv_nsec - now.tv_nsec) / 1000000;
		if ((n = left > 0 ? poll(&pf, 1, (int)left) : 0) == 0)
			die(OSERR, "D-Bus proxy %d did not say it was ready within 5 s (check its arguments)", p + 1);
		CHECK(n, "poll");
		if (read(cfg.px[p].ready, &x, 1) == 1) continue;
		if (waitpid(cfg.px[p].pid, &status, WNOHANG) > 0) cfg.px[p].pid = -1;
		if (cfg.px[p].pid < 0 && WIFEXITED(status) && WEXITSTATUS(status) == 127) die(OSERR, "cannot run %s (install xdg-dbus-proxy)", XDG_DBUS_PROXY);
		die(OSERR, "D-Bus proxy %d ended before it was ready (its own message is above; check its arguments)", p + 1);
	}
}

/* The listening sockets P made in its namespace (SCM_RIGHTS), each with the forward of its port. */
static int receive_listeners(int *fds, const struct forward **to) {
	char tag;
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(int) * 2 * MAX_FORWARDS)];
	} u;
	struct iovec iov = {&tag, 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.space, .msg_controllen = sizeof u.space};
	ssize_t n;
	while ((n = recvmsg(ctl_fd, &m, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) continue;
	if (n <= 0) clean_outside(), _exit(0); /* P is gone before the jail was made */
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	int count = c && c->cmsg_type == SCM_RIGHTS ? (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int)) : 0;
	if (count) memcpy(fds, CMSG_DATA(c), (size_t)count * sizeof(int));
	if ((m.msg_flags & MSG_CTRUNC) || tag != 'L') die(OSERR, "P's listeners are malformed (a bug)");
	for (int i = 0; i < count; i++) {
		struct sockaddr_in6 a; /* sin_port is where sin6_port is */
		socklen_t l = sizeof a;
		CHECK(getsockname(fds[i], (struct sockaddr *)&a, &l), "getsockname");
		to[i] = NULL;
		for (int k = 0; k < cfg.nfw; k++)
			if (ntohs(a.sin6_port) == cfg.fw[k].lport) to[i] = &cfg.fw[k];
		if (!to[i]) die(OSERR, "P's listeners are malformed (a bug)");
	}
	return count;
}

/* One relayed connection: fd[0] accepted in the jail, fd[1] to HOST:HPORT; buf[k] holds what fd[k] sent, for fd[!k]. */
struct conn {
	int fd[2];
	char *buf[2];
	size_t off[2], len[2];
	char eof[2], shut[2], connecting;
};

/* Both sides closed at once, with SO_LINGER 0: the jail's side sees a reset, not a clean end. */
static void drop(struct conn *c) {
	struct linger now = {1, 0};
	for (int k = 0; k < 2; k++)
		if (c->fd[k] >= 0) setsockopt(c->fd[k], SOL_SOCKET, SO_LINGER, &now, sizeof now), close(c->fd[k]), c->fd[k] = -1;
}

/* Moves what it can both ways; shuts a side's writing once the other side's EOF has been written through. */
static void relay(struct conn *c, const short revents[2]) {
	int err = 0;
	socklen_t l = sizeof err;
	if (c->connecting && revents[1]) {
		if (getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &err, &l) < 0 || err) goto reset; /* refused upstream */
		c->connecting = 0;
	}
	for (int k = 0; k < 2; k++) {
		if (!revents[k] || c->eof[k] || c->len[k] == BUF || (k == 1 && c->connecting)) continue;
		ssize_t n = read(c->fd[k], c->buf[k] + c->len[k], BUF - c->len[k]);
		if (n < 0 && errno != EAGAIN && errno != EINTR) goto reset;
		if (n >= 0) c->len[k] += (size_t)n, c->eof[k] = n == 0;
	}
	for (int k = 0; k < 2 && !c->connecting; k++) {
		ssize_t n = c->len[k] > c->off[k] ? send(c->fd[!k], c->buf[k] + c->off[k], c->len[k] - c->off[k], MSG_NOSIGNAL) : 0;
		if (n < 0 && errno != EAGAIN && errno != EINTR) goto reset;
		if (n > 0 && (c->off[k] += (size_t)n) == c->len[k]) c->off[k] = c->len[k] = 0;
		if (c->eof[k] && !c->len[k] && !c->shut[k]) shutdown(c->fd[!k], SHUT_WR), c->shut[k] = 1;
	}
	if (c->shut[0] && c->shut[1]) close(c->fd[0]), close(c->fd[1]), c->fd[0] = c->fd[1] = -1;
	return;
reset:
	drop(c);
}

/* Accepts what waits on LFD; beyond MAX connections, accepts and resets. Returns 0 when out of descriptors. */
static int accept_all(int lfd, const struct forward *f, struct conn *conns, int *nconn, int max) {
	for (int i = 0; i < 64; i++) {
		int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) return errno != EMFILE && errno != ENFILE && errno != ENOBUFS && errno != ENOMEM;
		struct conn *c = &conns[*nconn];
		*c = (struct conn){.fd = {cfd, -1}};
		int ok = *nconn < max && (c->buf[0] = malloc(2 * BUF)) && (c->fd[1] = socket(f->to.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) >= 0;
		int r = ok ? connect(c->fd[1], (const struct sockaddr *)&f->to, f->tolen) : -1;
		if (!ok || (r < 0 && errno != EINPROGRESS)) {
			drop(c), free(c->buf[0]);
			continue;
		}
		c->buf[1] = c->buf[0] + BUF, c->connecting = r < 0;
		(*nconn)++;
	}
	return 1;
}

/* poll() over P's socket, SIGTERM, the listeners and every connection, until P ends or TERM comes. */
static void forward_loop(int nl, const int *lfd, const struct forward **to, int max) {
	sigset_t term;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	int sfd = signalfd(-1, &term, SFD_CLOEXEC | SFD_NONBLOCK), nconn = 0, paused = 0;
	struct conn *conns = calloc((size_t)max + 1, sizeof *conns);
	struct pollfd *pf = calloc(2 + (size_t)nl + 2 * (size_t)max, sizeof *pf);
	CHECK(sfd, "signalfd");
	if (!conns || !pf) die(OSERR, "out of memory");
	for (;;) {
		int n = 0;
		pf[n++] = (struct pollfd){ctl_fd, POLLIN, 0};
		pf[n++] = (struct pollfd){sfd, POLLIN, 0};
		for (int i = 0; i < nl; i++) pf[n++] = (struct pollfd){paused ? -1 : lfd[i], POLLIN, 0};
		for (struct conn *c = conns; c < conns + nconn; c++)
			for (int k = 0; k < 2; k++) {
				short ev = k && c->connecting ? POLLOUT : (!c->eof[k] && c->len[k] < BUF ? POLLIN : 0) | (c->len[!k] > c->off[!k] ? POLLOUT : 0);
				pf[n++] = (struct pollfd){ev ? c->fd[k] : -1, ev, 0}; /* nothing wanted: no POLLHUP to spin on either */
			}
		int r = poll(pf, (nfds_t)n, paused ? 100 : -1);
		if (r < 0 && errno == EINTR) continue;
		CHECK(r, "poll");
		if (pf[0].revents || pf[1].revents) return; /* P closed its end, or TERM (P's death: PDEATHSIG) */
		for (int c = 0; c < nconn; c++) {
			short rev[2] = {pf[2 + nl + 2 * c].revents, pf[3 + nl + 2 * c].revents};
			if (rev[0] || rev[1]) relay(&conns[c], rev);
		}
		for (int c = 0; c < nconn; c++) /* the closed ones out: relay() above used the old order */
			if (conns[c].fd[0] < 0) free(conns[c].buf[0]), conns[c--] = conns[--nconn];
		paused = 0;
		for (int i = 0; i < nl; i++)
			if (pf[2 + i].revents && !accept_all(lfd[i], to[i], conns, &nconn, max)) paused = 1;
	}
}

/* F: never returns. Its errors go to P as one line until it said it was ready. */
static __attribute__((noreturn)) void outside(int ctl, int dirfd, pid_t parent) {
	sigset_t term;
	struct rlimit rl;
	in_outside = 1, ctl_fd = ctl, rundir_fd = dirfd, made_rundir = NULL;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	CHECK(sigprocmask(SIG_BLOCK, &term, NULL), "sigprocmask");
	CHECK(prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)");
	if (getppid() != parent) clean_outside(), _exit(0);
	CHECK(setpgid(0, 0), "setpgid");
	/* Written-to sockets that closed are errors, not deaths; a terminal with tostop does not stop F or its proxies (a background group). */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR || signal(SIGTTOU, SIG_IGN) == SIG_ERR) die(OSERR, "signal: %s", strerror(errno));
	/* Only what F needs, at 3 and 4; stdin and stdout /dev/null, stderr kept for the proxies' own messages. */
	int hctl = fcntl(ctl, F_DUPFD_CLOEXEC, 10), hdir = dirfd >= 0 ? fcntl(dirfd, F_DUPFD_CLOEXEC, 10) : 4, nul;
	CHECK(hctl | hdir, "fcntl");
	CHECK(dup3(hctl, ctl_fd = 3, O_CLOEXEC), "dup3");
	if (dirfd >= 0) CHECK(dup3(hdir, rundir_fd = 4, O_CLOEXEC), "dup3");
	close_from(5);
	CHECK(nul = open("/dev/null", O_RDWR | O_CLOEXEC), "open /dev/null");
	CHECK(dup2(nul, 0) | dup2(nul, 1), "dup2");
	if (nul > 2) close(nul);
	/* Two descriptors a connection, beyond what F holds anyway. */
	CHECK(getrlimit(RLIMIT_NOFILE, &rl), "getrlimit");
	rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
	CHECK(setrlimit(RLIMIT_NOFILE, &rl), "setrlimit");
	long room = ((long)rl.rlim_cur - 64) / 2, max = room < 1 ? 1 : room > MAX_CONNS ? MAX_CONNS : room;

	start_proxies();
	CHECK(send(ctl_fd, "R", 1, MSG_NOSIGNAL), "telling P the proxies are ready");
	outside_ready = 1;
	int lfd[2 * MAX_FORWARDS];
	const struct forward *to[2 * MAX_FORWARDS];
	int nl = receive_listeners(lfd, to);
	forward_loop(nl, lfd, to, (int)max);
	clean_outside();
	_exit(0);
}

static void start_outside(int dirfd) {
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), "socketpair");
	pid_t parent = getpid(), pid = fork();
	CHECK(pid, "fork");
	if (pid == 0) close(sv[0]), outside(sv[1], dirfd, parent);
	setpgid(pid, pid); /* as F does: whichever runs first */
	close(sv[1]);
	if (dirfd >= 0) close(dirfd);
	made_rundir = NULL, outside_pid = pid, ctl_fd = sv[0];
}

/* "R", or F's one-line error. */
static void wait_ready(void) {
	char msg[1100];
	ssize_t n;
	while ((n = recv(ctl_fd, msg, sizeof msg - 1, 0)) < 0 && errno == EINTR) continue;
	if (n <= 0) die(OSERR, "the forwarder ended before it was ready (killed?)");
	msg[n] = 0;
	if (msg[0] == 'E') die(OSERR, "%s", msg + 1);
	if (n != 1 || msg[0] != 'R') die(OSERR, "the forwarder said something unexpected (a bug)");
}

/* ---- 3. P's namespaces, the listeners, the confinement -------------- */

static void write_proc(const char *path, const char *text) {
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || close(fd) < 0)
		die(OSERR, "cannot write %s in the new user namespace: %s (report it)", path, strerror(errno));
}

/* A user namespace with our ids mapped to themselves (bwrap nests its own in it), owning a new network namespace. */
static void enter_namespaces(void) {
	uid_t uid = getuid();
	gid_t gid = getgid();
	char map[64];
	if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0) {
		if (errno == EPERM || errno == ENOSPC || errno == EUSERS || errno == EINVAL)
			die(OSERR, "user namespaces are off or used up for this user (unshare: %s) (an administrator can allow them, or have root make the jail: tails-launch --jail through the privileged entry)",
			    strerror(errno));
		die(OSERR, "cannot make the jail's namespaces: unshare: %s (report it)", strerror(errno));
	}
	write_proc("/proc/self/setgroups", "deny");
	snprintf(map, sizeof map, "%u %u 1\n", uid, uid);
	write_proc("/proc/self/uid_map", map);
	snprintf(map, sizeof map, "%u %u 1\n", gid, gid);
	write_proc("/proc/self/gid_map", map);
	if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid)
		die(OSERR, "the new user namespace does not map uid %u and gid %u to themselves (report it)", uid, gid);
}

static void bring_up_lo(void) {
	struct ifreq ifr = {.ifr_name = "lo"};
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK(s, "socket");
	CHECK(ioctl(s, SIOCGIFFLAGS, &ifr), "SIOCGIFFLAGS lo");
	ifr.ifr_flags |= IFF_UP;
	CHECK(ioctl(s, SIOCSIFFLAGS, &ifr), "SIOCSIFFLAGS lo");
	close(s);
}

/* 127.0.0.1:PORT, or [::1]:PORT: -1 where the namespace has no IPv6. */
static int listen_on(int family, int port) {
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	int one = 1, s = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), v6 = family == AF_INET6;
	if (s < 0 && v6 && errno == EAFNOSUPPORT) return -1;
	CHECK(s, "socket");
	CHECK(setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), "SO_REUSEADDR");
	if (v6) CHECK(setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one), "IPV6_V6ONLY");
	if ((v6 ? bind(s, (struct sockaddr *)&a6, sizeof a6) : bind(s, (struct sockaddr *)&a4, sizeof a4)) < 0) {
		if (v6 && (errno == EADDRNOTAVAIL || errno == EAFNOSUPPORT)) return close(s), -1;
		die(OSERR, "cannot listen on port %d in the jail: %s (report it)", port, strerror(errno));
	}
	CHECK(listen(s, 128), "listen");
	return s;
}

/* The listeners go to F in one message (SCM_RIGHTS); P keeps none. */
static void pass_listeners(void) {
	int fds[2 * MAX_FORWARDS], n = 0;
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof fds)];
	} u = {0};
	struct iovec iov = {"L", 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	for (int i = 0; i < cfg.nfw; i++) {
		fds[n++] = listen_on(AF_INET, cfg.fw[i].lport);
		if ((fds[n] = listen_on(AF_INET6, cfg.fw[i].lport)) >= 0) n++;
	}
	if (n) {
		m.msg_control = u.space, m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n);
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET, c->cmsg_type = SCM_RIGHTS, c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)n);
	}
	if (sendmsg(ctl_fd, &m, MSG_NOSIGNAL) < 0) die(OSERR, "cannot hand the listeners to the forwarder: %s (was it killed?)", strerror(errno));
	for (int i = 0; i < n; i++) close(fds[i]);
}

/*
 * no_new_privs, then -> EPERM on the native and compat ABIs: ioctl(TIOCSTI or
 * TIOCLINUX), which would type into the caller's terminal; add_key, keyctl
 * and request_key, which reach the caller's session keyring and make the
 * kernel run /sbin/request-key in the host's namespaces (a dns_resolver key
 * is a name resolved outside the jail), as Flatpak refuses them. x32 refused;
 * another arch killed.
 */
static void confine(void) {
	const unsigned arg1_low = offsetof(struct seccomp_data, args[1]) + (__BYTE_ORDER == __BIG_ENDIAN ? 4 : 0);
	struct sock_filter filter[] = {
	    /* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
	    /* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 0, 7),
	    /* 2 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    /* 3 */ BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 17, 0),
	    /* 4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 11, 0),
	    /* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_add_key, 14, 0),
	    /* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_request_key, 13, 0),
	    /* 7 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_keyctl, 12, 0),
	    /* 8 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	    /* 9 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, COMPAT_ARCH, 0, 11),
	    /* 10 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    /* 11 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, COMPAT_IOCTL, 4, 0),
	    /* 12 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, COMPAT_ADD_KEY, 7, 0),
	    /* 13 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, COMPAT_REQUEST_KEY, 6, 0),
	    /* 14 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, COMPAT_KEYCTL, 5, 0),
	    /* 15 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	    /* 16 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, arg1_low), /* the request: an unsigned int to the kernel */
	    /* 17 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCSTI, 2, 0),
	    /* 18 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCLINUX, 1, 0),
	    /* 19 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	    /* 20 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
	    /* 21 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	};
	struct sock_fprog prog = {sizeof filter / sizeof filter[0], filter};
	CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)");
	CHECK(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0), "installing the seccomp filter");
}

/* ---- 4. bwrap, and P as its supervisor ------------------------------ */

static const int FORWARDED[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGALRM};

#define MAX_BIND_FDS 64

/*
 * `--bind-fd PATH DEST` and `--ro-bind-fd PATH DEST` among bwrap's arguments
 * name a path, not a descriptor: the launcher resolved its links and checked
 * what it leads to. Opened here (O_PATH) without following any link, so what
 * bwrap binds is what was checked: a link put there since (a granted directory
 * swapped for a link to the runtime directory) is refused, not followed, and
 * the descriptor goes to bwrap in place of the path. "?PATH": skipped, with
 * its option, if missing (a display's socket). Returns the descriptor
 * (close-on-exec), or -1 for a missing "?PATH".
 */
static int open_checked(const char *arg) {
	int optional = arg[0] == '?';
	const char *path = arg + optional;
	struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
	if (path[0] != '/') die(USAGE, "--bind-fd/--ro-bind-fd '%.200s': a path is expected here %s", arg, RUN_BY);
	int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
	if (fd >= 0) return fd;
	if (optional && errno == ENOENT) return -1;
	if (errno == ELOOP || errno == EXDEV)
		die(OSERR, "%.300s: a link is in its way (the launch checked where the links led, and binds nothing through one): refusing to bind it", path);
	if (errno == ENOSYS) die(OSERR, "openat2 is missing (Linux 5.6 or later is needed to bind without following links)");
	die(OSERR, "cannot open %.300s to bind it: %s", path, strerror(errno));
}

/* ARGV (N entries): each checked path opened and replaced by its descriptor, in FDS (*NFDS); a missing "?PATH" dropped. Returns the new count. */
static int open_binds(char **argv, int n, int *fds, int *nfds) {
	int out = 0;
	for (int i = 0; i < n; i++) {
		int bind = !strcmp(argv[i], "--bind-fd") || !strcmp(argv[i], "--ro-bind-fd");
		if (!bind || i + 2 >= n || (argv[i + 1][0] != '/' && argv[i + 1][0] != '?')) {
			argv[out++] = argv[i];
			continue;
		}
		int fd = open_checked(argv[i + 1]);
		if (fd >= 0) {
			if (*nfds == MAX_BIND_FDS) die(USAGE, "more than %d checked binds %s", MAX_BIND_FDS, RUN_BY);
			fds[(*nfds)++] = fd;
			if (asprintf(&argv[i + 1], "%d", fd) < 0) die(OSERR, "out of memory");
			argv[out++] = argv[i], argv[out++] = argv[i + 1], argv[out++] = argv[i + 2];
		}
		i += 2;
	}
	return out;
}

/* B: the caller's mask, dead with P, bwrap with --info-fd K first. Returns K's read end in *INFO. */
static pid_t start_bwrap(int *info, const sigset_t *caller_mask) {
	int p[2], fds[MAX_BIND_FDS], nfds = 0;
	char k[16], **argv = calloc((size_t)cfg.nbwrap + 5, sizeof *argv);
	if (!argv) die(OSERR, "out of memory");
	CHECK(pipe2(p, O_CLOEXEC), "pipe");
	snprintf(k, sizeof k, "%d", p[1]);
	argv[0] = "bwrap", argv[1] = "--info-fd", argv[2] = k, argv[3] = "--die-with-parent";
	memcpy(argv + 4, cfg.bwrap, (size_t)cfg.nbwrap * sizeof *argv);
	argv[4 + open_binds(argv + 4, cfg.nbwrap, fds, &nfds)] = NULL;
	pid_t parent = getpid(), pid = fork();
	CHECK(pid, "fork");
	if (pid == 0) {
		/* SIGCHLD stays SIG_DFL even for a caller that ignored it: bwrap 0.8.0 would hang (bubblewrap#705). */
		if (sigprocmask(SIG_SETMASK, caller_mask, NULL) < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent ||
		    fcntl(p[1], F_SETFD, 0) < 0)
			_exit(OSERR);
		/* bwrap binds each and closes it: none reaches the application. */
		for (int i = 0; i < nfds; i++)
			if (fcntl(fds[i], F_SETFD, 0) < 0) _exit(OSERR);
		execve(BWRAP, argv, environ);
		dprintf(2, "tails-launch: jail: cannot run %s: %s (install bubblewrap)\n", BWRAP, strerror(errno));
		_exit(OSERR);
	}
	close(p[1]);
	for (int i = 0; i < nfds; i++) close(fds[i]);
	free(argv);
	*info = p[0];
	return pid;
}

/* bwrap's "child-pid" (the application, in our PID namespace; bwrap closes K in it), or -1 when bwrap ended first. */
static pid_t read_child_pid(int info) {
	char buf[4096], *key;
	size_t got = 0;
	ssize_t n;
	while (got < sizeof buf - 1 && ((n = read(info, buf + got, sizeof buf - 1 - got)) > 0 || (n < 0 && errno == EINTR)))
		got += n > 0 ? (size_t)n : 0;
	buf[got] = 0;
	close(info);
	long pid = (key = strstr(buf, "\"child-pid\":")) ? strtol(key + 12, NULL, 10) : -1;
	return pid > 1 && pid < 1L << 30 ? (pid_t)pid : -1;
}

static int terminates(int s) {
	return s != SIGCHLD && s != SIGCONT && s != SIGSTOP && s != SIGTSTP && s != SIGTTIN && s != SIGTTOU && s != SIGURG && s != SIGWINCH;
}

/* S to the application, as it would get S if it were not PID 1. Returns the signal a SIGKILL stood in for, or 0. */
static int forward(int s, const siginfo_t *si, pid_t app) {
	char path[64], line[256];
	unsigned long long ignored = 0, caught = 0, bit = 1ULL << (s - 1);
	snprintf(path, sizeof path, "/proc/%d/status", app);
	FILE *f = fopen(path, "re");
	if (!f) return 0; /* gone: bwrap's end is on its way */
	while (fgets(line, sizeof line, f)) sscanf(line, "SigIgn: %llx", &ignored), sscanf(line, "SigCgt: %llx", &caught);
	fclose(f);
	/* A terminal (SI_KERNEL) signals its whole foreground group: the application got it too, and acted if it catches it. */
	int from_terminal = si->si_code == SI_KERNEL && getpgid(app) == getpgrp();
	if (caught & bit) {
		if (!from_terminal) kill(app, s);
	} else if (s == SIGCONT) /* resumes a stopped process whatever its disposition */
		kill(app, s);
	else if (!(ignored & bit) && terminates(s))
		return kill(app, SIGKILL), s; /* PID 1 would ignore it */
	return 0;
}

/* F told to end and waited for (it kills its proxies, removes the rundir); then B's status becomes ours. */
static __attribute__((noreturn)) void finish(int status, int substituted) {
	for (close(ctl_fd); outside_pid > 0 && waitpid(outside_pid, NULL, 0) < 0 && errno == EINTR;) continue;
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	int sig = WIFSIGNALED(status) ? WTERMSIG(status) : code > 128 && code <= 128 + SIGRTMAX ? code - 128 : 0;
	if (sig == SIGKILL && substituted) sig = substituted;
	if (sig && terminates(sig)) {
		struct rlimit none = {0, 0};
		sigset_t one;
		sigemptyset(&one);
		sigaddset(&one, sig);
		setrlimit(RLIMIT_CORE, &none);
		signal(sig, SIG_DFL);
		raise(sig);
		sigprocmask(SIG_UNBLOCK, &one, NULL); /* ends here */
	}
	_exit(code);
}

/* Until B exits: the forwarded signals, SIGCHLD. */
static __attribute__((noreturn)) void supervise(pid_t b, pid_t app, const sigset_t *set) {
	for (int substituted = 0;;) {
		siginfo_t si;
		int s = sigwaitinfo(set, &si), status;
		if (s < 0 && errno == EINTR) continue;
		CHECK(s, "sigwaitinfo");
		if (s != SIGCHLD) {
			int sent = app > 0 ? forward(s, &si, app) : (kill(b, s), 0);
			substituted = sent ? sent : substituted;
		} else if (outside_pid > 0 && waitpid(outside_pid, NULL, WNOHANG) == outside_pid)
			outside_pid = -1; /* F died early: the application has no way out left, and nothing to wait for */
		if (s == SIGCHLD && waitpid(b, &status, WNOHANG) == b) finish(status, substituted);
	}
}

int main(int argc, char **argv) {
	sigset_t caller_mask, set;
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	if (getuid() != geteuid() || getgid() != getegid()) die(OSERR, "it must not be set-user-ID or set-group-ID (reinstall tails-launch)");
#ifdef NO_FILTER
	die(OSERR, "the jail's seccomp filter is not written for this architecture (have root make the jail: tails-launch --jail through the privileged entry)");
#endif
	/* 1. Nothing has happened before this returns. */
	parse_args(argc, argv);
	check_stdio();
	CHECK(sigprocmask(SIG_SETMASK, NULL, &caller_mask), "sigprocmask");
	CHECK(sigaction(SIGCHLD, &dfl, NULL), "sigaction(SIGCHLD)"); /* a caller's SIG_IGN would reap F and B for us */

	/* 2. Outside: F, its proxies ready. */
	start_outside(cfg.rundir ? make_rundir() : -1);
	wait_ready();

	/* 3. P's own namespaces; the listeners to F; the confinement that bwrap and the application inherit. */
	if (!cfg.share_net) {
		enter_namespaces();
		bring_up_lo();
	}
	pass_listeners();
	confine();

	/* 4. bwrap, and P its supervisor at the launcher's PID. */
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (size_t i = 0; i < sizeof FORWARDED / sizeof *FORWARDED; i++) sigaddset(&set, FORWARDED[i]);
	CHECK(sigprocmask(SIG_BLOCK, &set, NULL), "sigprocmask");
	int info;
	pid_t b = start_bwrap(&info, &caller_mask), app = read_child_pid(info);
	/* bwrap runs: the caller's descriptors are the application's alone now (one it closes must reach EOF). */
	for (int fd = 0; fd < ctl_fd; fd++) close(fd);
	close_from(ctl_fd + 1);
	supervise(b, app, &set);
}
