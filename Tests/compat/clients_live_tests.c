/*
 * clients_live_tests.c - PageWalk's kernel-style clients (KernelClients/)
 * against the running kernel, on live memory: this process maps regions
 * (anonymous pages written, read-only-touched zero pages, untouched pages,
 * guard regions, a THP candidate, a file with pages mapped and pages only
 * cached), imports them into a machine from /proc/self/pagemap,
 * /proc/kpageflags, /proc/kpagecount, PAGEMAP_SCAN (PAGE_IS_HUGE),
 * move_pages(2) and preadv2(RWF_NOWAIT), then compares each client's
 * answer with the kernel's own: mincore(2), /proc/self/pagemap, the
 * PAGEMAP_SCAN ioctl, /proc/self/smaps, /proc/self/numa_maps,
 * MADV_GUARD_INSTALL/REMOVE then pagemap, clear_refs 4 then pagemap.
 *
 * Needs root (PFNs in pagemap, kpageflags); without it every case is
 * skipped and said so.  Plain C: it sees kernel_clients.h only.
 */
#define _GNU_SOURCE
#include "kernel_clients.h"
#include "pagewalk_machine.h"
#include "pagewalk_pages.h"
#include "../c/test_cases.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#define MADV_GUARD_REMOVE 103
#endif
#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008
#endif

#define PG 4096UL
#define HUGE (2UL << 20)
#define KPF_THP (1ULL << 22)
#define KPF_ZERO (1ULL << 24)

/* A region under test: one kernel VMA of exactly [start, end). */
struct region {
	const char *name;
	unsigned long start, end;
	unsigned long flags; /* VM_* */
	bool file;
};

static int pagemap_fd, kflags_fd, kcount_fd, file_fd;
static struct region regions[4];
static int nregions;
static uint64_t zero_pfn;

static void *map_fenced(size_t len, int prot, int extra)
{
	/* One PROT_NONE page each side keeps the kernel from merging the VMA. */
	char *p = mmap(NULL, len + 2 * PG + HUGE, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *s;

	if (p == MAP_FAILED)
		abort();
	s = (char *)(((unsigned long)p + PG + HUGE - 1) & ~(HUGE - 1));
	if (mprotect(s, len, prot))
		abort();
	if (extra)
		madvise(s, len, extra);
	return s;
}

static uint64_t pread64u(int fd, uint64_t index)
{
	uint64_t v = 0;

	if (pread(fd, &v, 8, (off_t)(index * 8)) != 8)
		return 0;
	return v;
}

static uint64_t kernel_pagemap(unsigned long addr)
{
	return pread64u(pagemap_fd, addr / PG);
}

static long kernel_scan(struct pm_scan_arg *a)
{
	return ioctl(pagemap_fd, PAGEMAP_SCAN, a);
}

/* ---- the regions --------------------------------------------------------- */

static char file_path[] = "/tmp/pagewalk-compat-XXXXXX";

static void setup(void)
{
	char *a = map_fenced(64 * PG, PROT_READ | PROT_WRITE, 0);
	char *t = map_fenced(2 * HUGE, PROT_READ | PROT_WRITE, MADV_HUGEPAGE);
	char *f, buf[PG];
	volatile char sink;
	int i;

	for (i = 0; i < 32; i++)
		a[i * PG] = (char)i; /* written: private anonymous pages */
	for (i = 32; i < 36; i++)
		sink = a[i * PG]; /* read: the zero page */
	madvise(a + 40 * PG, 4 * PG, MADV_GUARD_INSTALL);
	memset(t, 1, HUGE + 8 * PG); /* a THP if the kernel gives one */
	regions[nregions++] = (struct region){ "anon", (unsigned long)a,
					       (unsigned long)a + 64 * PG,
					       0x1 | 0x2 | 0x10 | 0x20, false };
	regions[nregions++] = (struct region){ "thp", (unsigned long)t,
					       (unsigned long)t + 2 * HUGE,
					       0x1 | 0x2 | 0x10 | 0x20, false };

	file_fd = mkstemp(file_path);
	memset(buf, 7, sizeof(buf));
	for (i = 0; i < 16; i++)
		if (write(file_fd, buf, PG) != (ssize_t)PG)
			abort();
	fsync(file_fd);
	f = mmap(NULL, 16 * PG, PROT_READ, MAP_SHARED, file_fd, 0);
	if (f == MAP_FAILED)
		abort();
	for (i = 0; i < 8; i++)
		sink = f[i * PG]; /* mapped; 8..15 only in the page cache */
	(void)sink;
	regions[nregions++] = (struct region){ "file", (unsigned long)f,
					       (unsigned long)f + 16 * PG,
					       0x1 | 0x8 | 0x10 | 0x80, true };
	/* The zero page's PFN. */
	zero_pfn =
		kernel_pagemap((unsigned long)a + 32 * PG) & KC_PM_PFRAME_MASK;
}

/* The VmFlags of a VMA say "sd" when VM_SOFTDIRTY is set. */
static bool vma_soft_dirty(unsigned long start)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool in = false, sd = false;

	while (f && fgets(line, sizeof(line), f)) {
		unsigned long s, e;

		if (sscanf(line, "%lx-%lx ", &s, &e) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = s == start;
			continue;
		}
		if (in && !strncmp(line, "VmFlags:", 8))
			sd = strstr(line, " sd") != NULL;
	}
	if (f)
		fclose(f);
	return sd;
}

