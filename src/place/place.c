/*
 * tails-launch's privileged entry: /usr/lib/tails-launch/place.
 *
 * The one program that runs as root on a caller's behalf (sudo, through the
 * drop-in /etc/sudoers.d/tails-launch), and the only code of tails-launch
 * that makes or enters a network namespace, switches user or drops
 * capabilities. It is C, not Node, because sudo keeps the caller's real uid
 * on its own process and relays SIGUSR1 to its command: Node answers that
 * signal with a debugger (FACTS 9). Nothing here reads a debugger, an
 * interpreter hook or a variable that loads code.
 *
 *   place PROFILE [--jail] [--identity NAME] -- [ARGS...]       (sudo, or root)
 *   place --grant-fd N PROFILE [--jail] [--identity NAME] -- [ARGS...]  (root only)
 *
 * What it trusts: the grant of PROFILE in GRANTS_FILE (the sudoers drop-in
 * itself: `tails-launch grants --write` writes the grants as comment lines
 * above the sudoers rules they make, so the two cannot disagree), a root-owned
 * file reached through root-owned directories; or, for root's own launches,
 * a grant in an unlinked root-owned file (a memfd) root's launcher made.
 * Who called: SUDO_UID (sudo sets it; env_reset keeps a caller from doing
 * so), else root.
 *
 * What it does, in this order, and nothing else:
 *   1. checks the caller, the options and the arguments against the grant;
 *   2. enters the grant's network namespace, or makes a jail (a fresh one,
 *      with a veth pair to the host and the ruleset below);
 *   3. becomes the account for good (groups, gid, uid; read back), or, for
 *      root in a jail, drops every capability (no_new_privs);
 *   4. runs the launcher's preflight (Node) as that account, in that
 *      namespace, in a session of its own: neither sudo's relay nor the
 *      caller (another uid) can signal it; it dies with this process;
 *   5. executes what the preflight judged, in this very process (sudo's
 *      command: signals, exit status and descriptors are the application's).
 * Every refusal is one line on stderr and a status of tails-launch's table
 * (src/errors/exit-codes.ts); nothing starts.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <net/if.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef GRANTS_FILE
#define GRANTS_FILE "/etc/sudoers.d/tails-launch"
#endif
#ifndef NODE
#define NODE "/usr/bin/node"
#endif
#ifndef PREFLIGHT
#define PREFLIGHT "/usr/lib/tails-launch/dist/placed.mjs"
#endif
#define RUN_DIR "/run/tails-launch"
#define IP "/bin/ip"
#define NFT "/usr/sbin/nft"
#define HOST_TABLE "tails_launch_jails"
#define GRANT_MARK "#tails-launch-grant 1 "
#define MAX_GRANTS (1 << 20)
#define MAX_REQUEST (8 << 20)

enum { USAGE = 64, CONFIG = 65, NOUSER = 67, INTERNAL = 70, NONS = 72, REFUSED = 77 };

/* The jail allocation lock while this process holds it: released before anything that may block (see die). */
static int held_lock = -1;

/*
 * One line on stderr, then STATUS. Quoted text is the grant's or checked
 * first. stderr is the caller's and may block forever (a full pipe nobody
 * reads): the lock other users' jails need is let go first.
 */
__attribute__((noreturn, format(printf, 2, 3))) static void die(int status, const char *fmt, ...) {
	if (held_lock >= 0) close(held_lock);
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	for (char *c = line; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
	dprintf(2, "tails-launch: privileged entry: %s\n", line);
	_exit(status);
}

#define CHECK(call, what) \
	do { \
		if ((call) < 0) die(INTERNAL, "%s: %s", what, strerror(errno)); \
	} while (0)

static int matches(const char *s, const char *first, const char *rest, size_t max) {
	size_t n = strlen(s);
	if (n == 0 || n > max || !strchr(first, s[0])) return 0;
	return strspn(s + 1, rest) == n - 1;
}
#define LOWER "abcdefghijklmnopqrstuvwxyz0123456789"
#define ALNUM LOWER "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
static int is_profile_name(const char *s) { return matches(s, LOWER, LOWER "._-", 64); }
static int is_identity(const char *s) { return matches(s, ALNUM, ALNUM "._@+-", 64); }

/* ---- the grant ------------------------------------------------------- */

struct grant {
	char *line; /* the record as written, for the preflight to compare */
	char *profile, *user, *netns, *jail, *isolation, *callers, *args, *keep, *identity;
	char *pool, *connect, *jailsocks, *jailcallers;
};

/* %XX in place; a list item never holds a raw ',' '+' or space. */
static char *decode(char *s) {
	char *out = s;
	for (char *in = s; *in; in++) {
		if (in[0] == '%' && isxdigit((unsigned char)in[1]) && isxdigit((unsigned char)in[2])) {
			char hex[3] = {in[1], in[2], 0};
			*out++ = (char)strtol(hex, NULL, 16);
			in += 2;
		} else
			*out++ = *in;
	}
	*out = 0;
	return s;
}

/* Opens PATH for reading, every component from / without following a link, every directory root's and writable by root only. */
static int open_trusted(const char *path) {
	char copy[PATH_MAX];
	if (snprintf(copy, sizeof copy, "%s", path) >= (int)sizeof copy || copy[0] != '/') die(INTERNAL, "bad path %s", path);
	int dir = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(dir, "open /");
	char *save = NULL;
	for (char *part = strtok_r(copy + 1, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
		struct stat st;
		CHECK(fstat(dir, &st), "fstat");
		if (st.st_uid != 0 || (st.st_mode & 022))
			die(REFUSED, "%s: a directory on its way is not root's alone: reinstall tails-launch", path);
		int last = save == NULL || *save == 0;
		int next = openat(dir, part, last ? O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC : O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0)
			die(REFUSED, "cannot read the grants %s: %s: run 'tails-launch grants --write' as root", path, strerror(errno));
		close(dir);
		dir = next;
	}
	return dir;
}

/* The whole file behind FD: regular, root's, writable by root only, bounded; NLINK0: it must be unlinked (a memfd). */
static char *read_trusted(int fd, const char *what, int nlink0) {
	struct stat st;
	CHECK(fstat(fd, &st), "fstat");
	if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022) || st.st_size > MAX_GRANTS || (nlink0 && st.st_nlink != 0))
		die(REFUSED, "%s is not a root-owned file that only root can write: refusing", what);
	char *text = calloc(1, (size_t)st.st_size + 1);
	if (!text) die(INTERNAL, "out of memory");
	size_t done = 0;
	while (done < (size_t)st.st_size) {
		ssize_t n = pread(fd, text + done, (size_t)st.st_size - done, (off_t)done);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) die(INTERNAL, "reading %s: %s", what, n ? strerror(errno) : "short read");
		done += (size_t)n;
	}
	return text;
}

