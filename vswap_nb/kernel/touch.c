/*
 * vswap-nb-touch: one address space (mm) of a vswap_nb workload, replayed on real
 * anonymous memory for the `kernel` design.  Built by vswap_nb/kernel/helper.py with the
 * machine's C compiler on first use; driven by that module over stdin/stdout.
 *
 *   vswap-nb-touch PROGRAM CGROUP_PROCS SWAP_DEV THP
 *
 * PROGRAM is a file of little-endian int64 words (written by helper.py):
 *   magic, version, seed, mm, mm_pages, fill0 (double bits), fill01 (double bits),
 *   ncpu (CPUs the tasks may use; 0 = all), ntasks, then per task:
 *   task id, cpu (-1 = unbound), nrows, nrows x (event index, kind, a, b, c, d).
 * CGROUP_PROCS is the cgroup.procs file of the workload's memory cgroup ("-" for none);
 * SWAP_DEV is the swap device a SWAPOFF event turns off.  THP is 0 (the process runs
 * with PR_SET_THP_DISABLE: order-0 folios only) or 1 (faults may allocate the large
 * folios the machine's THP settings allow; the mm's address range then starts on a
 * 2 MiB boundary, so a folio of order k covers vpns [n * 2^k, (n + 1) * 2^k) as in the
 * model).
 *
 * One thread per task.  Everything this program allocates for itself (the program, the
 * written-page bitmap, the thread stacks' first pages) is allocated *before* it moves
 * into the cgroup, so what the cgroup is charged is the workload's memory.
 *
 * Content of a page (the hash of vswap_nb/workloads/events.py, bit for bit): class 0
 * (sequence) holds word i = vpn * 512 + i, as usemem's vp[i] = i; class 1 is all zero;
 * class 2 is all 0xff (memhog).  A read access checks every word of the page against
 * what was last written there (zero if it never was).
 *
 * stdout, one line per message (each a single write(), atomic on a pipe):
 *   R                                   ready: in the cgroup, threads waiting
 *   P task phase mono_ns cpu_ns         the task starts phase `phase`
 *   B task id mono_ns cpu_ns            the task waits at barrier `id`
 *   S task errno mono0_ns mono1_ns      the task ran swapoff(SWAP_DEV)
 *   X task mono_ns cpu_ns checks errors first_bad_vpn pages_touched
 *   T task pages                        progress: pages accessed so far (every 65536)
 *   E task message                      a failure (the program then exits 2)
 * stdin: "G id" releases barrier `id` (G -1 starts the tasks); end of file kills us.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/swap.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL
#define PMD_BYTES (2UL << 20) /* the largest anonymous folio */
#define WORDS 512UL
#define MAGIC 0x31424e5041575356LL /* "VSWAPNB1" */
#define VERSION 1

enum { K_MMAP = 1, K_TOUCH, K_TOUCH_RANDOM, K_BARRIER, K_UNMAP, K_EXIT, K_PHASE, K_SWAPOFF };
#define F_WRITE 1

static const uint64_t G = 0x9E3779B97F4A7C15ULL;
static const uint64_t M = 0xD1B54A32D192ED03ULL;

struct task {
	int64_t id, cpu, nrows;
	int64_t *rows;
	pthread_t th;
	uint64_t checks, errors, touched;
	int64_t first_bad;
};

static uint64_t seed, mm;
static int64_t mm_pages, ncpu_allowed, ntasks;
static double fill0, fill01;
static struct task *tasks;
static char *base;           /* the mm's reserved address range, page vpn at base + vpn * PAGE */
static uint8_t *written;     /* one bit per vpn: written at least once */
static const char *swapdev;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t bar_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bar_cond = PTHREAD_COND_INITIALIZER;
static int64_t released = -2; /* highest barrier id released; -1 = started */
static int64_t live;          /* tasks of this mm not exited */

static uint64_t splitmix64(uint64_t x)
{
	uint64_t z = x + G;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static int content_class(uint64_t vpn)
{
	uint64_t h = splitmix64(seed * G + mm * M + vpn);
	double u = (double)(h >> 11) * 0x1p-53;
	return u < fill0 ? 0 : (u < fill01 ? 1 : 2);
}

static int64_t now_ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof buf)
		n = sizeof buf - 1;
	pthread_mutex_lock(&out_lock);
	ssize_t off = 0;
	while (off < n) {
		ssize_t w = write(1, buf + off, n - off);
		if (w <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			_exit(3); /* the parent is gone */
		}
		off += w;
	}
	pthread_mutex_unlock(&out_lock);
}

static void fail(int64_t task, const char *what)
{
	say("E %lld %s: %s\n", (long long)task, what, strerror(errno));
	_exit(2);
}

