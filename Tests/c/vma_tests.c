/*
 * vma_tests.c - tests of pw_mmap, pw_munmap, pw_mprotect, pw_mm_check and
 * pw_mm_destroy (CWalkCore/mmap.c, mprotect.c, check.c, mm.c), through the public headers only.
 *
 * Plain C11, no framework: every check that fails prints where and why;
 * the last line is "N passed, M failed" and the exit status is non-zero
 * if anything failed.  Built and run by scripts/c-tests.sh.
 */
#include "pagewalk.h"
#include "pagewalk_machine.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- checks ------------------------------------------------------------- */

static unsigned long passed, failed;

static bool check(bool ok, const char *file, int line, const char *what)
{
	if (ok) {
		passed++;
	} else {
		failed++;
		printf("%s:%d: FAILED: %s\n", file, line, what);
	}
	return ok;
}

static bool check_eq(unsigned long long a, unsigned long long b,
		     const char *file, int line, const char *ea, const char *eb)
{
	if (a == b) {
		passed++;
		return true;
	}
	failed++;
	printf("%s:%d: FAILED: %s == %s: %#llx != %#llx\n", file, line, ea, eb,
	       a, b);
	return false;
}

#define CHECK(cond) check((cond), __FILE__, __LINE__, #cond)
#define CHECK_EQ(a, b)                                                       \
	check_eq((unsigned long long)(a), (unsigned long long)(b), __FILE__, \
		 __LINE__, #a, #b)

/* pw_mm_check_merged must pass; prints its message if not. */
static bool check_mm_at(const struct mm_struct *mm, bool merged,
			const char *file, int line)
{
	char err[256];
	int ret = merged ? pw_mm_check_merged(mm, err, sizeof(err)) :
			   pw_mm_check(mm, err, sizeof(err));

	if (ret == 0) {
		passed++;
		return true;
	}
	failed++;
	printf("%s:%d: FAILED: pw_mm_check%s: %s\n", file, line,
	       merged ? "_merged" : "", err);
	return false;
}

#define CHECK_MM(mm) check_mm_at((mm), true, __FILE__, __LINE__)
#define CHECK_MM_UNMERGED(mm) check_mm_at((mm), false, __FILE__, __LINE__)

/* pw_mm_check (or _merged) must fail, with a message containing @needle. */
static void check_mm_fails_at(const struct mm_struct *mm, bool merged,
			      const char *needle, const char *file, int line)
{
	char err[256];
	int ret = merged ? pw_mm_check_merged(mm, err, sizeof(err)) :
			   pw_mm_check(mm, err, sizeof(err));

	if (ret == -EINVAL && strstr(err, needle)) {
		passed++;
		return;
	}
	failed++;
	printf("%s:%d: FAILED: expected pw_mm_check%s to fail with \"%s\", got %d \"%s\"\n",
	       file, line, merged ? "_merged" : "", needle, ret,
	       ret ? err : "");
}

#define CHECK_MM_FAILS(mm, needle) \
	check_mm_fails_at((mm), false, (needle), __FILE__, __LINE__)
#define CHECK_MERGED_FAILS(mm, needle) \
	check_mm_fails_at((mm), true, (needle), __FILE__, __LINE__)

/* ---- a machine and its events ---------------------------------------------- */

#define FRAMES (1u << 16)
#define TABLE_BASE (1u << 15)

struct events {
	unsigned split_pmd, split_pud, warn, other;
	unsigned long last_addr;
	unsigned last_vma;
};

static void record(void *ctx, const struct pw_event *ev)
{
	struct events *e = ctx;

	switch (ev->kind) {
	case PW_EVENT_SPLIT_PMD: e->split_pmd++; break;
	case PW_EVENT_SPLIT_PUD: e->split_pud++; break;
	case PW_EVENT_WARN: e->warn++; break;
	default: e->other++; break;
	}
	e->last_addr = ev->addr;
	e->last_vma = ev->vma ? ev->vma->id : 0;
}

static struct events events;

static struct pw_machine *machine(int levels)
{
	struct pw_machine_config cfg = { .levels = levels,
					 .frames = FRAMES,
					 .table_base = TABLE_BASE,
					 .zero_pfn = 1 };
	struct pw_machine *m;

	if (pw_machine_create(&cfg, &m)) {
		printf("cannot create a machine\n");
		exit(2);
	}
	memset(&events, 0, sizeof(events));
	pw_machine_set_event_hook(m, record, &events);
	return m;
}

static uint64_t tables(const struct pw_machine *m)
{
	struct pw_machine_stats st;

	pw_machine_get_stats(m, &st);
	return st.tables_in_use;
}

/* The real level that holds PMD entries (the PGD with 2 levels). */
static enum pw_level pmd_level(const struct pw_machine *m)
{
	return pw_machine_geometry(m)->folded[PW_LEVEL_PMD] ? PW_LEVEL_PGD :
							      PW_LEVEL_PMD;
}

static uint64_t get(const struct mm_struct *mm, enum pw_level l,
		    unsigned long addr)
{
	uint64_t v = 0;

	pw_mm_get_entry(mm, l, addr, &v);
	return v;
}

/* Real levels other than the top one: the tables a PTE needs. */
static unsigned tables_per_pte(const struct pw_machine *m)
{
	return (unsigned)pw_machine_geometry(m)->levels - 1;
}

#define P (PW_PAGE_PRESENT | PW_PAGE_USER | PW_PAGE_ACCESSED)
#define RW PW_PAGE_RW
#define HUGE PW_PAGE_HUGE
#define NX PW_PAGE_NX
#define PFN(n) ((uint64_t)(n) << PW_PAGE_SHIFT)
#define KB(n) ((unsigned long)(n) << 10)
#define MB(n) ((unsigned long)(n) << 20)
#define GB(n) ((unsigned long)(n) << 30)
#define PG(n) ((unsigned long)(n) << PW_PAGE_SHIFT)

static struct vm_area_struct *
mmap_or_die(struct mm_struct *mm, unsigned long start, unsigned long len,
	    unsigned long flags, struct address_space *as, unsigned long pgoff,
	    unsigned shift)
{
	struct vm_area_struct *vma;
	int err = pw_mmap(mm, start, len, flags, as, pgoff, shift, &vma);

	if (err) {
		printf("pw_mmap(%#lx, %#lx) failed: %d\n", start, len, err);
		exit(2);
	}
	return vma;
}

/* ---- pw_mmap ------------------------------------------------------------------- */

static void test_mmap_merge_anon(void)
{
	struct pw_machine *m = machine(4);
	struct mm_struct *mm = pw_mm_create(m);
	struct vm_area_struct *a, *b, *c, *out;
	unsigned a_id, c_id;

	a = mmap_or_die(mm, MB(4), PG(2), VM_READ | VM_WRITE, NULL, 77, 0);
	a_id = a->id;
	CHECK_EQ(a->vm_pgoff, MB(4) >> 12); /* anonymous: linear, 77 ignored */
	b = mmap_or_die(mm, MB(4) + PG(2), PG(3), VM_READ | VM_WRITE, NULL, 0,
			0);
	CHECK(b == a);
	CHECK_EQ(a->vm_end, MB(4) + PG(5));
	CHECK_EQ(pw_mm_vma_count(mm), 1);

	/* Below: the VMA grows down and its pgoff follows. */
	b = mmap_or_die(mm, MB(4) - PG(1), PG(1), VM_READ | VM_WRITE, NULL, 0,
			0);
	CHECK(b == a);
	CHECK_EQ(a->vm_start, MB(4) - PG(1));
	CHECK_EQ(a->vm_pgoff, (MB(4) >> 12) - 1);
	CHECK_EQ(a->id, a_id);

	/* Filling the gap between two VMAs merges all three; the upper goes. */
	c = mmap_or_die(mm, MB(4) + PG(8), PG(2), VM_READ | VM_WRITE, NULL, 0,
			0);
	c_id = c->id;
	CHECK(c != a);
	CHECK_EQ(c_id, a_id + 1);
	CHECK_EQ(pw_mm_vma_count(mm), 2);
	out = mmap_or_die(mm, MB(4) + PG(5), PG(3), VM_READ | VM_WRITE, NULL, 0,
			  0);
	CHECK(out == a);
	CHECK_EQ(pw_mm_vma_count(mm), 1);
	CHECK_EQ(a->vm_start, MB(4) - PG(1));
	CHECK_EQ(a->vm_end, MB(4) + PG(10));
	CHECK(pw_mm_vma_by_id(mm, c_id) == NULL);
	CHECK(pw_mm_vma_by_id(mm, a_id) == a);
	CHECK(find_vma(mm, MB(4) + PG(9)) == a);
	CHECK_MM(mm);

	/* Different flags, or VM_PFNMAP / VM_MIXEDMAP, do not merge. */
	b = mmap_or_die(mm, MB(4) + PG(10), PG(1), VM_READ, NULL, 0, 0);
	CHECK(b != a);
	CHECK_EQ(b->id, c_id + 1);
	c = mmap_or_die(mm, MB(8), PG(1), VM_READ | VM_PFNMAP, NULL, 0, 0);
	b = mmap_or_die(mm, MB(8) + PG(1), PG(1), VM_READ | VM_PFNMAP, NULL, 0,
			0);
	CHECK(b != c);
	c = mmap_or_die(mm, MB(9), PG(1), VM_READ | VM_MIXEDMAP, NULL, 0, 0);
	b = mmap_or_die(mm, MB(9) + PG(1), PG(1), VM_READ | VM_MIXEDMAP, NULL,
			0, 0);
	CHECK(b != c);
	CHECK_EQ(pw_mm_vma_count(mm), 6);
	CHECK_MM(mm);

	/* A VMA whose user pointer is set does not take in new ranges. */
	a->user = &events;
	b = mmap_or_die(mm, MB(4) - PG(2), PG(1), VM_READ | VM_WRITE, NULL, 0,
			0);
	CHECK(b != a);
	CHECK_EQ(pw_mm_vma_count(mm), 7);
	CHECK_MM(mm);
	pw_machine_destroy(m);
}

static void test_mmap_errors(void)
{
	struct pw_machine *m = machine(4);
	struct mm_struct *mm = pw_mm_create(m);
	const struct pw_geometry *g = pw_machine_geometry(m);
	struct vm_area_struct *out = (void *)&out;
	uint64_t before;

	mmap_or_die(mm, MB(4), PG(4), VM_READ, NULL, 0, 0);
	before = tables(m);
	CHECK_EQ(pw_mmap(mm, MB(4) + PG(3), PG(2), VM_READ, NULL, 0, 0, &out),
		 -EEXIST);
	CHECK(out == NULL);
	CHECK_EQ(pw_mmap(mm, MB(4) - PG(1), PG(2), VM_READ, NULL, 0, 0, NULL),
		 -EEXIST);
	CHECK_EQ(pw_mmap(mm, MB(2), MB(4), VM_READ, NULL, 0, 0, NULL), -EEXIST);
	CHECK_EQ(pw_mmap(mm, MB(4) + 1, PG(1), VM_READ, NULL, 0, 0, NULL),
		 -EINVAL);
	CHECK_EQ(pw_mmap(mm, MB(8), 0, VM_READ, NULL, 0, 0, NULL), -EINVAL);
	CHECK_EQ(pw_mmap(mm, MB(8), PG(1), VM_READ, NULL, 0, 12, NULL),
		 -EINVAL);
	CHECK_EQ(pw_mmap(mm, MB(8), PG(1), VM_READ | VM_HUGETLB, NULL, 0, 0,
			 NULL),
		 -EINVAL);
	CHECK_EQ(pw_mmap(mm, MB(9), MB(2), VM_READ, NULL, 0, 21, NULL),
		 -EINVAL);
	CHECK_EQ(
		pw_mmap(pw_init_mm(m), MB(8), PG(1), VM_READ, NULL, 0, 0, NULL),
		-EINVAL);
	CHECK_EQ(pw_mmap(mm, g->task_size - PG(1), PG(2), VM_READ, NULL, 0, 0,
			 NULL),
		 -ENOMEM);
	CHECK_EQ(pw_mmap(mm, MB(8), ~0UL - PG(1), VM_READ, NULL, 0, 0, NULL),
		 -ENOMEM);
	CHECK_EQ(pw_mmap(mm, MB(8), PG(2), VM_READ, pw_mapping_get(m, 1), ~0UL,
			 0, NULL),
		 -EOVERFLOW);
	CHECK_EQ(pw_mmap(mm, MB(8), MB(2), VM_READ, pw_mapping_get(m, 1), 3, 21,
			 NULL),
		 -EINVAL); /* hugetlb file offset not a whole huge page */
	CHECK_EQ(pw_mm_vma_count(mm), 1);
	CHECK_EQ(tables(m), before);

	/* The last page below TASK_SIZE is fine; a length is rounded up. */
	CHECK_EQ(
		pw_mmap(mm, g->task_size - PG(1), 1, VM_READ, NULL, 0, 0, &out),
		0);
	CHECK_EQ(out->vm_end, g->task_size);
	/* A hugetlb length is rounded up to the huge page size. */
	CHECK_EQ(pw_mmap(mm, MB(8), PG(1), VM_READ, NULL, 0, 21, &out), 0);
	CHECK_EQ(out->vm_end, MB(10));
	CHECK(out->vm_flags & VM_HUGETLB);
	CHECK_MM(mm);
	pw_machine_destroy(m);
}

static void test_mmap_merge_file(void)
{
	struct pw_machine *m = machine(4);
	struct mm_struct *mm = pw_mm_create(m);
	struct address_space *f1 = pw_mapping_get(m, 1),
			     *f2 = pw_mapping_get(m, 2);
	struct vm_area_struct *a, *b;

	a = mmap_or_die(mm, KB(64), PG(2), VM_READ, f1, 10, 0);
	CHECK_EQ(a->vm_pgoff, 10);
	/* Contiguous file offsets merge. */
	b = mmap_or_die(mm, KB(64) + PG(2), PG(2), VM_READ, f1, 12, 0);
	CHECK(b == a);
	CHECK_EQ(a->vm_end, KB(64) + PG(4));
	CHECK_EQ(pw_mapping_vma_count(f1), 1);
	/* Non-contiguous ones do not. */
	b = mmap_or_die(mm, KB(64) + PG(4), PG(1), VM_READ, f1, 20, 0);
	CHECK(b != a);
	CHECK_EQ(pw_mapping_vma_count(f1), 2);
	/* Nor another file, nor anonymous memory, at contiguous offsets. */
	b = mmap_or_die(mm, KB(64) - PG(1), PG(1), VM_READ, f2, 9, 0);
	CHECK(b != a);
	CHECK_EQ(pw_mm_vma_count(mm), 3);
	CHECK_EQ(pw_munmap(mm, KB(64) - PG(1), PG(1)), 0);
	b = mmap_or_die(mm, KB(64) - PG(1), PG(1), VM_READ, NULL, 9, 0);
	CHECK(b != a);
	CHECK_EQ(pw_munmap(mm, KB(64) - PG(1), PG(1)), 0);
	/* Below, contiguous: a grows down, pgoff 8, still first in i_mmap. */
	b = mmap_or_die(mm, KB(64) - PG(2), PG(2), VM_READ, f1, 8, 0);
	CHECK(b == a);
	CHECK_EQ(a->vm_start, KB(64) - PG(2));
	CHECK_EQ(a->vm_pgoff, 8);
	CHECK(pw_mapping_vma_at(f1, 0) == a);
	CHECK_EQ(pw_mapping_vma_count(f1), 2);
	CHECK_EQ(pw_mapping_vma_count(f2), 0);
	CHECK_MM(mm);

	/* Three-way merge of file VMAs. */
	a = mmap_or_die(mm, MB(1), PG(1), VM_READ | VM_SHARED, f2, 100, 0);
	b = mmap_or_die(mm, MB(1) + PG(2), PG(1), VM_READ | VM_SHARED, f2, 102,
			0);
	CHECK_EQ(pw_mapping_vma_count(f2), 2);
	CHECK(mmap_or_die(mm, MB(1) + PG(1), PG(1), VM_READ | VM_SHARED, f2,
			  101, 0) == a);
	CHECK_EQ(pw_mapping_vma_count(f2), 1);
	CHECK(pw_mapping_vma_at(f2, 0) == a);
	CHECK_EQ(a->vm_end, MB(1) + PG(3));
	CHECK_MM(mm);
	pw_machine_destroy(m);
}

/* ---- pw_munmap: VMAs ---------------------------------------------------------------- */

static void test_munmap_vmas(void)
{
	struct pw_machine *m = machine(4);
	struct mm_struct *mm = pw_mm_create(m);
	struct address_space *f = pw_mapping_get(m, 1);
	struct vm_area_struct *v, *w, *x, *y;
	unsigned v_id, w_id, x_id;

	v = mmap_or_die(mm, MB(1), PG(16), VM_READ | VM_WRITE, f, 100, 0);
	v_id = v->id;
	/* The middle: v keeps the lower piece, the upper one is new. */
	CHECK_EQ(pw_munmap(mm, MB(1) + PG(4), PG(2)), 0);
	CHECK_EQ(pw_mm_vma_count(mm), 2);
	CHECK_EQ(v->vm_start, MB(1));
	CHECK_EQ(v->vm_end, MB(1) + PG(4));
	CHECK_EQ(v->vm_pgoff, 100);
	w = pw_mm_vma_at(mm, 1);
	w_id = w->id;
	CHECK_EQ(w_id, v_id + 1);
	CHECK(pw_mm_vma_by_id(mm, w_id) == w);
	CHECK_EQ(w->vm_start, MB(1) + PG(6));
	CHECK_EQ(w->vm_end, MB(1) + PG(16));
	CHECK_EQ(w->vm_pgoff, 106);
	CHECK_EQ(w->vm_flags, v->vm_flags);
	CHECK(w->vm_file == f);
	CHECK(pw_mapping_vma_at(f, 0) == v && pw_mapping_vma_at(f, 1) == w);
	CHECK(find_vma(mm, MB(1) + PG(4)) == w);
	CHECK_MM(mm);

	/* The front edge: the start moves up, pgoff follows. */
	CHECK_EQ(pw_munmap(mm, MB(1) + PG(6), PG(1)), 0);
	CHECK_EQ(w->vm_start, MB(1) + PG(7));
	CHECK_EQ(w->vm_pgoff, 107);
	CHECK_EQ(w->id, w_id);
	/* The back edge. */
	CHECK_EQ(pw_munmap(mm, MB(1) + PG(15), PG(5)), 0);
	CHECK_EQ(w->vm_end, MB(1) + PG(15));
	CHECK_EQ(w->vm_pgoff, 107);
	CHECK_MM(mm);

	/* Across several: cut v's tail, drop a whole VMA, cut w's head. */
	x = mmap_or_die(mm, MB(1) + PG(5), PG(1), VM_READ, NULL, 0, 0);
	x_id = x->id;
	CHECK_EQ(pw_mm_vma_count(mm), 3);
	CHECK_EQ(pw_munmap(mm, MB(1) + PG(2), PG(8)), 0);
	CHECK_EQ(pw_mm_vma_count(mm), 2);
	CHECK(pw_mm_vma_by_id(mm, x_id) == NULL);
	CHECK_EQ(v->vm_end, MB(1) + PG(2));
	CHECK_EQ(w->vm_start, MB(1) + PG(10));
	CHECK_EQ(w->vm_pgoff, 110);
	CHECK(pw_mm_vma_at(mm, 0) == v && pw_mm_vma_at(mm, 1) == w);
	CHECK_MM(mm);

	/* Nothing mapped there: fine, and nothing changes. */
	CHECK_EQ(pw_munmap(mm, MB(64), MB(1)), 0);
	CHECK_EQ(pw_mm_vma_count(mm), 2);
	/* A whole VMA and the hole around it. */
	CHECK_EQ(pw_munmap(mm, MB(1) + PG(8), PG(100)), 0);
	CHECK_EQ(pw_mm_vma_count(mm), 1);
	CHECK(pw_mm_vma_by_id(mm, w_id) == NULL);
	CHECK_EQ(pw_mapping_vma_count(f), 1);
	CHECK_MM(mm);

	/* Errors change nothing. */
	y = mmap_or_die(mm, MB(2), PG(4), VM_READ, NULL, 0, 0);
	CHECK_EQ(pw_munmap(mm, MB(2) + 1, PG(1)), -EINVAL);
	CHECK_EQ(pw_munmap(mm, MB(2), 0), -EINVAL);
	CHECK_EQ(pw_munmap(pw_init_mm(m), MB(2), PG(1)), -EINVAL);
	CHECK_EQ(pw_munmap(mm, MB(2), ~0UL - MB(1)), -EINVAL);
	CHECK_EQ(y->vm_end, MB(2) + PG(4));
	/* A length is rounded up to whole pages. */
	CHECK_EQ(pw_munmap(mm, MB(2), 1), 0);
	CHECK_EQ(y->vm_start, MB(2) + PG(1));
	CHECK_MM(mm);
	pw_machine_destroy(m);
}

/* i_mmap stays in pgoff order when munmap moves a VMA's pgoff. */
static void test_munmap_i_mmap_order(void)
{
	struct pw_machine *m = machine(4);
	struct mm_struct *mm = pw_mm_create(m);
	struct address_space *f = pw_mapping_get(m, 7);
	struct vm_area_struct *a, *b, *c, *d;

	a = mmap_or_die(mm, MB(16), PG(100), VM_READ, f, 0, 0);
	b = mmap_or_die(mm, MB(8), PG(10), VM_READ, f, 50, 0);
	c = mmap_or_die(mm, MB(32), PG(10), VM_READ, f, 10, 0);
	CHECK(pw_mapping_vma_at(f, 0) == a && pw_mapping_vma_at(f, 1) == c &&
	      pw_mapping_vma_at(f, 2) == b);
	CHECK_EQ(pw_munmap(mm, MB(16), PG(20)), 0); /* a's pgoff: 0 -> 20 */
	CHECK(pw_mapping_vma_at(f, 0) == c && pw_mapping_vma_at(f, 1) == a &&
	      pw_mapping_vma_at(f, 2) == b);
	/* Splitting a: the new piece (pgoff 40) goes between a and b (50). */
	CHECK_EQ(pw_munmap(mm, MB(16) + PG(30), PG(10)), 0);
	d = pw_mm_vma_by_id(mm, 4);
	CHECK(d != NULL);
	if (!d)
		return;
	CHECK_EQ(d->vm_pgoff, 40);
	CHECK(pw_mapping_vma_at(f, 0) == c && pw_mapping_vma_at(f, 1) == a &&
	      pw_mapping_vma_at(f, 2) == d && pw_mapping_vma_at(f, 3) == b);
	CHECK_EQ(pw_mapping_vma_count(f), 4);
	/* An equal pgoff goes after the VMAs that have it. */
	CHECK_EQ(pw_munmap(mm, MB(16) + PG(20), PG(10)), 0); /* a is gone */
	CHECK_EQ(pw_mapping_vma_count(f), 3);
	CHECK_EQ(pw_munmap(mm, MB(8), PG(10)), 0); /* b is gone */
	a = mmap_or_die(mm, MB(8), PG(1), VM_READ, f, 40, 0);
	CHECK(pw_mapping_vma_at(f, 0) == c && pw_mapping_vma_at(f, 1) == d &&
	      pw_mapping_vma_at(f, 2) == a);
	CHECK_MM(mm);
	pw_machine_destroy(m);
}

/* ---- pw_munmap: page tables ------------------------------------------------------ */

static void test_munmap_tables(int levels)
{
	struct pw_machine *m = machine(levels);
	struct mm_struct *mm = pw_mm_create(m);
	const struct pw_geometry *g = pw_machine_geometry(m);
	uint64_t base = tables(m);
	unsigned per_pte = tables_per_pte(m);
	unsigned long a = MB(4), b = MB(6);

	CHECK_EQ(base, 2); /* init_mm's top level and mm's */
	mmap_or_die(mm, a, MB(4), VM_READ | VM_WRITE, NULL, 0, 0);
	CHECK_EQ(pw_mm_set_entry(mm, PW_LEVEL_PTE, a, P | RW | PFN(100)), 0);
	CHECK_EQ(pw_mm_set_entry(mm, PW_LEVEL_PTE, a + PG(1), P | PFN(101)), 0);
	CHECK_EQ(tables(m), base + per_pte);
	CHECK_EQ(pw_mm_set_entry(mm, PW_LEVEL_PTE, b, P | PFN(102)), 0);
	CHECK_EQ(tables(m), base + per_pte + 1); /* another PTE table */
	CHECK_MM(mm);

	/* One PTE of two: the table stays. */
	CHECK_EQ(pw_munmap(mm, a, PG(1)), 0);
	CHECK_EQ(get(mm, PW_LEVEL_PTE, a), 0);
	CHECK_EQ(get(mm, PW_LEVEL_PTE, a + PG(1)), P | PFN(101));
	CHECK_EQ(tables(m), base + per_pte + 1);
	/* The other: its PTE table is freed and the entry above cleared. */
	CHECK_EQ(pw_munmap(mm, a + PG(1), PG(1)), 0);
	CHECK_EQ(tables(m), base + per_pte);
	CHECK_EQ(get(mm, pmd_level(m), a), 0);
	CHECK_EQ(get(mm, PW_LEVEL_PTE, b), P | PFN(102));
	CHECK_MM(mm);
	/* The last PTE: every table under the top level goes. */
	CHECK_EQ(pw_munmap(mm, b, PG(1)), 0);
	CHECK_EQ(tables(m), base);
	CHECK_EQ(get(mm, PW_LEVEL_PGD, b), 0);
	CHECK_MM(mm);

	/* A table that is empty but only partly under the range is freed too. */
	CHECK_EQ(pw_mm_set_entry(mm, PW_LEVEL_PTE, a + PG(10), P | PFN(5)), 0);
	CHECK_EQ(pw_munmap(mm, a + PG(8), PG(4)), 0);
	CHECK_EQ(tables(m), base);

	/* Stray entries outside any VMA are cleared and their tables freed. */
	CHECK_EQ(pw_mm_set_entry(mm, PW_LEVEL_PTE, MB(64), P | PFN(7)), 0);
	CHECK_EQ(
		pw_mm_set_entry(mm, PW_LEVEL_PTE, MB(64) + PG(511), P | PFN(8)),
		0);
	CHECK_EQ(tables(m), base + per_pte);
	CHECK_EQ(pw_munmap(mm, MB(60), MB(8)), 0);
	CHECK_EQ(tables(m), base);
	CHECK_EQ(get(mm, PW_LEVEL_PTE, MB(64)), 0);

	/* A range across a top-level boundary frees both sides. */
	if (g->levels >= 3) {
		unsigned long top = 1UL << g->shift[PW_LEVEL_PGD];

		if (top + MB(2) <= g->task_size) {
			size_t n = pw_mm_vma_count(mm);

			mmap_or_die(mm, top - MB(2), MB(4), VM_READ, NULL, 0,
				    0);
			CHECK_EQ(pw_mm_set_entry(mm, PW_LEVEL_PTE, top - PG(1),
						 P | PFN(9)),
				 0);
			CHECK_EQ(pw_mm_set_entry(mm, PW_LEVEL_PTE, top,
						 P | PFN(10)),
				 0);
			CHECK_EQ(tables(m), base + 2 * per_pte);
			CHECK_MM(mm);
			CHECK_EQ(pw_munmap(mm, top - PG(1), PG(2)), 0);
			CHECK_EQ(tables(m), base);
			CHECK_EQ(pw_mm_vma_count(mm), n + 2);
			CHECK_MM(mm);
		}
	}
	pw_machine_destroy(m);
}

static void test_munmap_thp(int levels)
{
	struct pw_machine *m = machine(levels);
	struct mm_struct *mm = pw_mm_create(m);
	enum pw_level pl = pmd_level(m);
	struct address_space *f = pw_mapping_get(m, 1);
	struct vm_area_struct *v;
	uint64_t base = tables(m), leaf = P | RW | HUGE | PFN(0x200);
	unsigned per_pte = tables_per_pte(m);
	unsigned long i;
	bool ok = true;

	v = mmap_or_die(mm, MB(2), MB(4), VM_READ | VM_WRITE, NULL, 0, 0);
	CHECK_EQ(pw_mm_set_entry(mm, pl, MB(2), leaf), 0);
	CHECK_EQ(tables(m), base + per_pte - 1);

	/* One page out of an anonymous THP: split to PTEs, one cleared. */
	CHECK_EQ(pw_munmap(mm, MB(3), PG(1)), 0);
	CHECK_EQ(events.split_pmd, 1);
	CHECK_EQ(events.last_addr, MB(2));
	CHECK_EQ(events.last_vma, v->id);
	CHECK_EQ(tables(m), base + per_pte);
	CHECK(pw_entry_is_table(m, get(mm, pl, MB(2))));
	for (i = 0; i < 512; i++) {
		unsigned long addr = MB(2) + PG(i);
		uint64_t want = addr == MB(3) ? 0 : (P | RW | PFN(0x200 + i));

		ok &= get(mm, PW_LEVEL_PTE, addr) == want;
	}
	CHECK(ok);
	CHECK_EQ(pw_mm_vma_count(mm), 2);
	CHECK_MM(mm);

	/* A THP wholly inside: cleared, no split. */
	CHECK_EQ(pw_mm_set_entry(mm, pl, MB(4), leaf), 0);
	CHECK_EQ(pw_munmap(mm, MB(4), MB(2)), 0);
	CHECK_EQ(events.split_pmd, 1);
	CHECK_EQ(get(mm, pl, MB(4)), 0);

	/* The rest of the split THP: the PTE table goes. */
	CHECK_EQ(pw_munmap(mm, MB(2), MB(2)), 0);
	CHECK_EQ(tables(m), base);
	CHECK_EQ(pw_mm_vma_count(mm), 0);
	CHECK_MM(mm);

	/* In a file VMA a split drops the whole PMD (the file keeps the pages). */
	v = mmap_or_die(mm, MB(2), MB(2), VM_READ, f, 0, 0);
	CHECK_EQ(pw_mm_set_entry(mm, pl, MB(2), leaf), 0);
	CHECK_EQ(pw_munmap(mm, MB(2), PG(1)), 0);
	CHECK_EQ(events.split_pmd, 2);
	CHECK_EQ(events.last_vma, v->id);
	CHECK_EQ(get(mm, pl, MB(2)), 0);
	CHECK_EQ(get(mm, PW_LEVEL_PTE, MB(2) + PG(1)), 0);
	CHECK_MM(mm);
	CHECK_EQ(pw_munmap(mm, MB(2), MB(2)), 0);

	/* Outside any VMA: split silently, the rest kept. */
	CHECK_EQ(pw_mm_set_entry(mm, pl, MB(8), leaf), 0);
	CHECK_EQ(pw_munmap(mm, MB(9), MB(2)), 0);
	CHECK_EQ(events.split_pmd, 2);
	CHECK_EQ(get(mm, PW_LEVEL_PTE, MB(8) + PG(255)),
		 P | RW | PFN(0x200 + 255));
	CHECK_EQ(get(mm, PW_LEVEL_PTE, MB(8) + PG(256)), 0);
	CHECK_MM(mm);
	CHECK_EQ(pw_munmap(mm, MB(8), MB(1)), 0);
	CHECK_EQ(tables(m), base);

	/* A PMD migration entry partly unmapped: PTE migration entries. */
	mmap_or_die(mm, MB(2), MB(2), VM_READ, NULL, 0, 0);
	CHECK_EQ(pw_mm_set_entry(mm, pl, MB(2),
				 pw_swp_entry(PW_SWP_MIGRATION_WRITE, 0x400)),
		 0);
	CHECK_EQ(pw_munmap(mm, MB(2), PG(1)), 0);
	CHECK_EQ(events.split_pmd, 3);
	CHECK_EQ(get(mm, PW_LEVEL_PTE, MB(2)), 0);
	CHECK_EQ(get(mm, PW_LEVEL_PTE, MB(2) + PG(3)),
		 pw_swp_entry(PW_SWP_MIGRATION_WRITE, 0x403));
	CHECK_MM(mm);
	pw_machine_destroy(m);
}

/* A PUD leaf partly unmapped is cleared, as split_huge_pud does. */
static void test_munmap_pud_leaf(void)
{
	struct pw_machine *m = machine(4);
	struct mm_struct *mm = pw_mm_create(m);
	struct vm_area_struct *v;
	uint64_t base = tables(m);

	v = mmap_or_die(mm, GB(1), GB(1), VM_READ, NULL, 0, 0);
	CHECK_EQ(pw_mm_set_entry(mm, PW_LEVEL_PUD, GB(1), P | HUGE | PFN(0)),
		 0);
	CHECK_EQ(pw_munmap(mm, GB(1) + MB(2), MB(2)), 0);
	CHECK_EQ(events.split_pud, 1);
	CHECK_EQ(events.last_vma, v->id);
	CHECK_EQ(get(mm, PW_LEVEL_PUD, GB(1)), 0);
	CHECK_EQ(tables(m), base); /* the PUD table emptied and went */
	CHECK_MM(mm);
	pw_machine_destroy(m);
}

static void test_hugetlb(void)
{
	struct pw_machine *m = machine(4);
	struct mm_struct *mm = pw_mm_create(m);
	struct address_space *f = pw_mapping_get(m, 3);
	struct vm_area_struct *v, *w;
	unsigned long h = GB(1);

	v = mmap_or_die(mm, h, MB(6), VM_READ | VM_WRITE, f, 512, 21);
	CHECK(v->vm_flags & VM_HUGETLB);
	CHECK_EQ(pw_mm_set_entry(mm, PW_LEVEL_PMD, h,
				 P | RW | HUGE | PFN(0x200)),
		 0);
	CHECK_EQ(pw_mm_set_entry(mm, PW_LEVEL_PMD, h + MB(2),
				 P | RW | HUGE | PFN(0x400)),
		 0);
	CHECK_EQ(pw_mm_set_entry(mm, PW_LEVEL_PMD, h + MB(4),
				 P | RW | HUGE | PFN(0x600)),
		 0);
	CHECK_EQ(pw_munmap(mm, h + MB(1), MB(2)), -EINVAL);
	CHECK_EQ(pw_munmap(mm, h + MB(2), MB(1)), -EINVAL);
	CHECK_EQ(pw_mprotect(mm, h, MB(1), VM_READ), -EINVAL);
	CHECK_EQ(get(mm, PW_LEVEL_PMD, h + MB(2)), P | RW | HUGE | PFN(0x400));
	CHECK_EQ(pw_mm_vma_count(mm), 1);
	/* Aligned: fine, no split events. */
	CHECK_EQ(pw_munmap(mm, h + MB(2), MB(2)), 0);
	CHECK_EQ(events.split_pmd, 0);
	CHECK_EQ(get(mm, PW_LEVEL_PMD, h + MB(2)), 0);
	CHECK_EQ(get(mm, PW_LEVEL_PMD, h + MB(4)), P | RW | HUGE | PFN(0x600));
	CHECK_EQ(pw_mm_vma_count(mm), 2);
	w = pw_mm_vma_at(mm, 1);
	CHECK_EQ(w->vm_pgoff, 512 + 1024);
	CHECK_EQ(w->hugetlb_shift, 21);
	CHECK(w->vm_flags & VM_HUGETLB);
	CHECK_MM(mm);
	/* mprotect of a whole huge page: the leaf loses RW, gains NX. */
	CHECK_EQ(pw_mprotect(mm, h, MB(2), VM_READ), 0);
	CHECK_EQ(get(mm, PW_LEVEL_PMD, h), P | HUGE | NX | PFN(0x200));
	/* Remapping the hole merges all three back. */
	CHECK_EQ(pw_mprotect(mm, h, MB(2), VM_READ | VM_WRITE), 0);
	CHECK(mmap_or_die(mm, h + MB(2), MB(2), VM_READ | VM_WRITE, f, 1024,
			  21) == v);
	CHECK_EQ(pw_mm_vma_count(mm), 1);
	CHECK_EQ(v->vm_end, h + MB(6));
	CHECK_MM(mm);
	/* Anonymous hugetlb next to plain anonymous memory does not merge. */
	w = mmap_or_die(mm, h + MB(6), PG(1), VM_READ | VM_WRITE, NULL, 0, 21);
	CHECK(w != v);
	CHECK_EQ(w->vm_end, h + MB(8));
	CHECK(mmap_or_die(mm, h + MB(8), MB(1), VM_READ | VM_WRITE, NULL, 0,
			  21) == w);
	CHECK_EQ(w->vm_end, h + MB(10));
	CHECK(mmap_or_die(mm, h + MB(10), PG(1), VM_READ | VM_WRITE, NULL, 0,
			  0) != w);
	CHECK_EQ(pw_mm_vma_count(mm), 3);
	CHECK_MM(mm);
	pw_machine_destroy(m);
}

/* ---- pw_mprotect ------------------------------------------------------------------- */

static void test_mprotect_split_merge(void)
{
	struct pw_machine *m = machine(4);
	struct mm_struct *mm = pw_mm_create(m);
	struct vm_area_struct *v, *mid, *up;
	unsigned long a = MB(4), i;
	unsigned v_id, mid_id, up_id;
	bool ok = true;

	v = mmap_or_die(mm, a, PG(16), VM_READ | VM_WRITE, NULL, 0, 0);
	v_id = v->id;
	for (i = 0; i < 16; i++)
		pw_mm_set_entry(mm, PW_LEVEL_PTE, a + PG(i),
				P | RW | PFN(100 + i));
	CHECK_EQ(pw_mprotect(mm, a + PG(4), PG(4), VM_READ), 0);
	CHECK_EQ(pw_mm_vma_count(mm), 3);
	mid = pw_mm_vma_at(mm, 1);
	up = pw_mm_vma_at(mm, 2);
	mid_id = mid->id;
	up_id = up->id;
	CHECK(pw_mm_vma_at(mm, 0) == v);
	CHECK_EQ(v->vm_end, a + PG(4));
	CHECK_EQ(mid_id, v_id + 1);
	CHECK_EQ(up_id, v_id + 2);
	CHECK_EQ(mid->vm_flags, VM_READ);
	CHECK_EQ(up->vm_flags, VM_READ | VM_WRITE);
	CHECK_EQ(mid->vm_pgoff, (a >> 12) + 4);
	CHECK_EQ(up->vm_pgoff, (a >> 12) + 8);
	for (i = 0; i < 16; i++) {
		uint64_t want = P | RW | PFN(100 + i);

		if (i >= 4 && i < 8)
			want = P | NX | PFN(100 + i);
		ok &= get(mm, PW_LEVEL_PTE, a + PG(i)) == want;
	}
	CHECK(ok);
	CHECK_MM(mm);

	/* Back: all three merge into v; the entries do not become writable. */
	CHECK_EQ(pw_mprotect(mm, a + PG(4), PG(4), VM_READ | VM_WRITE), 0);
	CHECK_EQ(pw_mm_vma_count(mm), 1);
	CHECK(pw_mm_vma_at(mm, 0) == v);
	CHECK_EQ(v->vm_end, a + PG(16));
	CHECK(pw_mm_vma_by_id(mm, mid_id) == NULL);
	CHECK(pw_mm_vma_by_id(mm, up_id) == NULL);
	CHECK_EQ(get(mm, PW_LEVEL_PTE, a + PG(5)), P | NX | PFN(105));
	CHECK_MM(mm);

	/* Adding exec clears NX; removing it sets NX. */
	CHECK_EQ(pw_mprotect(mm, a, PG(16), VM_READ | VM_EXEC), 0);
	CHECK_EQ(get(mm, PW_LEVEL_PTE, a + PG(5)), P | PFN(105));
	CHECK_EQ(get(mm, PW_LEVEL_PTE, a), P | PFN(100));
	CHECK_EQ(pw_mm_vma_count(mm), 1);
	CHECK_EQ(v->vm_flags, VM_READ | VM_EXEC);

	/* Same flags: nothing changes, not even the entries. */
	pw_mm_set_entry(mm, PW_LEVEL_PTE, a, P | RW | PFN(100));
	CHECK_EQ(pw_mprotect(mm, a, PG(16), VM_READ | VM_EXEC), 0);
	CHECK_EQ(get(mm, PW_LEVEL_PTE, a), P | RW | PFN(100));

	/* A hole: -ENOMEM, nothing changed. */
	CHECK_EQ(pw_mprotect(mm, a, PG(17), VM_READ), -ENOMEM);
	CHECK_EQ(pw_mprotect(mm, a - PG(1), PG(2), VM_READ), -ENOMEM);
	CHECK_EQ(get(mm, PW_LEVEL_PTE, a), P | RW | PFN(100));
	CHECK_EQ(v->vm_flags, VM_READ | VM_EXEC);
	CHECK_EQ(pw_mprotect(mm, a, PG(1), VM_READ | VM_SHARED), -EINVAL);
	CHECK_EQ(pw_mprotect(mm, a + 1, PG(1), VM_READ), -EINVAL);
	CHECK_EQ(pw_mprotect(mm, a, 0, VM_READ), 0);
	CHECK_EQ(pw_mprotect(pw_init_mm(m), a, PG(1), VM_READ), -EINVAL);
	CHECK_EQ(pw_mm_vma_count(mm), 1);
	CHECK_MM(mm);
	pw_machine_destroy(m);
}

/* Which neighbour survives when mprotect makes a VMA match it. */
static void test_mprotect_neighbours(void)
{
	struct pw_machine *m = machine(4);
	struct mm_struct *mm = pw_mm_create(m);
	struct address_space *f = pw_mapping_get(m, 1);
	struct vm_area_struct *p, *v, *n;
	unsigned v_id;

	p = mmap_or_die(mm, MB(1), PG(4), VM_READ, f, 0, 0);
	v = mmap_or_die(mm, MB(1) + PG(4), PG(4), VM_READ | VM_WRITE, f, 4, 0);
	n = mmap_or_die(mm, MB(1) + PG(8), PG(4), VM_READ | VM_EXEC, f, 8, 0);
	v_id = v->id;
	CHECK_EQ(pw_mm_vma_count(mm), 3);

	/* The head of v like p: p grows, v shrinks, no new VMA. */
	CHECK_EQ(pw_mprotect(mm, MB(1) + PG(4), PG(1), VM_READ), 0);
	CHECK_EQ(pw_mm_vma_count(mm), 3);
	CHECK_EQ(p->vm_end, MB(1) + PG(5));
	CHECK_EQ(v->vm_start, MB(1) + PG(5));
	CHECK_EQ(v->vm_pgoff, 5);
	CHECK(pw_mm_vma_by_id(mm, v_id + 2) == NULL); /* no VMA 4 was made */
	/* The tail of v like n: n grows down, its pgoff follows. */
	CHECK_EQ(pw_mprotect(mm, MB(1) + PG(7), PG(1), VM_READ | VM_EXEC), 0);
	CHECK_EQ(n->vm_start, MB(1) + PG(7));
	CHECK_EQ(n->vm_pgoff, 7);
	CHECK_EQ(v->vm_end, MB(1) + PG(7));
	CHECK(pw_mapping_vma_at(f, 0) == p && pw_mapping_vma_at(f, 1) == v &&
	      pw_mapping_vma_at(f, 2) == n);
	CHECK_MM(mm);
	/* All of v like n: v goes, n takes its place. */
	CHECK_EQ(pw_mprotect(mm, MB(1) + PG(5), PG(2), VM_READ | VM_EXEC), 0);
	CHECK_EQ(pw_mm_vma_count(mm), 2);
	CHECK(pw_mm_vma_by_id(mm, v_id) == NULL);
	CHECK_EQ(n->vm_start, MB(1) + PG(5));
	CHECK_EQ(n->vm_pgoff, 5);
	CHECK_EQ(pw_mapping_vma_count(f), 2);
	CHECK_MM(mm);
	/* Across both, to one protection: one VMA, p's. */
	CHECK_EQ(pw_mprotect(mm, MB(1), PG(12), VM_READ | VM_WRITE), 0);
	CHECK_EQ(pw_mm_vma_count(mm), 1);
	CHECK(pw_mm_vma_at(mm, 0) == p);
	CHECK_EQ(p->vm_end, MB(1) + PG(12));
	CHECK_EQ(pw_mapping_vma_count(f), 1);
	CHECK_MM(mm);

	/* VMAs from pw_vma_add that could merge stay apart until touched. */
	{
		int err;
		struct vm_area_struct *x, *y;
		unsigned y_id;

		x = pw_vma_add(mm, MB(8), MB(8) + PG(2), VM_READ, NULL,
			       MB(8) >> 12, 0, &err);
		y = pw_vma_add(mm, MB(8) + PG(2), MB(8) + PG(4), VM_READ, NULL,
			       (MB(8) >> 12) + 2, 0, &err);
		y_id = y->id;
		CHECK_MM_UNMERGED(mm);
		CHECK_MERGED_FAILS(mm, "should have been merged");
		CHECK_EQ(pw_mprotect(mm, MB(8), PG(4), VM_READ), 0);
		CHECK_EQ(pw_mm_vma_count(mm), 3);
		CHECK_EQ(pw_mprotect(mm, MB(8), PG(4), VM_READ | VM_WRITE), 0);
		CHECK_EQ(pw_mm_vma_count(mm), 2);
		CHECK(pw_mm_vma_at(mm, 1) == x);
		CHECK(pw_mm_vma_by_id(mm, y_id) == NULL);
		CHECK_MM(mm);
	}
	pw_machine_destroy(m);
}

static void test_mprotect_huge_and_migration(void)
{
	struct pw_machine *m = machine(4);
	struct mm_struct *mm = pw_mm_create(m);
	struct address_space *f = pw_mapping_get(m, 1);
	uint64_t leaf = P | RW | HUGE | PFN(0x200);

	mmap_or_die(mm, MB(2), MB(4), VM_READ | VM_WRITE | VM_EXEC, NULL, 0, 0);
	CHECK_EQ(pw_mm_set_entry(mm, PW_LEVEL_PMD, MB(2), leaf), 0);
	CHECK_EQ(pw_mm_set_entry(mm, PW_LEVEL_PMD, MB(4), leaf), 0);
	/* The whole of one THP: the leaf changes, no split. */
	CHECK_EQ(pw_mprotect(mm, MB(2), MB(2), VM_READ | VM_EXEC), 0);
	CHECK_EQ(events.split_pmd, 0);
	CHECK_EQ(get(mm, PW_LEVEL_PMD, MB(2)), P | HUGE | PFN(0x200));
	/* Part of the other: split, then only the covered PTEs change. */
	CHECK_EQ(pw_mprotect(mm, MB(4), PG(1), VM_READ), 0);
	CHECK_EQ(events.split_pmd, 1);
	CHECK_EQ(get(mm, PW_LEVEL_PTE, MB(4)), P | NX | PFN(0x200));
	CHECK_EQ(get(mm, PW_LEVEL_PTE, MB(4) + PG(1)), P | RW | PFN(0x201));
	CHECK_EQ(pw_mm_vma_count(mm), 3);
	CHECK_MM(mm);

	/* Write migration entries lose write: read-exclusive when anonymous. */
	CHECK_EQ(pw_mm_set_entry(mm, PW_LEVEL_PTE, MB(4) + PG(2),
				 pw_swp_entry(PW_SWP_MIGRATION_WRITE, 77)),
		 0);
	CHECK_EQ(pw_mprotect(mm, MB(4) + PG(2), PG(1), VM_READ | VM_WRITE), 0);
	CHECK_EQ(get(mm, PW_LEVEL_PTE, MB(4) + PG(2)),
		 pw_swp_entry(PW_SWP_MIGRATION_READ_EXCLUSIVE, 77));

	mmap_or_die(mm, MB(8), PG(4), VM_READ | VM_WRITE, f, 0, 0);
	CHECK_EQ(pw_mm_set_entry(mm, PW_LEVEL_PTE, MB(8),
				 pw_swp_entry(PW_SWP_MIGRATION_WRITE, 78)),
		 0);
	CHECK_EQ(pw_mm_set_entry(mm, PW_LEVEL_PTE, MB(8) + PG(1),
				 pw_swp_entry(3, 5)),
		 0);
	CHECK_EQ(pw_mprotect(mm, MB(8), PG(4), VM_READ), 0);
	CHECK_EQ(get(mm, PW_LEVEL_PTE, MB(8)),
		 pw_swp_entry(PW_SWP_MIGRATION_READ, 78));
	CHECK_EQ(get(mm, PW_LEVEL_PTE, MB(8) + PG(1)), pw_swp_entry(3, 5));
	CHECK_MM(mm);
	pw_machine_destroy(m);
}

/* ---- pw_mm_check on broken state ---------------------------------------------------- */

static void test_check_catches(void)
{
	struct pw_machine *m = machine(4);
	struct mm_struct *mm = pw_mm_create(m);
	struct address_space *f = pw_mapping_get(m, 1);
	struct vm_area_struct *a, *b;
	const struct pw_machine_layout *lay = pw_machine_layout(m);
	uint64_t pte_table, saved;
	unsigned id;

	a = mmap_or_die(mm, MB(1), PG(4), VM_READ, f, 0, 0);
	b = mmap_or_die(mm, MB(2), PG(4), VM_READ, f, 10, 0);
	CHECK_EQ(pw_mm_set_entry(mm, PW_LEVEL_PTE, MB(1), P | PFN(3)), 0);
	CHECK_MM(mm);

	a->vm_end = MB(2) + PG(1);
	CHECK_MM_FAILS(mm, "overlap");
	a->vm_end = MB(1) + PG(4);

	a->vm_start += 1;
	CHECK_MM_FAILS(mm, "unaligned");
	a->vm_start -= 1;

	id = b->id;
	b->id = a->id;
	CHECK_MM_FAILS(mm, "by_id");
	b->id = id;

	b->vm_pgoff = 0;
	a->vm_pgoff = 1; /* a now comes after b's offset in i_mmap */
	CHECK_MM_FAILS(mm, "comes after");
	a->vm_pgoff = 0;
	b->vm_pgoff = 10;

	a->vm_flags |= VM_HUGETLB;
	CHECK_MM_FAILS(mm, "VM_HUGETLB");
	a->vm_flags &= ~(unsigned long)VM_HUGETLB;

	/* A second PMD pointing at the same PTE table. */
	pte_table = get(mm, PW_LEVEL_PMD, MB(1));
	CHECK(pw_entry_is_table(m, pte_table));
	CHECK_EQ(pw_mm_set_entry(mm, PW_LEVEL_PMD, MB(8), pte_table), 0);
	CHECK_MM_FAILS(mm, "reachable twice");
	CHECK_EQ(pw_mm_set_entry(mm, PW_LEVEL_PMD, MB(8), 0), 0);
	CHECK_MM(mm);

	/* A table leaked: unreachable but still counted. */
	CHECK_EQ(pw_mm_set_entry(mm, PW_LEVEL_PMD, MB(1), 0), 0);
	CHECK_MM_FAILS(mm, "tables_in_use");
	CHECK_EQ(pw_mm_set_entry(mm, PW_LEVEL_PMD, MB(1), pte_table), 0);
	CHECK_MM(mm);

	/* An entry into the table region at a frame never allocated. */
	CHECK_EQ(pw_mm_set_entry(mm, PW_LEVEL_PMD, MB(8),
				 PW_PAGE_TABLE | PFN(FRAMES - 1)),
		 0);
	CHECK_MM_FAILS(mm, "not an allocated table");
	CHECK_EQ(pw_mm_set_entry(mm, PW_LEVEL_PMD, MB(8), 0), 0);

	/* A VMA missing from its mapping (pgoff order breaks first). */
	saved = (uint64_t)(uintptr_t)b->vm_file;
	b->vm_file = pw_mapping_get(m, 2);
	CHECK_MM_FAILS(mm, "another mapping");
	b->vm_file = (struct address_space *)(uintptr_t)saved;
	CHECK_MM(mm);
	(void)lay;
	pw_machine_destroy(m);
}

/* ---- pw_mm_destroy ------------------------------------------------------------------- */

static void test_destroy(void)
{
	struct pw_machine *m = machine(5);
	struct mm_struct *mm = pw_mm_create(m), *other = pw_mm_create(m);
	struct address_space *f = pw_mapping_get(m, 1);
	uint64_t base = tables(m);

	mmap_or_die(mm, MB(1), MB(4), VM_READ, f, 0, 0);
	mmap_or_die(other, MB(1), MB(4), VM_READ, f, 0, 0);
	pw_mm_set_entry(mm, PW_LEVEL_PTE, MB(1), P | PFN(1));
	pw_mm_set_entry(mm, PW_LEVEL_PTE, GB(600), P | PFN(1));
	pw_mm_set_entry(mm, PW_LEVEL_PMD, MB(4), P | HUGE | PFN(0x200));
	pw_mm_set_entry(other, PW_LEVEL_PTE, MB(1), P | PFN(1));
	CHECK_EQ(pw_mapping_vma_count(f), 2);
	CHECK_MM(mm);
	pw_mm_destroy(mm);
	CHECK_EQ(pw_mapping_vma_count(f), 1);
	CHECK_EQ(tables(m), base - 1 + 4);
	CHECK_MM(other);
	pw_mm_destroy(other);
	CHECK_EQ(tables(m), 1);
	CHECK_EQ(pw_mapping_vma_count(f), 0);
	CHECK_MM(pw_init_mm(m));
	/* init_mm is never destroyed: a WARN, and it still works. */
	pw_mm_destroy(pw_init_mm(m));
	CHECK_EQ(events.warn, 1);
	CHECK_MM(pw_init_mm(m));
	pw_mm_destroy(NULL);
	pw_machine_destroy(m);
}

/* ---- randomized: every op checked against a model of a window ------------------- */

/*
 * The model knows, for each page of a window of 4 PMD regions, whether a
 * VMA maps it and with what attributes, and which entry translates it
 * (a PMD leaf or migration entry counted as the PTE it would split into).
 * Before an op it reads which regions hold a huge PMD and where the VMAs
 * begin and end (verified after every op against the model and
 * pw_mm_check_merged), and predicts the result code and every entry.
 */
#define WIN_PAGES 2048u
#define REGIONS (WIN_PAGES / 512u)

struct model_page {
	bool mapped;
	unsigned long flags; /* vm_flags, VM_HUGETLB included */
	unsigned file;       /* mapping id, 0 for none */
	unsigned long pgoff;
	unsigned shift;
	uint64_t ent; /* what translates the page, as a PTE */
};

enum piece_kind { PIECE_GAP, PIECE_ANON, PIECE_OTHER };

struct rnd {
	struct pw_machine *m;
	struct mm_struct *mm;
	enum pw_level pl;
	unsigned long base;
	uint64_t state;
	struct model_page pg[WIN_PAGES];
	bool leaf[REGIONS];
	char what[200];
	unsigned long unmapped_from, unmapped_to; /* the last munmap's pages */
	unsigned long ok[4], errors[4];           /* per kind of op */
	size_t most_vmas;
};

static uint64_t rnd_next(struct rnd *r)
{
	/* xorshift64* */
	r->state ^= r->state >> 12;
	r->state ^= r->state << 25;
	r->state ^= r->state >> 27;
	return r->state * 0x2545F4914F6CDD1DULL;
}

static unsigned long rnd_below(struct rnd *r, unsigned long n)
{
	return (unsigned long)(rnd_next(r) >> 11) % n;
}

static bool is_huge_pmd(uint64_t v)
{
	return (v & (PW_PAGE_PRESENT | PW_PAGE_HUGE)) ==
		       (PW_PAGE_PRESENT | PW_PAGE_HUGE) ||
	       pw_is_migration_entry(v);
}

/* The PTE that page @i of a huge PMD @v splits into. */
static uint64_t split_ent(uint64_t v, unsigned long i)
{
	if (pw_is_migration_entry(v))
		return pw_swp_entry(pw_swp_type(v), pw_swp_offset(v) + i);
	return (v & ~PW_PFN_MASK & ~(uint64_t)HUGE) | PFN(pw_entry_pfn(v) + i);
}

static unsigned long page_addr(const struct rnd *r, unsigned long i)
{
	return r->base + PG(i);
}

static uint64_t actual_ent(const struct rnd *r, unsigned long i)
{
	unsigned long addr = page_addr(r, i);
	uint64_t pmd = get(r->mm, r->pl, addr);

	if (is_huge_pmd(pmd))
		return split_ent(pmd, i % 512);
	if (pw_entry_is_table(r->m, pmd))
		return get(r->mm, PW_LEVEL_PTE, addr);
	return pmd ? ~0ULL : 0; /* the model never writes anything else */
}

static uint64_t protect_model(uint64_t v, unsigned long flags, bool anon)
{
	if (pw_is_migration_entry(v)) {
		if (pw_swp_type(v) == PW_SWP_MIGRATION_WRITE)
			v = pw_swp_entry(
				anon ? PW_SWP_MIGRATION_READ_EXCLUSIVE :
				       PW_SWP_MIGRATION_READ,
				pw_swp_offset(v));
		return v;
	}
	if (!(v & PW_PAGE_PRESENT))
		return v;
	if (!(flags & VM_WRITE))
		v &= ~(uint64_t)RW;
	return flags & VM_EXEC ? v & ~NX : v | NX;
}

static void model_apply(struct rnd *r, unsigned long from, unsigned long to,
			bool zap, unsigned long flags, bool anon)
{
	unsigned long i;

	for (i = from; i < to; i++)
		r->pg[i].ent =
			zap ? 0 : protect_model(r->pg[i].ent, flags, anon);
}

/* One piece (a VMA's part of the range, or a gap) of a munmap or mprotect. */
static void model_piece(struct rnd *r, unsigned long from, unsigned long to,
			enum piece_kind kind, bool zap, unsigned long flags)
{
	unsigned long reg;

	for (reg = from / 512; reg * 512 < to; reg++) {
		unsigned long rs = reg * 512, re = rs + 512;
		unsigned long s = from > rs ? from : rs, e = to < re ? to : re;

		if (r->leaf[reg]) {
			if (s == rs && e == re) {
				model_apply(r, rs, re, zap, flags,
					    kind != PIECE_OTHER);
				if (zap)
					r->leaf[reg] = false;
				continue;
			}
			r->leaf[reg] = false;
			if (kind == PIECE_OTHER) { /* split_huge_pmd drops it */
				model_apply(r, rs, re, true, 0, false);
				continue;
			}
		}
		model_apply(r, s, e, zap, flags, kind != PIECE_OTHER);
	}
}

static unsigned long prot_of(unsigned long flags, unsigned long prot)
{
	return (flags & ~(unsigned long)(VM_READ | VM_WRITE | VM_EXEC)) | prot;
}

/* Runs the model over [from, to) piece by piece, as the VMAs are now. */
static void model_range(struct rnd *r, unsigned long from, unsigned long to,
			bool zap, unsigned long prot)
{
	unsigned long addr = page_addr(r, from), end = page_addr(r, to);
	unsigned reg;

	for (reg = 0; reg < REGIONS; reg++)
		r->leaf[reg] =
			is_huge_pmd(get(r->mm, r->pl, page_addr(r, reg * 512)));
	while (addr < end) {
		struct vm_area_struct *vma = find_vma(r->mm, addr);
		unsigned long pe;

		if (!vma || vma->vm_start >= end) {
			model_piece(r, (addr - r->base) >> 12, to, PIECE_GAP,
				    zap, 0);
			return;
		}
		if (vma->vm_start > addr) {
			model_piece(r, (addr - r->base) >> 12,
				    (vma->vm_start - r->base) >> 12, PIECE_GAP,
				    zap, 0);
			addr = vma->vm_start;
		}
		pe = vma->vm_end < end ? vma->vm_end : end;
		if (zap || prot_of(vma->vm_flags, prot) != vma->vm_flags)
			model_piece(r, (addr - r->base) >> 12,
				    (pe - r->base) >> 12,
				    pw_vma_is_anonymous(vma) ? PIECE_ANON :
							       PIECE_OTHER,
				    zap, prot_of(vma->vm_flags, prot));
		addr = pe;
	}
}

static bool hugetlb_inside(const struct rnd *r, unsigned long i)
{
	return i < WIN_PAGES && r->pg[i].mapped && r->pg[i].shift &&
	       (i % 512) != 0;
}

/* A random range of pages in the window: [*from, *to). */
static void rnd_range(struct rnd *r, unsigned long *from, unsigned long *to)
{
	if (rnd_below(r, 8) == 0) { /* huge-page aligned */
		*from = 512 * rnd_below(r, REGIONS);
		*to = *from + 512 * (1 + rnd_below(r, 2));
	} else {
		*from = rnd_below(r, WIN_PAGES);
		*to = *from + 1 + rnd_below(r, rnd_below(r, 4) ? 40 : 700);
	}
	if (*to > WIN_PAGES)
		*to = WIN_PAGES;
}

/*
 * Moves [*from, *to) onto a run of pages that are all mapped (or all
 * unmapped) where one is found: it starts in such a run at or after
 * *from and ends at most 300 pages on, inside the run.
 */
static void run_from(struct rnd *r, bool mapped, unsigned long *from,
		     unsigned long *to)
{
	unsigned long i = *from, n;

	for (n = 0; n < WIN_PAGES && r->pg[i].mapped != mapped; n++)
		i = (i + 1) % WIN_PAGES;
	if (n == WIN_PAGES)
		return;
	n = 1 + rnd_below(r, 300);
	for (*from = i, *to = i + 1;
	     *to < WIN_PAGES && *to - i < n && r->pg[*to].mapped == mapped;)
		(*to)++;
}

static int op_mmap(struct rnd *r)
{
	static const unsigned long prots[] = {
		VM_READ,
		VM_READ | VM_WRITE,
		VM_READ | VM_EXEC,
		VM_READ | VM_WRITE | VM_EXEC,
		VM_READ | VM_WRITE | VM_SHARED,
	};
	unsigned long from, to, i, flags, pgoff, len;
	unsigned file = 0, shift = 0;
	struct vm_area_struct *out;
	bool overlap = false;
	int ret, want;

	rnd_range(r, &from, &to);
	if (rnd_below(r, 4))
		run_from(r, false, &from, &to); /* mostly no overlap */
	len = PG(to - from);
	flags = prots[rnd_below(r, 5)];
	if (rnd_below(r, 20) == 0)
		flags |= VM_PFNMAP;
	if (rnd_below(r, 2))
		file = 1 + (unsigned)rnd_below(r, 2);
	pgoff = rnd_below(r, 4) ? from : rnd_below(r, 4096);
	if (rnd_below(r, 8) == 0) {
		/* 1 or 2 huge pages, the length short of them by up to 510
		 * pages: pw_mmap rounds it up. */
		shift = 21;
		from &= ~511UL;
		pgoff &= ~511UL;
		to = from + 512 * (1 + rnd_below(r, 2));
		if (to > WIN_PAGES)
			return 0;
		len = PG(to - from) -
		      PG(rnd_below(r, 2) ? 0 : rnd_below(r, 511));
	}
	for (i = from; i < to; i++)
		overlap |= r->pg[i].mapped;
	want = overlap ? -EEXIST : 0;
	snprintf(
		r->what, sizeof(r->what),
		"pw_mmap(%#lx, %#lx, flags %#lx, file %u, pgoff %#lx, shift %u)",
		page_addr(r, from), len, flags, file, pgoff, shift);
	ret = pw_mmap(r->mm, page_addr(r, from), len, flags,
		      file ? pw_mapping_get(r->m, file) : NULL, pgoff, shift,
		      &out);
	if (!CHECK_EQ(ret, want))
		return -1;
	r->errors[0] += ret != 0;
	if (ret)
		return 0;
	if (!CHECK(out && out->vm_start <= page_addr(r, from) &&
		   out->vm_end >= page_addr(r, to)))
		return -1;
	for (i = from; i < to; i++) {
		struct model_page *p = &r->pg[i];

		p->mapped = true;
		p->flags = flags | (shift ? VM_HUGETLB : 0);
		p->file = file;
		p->pgoff = file ? pgoff + (i - from) : page_addr(r, i) >> 12;
		p->shift = shift;
	}
	return 0;
}

static int op_munmap(struct rnd *r)
{
	unsigned long from, to, i;
	int ret, want = 0;

	rnd_range(r, &from, &to);
	if (hugetlb_inside(r, from) || hugetlb_inside(r, to))
		want = -EINVAL;
	snprintf(r->what, sizeof(r->what), "pw_munmap(%#lx, %#lx)",
		 page_addr(r, from), PG(to - from));
	if (!want)
		model_range(r, from, to, true, 0);
	ret = pw_munmap(r->mm, page_addr(r, from), PG(to - from));
	if (!CHECK_EQ(ret, want))
		return -1;
	r->errors[1] += ret != 0;
	if (ret)
		return 0;
	for (i = from; i < to; i++)
		r->pg[i].mapped = false;
	r->unmapped_from = from;
	r->unmapped_to = to;
	return 0;
}

static int op_mprotect(struct rnd *r)
{
	unsigned long from, to, i, prot = rnd_below(r, 8);
	bool hole = false;
	int ret, want = 0;

	rnd_range(r, &from, &to);
	if (rnd_below(r, 4))
		run_from(r, true, &from,
			 &to); /* mostly no hole: reach the merges */
	for (i = from; i < to; i++)
		hole |= !r->pg[i].mapped;
	if (hole)
		want = -ENOMEM;
	else if (hugetlb_inside(r, from) || hugetlb_inside(r, to))
		want = -EINVAL;
	snprintf(r->what, sizeof(r->what), "pw_mprotect(%#lx, %#lx, %#lx)",
		 page_addr(r, from), PG(to - from), prot);
	if (!want)
		model_range(r, from, to, false, prot);
	ret = pw_mprotect(r->mm, page_addr(r, from), PG(to - from), prot);
	if (!CHECK_EQ(ret, want))
		return -1;
	r->errors[2] += ret != 0;
	if (ret)
		return 0;
	for (i = from; i < to; i++)
		r->pg[i].flags = prot_of(r->pg[i].flags, prot);
	return 0;
}

static uint64_t rnd_bits(struct rnd *r)
{
	return (rnd_below(r, 2) ? RW : 0) | (rnd_below(r, 2) ? NX : 0);
}

static int op_set_entry(struct rnd *r)
{
	unsigned long i = rnd_below(r, WIN_PAGES), reg = i / 512, k;
	unsigned long addr = page_addr(r, i);
	uint64_t pmd = get(r->mm, r->pl, addr), v;
	unsigned kind = (unsigned)rnd_below(r, 6);
	int ret, want = 0;

	if (kind >= 4) { /* a PMD: a leaf or a write migration entry */
		if (pw_entry_is_table(r->m, pmd))
			return 0; /* would leak the table under it */
		addr = page_addr(r, reg * 512);
		v = kind == 4 ? P | HUGE | rnd_bits(r) |
					PFN(512 * (1 + rnd_below(r, 60))) :
				pw_swp_entry(PW_SWP_MIGRATION_WRITE,
					     512 * (1 + rnd_below(r, 60)));
		snprintf(r->what, sizeof(r->what), "set pmd %#lx = %#llx", addr,
			 (unsigned long long)v);
		ret = pw_mm_set_entry(r->mm, r->pl, addr, v);
		if (!CHECK_EQ(ret, 0))
			return -1;
		for (k = 0; k < 512; k++)
			r->pg[reg * 512 + k].ent = split_ent(v, k);
		return 0;
	}
	if (kind <= 1)
		v = P | rnd_bits(r) | PFN(2 + rnd_below(r, TABLE_BASE - 2));
	else if (kind == 2)
		v = pw_swp_entry(rnd_below(r, 2) ? PW_SWP_MIGRATION_WRITE :
						   PW_SWP_MIGRATION_READ,
				 2 + rnd_below(r, TABLE_BASE - 2));
	else
		v = pw_swp_entry(1 + (unsigned)rnd_below(r, 3),
				 rnd_below(r, 1000));
	if (is_huge_pmd(pmd))
		want = -EFAULT;
	snprintf(r->what, sizeof(r->what), "set pte %#lx = %#llx", addr,
		 (unsigned long long)v);
	ret = pw_mm_set_entry(r->mm, PW_LEVEL_PTE, addr, v);
	if (!CHECK_EQ(ret, want))
		return -1;
	r->errors[3] += ret != 0;
	if (!ret)
		r->pg[i].ent = v;
	return 0;
}

static int compare_vmas(struct rnd *r)
{
	unsigned long i;

	for (i = 0; i < WIN_PAGES; i++) {
		const struct model_page *p = &r->pg[i];
		unsigned long addr = page_addr(r, i);
		struct vm_area_struct *vma = find_vma(r->mm, addr);

		if (vma && vma->vm_start > addr)
			vma = NULL;
		if (!vma != !p->mapped ||
		    (vma && (vma->vm_flags != p->flags ||
			     vma->hugetlb_shift != p->shift ||
			     (vma->vm_file ? pw_mapping_id(vma->vm_file) : 0) !=
				     p->file ||
			     vma->vm_pgoff + ((addr - vma->vm_start) >> 12) !=
				     p->pgoff))) {
			printf("page %#lx: model %s flags %#lx file %u pgoff %#lx shift %u; "
			       "vma %u [%#lx, %#lx) flags %#lx pgoff %#lx\n",
			       addr, p->mapped ? "mapped" : "unmapped",
			       p->flags, p->file, p->pgoff, p->shift,
			       vma ? vma->id : 0, vma ? vma->vm_start : 0,
			       vma ? vma->vm_end : 0, vma ? vma->vm_flags : 0,
			       vma ? vma->vm_pgoff : 0);
			return -1;
		}
	}
	return 0;
}

static int compare_entries(struct rnd *r)
{
	unsigned long i;

	for (i = 0; i < WIN_PAGES; i++) {
		uint64_t want = r->pg[i].ent, got = actual_ent(r, i);

		if (got != want) {
			printf("page %#lx: entry %#llx, model %#llx\n",
			       page_addr(r, i), (unsigned long long)got,
			       (unsigned long long)want);
			return -1;
		}
	}
	return 0;
}

/* After a munmap of [start, end): no empty table is left under it. */
struct empty_scan {
	const struct pw_machine *m;
	unsigned long start, end;
	unsigned long found;
};

static void find_empty(void *ctx, enum pw_level level, unsigned long addr,
		       uint64_t value, bool is_table)
{
	struct empty_scan *s = ctx;
	const struct pw_machine_layout *lay = pw_machine_layout(s->m);
	const uint64_t *t;
	unsigned long span = 1UL << lay->geo.shift[level];
	size_t i;

	if (!is_table)
		return;
	t = lay->mem + pw_entry_pfn(value) * PW_PTRS_PER_TABLE;
	for (i = 0; i < PW_PTRS_PER_TABLE; i++)
		if (t[i])
			return;
	if (addr < s->end && addr + span > s->start)
		s->found = addr;
}

static void random_run(int levels, uint64_t seed, unsigned ops)
{
	static struct rnd r;
	unsigned n;
	int fail = 0;

	memset(&r, 0, sizeof(r));
	r.m = machine(levels);
	r.mm = pw_mm_create(r.m);
	r.pl = pmd_level(r.m);
	r.state = seed;
	/* Straddle a 1 GiB boundary where there is room: PMD tables go too. */
	r.base = levels >= 3 ? GB(1) - MB(4) : MB(256) - MB(4);
	pw_mapping_get(r.m, 1);
	pw_mapping_get(r.m, 2);

	for (n = 0; n < ops && !fail; n++) {
		unsigned long before = failed;
		unsigned which = (unsigned)rnd_below(&r, 20);
		unsigned kind = which < 6  ? 0 :
				which < 11 ? 1 :
				which < 16 ? 2 :
					     3;
		uint64_t errs_before = r.errors[kind];

		r.what[0] = '\0';
		r.unmapped_to = 0;
		if (which < 6)
			fail = op_mmap(&r);
		else if (which < 11)
			fail = op_munmap(&r);
		else if (which < 16)
			fail = op_mprotect(&r);
		else
			fail = op_set_entry(&r);
		if (!fail)
			fail = !CHECK(compare_vmas(&r) == 0);
		if (!fail)
			fail = !CHECK(compare_entries(&r) == 0);
		if (!fail)
			fail = !CHECK_MM(r.mm);
		if (!fail && r.unmapped_to) {
			struct empty_scan scan = {
				.m = r.m,
				.start = page_addr(&r, r.unmapped_from),
				.end = page_addr(&r, r.unmapped_to)
			};

			pw_mm_dump(r.mm, find_empty, &scan);
			fail = !CHECK(scan.found == 0);
		}
		if (fail || failed != before)
			printf("random run: levels %d seed %#llx op %u: %s\n",
			       levels, (unsigned long long)seed, n, r.what);
		if (r.what[0] && r.errors[kind] == errs_before)
			r.ok[kind]++;
		if (pw_mm_vma_count(r.mm) > r.most_vmas)
			r.most_vmas = pw_mm_vma_count(r.mm);
	}
	printf("random run, %d levels: %u ops; ok/refused: mmap %lu/%lu, munmap %lu/%lu, "
	       "mprotect %lu/%lu, set_entry %lu/%lu; up to %zu VMAs; %u PMD splits\n",
	       levels, n, r.ok[0], r.errors[0], r.ok[1], r.errors[1], r.ok[2],
	       r.errors[2], r.ok[3], r.errors[3], r.most_vmas,
	       events.split_pmd);
	pw_mm_destroy(r.mm);
	CHECK_EQ(tables(r.m), 1);
	pw_machine_destroy(r.m);
}

int main(void)
{
	int levels;

	test_mmap_merge_anon();
	test_mmap_errors();
	test_mmap_merge_file();
	test_munmap_vmas();
	test_munmap_i_mmap_order();
	for (levels = 2; levels <= 5; levels++) {
		test_munmap_tables(levels);
		test_munmap_thp(levels);
	}
	test_munmap_pud_leaf();
	test_hugetlb();
	test_mprotect_split_merge();
	test_mprotect_neighbours();
	test_mprotect_huge_and_migration();
	test_check_catches();
	test_destroy();
	for (levels = 2; levels <= 5; levels++)
		random_run(levels, 0x9e3779b97f4a7c15ULL * (uint64_t)levels,
			   2000);

	printf("%lu passed, %lu failed\n", passed, failed);
	return failed ? 1 : 0;
}