/* Finds PROFILE's record in TEXT and splits it into fields (in place). */
static int find_grant(char *text, const char *profile, struct grant *g) {
	char want[80];
	snprintf(want, sizeof want, "profile=%s ", profile);
	for (char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		char *end = strchr(line, '\n');
		if (end) *end = 0;
		if (strncmp(line, GRANT_MARK, strlen(GRANT_MARK)) == 0 && strstr(line, want) == line + strlen(GRANT_MARK)) {
			g->line = strdup(line);
			char *save = NULL;
			for (char *kv = strtok_r(line + strlen(GRANT_MARK), " ", &save); kv; kv = strtok_r(NULL, " ", &save)) {
				char *v = strchr(kv, '=');
				if (!v) die(CONFIG, "the grant of '%s' is malformed: run 'tails-launch grants --write' as root", profile);
				*v++ = 0;
				char **field = !strcmp(kv, "profile") ? &g->profile : !strcmp(kv, "user") ? &g->user
				    : !strcmp(kv, "netns") ? &g->netns : !strcmp(kv, "jail") ? &g->jail
				    : !strcmp(kv, "isolation") ? &g->isolation : !strcmp(kv, "callers") ? &g->callers
				    : !strcmp(kv, "args") ? &g->args : !strcmp(kv, "keep") ? &g->keep
				    : !strcmp(kv, "identity") ? &g->identity : !strcmp(kv, "pool") ? &g->pool
				    : !strcmp(kv, "connect") ? &g->connect : !strcmp(kv, "jailsocks") ? &g->jailsocks
				    : !strcmp(kv, "jailcallers") ? &g->jailcallers : NULL;
				if (field) *field = v; /* unknown keys: a newer generator's, ignored */
			}
			if (!g->profile || !g->user || !g->netns || !g->jail || !g->isolation || !g->callers || !g->args || !g->keep || !g->identity)
				die(CONFIG, "the grant of '%s' is incomplete: run 'tails-launch grants --write' as root", profile);
			return 1;
		}
		if (end) *end = '\n';
	}
	return 0;
}

/* ---- who may ----------------------------------------------------------- */

struct account {
	char *name, *home, *shell;
	uid_t uid;
	gid_t gid;
	gid_t groups[NGROUPS_MAX];
	int ngroups;
};

static int account_of(struct passwd *pw, struct account *a) {
	if (!pw) return 0;
	a->name = strdup(pw->pw_name);
	a->home = strdup(pw->pw_dir);
	a->shell = strdup(pw->pw_shell);
	a->uid = pw->pw_uid;
	a->gid = pw->pw_gid;
	a->ngroups = NGROUPS_MAX;
	if (!a->name || !a->home || !a->shell) die(INTERNAL, "out of memory");
	if (getgrouplist(a->name, a->gid, a->groups, &a->ngroups) < 0) die(INTERNAL, "getgrouplist(%s): too many groups", a->name);
	return 1;
}

/* LIST: comma-separated user names and %groups (decoded in place); root is always allowed. */
static int allowed(char *list, const struct account *caller) {
	if (caller->uid == 0) return 1;
	if (!list || !strcmp(list, "-")) return 0;
	if (!strcmp(list, "*")) return 1; /* a profile that runs as its caller: anyone (a jail needs jailcallers too) */
	char *save = NULL;
	for (char *item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		decode(item);
		if (item[0] != '%') {
			if (!strcmp(item, caller->name)) return 1;
			continue;
		}
		struct group *gr = getgrnam(item + 1);
		for (int i = 0; gr && i < caller->ngroups; i++)
			if (caller->groups[i] == gr->gr_gid) return 1;
	}
	return 0;
}

/* The caller's arguments against the grant's shape: any, none, non-options, one-of:ALT,ALT (items +), options:OPT,OPT (each once, each with a value). */
static void check_args(const char *profile, char *spec, int argc, char **argv) {
	if (!strcmp(spec, "any")) return;
	if (!strcmp(spec, "none")) {
		if (argc) die(USAGE, "profile '%s' takes no arguments from the caller", profile);
		return;
	}
	if (!strcmp(spec, "non-options")) {
		for (int i = 0; i < argc; i++)
			if (argv[i][0] == '-') die(USAGE, "profile '%s' takes no options from the caller, only other arguments such as URLs", profile);
		return;
	}
	char *save = NULL;
	if (!strncmp(spec, "one-of:", 7)) {
		/* strtok would skip an empty alternative (no arguments): split by hand. */
		for (char *alt = spec + 7; alt; alt = strchr(alt, ',') ? strchr(alt, ',') + 1 : NULL) {
			char buf[4096];
			size_t len = strcspn(alt, ",");
			if (len >= sizeof buf) continue;
			memcpy(buf, alt, len);
			buf[len] = 0;
			int i = 0, same = 1;
			for (char *item = strtok_r(buf, "+", &save); item; item = strtok_r(NULL, "+", &save), i++)
				if (i >= argc || strcmp(decode(item), argv[i])) same = 0;
			if (same && i == argc) return;
		}
		die(USAGE, "profile '%s' takes only the argument lists its grant names from the caller", profile);
	}
	if (!strncmp(spec, "options:", 8)) {
		for (int i = 0; i < argc; i += 2) {
			int known = 0;
			char copy[4096];
			snprintf(copy, sizeof copy, "%s", spec + 8);
			for (char *opt = strtok_r(copy, ",", &save); opt; opt = strtok_r(NULL, ",", &save))
				if (!strcmp(decode(opt), argv[i])) known = 1;
			for (int j = 0; j < i; j += 2)
				if (!strcmp(argv[j], argv[i])) known = 0;
			if (!known || i + 1 >= argc || argv[i + 1][0] == '-')
				die(USAGE, "profile '%s' takes only its program's own options from the caller, each once and each with a value", profile);
		}
		return;
	}
	die(CONFIG, "the grant of '%s' has an unknown argument rule: run 'tails-launch grants --write' as root", profile);
}