/* The kernel's smaps figure @key (kB) for the VMA at @start. */
static long kernel_smaps(unsigned long start, const char *key)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool in = false;
	long v = -1;
	size_t kl = strlen(key);

	while (f && fgets(line, sizeof(line), f)) {
		unsigned long s, e;

		if (sscanf(line, "%lx-%lx ", &s, &e) == 2 &&
		    line[strcspn(line, " ")] == ' ' &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = s == start;
			continue;
		}
		if (in && !strncmp(line, key, kl) && line[kl] == ':')
			v = atol(line + kl + 1);
	}
	if (f)
		fclose(f);
	return v;
}

/* The kernel's numa_maps "key=N" for the VMA at @start (0 when absent). */
static long kernel_numa(unsigned long start, const char *key)
{
	FILE *f = fopen("/proc/self/numa_maps", "r");
	char line[1024], pat[64];
	long v = 0;

	snprintf(pat, sizeof(pat), " %s=", key);
	while (f && fgets(line, sizeof(line), f)) {
		char *p;

		if (strtoul(line, NULL, 16) != start)
			continue;
		if ((p = strstr(line, pat)))
			v = atol(p + strlen(pat));
	}
	if (f)
		fclose(f);
	return v;
}

/* ---- the import ------------------------------------------------------------ */

struct imported {
	struct pw_machine *m;
	struct mm_struct *mm;
	struct address_space *file;
	unsigned long huge_pmds;
};

static bool range_is_huge(unsigned long addr)
{
	struct page_region r[2];
	struct pm_scan_arg a = { .size = sizeof(a),
				 .start = addr,
				 .end = addr + HUGE,
				 .vec = (uintptr_t)r,
				 .vec_len = 2,
				 .category_mask = PAGE_IS_HUGE,
				 .return_mask = PAGE_IS_HUGE };

	return kernel_scan(&a) == 1 && r[0].start == addr &&
	       r[0].end == addr + HUGE;
}

static void set_facts(struct pw_page_info *pi, uint64_t pfn, int entire,
		      int nid)
{
	uint64_t count = pread64u(kcount_fd, pfn);

	pi[pfn].flags = pread64u(kflags_fd, pfn);
	pi[pfn].refcount = (int)count;
	pi[pfn].mapcount = (int)count - entire;
	pi[pfn].nid = nid;
}

static int node_of(unsigned long addr)
{
	void *pages[1] = { (void *)addr };
	int status[1] = { -1 };

	if (syscall(SYS_move_pages, 0, 1UL, pages, NULL, status, 0) != 0 ||
	    status[0] < 0)
		return 0;
	return status[0];
}

