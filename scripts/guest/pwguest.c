/*
 * pwguest: the test program of the CI guest (see scripts/guest/README.md).
 *
 * Runs as a static binary inside a small Linux guest booted by QEMU.  It maps
 * regions of every kind whose page-table entries PageWalk must decode the way
 * x86-64 Linux encodes them, makes their state known (resident, THP,
 * PROT_NONE, hugetlb, swapped out to zram), prints its own /proc/self/maps
 * and the kernel's /proc/self/pagemap answer for every page of those regions,
 * then spins so that the host can dump the guest's memory while this
 * process's page tables are live.  The host then walks the dump and compares
 * its answers with the ones printed here, page by page.
 *
 * Output (one record per line, on stdout = the serial console):
 *   PW-BEGIN
 *   PW-MAPS <line of /proc/self/maps>
 *   PW-REGION <name> <start hex> <end hex>
 *   PW-PM <vaddr hex> <pagemap entry hex>        (one per page of a region)
 *   PW-NOTE <text>
 *   PW-READY
 * Then it spins forever.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MAP_HUGETLB
#define MAP_HUGETLB 0x40000
#endif

#define PAGE 4096UL
#define HPAGE (2UL << 20)

struct region {
	const char *name;
	unsigned long start, end;
};

static struct region regions[16];
static int nregions;

static void die(const char *what)
{
	printf("PW-FAIL %s: %s\n", what, strerror(errno));
	fflush(stdout);
	for (;;)
		pause();
}

static void add_region(const char *name, void *start, unsigned long len)
{
	regions[nregions].name = name;
	regions[nregions].start = (unsigned long)start;
	regions[nregions].end = (unsigned long)start + len;
	nregions++;
}

/* An anonymous mapping aligned to `align`, with guard space released. */
static void *map_aligned(unsigned long len, unsigned long align, int prot,
			 int flags)
{
	char *p = mmap(NULL, len + align, prot,
		       flags | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	unsigned long a = ((unsigned long)p + align - 1) & ~(align - 1);
	if (a > (unsigned long)p)
		munmap(p, a - (unsigned long)p);
	unsigned long tail = (unsigned long)p + len + align - (a + len);
	if (tail)
		munmap((void *)(a + len), tail);
	return (void *)a;
}

/* Fill each page with bytes that differ per page, so none is a zero page
 * and zram cannot store any of them as a same-filled page. */
static void fill(char *p, unsigned long len, unsigned seed)
{
	uint32_t x = seed * 2654435761u + 1;
	for (unsigned long i = 0; i < len; i += 8) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		memcpy(p + i, &x, 4);
	}
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0)
		return;
	if (write(fd, text, strlen(text)) < 0)
		printf("PW-NOTE write %s failed: %s\n", path, strerror(errno));
	close(fd);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("PW-BEGIN\n");

	/* 1. anonymous 4 KiB pages: 48 touched pages, 16 never touched. */
	char *anon = map_aligned(64 * PAGE, HPAGE, PROT_READ | PROT_WRITE, 0);
	if (!anon)
		die("mmap anon");
	madvise(anon, 64 * PAGE, MADV_NOHUGEPAGE);
	fill(anon, 48 * PAGE, 1);
	/* a read-only touch of one more page maps the shared zero page */
	volatile char sink = anon[50 * PAGE];
	(void)sink;
	add_region("anon", anon, 64 * PAGE);

	/* 2. transparent huge pages (transparent_hugepage=madvise). */
	char *thp = map_aligned(4 * HPAGE, HPAGE, PROT_READ | PROT_WRITE, 0);
	if (!thp)
		die("mmap thp");
	if (madvise(thp, 4 * HPAGE, MADV_HUGEPAGE))
		die("madvise hugepage");
	fill(thp, 4 * HPAGE, 2);
	add_region("thp", thp, 4 * HPAGE);

	/* 3. file pages: a tmpfs file, mapped shared (written through) and
         * private (read only: the page-cache pages themselves). */
	int fd = open("/tmp/pwguest.data", O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		die("open file");
	if (ftruncate(fd, 32 * PAGE))
		die("ftruncate");
	char *fshared = mmap(NULL, 32 * PAGE, PROT_READ | PROT_WRITE,
			     MAP_SHARED, fd, 0);
	if (fshared == MAP_FAILED)
		die("mmap file shared");
	fill(fshared, 24 * PAGE, 3);
	add_region("file-shared", fshared, 32 * PAGE);
	char *fpriv = mmap(NULL, 32 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
	if (fpriv == MAP_FAILED)
		die("mmap file private");
	for (unsigned long i = 0; i < 16; i++)
		sink = fpriv[i * PAGE];
	add_region("file-private", fpriv, 32 * PAGE);

	/* 4. PROT_NONE pages that were resident: the entries keep their PFN,
         * stored inverted (x86's L1TF mitigation). */
	char *pnone = map_aligned(16 * PAGE, HPAGE, PROT_READ | PROT_WRITE, 0);
	if (!pnone)
		die("mmap protnone");
	madvise(pnone, 16 * PAGE, MADV_NOHUGEPAGE);
	fill(pnone, 12 * PAGE, 4);
	if (mprotect(pnone, 16 * PAGE, PROT_NONE))
		die("mprotect none");
	add_region("protnone", pnone, 16 * PAGE);

	/* 5. hugetlb pages from the pool reserved by hugepages= on the
         * kernel command line. */
	char *htlb = mmap(NULL, 2 * HPAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (htlb == MAP_FAILED) {
		printf("PW-NOTE hugetlb unavailable: %s\n", strerror(errno));
	} else {
		fill(htlb, 2 * HPAGE, 5);
		add_region("hugetlb", htlb, 2 * HPAGE);
	}

	/* 6. pages pushed out to swap (zram, set up by init) with
         * MADV_PAGEOUT; half of them soft-dirty, half cleaned first. */
	char *swp = map_aligned(64 * PAGE, HPAGE, PROT_READ | PROT_WRITE, 0);
	if (!swp)
		die("mmap swap");
	madvise(swp, 64 * PAGE, MADV_NOHUGEPAGE);
	fill(swp, 32 * PAGE, 6);
	/* clear every soft-dirty bit of this process, then dirty pages 32..63 */
	write_file("/proc/self/clear_refs", "4");
	fill(swp + 32 * PAGE, 32 * PAGE, 7);
	for (int tries = 0; tries < 3; tries++)
		if (madvise(swp, 64 * PAGE, MADV_PAGEOUT))
			printf("PW-NOTE madvise pageout: %s\n",
			       strerror(errno));
	add_region("swap", swp, 64 * PAGE);

	/* The maps, then every page's pagemap entry. */
	FILE *maps = fopen("/proc/self/maps", "r");
	char line[512];
	while (maps && fgets(line, sizeof line, maps))
		printf("PW-MAPS %s", line);
	if (maps)
		fclose(maps);
	int pm = open("/proc/self/pagemap", O_RDONLY);
	if (pm < 0)
		die("open pagemap");
	for (int r = 0; r < nregions; r++) {
		printf("PW-REGION %s %lx %lx\n", regions[r].name,
		       regions[r].start, regions[r].end);
		for (unsigned long va = regions[r].start; va < regions[r].end;
		     va += PAGE) {
			uint64_t e;
			if (pread(pm, &e, 8, (off_t)(va / PAGE * 8)) != 8)
				die("read pagemap");
			printf("PW-PM %lx %llx\n", va, (unsigned long long)e);
		}
	}
	close(pm);
	printf("PW-READY\n");
	fflush(stdout);

	/* Spin (never sleep): the vCPU then sits in this process, so QEMU's
         * per-CPU note carries this process's CR3. */
	volatile unsigned long spin = 0;
	for (;;)
		spin++;
}