/* ---- tools and files ------------------------------------------------- */

static void write_file(const char *path, const char *value) {
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || write(fd, value, strlen(value)) != (ssize_t)strlen(value) || close(fd) < 0)
		die(REFUSED, "cannot make the jail: %s = %s: %s", path, value, strerror(errno));
}

/* Runs ARGV (fixed paths) with INPUT on stdin and FD3 as its fd 3; returns its status, its first error line in ERR. */
static int run(char *const argv[], const char *input, int fd3, char *err, size_t errlen) {
	int in[2], out[2];
	CHECK(pipe2(in, O_CLOEXEC), "pipe");
	CHECK(pipe2(out, O_CLOEXEC), "pipe");
	pid_t pid = fork();
	CHECK(pid, "fork");
	if (pid == 0) {
		char *env[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL};
		/* Dead with the entry (a relayed signal): a half-made jail then has nobody left in it. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) _exit(126);
		int high = fd3 >= 0 ? fcntl(fd3, F_DUPFD, 10) : -1;
		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(out[1], 2) < 0 || (fd3 >= 0 && (high < 0 || dup2(high, 3) < 0))) _exit(126);
		execve(argv[0], argv, env);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	if (input) {
		size_t len = strlen(input);
		if (write(in[1], input, len) != (ssize_t)len) die(INTERNAL, "writing to %s: %s", argv[0], strerror(errno));
	}
	close(in[1]);
	/* Everything it writes is read (a tool writing into a closed pipe would die of SIGPIPE); the start is kept. */
	size_t got = 0;
	ssize_t n;
	char sink[4096];
	while ((n = read(out[0], got < errlen - 1 ? err + got : sink, got < errlen - 1 ? errlen - 1 - got : sizeof sink)) > 0 ||
	       (n < 0 && errno == EINTR))
		if (n > 0 && got < errlen - 1) got += (size_t)n;
	close(out[0]);
	err[got] = 0;
	err[strcspn(err, "\n")] = 0;
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) die(INTERNAL, "waitpid: %s", strerror(errno));
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void must(char *const argv[], const char *input) {
	char err[512];
	int status = run(argv, input, -1, err, sizeof err);
	if (status && !err[0]) snprintf(err, sizeof err, "exit status %d, no message", status);
	if (status == 127) die(127, "%s not found: install %s", argv[0], strcmp(argv[0], IP) ? "nftables" : "iproute2");
	if (status) die(REFUSED, "cannot make the jail: %s %s: %s", argv[0], argv[1], err);
}

/* ---- jails (src/jail/address.ts draws the same addresses) ------------ */

static uint32_t parse_ipv4(const char *s) {
	unsigned a, b, c, d;
	char tail;
	if (sscanf(s, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) < 4 || a > 255 || b > 255 || c > 255 || d > 255)
		die(CONFIG, "the grant has a bad address '%s': run 'tails-launch grants --write' as root", s);
	return a << 24 | b << 16 | c << 8 | d;
}
static void ipv4(uint32_t n, char *out) { sprintf(out, "%u.%u.%u.%u", n >> 24, n >> 16 & 255, n >> 8 & 255, n & 255); }

/* FNV-1a, 32 bits: the group of a stable key (address.ts's appGroup). */
static uint32_t fnv1a(const char *s) {
	uint32_t h = 2166136261u;
	for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

struct slot {
	char jail[16], host[16], veth[16];
};

static void slot_of(uint32_t base, uint32_t group, int n, struct slot *s) {
	uint32_t at = base + group * 64 + (uint32_t)n * 4;
	ipv4(at + 2, s->jail);
	ipv4(at + 1, s->host);
	snprintf(s->veth, sizeof s->veth, "tlj%x", (at - base) >> 2);
}

/* An app group is one user's: GROUP's owner file names its uid while any of its links lives. */
static int group_is_others(uint32_t base, uint32_t group, uid_t uid) {
	char path[64], text[16] = "";
	snprintf(path, sizeof path, RUN_DIR "/groups/%u", group);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, text, sizeof text - 1);
		text[n > 0 ? n : 0] = 0;
		close(fd);
	}
	/* A record that is not one uid, digits only, is nobody's (only this program writes them, whole). */
	char *end;
	unsigned long owner = strtoul(text, &end, 10);
	int recorded = fd >= 0 && text[0] && !*end;
	int live = 0;
	for (int n = 0; n < 16 && !live; n++) {
		struct slot s;
		slot_of(base, group, n, &s);
		live = if_nametoindex(s.veth) != 0;
	}
	if (live && (!recorded || (uid_t)owner != uid)) return 1;
	char mine[16];
	snprintf(mine, sizeof mine, "%u", uid);
	char tmp[80];
	snprintf(tmp, sizeof tmp, "%s.%d", path, getpid());
	int w = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	errno = EFBIG; /* what a short write means here: a file-size limit root could not lift */
	if (w < 0 || write(w, mine, strlen(mine)) != (ssize_t)strlen(mine) || close(w) < 0 || rename(tmp, path) < 0) {
		int error = errno;
		unlink(tmp);
		die(INTERNAL, "cannot record the owner of jail group %u: %s", group, strerror(error));
	}
	return 0;
}