static bool import_all(struct imported *im)
{
	uint64_t max_pfn = zero_pfn;
	struct pw_page_info *pi;
	int i, err;

	for (i = 0; i < nregions; i++)
		for (unsigned long a = regions[i].start; a < regions[i].end;
		     a += PG) {
			uint64_t e = kernel_pagemap(a);

			if ((e & KC_PM_PRESENT) &&
			    (e & KC_PM_PFRAME_MASK) > max_pfn)
				max_pfn = e & KC_PM_PFRAME_MASK;
		}
	{
		struct pw_machine_config cfg = { .levels = 4,
						 .table_base = max_pfn + 1,
						 .frames = max_pfn + 1 + 4096,
						 .zero_pfn = zero_pfn };

		if (pw_machine_create(&cfg, &im->m))
			return false;
	}
	im->mm = pw_mm_create(im->m);
	im->file = pw_mapping_get(im->m, 1);
	pi = pw_machine_page_info(im->m);
	for (i = 0; i < nregions; i++) {
		struct region *r = &regions[i];
		unsigned long flags =
			r->flags |
			(vma_soft_dirty(r->start) ? 0x08000000UL : 0);

		pw_vma_add(im->mm, r->start, r->end, flags,
			   r->file ? im->file : NULL, 0, 0, &err);
		for (unsigned long a = r->start; a < r->end; a += PG) {
			uint64_t e = kernel_pagemap(a),
				 pfn = e & KC_PM_PFRAME_MASK, v;

			if (!(a & (HUGE - 1)) && a + HUGE <= r->end &&
			    (e & KC_PM_PRESENT) && range_is_huge(a)) {
				/* PMD-mapped THP: a PMD leaf over an order-9 folio. */
				pw_folio_declare(im->m, pfn, 9);
				pw_mm_set_entry(
					im->mm, PW_LEVEL_PMD, a,
					(pfn << 12) | 0x87 |
						((e & KC_PM_SOFT_DIRTY) ?
							 PW_PAGE_SOFT_DIRTY :
							 0));
				for (unsigned long j = 0; j < 512; j++)
					set_facts(pi, pfn + j, j ? 0 : 0,
						  node_of(a));
				pi[pfn].entire_mapcount = 1;
				for (unsigned long j = 0; j < 512; j++)
					pi[pfn + j].mapcount -= 1;
				im->huge_pmds++;
				a += HUGE - PG;
				continue;
			}
			if (e & KC_PM_PRESENT) {
				v = (pfn << 12) | PW_PAGE_PRESENT |
				    PW_PAGE_USER;
				if (pfn == zero_pfn)
					v |= PW_PAGE_SPECIAL;
				else {
					if (r->flags & 0x2)
						v |= PW_PAGE_RW;
					set_facts(pi, pfn, 0, node_of(a));
				}
			} else if (e & KC_PM_SWAP) {
				unsigned type = e & 31;
				uint64_t off = (e & KC_PM_PFRAME_MASK) >> 5;

				v = pw_swp_entry(type, off);
			} else {
				v = 0;
				if (r->file) {
					/* Not mapped: in the page cache?  A non-blocking read says. */
					char b;
					struct iovec io = { &b, 1 };
					uint64_t idx = (a - r->start) / PG;

					if (preadv2(file_fd, &io, 1,
						    (off_t)(idx * PG),
						    RWF_NOWAIT) == 1)
						pw_page_cache_set(
							im->file, idx,
							1 + 1); /* any uptodate frame */
				}
			}
			if (v && (e & KC_PM_SOFT_DIRTY))
				v |= PW_PAGE_SOFT_DIRTY;
			if (v)
				pw_mm_set_entry(im->mm, PW_LEVEL_PTE, a, v);
		}
	}
	pi[1].flags |=
		PW_PGF_UPTODATE; /* the frame standing for cached file pages */
	return true;
}

/* ---- the comparisons ------------------------------------------------------- */

static void compare_pagemap(struct imported *im, const char *when)
{
	for (int i = 0; i < nregions; i++) {
		struct region *r = &regions[i];
		size_t n = (r->end - r->start) / PG, bad = 0;
		uint64_t *ours = calloc(n, 8);

		TEST("")
		{
			case_begin("pagemap %s: %s", when, r->name);
			CHECK(kc_pagemap(im->mm, r->start, r->end, ours,
					 true) == 0);
			for (size_t j = 0; j < n; j++) {
				uint64_t k = kernel_pagemap(r->start + j * PG);

				if (k != ours[j] && bad++ < 3)
					printf("  %s +%#zx: kernel %#llx, ours %#llx\n",
					       r->name, j * PG,
					       (unsigned long long)k,
					       (unsigned long long)ours[j]);
			}
			CHECK(bad == 0);
		}
		free(ours);
	}
}

