/*
 * pagewalk-testchild - a process with a known memory layout, for the
 * import tests: it sets up its regions, prints them, then waits on stdin
 * for commands while it is inspected.
 *
 *   pagewalk-testchild FILE            the standard layout (FILE: a scratch
 *                                      file it creates and maps)
 *   pagewalk-testchild --big MIB [--thp]
 *                                      MIB MiB of anonymous memory, every
 *                                      page written (with --thp: MADV_HUGEPAGE)
 *
 * Output, one region a line, then "ready":
 *   region NAME START END           (hex, END exclusive)
 *   thp yes|no                      did the THP region get a PMD mapping
 * Commands on stdin (one a line), each answered with one line:
 *   mincore START LEN    the residency bytes as a string of 0/1 (or "err E")
 *   guard START LEN      madvise(MADV_GUARD_INSTALL): "ok" or "err E"
 *   ptemap START LEN     mprotect read-only, then read-write again: a THP under
 *                        the range is split to PTEs, the VMA merged back; then
 *                        MADV_NOHUGEPAGE on its 2 MiB block, so that khugepaged
 *                        does not collapse it again ("ok")
 *   fork                 forks a child that sleeps (pages become shared): its pid
 *   quit                 exits (so does EOF)
 * Deterministic: the same layout every run, up to addresses and frames.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

#define PAGE 4096UL
#define HPAGE (2UL << 20)

static volatile char sink;

static void region(const char *name, void *start, size_t len)
{
	printf("region %s %lx %lx\n", name, (unsigned long)start,
	       (unsigned long)start + len);
}

static void *map(size_t len, int prot, int flags, int fd, off_t off)
{
	void *p = mmap(NULL, len, prot, flags, fd, off);

	if (p == MAP_FAILED) {
		fprintf(stderr, "testchild: mmap: %s\n", strerror(errno));
		exit(1);
	}
	return p;
}

/* A 2 MiB-aligned window of len bytes inside a larger anonymous mapping. */
static char *aligned_anon(size_t len)
{
	char *raw = map(len + HPAGE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *p = (char *)(((uintptr_t)raw + HPAGE - 1) & ~(HPAGE - 1));

	if (p > raw)
		munmap(raw, p - raw);
	if (raw + len + HPAGE > p + len)
		munmap(p + len, raw + len + HPAGE - (p + len));
	return p;
}

static int is_pmd_mapped(void *addr)
{
	/* AnonHugePages of the VMA, from the kernel's own smaps. */
	char line[256], want[64];
	FILE *f = fopen("/proc/self/smaps", "r");
	int in = 0, yes = 0;

	if (!f)
		return 0;
	snprintf(want, sizeof want, "%lx-", (unsigned long)addr);
	while (fgets(line, sizeof line, f)) {
		/* Header lines start with the (lower-case hex) address; field
		 * names start with an upper-case letter. */
		if ((line[0] >= '0' && line[0] <= '9') ||
		    (line[0] >= 'a' && line[0] <= 'f'))
			in = !strncmp(line, want, strlen(want));
		else if (in && !strncmp(line, "AnonHugePages:", 14))
			yes = atol(line + 14) > 0;
	}
	fclose(f);
	return yes;
}

static void standard(const char *path)
{
	char *a, *t, *h, *g, *s, *l, *fp, *fs;
	int fd, i;

	/* A fence, so that the regions below (mmap allocates top-down) never
	 * merge with the C library's anonymous mappings. */
	map(PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	/* anon: 16 pages; written 0, 2, 4; read 6, 7 (the zero page). */
	a = map(16 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		-1, 0);
	a[0] = 1;
	a[2 * PAGE] = 2;
	a[4 * PAGE] = 3;
	sink = a[6 * PAGE];
	sink = a[7 * PAGE];
	region("anon", a, 16 * PAGE);

	/* file: 8 pages; a private read-only mapping reads pages 0..2, a
	 * shared writable one writes page 5. */
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, 8 * PAGE) != 0) {
		fprintf(stderr, "testchild: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	for (i = 0; i < 8; i++) {
		char c = 'a' + i;

		if (pwrite(fd, &c, 1, i * PAGE) != 1)
			exit(1);
	}
	fp = map(8 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
	for (i = 0; i < 3; i++)
		sink = fp[i * PAGE];
	region("file-private", fp, 8 * PAGE);
	fs = map(8 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	fs[5 * PAGE] = 'X';
	/* Written back now, so that its dirty state does not change while the
	 * process is inspected. */
	msync(fs, 8 * PAGE, MS_SYNC);
	region("file-shared", fs, 8 * PAGE);

	/* thp: 4 MiB, MADV_HUGEPAGE; the first 2 MiB written (a THP where the
	 * kernel allows), the second read (the huge zero page). */
	t = aligned_anon(2 * HPAGE);
	madvise(t, 2 * HPAGE, MADV_HUGEPAGE);
	t[0] = 1;
	t[100 * PAGE] = 1;
	sink = t[HPAGE];
	region("thp", t, 2 * HPAGE);

	/* hole: 8 pages, all written, then pages 3..4 unmapped. */
	h = map(8 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		-1, 0);
	for (i = 0; i < 8; i++)
		h[i * PAGE] = (char)i;
	munmap(h + 3 * PAGE, 2 * PAGE);
	region("hole-low", h, 3 * PAGE);
	region("hole-high", h + 5 * PAGE, 3 * PAGE);

	/* guard: 8 pages, all written, pages 2..3 made a guard region. */
	g = map(8 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		-1, 0);
	for (i = 0; i < 8; i++)
		g[i * PAGE] = (char)i;
	if (madvise(g + 2 * PAGE, 2 * PAGE, MADV_GUARD_INSTALL) != 0)
		printf("noguard %s\n", strerror(errno));
	region("guard", g, 8 * PAGE);

	/* shared-anon: 4 pages, page 1 written. */
	s = map(4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		-1, 0);
	s[PAGE] = 1;
	region("shared-anon", s, 4 * PAGE);

	/* locked: 2 pages, mlocked (populated). */
	l = map(2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		-1, 0);
	if (mlock(l, 2 * PAGE) != 0)
		printf("nolock %s\n", strerror(errno));
	region("locked", l, 2 * PAGE);

	/* untouched: 8 pages never accessed. */
	region("untouched",
	       map(8 * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
	       8 * PAGE);

	printf("thp %s\n", is_pmd_mapped(t) ? "yes" : "no");
}

static void big(long mib, int thp)
{
	size_t len = (size_t)mib << 20;
	char *p = aligned_anon(len);
	size_t off;

	if (thp)
		madvise(p, len, MADV_HUGEPAGE);
	for (off = 0; off < len; off += PAGE)
		p[off] = 1;
	region("big", p, len);
}

static void serve(void)
{
	char line[256];
	pid_t forked = 0;

	while (fgets(line, sizeof line, stdin)) {
		unsigned long start, len;

		if (sscanf(line, "mincore %lx %lx", &start, &len) == 2) {
			size_t n = (len + PAGE - 1) / PAGE, i;
			unsigned char *vec = malloc(n + 1);

			if (mincore((void *)start, len, vec) != 0) {
				printf("err %d\n", errno);
			} else {
				for (i = 0; i < n; i++)
					putchar('0' + (vec[i] & 1));
				putchar('\n');
			}
			free(vec);
		} else if (sscanf(line, "ptemap %lx %lx", &start, &len) == 2) {
			unsigned long block = start & ~(HPAGE - 1);

			if (mprotect((void *)start, len, PROT_READ) ||
			    mprotect((void *)start, len,
				     PROT_READ | PROT_WRITE) ||
			    madvise((void *)block, HPAGE, MADV_NOHUGEPAGE))
				printf("err %d\n", errno);
			else
				printf("ok\n");
		} else if (sscanf(line, "guard %lx %lx", &start, &len) == 2) {
			if (madvise((void *)start, len, MADV_GUARD_INSTALL) !=
			    0)
				printf("err %d\n", errno);
			else
				printf("ok\n");
		} else if (!strncmp(line, "fork", 4)) {
			forked = fork();
			if (forked == 0) {
				prctl(PR_SET_PDEATHSIG, SIGKILL);
				for (;;)
					pause();
			}
			printf("%d\n", (int)forked);
		} else if (!strncmp(line, "quit", 4)) {
			break;
		} else {
			printf("err unknown command\n");
		}
		fflush(stdout);
	}
	if (forked > 0)
		kill(forked, SIGKILL);
}

int main(int argc, char **argv)
{
	/* Buffers set up (and touched) now, so that waiting for the first command
	 * changes no memory while the process is inspected. */
	static char inbuf[4096], outbuf[4096];

	memset(inbuf, 0, sizeof inbuf);
	memset(outbuf, 0, sizeof outbuf);
	setvbuf(stdin, inbuf, _IOLBF, sizeof inbuf);
	setvbuf(stdout, outbuf, _IOLBF, sizeof outbuf);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (argc >= 3 && !strcmp(argv[1], "--big")) {
		big(atol(argv[2]), argc >= 4 && !strcmp(argv[3], "--thp"));
	} else if (argc == 2) {
		standard(argv[1]);
	} else {
		fprintf(stderr,
			"usage: pagewalk-testchild FILE | --big MIB [--thp]\n");
		return 2;
	}
	printf("ready\n");
	fflush(stdout);
	serve();
	return 0;
}