#define RULESET \
    "table inet tails_launch_jail\n" \
    "delete table inet tails_launch_jail\n" \
    "table inet tails_launch_jail {\n" \
    "  chain to_listener {\n" \
    "    type nat hook output priority -100; policy accept;\n" \
    "    ip daddr %s tcp dport %s dnat ip to %s:%s\n" \
    "  }\n" \
    "  chain own_source {\n" \
    "    type nat hook postrouting priority 100; policy accept;\n" \
    "    oifname \"veth0\" snat ip to %s\n" \
    "  }\n" \
    "  chain allow_out {\n" \
    "    type filter hook output priority 0; policy drop;\n" \
    "    oifname \"lo\" ct status & dnat == 0 accept\n" \
    /* no oifname: the output hook still names lo for a packet the DNAT above rerouted */ \
    "    ip daddr %s tcp dport %s ct status dnat accept\n" \
    "    ct state established,related accept\n" \
    "    meta l4proto tcp reject with tcp reset\n" \
    "    reject with icmpx type admin-prohibited\n" \
    "  }\n" \
    "  chain allow_in {\n" \
    "    type filter hook input priority 0; policy drop;\n" \
    "    iifname \"lo\" accept\n" \
    "    ct state established,related accept\n" \
    "  }\n" \
    "}\n"

/* One jail being made: what the grant says, and where the making stands. */
struct jail {
	const char *profile;
	char pool[32], connect[64], socks[64];
	char *cport, *sport; /* the ports, in connect and socks */
	uint32_t base, half, group;
	int launch, none;
	int host, inside, lock; /* the host's namespace, the jail's, the allocation lock */
	struct slot slot;
};

/* The host side must be there first (`tails-launch jail setup`): else the jail's one way out leads nowhere. */
static void jail_check_host_side(void) {
	char err[512];
	char *list[] = {NFT, "list", "table", "inet", HOST_TABLE, NULL};
	int listed = run(list, NULL, -1, err, sizeof err);
	if (listed && strstr(err, "No such file or directory"))
		die(NONS, "the jails' host side is not installed (no nftables table inet %s): run 'tails-launch jail setup' as root", HOST_TABLE);
	if (listed) die(REFUSED, "cannot make the jail: nft list table inet %s: %s", HOST_TABLE, err);
}

/* The pool, the endpoint and the group of the grant (src/jail/address.ts draws the same numbers). */
static void jail_from_grant(const struct grant *g, uid_t uid, const char *identity, struct jail *j) {
	if (!g->pool || !g->connect || !g->jailsocks || !strcmp(g->pool, "-"))
		die(CONFIG, "profile '%s' cannot be jailed: its listener has no jail_port or there is no jails pool", g->profile);
	j->profile = g->profile;
	snprintf(j->pool, sizeof j->pool, "%s", g->pool);
	snprintf(j->connect, sizeof j->connect, "%s", g->connect);
	snprintf(j->socks, sizeof j->socks, "%s", g->jailsocks);
	char *bits = strchr(j->pool, '/');
	j->cport = strrchr(j->connect, ':');
	j->sport = strrchr(j->socks, ':');
	if (!bits || !j->cport || !j->sport) die(CONFIG, "the grant of '%s' has a malformed jail: run 'tails-launch grants --write' as root", g->profile);
	*bits++ = *j->cport++ = *j->sport++ = 0;
	int prefix = atoi(bits);
	if (prefix < 8 || prefix > 20) die(CONFIG, "the jails pool %s/%s is not a /8 to /20", j->pool, bits);
	j->base = parse_ipv4(j->pool) & (0xffffffffu << (32 - prefix));
	j->half = 1u << (32 - prefix - 6 - 1); /* groups are /26s; the second half is for launch groups */
	(void)parse_ipv4(j->connect);
	(void)parse_ipv4(j->socks);
	j->launch = !strcmp(g->isolation, "launch") || !strcmp(g->isolation, "process");
	j->none = !strcmp(g->isolation, "none");
	char key[256];
	snprintf(key, sizeof key, "tails-launch/app/%u/%s%s%s", uid, g->profile, identity ? "/identity/" : "", identity ? identity : "");
	j->group = j->none || j->launch ? 0 : 1 + fnv1a(key) % (j->half - 1);
}