static void write_page(uint64_t *p, int cls, uint64_t vpn)
{
	if (cls == 0) {
		uint64_t w0 = vpn * WORDS;
		for (uint64_t i = 0; i < WORDS; i++)
			p[i] = w0 + i;
	} else {
		uint64_t v = cls == 1 ? 0 : ~0ULL;
		for (uint64_t i = 0; i < WORDS; i++)
			p[i] = v;
	}
}

/* number of words that differ from what the page must hold */
static uint64_t check_page(const volatile uint64_t *p, int cls, uint64_t vpn, int was_written)
{
	uint64_t bad = 0;
	if (!was_written || cls != 0) {
		uint64_t v = (!was_written || cls == 1) ? 0 : ~0ULL;
		for (uint64_t i = 0; i < WORDS; i++)
			bad += p[i] != v;
	} else {
		uint64_t w0 = vpn * WORDS;
		for (uint64_t i = 0; i < WORDS; i++)
			bad += p[i] != w0 + i;
	}
	return bad;
}

static void access_page(struct task *t, uint64_t vpn, int write)
{
	uint64_t *p = (uint64_t *)(base + vpn * PAGE);
	int cls = content_class(vpn);
	uint8_t bit = (uint8_t)(1u << (vpn & 7));
	if (write) {
		write_page(p, cls, vpn);
		__atomic_fetch_or(&written[vpn >> 3], bit, __ATOMIC_RELAXED);
	} else {
		int was = (__atomic_load_n(&written[vpn >> 3], __ATOMIC_RELAXED) & bit) != 0;
		t->checks++;
		if (check_page(p, cls, vpn, was)) {
			if (!t->errors)
				t->first_bad = (int64_t)vpn;
			t->errors++;
		}
	}
	if ((++t->touched & 0xFFFF) == 0) /* progress, every 256 MiB of accesses */
		say("T %lld %llu\n", (long long)t->id, (unsigned long long)t->touched);
}

static uint64_t random_vpn(int64_t task, int64_t ev, uint64_t i, uint64_t start, uint64_t span)
{
	uint64_t b = splitmix64(seed ^ ((uint64_t)task * G));
	return start + splitmix64(b + (uint64_t)ev * M + i) % span;
}

static void wait_barrier(int64_t id)
{
	pthread_mutex_lock(&bar_lock);
	while (released < id)
		pthread_cond_wait(&bar_cond, &bar_lock);
	pthread_mutex_unlock(&bar_lock);
}

static void *run_task(void *arg)
{
	struct task *t = arg;
	wait_barrier(-1);
	for (int64_t r = 0; r < t->nrows; r++) {
		int64_t *row = t->rows + 6 * r;
		int64_t ev = row[0], kind = row[1], a = row[2], b = row[3], c = row[4], d = row[5];
		switch (kind) {
		case K_MMAP:
			if (mmap(base + a * PAGE, b * PAGE, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) == MAP_FAILED)
				fail(t->id, "mmap");
			break;
		case K_TOUCH:
			for (int64_t i = 0; i < b; i++)
				access_page(t, (uint64_t)(a + i), c & F_WRITE);
			break;
		case K_TOUCH_RANDOM:
			for (int64_t i = 0; i < d; i++)
				access_page(t, random_vpn(t->id, ev, (uint64_t)i, a, b), c & F_WRITE);
			break;
		case K_BARRIER:
			say("B %lld %lld %lld %lld\n", (long long)t->id, (long long)a,
			    (long long)now_ns(CLOCK_MONOTONIC), (long long)now_ns(CLOCK_THREAD_CPUTIME_ID));
			wait_barrier(a);
			break;
		case K_UNMAP:
			if (munmap(base + a * PAGE, b * PAGE))
				fail(t->id, "munmap");
			break;
		case K_PHASE:
			say("P %lld %lld %lld %lld\n", (long long)t->id, (long long)a,
			    (long long)now_ns(CLOCK_MONOTONIC), (long long)now_ns(CLOCK_THREAD_CPUTIME_ID));
			break;
		case K_SWAPOFF: {
			int64_t t0 = now_ns(CLOCK_MONOTONIC);
			int rc = swapoff(swapdev);
			int64_t t1 = now_ns(CLOCK_MONOTONIC);
			say("S %lld %d %lld %lld\n", (long long)t->id, rc ? errno : 0, (long long)t0, (long long)t1);
			break;
		}
		case K_EXIT: {
			pthread_mutex_lock(&bar_lock);
			int last = --live == 0;
			pthread_mutex_unlock(&bar_lock);
			if (last && munmap(base, (size_t)mm_pages * PAGE)) /* the mm's last task tears it down */
				fail(t->id, "munmap at exit");
			say("X %lld %lld %lld %llu %llu %lld %llu\n", (long long)t->id,
			    (long long)now_ns(CLOCK_MONOTONIC), (long long)now_ns(CLOCK_THREAD_CPUTIME_ID),
			    (unsigned long long)t->checks, (unsigned long long)t->errors, (long long)t->first_bad,
			    (unsigned long long)t->touched);
			return NULL;
		}
		default:
			errno = EINVAL;
			fail(t->id, "unknown event kind");
		}
	}
	return NULL;
}