static void compare_mincore(struct imported *im)
{
	for (int i = 0; i < nregions; i++) {
		struct region *r = &regions[i];
		size_t n = (r->end - r->start) / PG;
		unsigned char *k = calloc(n, 1), *o = calloc(n, 1);

		TEST("")
		{
			case_begin("mincore: %s", r->name);
			CHECK(mincore((void *)r->start, r->end - r->start, k) ==
			      0);
			CHECK(kc_mincore(im->mm, r->start, r->end - r->start,
					 o) == 0);
			for (size_t j = 0; j < n; j++)
				k[j] &= 1;
			CHECK(memcmp(k, o, n) == 0);
		}
		free(k);
		free(o);
	}
}

static void compare_scan(struct imported *im)
{
	static const uint64_t all = PAGE_IS_PRESENT | PAGE_IS_SWAPPED |
				    PAGE_IS_GUARD | PAGE_IS_HUGE |
				    PAGE_IS_PFNZERO | PAGE_IS_FILE |
				    PAGE_IS_WRITTEN | PAGE_IS_SOFT_DIRTY;
	struct {
		uint64_t anyof, mask, inverted, max_pages, vec_len;
	} cases[] = {
		{ PAGE_IS_PRESENT | PAGE_IS_SWAPPED, 0, 0, 0, 64 },
		{ 0, PAGE_IS_PRESENT, 0, 0, 64 },
		{ 0, PAGE_IS_PRESENT, PAGE_IS_PRESENT, 0, 64 },
		{ 0, PAGE_IS_HUGE, 0, 0, 64 },
		{ PAGE_IS_PRESENT | PAGE_IS_GUARD, 0, 0, 40, 64 },
		{ PAGE_IS_PRESENT | PAGE_IS_GUARD, 0, 0, 0, 2 },
	};

	for (int i = 0; i < nregions; i++)
		for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
			struct page_region kr[64], orr[64];
			struct pm_scan_arg ka = {
				.size = sizeof(ka),
				.start = regions[i].start,
				.end = regions[i].end,
				.vec = (uintptr_t)kr,
				.vec_len = cases[c].vec_len,
				.max_pages = cases[c].max_pages,
				.category_inverted = cases[c].inverted,
				.category_mask = cases[c].mask,
				.category_anyof_mask = cases[c].anyof,
				.return_mask = all
			};
			struct pm_scan_arg oa = ka;
			long kn, on;

			oa.vec = (uintptr_t)orr;
			memset(kr, 0, sizeof(kr));
			memset(orr, 0, sizeof(orr));
			TEST("")
			{
				case_begin("PAGEMAP_SCAN %s case %zu",
					   regions[i].name, c);
				kn = kernel_scan(&ka);
				on = kc_pagemap_scan(im->mm, &oa);
				CHECK(kn == on);
				CHECK(ka.walk_end == oa.walk_end);
				CHECK(kn < 0 ||
				      memcmp(kr, orr,
					     (size_t)kn * sizeof(kr[0])) == 0);
				if (kn != on ||
				    (kn > 0 &&
				     memcmp(kr, orr,
					    (size_t)kn * sizeof(kr[0]))))
					for (long j = 0;
					     j < (kn > on ? kn : on) && j < 4;
					     j++)
						printf("  [%ld] kernel %#llx-%#llx %#llx, ours %#llx-%#llx %#llx\n",
						       j,
						       (unsigned long long)kr[j]
							       .start,
						       (unsigned long long)kr[j]
							       .end,
						       (unsigned long long)kr[j]
							       .categories,
						       (unsigned long long)
							       orr[j]
								       .start,
						       (unsigned long long)
							       orr[j]
								       .end,
						       (unsigned long long)orr[j]
							       .categories);
			}
		}
}