/* Takes the allocation lock, then moves this process into a new network namespace with no IPv6 at all. */
static void jail_unshare(struct jail *j) {
	if (mkdir(RUN_DIR, 0700) < 0 && errno != EEXIST) die(INTERNAL, "mkdir " RUN_DIR ": %s", strerror(errno));
	if (mkdir(RUN_DIR "/groups", 0700) < 0 && errno != EEXIST) die(INTERNAL, "mkdir " RUN_DIR "/groups: %s", strerror(errno));
	j->lock = open(RUN_DIR "/jails.lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	CHECK(j->lock, "open " RUN_DIR "/jails.lock");
	/* Held for milliseconds by a live allocation; never waited on without bound (a holder may be stopped or stuck). */
	for (int tries = 0; flock(j->lock, LOCK_EX | LOCK_NB) < 0; tries++) {
		if (errno != EWOULDBLOCK && errno != EINTR) die(INTERNAL, "flock " RUN_DIR "/jails.lock: %s", strerror(errno));
		if (tries == 500) die(REFUSED, "cannot make the jail: another jail has been being made for 5 s; try again");
		usleep(10000);
	}
	held_lock = j->lock;
	j->host = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	CHECK(j->host, "open /proc/self/ns/net");
	CHECK(unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)");
	j->inside = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	CHECK(j->inside, "open /proc/self/ns/net");
	/* No IPv6 before any link exists; loopback addresses routable once redirected (as Tails' tails-create-netns). */
	write_file("/proc/sys/net/ipv4/conf/all/route_localnet", "1");
	write_file("/proc/sys/net/ipv4/ip_forward", "0");
	write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	write_file("/proc/sys/net/ipv6/conf/lo/disable_ipv6", "1");
}

/* A free slot of the current group: creating its host end fails with "File exists" when a live jail has it. */
static int jail_try_slots(struct jail *j) {
	char err[512];
	for (int n = 0; n < (j->launch ? 1 : 16); n++) {
		slot_of(j->base, j->group, n, &j->slot);
		char *add[] = {IP, "link", "add", "veth0", "type", "veth", "peer", "name", j->slot.veth, "netns", "/proc/self/fd/3", NULL};
		int status = run(add, NULL, j->host, err, sizeof err);
		if (status == 0) return 1;
		if (!err[0]) snprintf(err, sizeof err, "exit status %d, no message", status);
		if (!strstr(err, "File exists")) die(REFUSED, "cannot make the jail: ip link add %s: %s", j->slot.veth, err);
	}
	return 0;
}

/* The group and slot: a fresh group per launch (drawn again when taken), the user's own app group (the next one while another user holds it), or none's. */
static void jail_allocate(struct jail *j, uid_t uid) {
	for (int draw = 0; draw < 16; draw++) {
		if (j->launch) {
			uint32_t r;
			if (getrandom(&r, sizeof r, 0) != sizeof r) die(INTERNAL, "getrandom: %s", strerror(errno));
			j->group = j->half + r % j->half;
		} else if (draw > 0)
			j->group = 1 + j->group % (j->half - 1);
		if (!j->launch && !j->none) {
			CHECK(setns(j->host, CLONE_NEWNET), "setns(host)");
			int others = group_is_others(j->base, j->group, uid);
			CHECK(setns(j->inside, CLONE_NEWNET), "setns(jail)");
			if (others) continue;
		}
		if (jail_try_slots(j)) return;
		if (!j->launch) break; /* all 16 slots of this user's group (or none's) are taken */
	}
	char a[16];
	ipv4(j->base + j->group * 64, a);
	if (j->launch) die(REFUSED, "cannot make the jail: 16 fresh groups in a row were taken by live jails; the pool is nearly full");
	die(REFUSED, "cannot make the jail: all 16 jails of group %s are in use; close one", a);
}

/* Inside: loopback, the jail's address, its ruleset, the link; then the host end, from the host's namespace (its sysctls go with the link). */
static void jail_configure(struct jail *j) {
	struct slot *s = &j->slot;
	char jail30[24], host30[24], rules[4096], path[128];
	snprintf(jail30, sizeof jail30, "%s/30", s->jail);
	snprintf(host30, sizeof host30, "%s/30", s->host);
	snprintf(rules, sizeof rules, RULESET, j->connect, j->cport, s->host, j->sport, s->jail, s->host, j->sport);
	char *lo[] = {IP, "link", "set", "lo", "up", NULL};
	char *addr_in[] = {IP, "address", "add", jail30, "dev", "veth0", NULL};
	char *nft[] = {NFT, "-f", "-", NULL};
	char *up_in[] = {IP, "link", "set", "veth0", "up", NULL};
	char *addr_out[] = {IP, "address", "add", host30, "dev", s->veth, NULL};
	char *up_out[] = {IP, "link", "set", s->veth, "up", NULL};
	must(lo, NULL);
	must(addr_in, NULL);
	must(nft, rules);
	must(up_in, NULL);
	CHECK(setns(j->host, CLONE_NEWNET), "setns(host)");
	snprintf(path, sizeof path, "/proc/sys/net/ipv4/conf/%s/route_localnet", s->veth);
	write_file(path, "1");
	snprintf(path, sizeof path, "/proc/sys/net/ipv6/conf/%s/disable_ipv6", s->veth);
	write_file(path, "1");
	must(addr_out, NULL);
	must(up_out, NULL);
	CHECK(setns(j->inside, CLONE_NEWNET), "setns(jail)");
}

/*
 * Moves this (single-threaded) process into a new jail; writes the group's
 * address (what Tor sees) to ADDR. Nothing is left behind, whatever happens:
 * the namespace has no name, so it lives as long as a process is in it, and
 * the kernel deletes the veth pair, host end included, with it.
 */
static void make_jail(const struct grant *g, uid_t uid, const char *identity, char addr[16]) {
	struct jail j = {0};
	jail_check_host_side();
	jail_from_grant(g, uid, identity, &j);
	jail_unshare(&j);
	jail_allocate(&j, uid);
	jail_configure(&j);
	close(j.host);
	close(j.inside);
	held_lock = -1;
	close(j.lock); /* the next allocation may go on */
	ipv4(j.base + j.group * 64, addr);
}

/* ---- becoming the account ------------------------------------------- */

static void switch_user(const struct account *a) {
	if (setgroups((size_t)a->ngroups, a->groups) < 0 || setresgid(a->gid, a->gid, a->gid) < 0 || setresuid(a->uid, a->uid, a->uid) < 0)
		die(REFUSED, "cannot switch to user '%s': %s", a->name, strerror(errno));
	uid_t r, e, s;
	gid_t gr, ge, gs;
	if (getresuid(&r, &e, &s) < 0 || getresgid(&gr, &ge, &gs) < 0 || r != a->uid || e != a->uid || s != a->uid || gr != a->gid || ge != a->gid || gs != a->gid)
		die(INTERNAL, "switching to user '%s' left other ids: refusing to launch", a->name);
	if (setuid(0) == 0 && a->uid != 0) die(INTERNAL, "root could be regained after switching to '%s': refusing to launch", a->name);
}

/* Root in a jail keeps uid 0 and nothing else: without CAP_SYS_ADMIN it cannot setns out, without CAP_NET_ADMIN it cannot reroute. */
static void drop_capabilities(void) {
	for (int cap = 0; cap < 64; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) die(REFUSED, "PR_CAPBSET_DROP %d: %s", cap, strerror(errno));
	CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "PR_CAP_AMBIENT_CLEAR_ALL");
	struct __user_cap_header_struct head = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	CHECK(syscall(SYS_capget, &head, data), "capget");
	data[0].inheritable = data[1].inheritable = 0;
	CHECK(syscall(SYS_capset, &head, data), "capset");
	CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS");
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	int clean = 0;
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "CapBnd:", 7) || !strncmp(line, "CapInh:", 7) || !strncmp(line, "CapAmb:", 7))
			clean += strspn(line + 7, "\t 0") == strlen(line + 7) - 1;
	if (f) fclose(f);
	if (clean != 3) die(INTERNAL, "root's capabilities are still there after dropping them: refusing to launch");
}