static void *read_commands(void *arg)
{
	(void)arg;
	char line[128];
	while (fgets(line, sizeof line, stdin)) {
		long long id;
		if (sscanf(line, "G %lld", &id) == 1) {
			pthread_mutex_lock(&bar_lock);
			if (id > released)
				released = id;
			pthread_cond_broadcast(&bar_cond);
			pthread_mutex_unlock(&bar_lock);
		}
	}
	_exit(4); /* stdin closed: the run is over or the parent died */
	return NULL;
}

static int64_t *load(const char *path, size_t *nwords)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	int64_t *w = malloc(n > 0 ? n : 8);
	if (!w || fread(w, 1, n, f) != (size_t)n) {
		fclose(f);
		return NULL;
	}
	fclose(f);
	*nwords = n / 8;
	return w;
}

int main(int argc, char **argv)
{
	if (argc != 5 || (strcmp(argv[4], "0") && strcmp(argv[4], "1"))) {
		fprintf(stderr, "usage: %s PROGRAM CGROUP_PROCS SWAP_DEV THP(0|1)\n", argv[0]);
		return 1;
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);   /* never outlive the run */
	if (getppid() == 1)
		return 1;
	int thp = argv[4][0] == '1';
	if (!thp && prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0)) /* order-0 folios only */
		fail(-1, "PR_SET_THP_DISABLE");
	swapdev = argv[3];
	size_t n = 0;
	int64_t *w = load(argv[1], &n);
	if (!w || n < 9 || w[0] != MAGIC || w[1] != VERSION) {
		errno = EINVAL;
		fail(-1, "bad program file");
	}
	seed = (uint64_t)w[2];
	mm = (uint64_t)w[3];
	mm_pages = w[4];
	memcpy(&fill0, &w[5], 8);
	memcpy(&fill01, &w[6], 8);
	ncpu_allowed = w[7];
	ntasks = w[8];
	live = ntasks;
	tasks = calloc(ntasks, sizeof *tasks);
	size_t at = 9;
	for (int64_t i = 0; i < ntasks; i++) {
		if (at + 3 > n) {
			errno = EINVAL;
			fail(-1, "truncated program file");
		}
		tasks[i].id = w[at];
		tasks[i].cpu = w[at + 1];
		tasks[i].nrows = w[at + 2];
		tasks[i].rows = w + at + 3;
		tasks[i].first_bad = -1;
		at += 3 + 6 * tasks[i].nrows;
		if (at > n) {
			errno = EINVAL;
			fail(-1, "truncated program file");
		}
	}
	written = calloc((mm_pages + 8) / 8, 1);
	size_t len = (size_t)mm_pages * PAGE;
	if (!thp) {
		base = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	} else { /* reserve 2 MiB more, keep the aligned part */
		char *r = mmap(NULL, len + PMD_BYTES, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		base = r;
		if (r != MAP_FAILED) {
			base = (char *)(((uintptr_t)r + PMD_BYTES - 1) & ~(uintptr_t)(PMD_BYTES - 1));
			if ((base > r && munmap(r, base - r)) || munmap(base + len, r + PMD_BYTES - base))
				fail(-1, "trimming the address space");
		}
	}
	if (!written || base == MAP_FAILED)
		fail(-1, "reserving the address space");
	/* touch the bitmap now, so its pages are charged where we are, not to the cgroup */
	memset(written, 0, (mm_pages + 8) / 8);

	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 1 << 16);
	for (int64_t i = 0; i < ntasks; i++) {
		if (pthread_create(&tasks[i].th, &attr, run_task, &tasks[i])) {
			errno = EAGAIN;
			fail(tasks[i].id, "pthread_create");
		}
		if (ncpu_allowed > 0 || tasks[i].cpu >= 0) {
			cpu_set_t set;
			CPU_ZERO(&set);
			if (tasks[i].cpu >= 0) {
				CPU_SET(tasks[i].cpu, &set);
			} else {
				for (int64_t c = 0; c < ncpu_allowed; c++)
					CPU_SET(c, &set);
			}
			if (pthread_setaffinity_np(tasks[i].th, sizeof set, &set)) {
				errno = EINVAL;
				fail(tasks[i].id, "sched_setaffinity");
			}
		}
	}
	pthread_t reader;
	if (pthread_create(&reader, &attr, read_commands, NULL))
		fail(-1, "pthread_create");
	if (strcmp(argv[2], "-") != 0) {
		FILE *f = fopen(argv[2], "w");
		if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f))
			fail(-1, "joining the memory cgroup");
	}
	say("R\n");
	for (int64_t i = 0; i < ntasks; i++)
		pthread_join(tasks[i].th, NULL);
	return 0;
}