static void compare_smaps_numa(struct imported *im)
{
	for (int i = 0; i < nregions; i++) {
		struct region *r = &regions[i];
		struct kc_smaps s = { 0 };
		struct kc_numa_maps n;

		TEST("")
		{
			case_begin("smaps: %s", r->name);
			CHECK(kc_smaps_vma(find_vma(im->mm, r->start), &s) ==
			      0);
			CHECK(kernel_smaps(r->start, "Rss") ==
			      (long)(s.resident >> 10));
			CHECK(kernel_smaps(r->start, "Pss") ==
			      (long)(s.pss >> 22));
			CHECK(kernel_smaps(r->start, "Anonymous") ==
			      (long)(s.anonymous >> 10));
			CHECK(kernel_smaps(r->start, "AnonHugePages") ==
			      (long)(s.anonymous_thp >> 10));
			CHECK(kernel_smaps(r->start, "Swap") ==
			      (long)(s.swap >> 10));
			CHECK(kernel_smaps(r->start, "Shared_Clean") +
				      kernel_smaps(r->start, "Shared_Dirty") ==
			      (long)((s.shared_clean + s.shared_dirty) >> 10));
			CHECK(kernel_smaps(r->start, "Private_Clean") +
				      kernel_smaps(r->start, "Private_Dirty") ==
			      (long)((s.private_clean + s.private_dirty) >>
				     10));
			if (kernel_smaps(r->start, "Rss") !=
			    (long)(s.resident >> 10))
				printf("  Rss kernel %ld ours %lu\n",
				       kernel_smaps(r->start, "Rss"),
				       s.resident >> 10);
		}
		TEST("")
		{
			case_begin("numa_maps: %s", r->name);
			CHECK(kc_numa_maps_vma(find_vma(im->mm, r->start),
					       &n) == 0);
			CHECK(kernel_numa(r->start, "N0") == (long)n.node[0]);
			CHECK(kernel_numa(r->start, "anon") == (long)n.anon);
			CHECK(kernel_numa(r->start, "mapmax") ==
			      (n.mapcount_max > 1 ? (long)n.mapcount_max : 0));
			if (kernel_numa(r->start, "N0") != (long)n.node[0])
				printf("  N0 kernel %ld ours %lu\n",
				       kernel_numa(r->start, "N0"), n.node[0]);
		}
	}
}

static void compare_guard_and_clear_refs(struct imported *im)
{
	struct region *a = &regions[0];
	unsigned long g = a->start + 48 * PG;

	TEST("MADV_GUARD_INSTALL then pagemap: the same markers")
	{
		int k = madvise((void *)(a->start + 30 * PG), 4 * PG,
				MADV_GUARD_INSTALL);
		long o = kc_guard_install(im->mm, a->start + 30 * PG,
					  a->start + 34 * PG);

		CHECK(k == 0 && o == 0);
		CHECK(madvise((void *)g, 2 * PG, MADV_GUARD_INSTALL) == 0);
		CHECK(kc_guard_install(im->mm, g, g + 2 * PG) == 0);
	}
	compare_pagemap(im, "after guard install");
	TEST("MADV_GUARD_REMOVE then pagemap: the same")
	{
		CHECK(madvise((void *)(a->start + 40 * PG), 10 * PG,
			      MADV_GUARD_REMOVE) == 0);
		CHECK(kc_guard_remove(im->mm, a->start + 40 * PG,
				      a->start + 50 * PG) == 0);
	}
	compare_pagemap(im, "after guard remove");
	TEST("clear_refs 4: soft-dirty bits and VM_SOFTDIRTY cleared as the kernel does")
	{
		int fd = open("/proc/self/clear_refs", O_WRONLY);

		CHECK(fd >= 0 && write(fd, "4", 1) == 1);
		if (fd >= 0)
			close(fd);
		CHECK(kc_clear_refs(im->mm, KC_CLEAR_REFS_SOFT_DIRTY) == 0);
	}
	compare_pagemap(im, "after clear_refs 4");
}

int main(void)
{
	struct imported im = { 0 };

	pagemap_fd = open("/proc/self/pagemap", O_RDONLY);
	kflags_fd = open("/proc/kpageflags", O_RDONLY);
	kcount_fd = open("/proc/kpagecount", O_RDONLY);
	setup();
	if (pagemap_fd < 0 || kflags_fd < 0 || kcount_fd < 0 || !zero_pfn) {
		printf("skipped: needs root for PFNs, /proc/kpageflags and /proc/kpagecount\n");
		unlink(file_path);
		return cases_summary();
	}
	TEST("import of live memory")
	{
		CHECK(import_all(&im));
		printf("  imported %d regions, %lu PMD-mapped THPs, zero pfn %#llx\n",
		       nregions, im.huge_pmds, (unsigned long long)zero_pfn);
	}
	if (!im.m)
		return cases_summary();
	compare_mincore(&im);
	compare_pagemap(&im, "as imported");
	compare_scan(&im);
	compare_smaps_numa(&im);
	compare_guard_and_clear_refs(&im);
	pw_machine_destroy(im.m);
	unlink(file_path);
	return cases_summary();
}