/* ---- the environment: Tails' run-with-env list (src/placement/environment.ts) ---- */

static const char *ALLOWED[] = {"AT_SPI_BUS_ADDRESS", "DBUS_SESSION_BUS_ADDRESS", "DEBUG", "DESKTOP_STARTUP_ID", "DISPLAY", "LANG",
    "LANGUAGE", "NO_AT_BRIDGE", "QT_ACCESSIBILITY", "TERM", "TOR_BROWSER_SKIP_OFFLINE_WARNING", "WAYLAND_DISPLAY", "XAUTHORITY",
    "XDG_CURRENT_DESKTOP", "XDG_RUNTIME_DIR", "XDG_SESSION_TYPE", NULL};

static int kept(const char *entry, const char *keep) {
	size_t n = strcspn(entry, "=");
	int ok = !strncmp(entry, "LC_", 3) && n > 3 && strspn(entry + 3, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == n - 3;
	for (int i = 0; ALLOWED[i] && !ok; i++) ok = strlen(ALLOWED[i]) == n && !strncmp(entry, ALLOWED[i], n);
	if (!ok || !strcmp(keep, "*")) return ok;
	for (const char *k = keep; *k; k += strcspn(k, ","), k += *k == ',')
		if (strcspn(k, ",") == n && !strncmp(k, entry, n)) return 1;
	return 0;
}

static char *var(const char *name, const char *value) {
	char *s;
	if (asprintf(&s, "%s=%s", name, value) < 0) die(INTERNAL, "out of memory");
	return s;
}

/* ---- the preflight, and the exec ------------------------------------ */

/* The next NUL-terminated string of the request, or death. */
static char *take(char **p, char *end) {
	if (*p >= end || !memchr(*p, 0, (size_t)(end - *p))) die(INTERNAL, "the preflight's request is malformed");
	char *s = *p;
	*p += strlen(s) + 1;
	return s;
}

/* COUNT, then that many strings: a NULL-terminated list. */
static char **take_list(char **p, char *end) {
	char *count = take(p, end), *tail;
	unsigned long n = strtoul(count, &tail, 10);
	if (!*count || *tail || n > (1UL << 20)) die(INTERNAL, "the preflight's request is malformed");
	char **list = calloc(n + 1, sizeof *list);
	if (!list) die(INTERNAL, "out of memory");
	for (unsigned long i = 0; i < n; i++) list[i] = take(p, end);
	return list;
}

/* The preflight's request: "tails-launch-exec 1", FILE, ARGC, ARGV..., ENVC, ENV..., each NUL-terminated. */
static char **parse_request(char *buf, size_t len, char **file, char ***envp) {
	char *p = buf, *end = buf + len;
	if (strcmp(take(&p, end), "tails-launch-exec 1")) die(INTERNAL, "the preflight's request is malformed");
	*file = take(&p, end);
	char **argv = take_list(&p, end);
	*envp = take_list(&p, end);
	if (p != end || (*file)[0] != '/' || !argv[0]) die(INTERNAL, "the preflight's request is malformed");
	return argv;
}

/* Runs the preflight (Node, as the account, in a session of its own) and returns what it asks to execute. */
static char *preflight(char **argv, char **envp, int planfd, size_t *len) {
	/* As the account: Node would say it in a dozen lines (a checkout under a directory only root may enter). */
	if (access(NODE, X_OK) < 0 || access(PREFLIGHT, R_OK) < 0)
		die(REFUSED, "the preflight (%s %s) cannot be run as uid %u: %s; install tails-launch, or keep a checkout where that user can read it",
		    NODE, PREFLIGHT, getuid(), strerror(errno));
	int req[2];
	CHECK(pipe2(req, O_CLOEXEC), "pipe");
	pid_t parent = getpid(), pid = fork();
	CHECK(pid, "fork");
	if (pid == 0) {
		/* Out of sudo's reach (it relays to its command and that command's group) and dead with us. */
		if (setsid() < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent) _exit(INTERNAL);
		/* Above every fd either may be now, then down to 3 and 4 (dup2 onto itself would keep close-on-exec). */
		int hreq = fcntl(req[1], F_DUPFD, 10), hplan = planfd >= 0 ? fcntl(planfd, F_DUPFD, 10) : -1;
		if (hreq < 0 || (planfd >= 0 && hplan < 0) || dup2(hreq, 3) < 0 || (hplan >= 0 && dup2(hplan, 4) < 0)) _exit(INTERNAL);
		if (syscall(SYS_close_range, planfd >= 0 ? 5 : 4, ~0U, 0) < 0)
			for (int fd = planfd >= 0 ? 5 : 4; fd < 65536; fd++) close(fd);
		execve(NODE, argv, envp);
		dprintf(2, "tails-launch: privileged entry: cannot run the preflight %s: %s\n", NODE, strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	close(req[1]);
	char *buf = malloc(MAX_REQUEST);
	if (!buf) die(INTERNAL, "out of memory");
	size_t got = 0;
	ssize_t n;
	while ((n = read(req[0], buf + got, MAX_REQUEST - got)) > 0 || (n < 0 && errno == EINTR))
		if (n > 0 && (got += (size_t)n) == MAX_REQUEST) die(INTERNAL, "the preflight's request is too long");
	close(req[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) die(INTERNAL, "waitpid: %s", strerror(errno));
	if (WIFSIGNALED(status)) die(INTERNAL, "the preflight died of signal %d: nothing was launched", WTERMSIG(status));
	if (WEXITSTATUS(status)) _exit(WEXITSTATUS(status)); /* it said why, in one line */
	*len = got;
	return buf;
}

/* ---- the caller's process state, kept for the application ------------- */

/*
 * sudo hands its command the caller's resource limits and signal
 * dispositions. Root's own work must not run under them (a caller's
 * RLIMIT_FSIZE truncated root's records; RLIMIT_NOFILE made a tool fail
 * inside the allocation lock; SIGCHLD ignored broke waitpid; a relayed
 * SIGTSTP would stop the entry where it stands): they are set aside here,
 * and the caller's are put back for the preflight and the application.
 */
struct caller_state {
	struct rlimit limits[RLIM_NLIMITS];
	struct sigaction stop[3], child;
};
static const int STOP_SIGNALS[3] = {SIGTSTP, SIGTTIN, SIGTTOU};

static void set_aside(struct caller_state *c) {
	for (int r = 0; r < RLIM_NLIMITS; r++) {
		CHECK(getrlimit(r, &c->limits[r]), "getrlimit");
		if (r == RLIMIT_NICE || r == RLIMIT_RTPRIO) continue; /* priorities: not limits on root's work */
		/* No limit where root may lift it; else as far as the caller's hard limit goes. A hard limit is never lowered. */
		struct rlimit lifted = {RLIM_INFINITY, RLIM_INFINITY}, most = {c->limits[r].rlim_max, c->limits[r].rlim_max};
		if (r == RLIMIT_CORE) most.rlim_cur = 0; /* no core of root's process */
		if ((r == RLIMIT_CORE || setrlimit(r, &lifted) < 0) && setrlimit(r, &most) < 0)
			die(INTERNAL, "setrlimit(%d): %s", r, strerror(errno));
	}
	struct sigaction dfl = {.sa_handler = SIG_DFL}, ign = {.sa_handler = SIG_IGN};
	CHECK(sigaction(SIGCHLD, &dfl, &c->child), "sigaction(SIGCHLD)");
	for (int i = 0; i < 3; i++) CHECK(sigaction(STOP_SIGNALS[i], &ign, &c->stop[i]), "sigaction");
}

/* The caller's own: a hard limit only ever goes back down, which needs no privilege. */
static void restore_limits(const struct caller_state *c) {
	for (int r = 0; r < RLIM_NLIMITS; r++) CHECK(setrlimit(r, &c->limits[r]), "setrlimit");
}

static void restore_stop_signals(const struct caller_state *c) {
	for (int i = 0; i < 3; i++) CHECK(sigaction(STOP_SIGNALS[i], &c->stop[i], NULL), "sigaction");
}

/* ---- the steps of main ---------------------------------------------- */

/* What the caller asked: PROFILE [--jail] [--identity NAME] -- ARGS, after root's --grant-fd N. */
struct ask {
	int grantfd, jail, nargs;
	const char *profile, *identity;
	char **args;
};

static void parse_ask(int argc, char **argv, struct ask *ask) {
	const char *usage = "usage: place PROFILE [--jail] [--identity NAME] -- [ARGS...] (run it as 'tails-launch PROFILE [ARGS...]')";
	int i = 1;
	ask->grantfd = -1;
	if (i + 1 < argc && !strcmp(argv[i], "--grant-fd")) {
		if (!matches(argv[i + 1], "3456789", "0123456789", 4)) die(USAGE, "--grant-fd takes a descriptor number (3 or more)");
		ask->grantfd = atoi(argv[i + 1]);
		i += 2;
	}
	if (i >= argc || !is_profile_name(argv[i])) die(USAGE, "%s", usage);
	ask->profile = argv[i++];
	if (i < argc && !strcmp(argv[i], "--jail")) ask->jail = 1, i++;
	if (i + 1 < argc && !strcmp(argv[i], "--identity")) {
		ask->identity = argv[i + 1];
		if (!is_identity(ask->identity)) die(USAGE, "%s", usage);
		i += 2;
	}
	if (i >= argc || strcmp(argv[i], "--")) die(USAGE, "%s", usage);
	ask->nargs = argc - i - 1;
	ask->args = argv + i + 1;
}

/* Who called: sudo's SUDO_UID (env_reset keeps a caller from setting it), or root itself. */
static void who_called(const struct ask *ask, struct account *caller) {
	const char *sudo_uid = getenv("SUDO_UID");
	uid_t uid = 0;
	if (sudo_uid) {
		char *end;
		unsigned long u = strtoul(sudo_uid, &end, 10);
		if (!*sudo_uid || *end || u > UINT32_MAX - 1) die(REFUSED, "SUDO_UID is not a user ID");
		uid = (uid_t)u;
	} else if (getuid() != 0)
		die(REFUSED, "it must run as root, through sudo ('tails-launch PROFILE' does that)");
	if (ask->grantfd >= 0 && uid != 0) die(REFUSED, "--grant-fd is root's own: a caller's launch runs only what the system grants say");
	if (ask->grantfd >= 0 && fcntl(ask->grantfd, F_SETFD, FD_CLOEXEC) < 0) die(USAGE, "--grant-fd %d: %s", ask->grantfd, strerror(errno));
	if (!account_of(getpwuid(uid), caller)) die(NOUSER, "the calling user (uid %u) has no account", uid);
}

/* The profile's grant: from the drop-in, or (root) from the memfd handed over. */
static void load_grant(const struct ask *ask, struct grant *g) {
	char *text;
	if (ask->grantfd >= 0) text = read_trusted(ask->grantfd, "the grant handed over", 1);
	else {
		int fd = open_trusted(GRANTS_FILE);
		text = read_trusted(fd, GRANTS_FILE, 0);
		close(fd);
	}
	if (!find_grant(text, ask->profile, g))
		die(REFUSED, "no grant for profile '%s' in %s: the administrator must give it 'callers' and run 'tails-launch grants --write'",
		    ask->profile, ask->grantfd >= 0 ? "the handed-over grant" : GRANTS_FILE);
}

/* Whether the grant lets this caller ask this; returns whether the launch is jailed. */
static int check_grant(struct grant *g, const struct ask *ask, const struct account *caller) {
	if (!allowed(g->callers, caller))
		die(REFUSED, "%s may not start profile '%s' (its callers do not name them): ask the administrator", caller->name, ask->profile);
	int jailed = !strcmp(g->jail, "always") || (ask->jail && !strcmp(g->jail, "optional"));
	if (ask->jail && !jailed) die(REFUSED, "profile '%s' cannot be jailed here", ask->profile);
	if (ask->jail && !allowed(g->jailcallers, caller))
		die(REFUSED, "%s may not make jails (jails: callers in listeners.yml does not name them): ask the administrator", caller->name);
	if (!jailed && !strcmp(g->netns, "-") && !strcmp(g->user, "-"))
		die(REFUSED, "profile '%s' has no placement: run 'tails-launch %s' directly", ask->profile, ask->profile);
	if (ask->identity && strcmp(g->identity, "yes")) die(USAGE, "--identity cannot be honoured by profile '%s'", ask->profile);
	check_args(ask->profile, g->args, ask->nargs, ask->args);
	return jailed;
}

/* The account: the grant's user, else the caller's own. Never root, never another person, for someone else. */
static void choose_account(const struct grant *g, const struct account *caller, struct account *target) {
	if (strcmp(g->user, "-")) {
		if (!account_of(getpwnam(g->user), target))
			die(NOUSER, "profile '%s' runs as user '%s', which does not exist on this system", g->profile, g->user);
	} else
		*target = *caller;
	int system_account = (target->uid > 0 && target->uid < 1000) || target->uid == 65534;
	if (caller->uid != 0 && target->uid == 0)
		die(REFUSED, "profile '%s' would run as root: placement never runs an application as root for another user", g->profile);
	if (caller->uid != 0 && target->uid != caller->uid && !system_account)
		die(REFUSED, "profile '%s' runs as '%s', another person's account: only '%s' (or root) may launch it", g->profile, target->name, target->name);
}

/* The named namespace, opened without following a link; setns refuses a file that is not a network namespace. */
static void enter_netns(const char *name) {
	char path[128];
	snprintf(path, sizeof path, "/run/netns/%s", name);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) die(NONS, "network namespace '%s' does not exist (no %s): create it with 'tails-launch netns setup %s' as root", name, path, name);
	if (setns(fd, CLONE_NEWNET) < 0) die(NONS, "cannot enter network namespace '%s': %s", name, strerror(errno));
	close(fd);
}

/* The preflight's environment: the allow-listed variables the grant keeps, the account's own, and what the entry did. */
static char **preflight_env(const struct grant *g, const struct account *caller, const struct account *target, int jailed, const char *address) {
	char **envp = calloc(64 + 16, sizeof *envp);
	if (!envp) die(INTERNAL, "out of memory");
	int e = 0;
	for (char **v = environ; *v && e < 64; v++)
		if (kept(*v, g->keep)) envp[e++] = *v;
	envp[e++] = var("HOME", target->home);
	envp[e++] = var("USER", target->name);
	envp[e++] = var("LOGNAME", target->name);
	envp[e++] = var("SHELL", target->shell);
	envp[e++] = var("PATH", "/usr/local/bin:/usr/bin:/bin");
	char facts[512];
	snprintf(facts, sizeof facts, "v=1;caller=%u;uid=%u;netns=%s;jail=%s", caller->uid, target->uid, jailed ? "-" : g->netns, address);
	envp[e++] = var("TAILS_LAUNCH_PLACED", facts);
	envp[e++] = var("TAILS_LAUNCH_GRANT", g->line);
	return envp;
}

/* node PREFLIGHT [--plan-fd] PROFILE [--identity NAME] -- ARGS */
static char **preflight_argv(const struct ask *ask) {
	char **argv = calloc((size_t)ask->nargs + 8, sizeof *argv);
	if (!argv) die(INTERNAL, "out of memory");
	int a = 0;
	argv[a++] = "node";
	argv[a++] = PREFLIGHT;
	if (ask->grantfd >= 0) argv[a++] = "--plan-fd";
	argv[a++] = (char *)ask->profile;
	if (ask->identity) argv[a++] = "--identity", argv[a++] = (char *)ask->identity;
	argv[a++] = "--";
	for (int k = 0; k < ask->nargs; k++) argv[a++] = ask->args[k];
	return argv;
}

int main(int argc, char **argv) {
	if (geteuid() != 0) die(REFUSED, "it must run as root, through sudo ('tails-launch PROFILE' does that)");
	/* Root's files (the jail's owner records) get 022; the caller's umask is the preflight's and the application's. */
	mode_t caller_umask = umask(022);
	struct caller_state state;
	set_aside(&state);
	struct ask ask = {0};
	struct account caller, target;
	struct grant g = {0};
	parse_ask(argc, argv, &ask);
	who_called(&ask, &caller);

	/* 1. May this caller ask this? */
	load_grant(&ask, &g);
	int jailed = check_grant(&g, &ask, &caller);
	choose_account(&g, &caller, &target);

	/* 2. Where. */
	char address[16] = "-";
	if (jailed) make_jail(&g, caller.uid, ask.identity, address);
	else if (strcmp(g.netns, "-")) enter_netns(g.netns);

	/* 3. Who, for good; from here on, the caller's limits, umask and stop signals. */
	restore_limits(&state);
	if (target.uid != 0) switch_user(&target);
	else if (jailed) drop_capabilities();
	umask(caller_umask);
	restore_stop_signals(&state);

	/* 4. The preflight, as that account, there. */
	size_t len = 0;
	char *request = preflight(preflight_argv(&ask), preflight_env(&g, &caller, &target, jailed, address), ask.grantfd, &len);

	/* 5. The application, in this process. */
	char *file, **appenv, **appargv = parse_request(request, len, &file, &appenv);
	CHECK(sigaction(SIGCHLD, &state.child, NULL), "sigaction(SIGCHLD)");
	execve(file, appargv, appenv);
	die(errno == ENOENT || errno == ENOTDIR ? 127 : 126, "cannot execute %s: %s", file, strerror(errno));
}
