/*
 * alloc_tests.c - table allocation failure in install walks.
 *
 * For each geometry 2..5 and a few layouts that need new tables at every
 * level: a full walk_page_range_mm with install_pte on a fresh machine
 * counts the allocations K it needs.  Then, for every budget 0..K-1 on a
 * fresh identical machine:
 *   - the walk returns -ENOMEM;
 *   - no table frame leaks: tables_in_use equals the number of distinct
 *     table frames reachable from the mm's and init_mm's top tables;
 *   - the tables stay walkable: walk_page_range with pte_entry and
 *     pte_hole returns 0 and reports no bad entry;
 *   - with the budget lifted, the same install walk returns 0 and every
 *     PTE of the range is installed, again without a leak.
 * Also: the table region itself running out (no budget set) behaves alike.
 *
 * Last line: "N passed, M failed"; exit status 1 on any failure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pagewalk.h"
#include "pagewalk_machine.h"

#include "test_cases.h"

/* ---- the layouts ---------------------------------------------------------- */

#define DATA_PFN_BASE 16

struct layout {
	const char *name;
	/* VMAs [start, end) as multiples of the levels' sizes, computed per
	 * geometry by layout_ranges() */
	int kind;
};

struct range {
	unsigned long start, end;
};

/*
 * Ranges that need new tables at every real level: kind 0 crosses the
 * top-level boundary at 1 << shift[pgd]; kind 1 is two separate VMAs, one
 * of them next to an existing table (partly populated beforehand); kind 2
 * spans three PMD entries.
 */
static int layout_ranges(const struct pw_geometry *g, int kind, struct range *r)
{
	unsigned long top = 1UL << g->shift[PW_LEVEL_PGD];
	unsigned long pmd = 1UL << 21;

	switch (kind) {
	case 0:
		r[0].start = top - 3 * PW_PAGE_SIZE;
		r[0].end = top + 5 * PW_PAGE_SIZE;
		return 1;
	case 1:
		r[0].start = 0x400000;
		r[0].end = 0x400000 + 4 * PW_PAGE_SIZE;
		r[1].start = top * 3 + pmd;
		r[1].end = top * 3 + pmd + 2 * PW_PAGE_SIZE;
		if (r[1].end > g->task_size) { /* 2 levels: 512 MiB of VA */
			r[1].start = g->task_size - 2 * PW_PAGE_SIZE;
			r[1].end = g->task_size;
		}
		return 2;
	default:
		r[0].start = 5 * pmd - PW_PAGE_SIZE;
		r[0].end = 7 * pmd + PW_PAGE_SIZE;
		return 1;
	}
}

/* The PTE the install walk writes at @addr: present, a data frame. */
static pte_t pte_for(unsigned long addr)
{
	return 0x67 | ((DATA_PFN_BASE + ((addr >> PW_PAGE_SHIFT) & 0xff))
		       << PW_PAGE_SHIFT);
}

static int do_install(unsigned long addr, unsigned long next, pte_t *ptep,
		      struct mm_walk *walk)
{
	(void)next;
	(void)walk;
	*ptep = pte_for(addr);
	return 0;
}

static int count_pte(pte_t *pte, unsigned long addr, unsigned long next,
		     struct mm_walk *walk)
{
	unsigned long *n = walk->private;

	(void)pte;
	(void)addr;
	(void)next;
	n[0]++;
	return 0;
}

static int count_hole(unsigned long addr, unsigned long next, int depth,
		      struct mm_walk *walk)
{
	unsigned long *n = walk->private;

	(void)addr;
	(void)next;
	(void)depth;
	n[1]++;
	return 0;
}

static unsigned long bad_events;

static void on_event(void *ctx, const struct pw_event *ev)
{
	(void)ctx;
	if (ev->kind == PW_EVENT_BAD || ev->kind == PW_EVENT_WARN ||
	    ev->kind == PW_EVENT_ASSERT_FAIL)
		bad_events++;
}

/* ---- reachable tables ------------------------------------------------------ */

struct pfnset {
	uint64_t *v;
	size_t n, cap;
};

static void pfnset_add(struct pfnset *s, uint64_t pfn)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->v[i] == pfn)
			return;
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v)
			abort();
	}
	s->v[s->n++] = pfn;
}

static void collect(void *ctx, enum pw_level level, unsigned long addr,
		    uint64_t value, bool is_table)
{
	(void)level;
	(void)addr;
	if (is_table)
		pfnset_add(ctx, pw_entry_pfn(value));
}

static uint64_t pgd_pfn(struct pw_machine *m, struct mm_struct *mm)
{
	return (uint64_t)(pw_mm_pgd(mm) - pw_machine_layout(m)->mem) /
	       PW_PTRS_PER_TABLE;
}

/* Distinct table frames reachable from both top tables. */
static uint64_t reachable_tables(struct pw_machine *m, struct mm_struct *mm)
{
	struct pfnset s = { 0 };
	uint64_t n;

	pfnset_add(&s, pgd_pfn(m, mm));
	pfnset_add(&s, pgd_pfn(m, pw_init_mm(m)));
	pw_mm_dump(mm, collect, &s);
	pw_mm_dump(pw_init_mm(m), collect, &s);
	n = s.n;
	free(s.v);
	return n;
}

/* ---- one machine ------------------------------------------------------------- */

struct world {
	struct pw_machine *m;
	struct mm_struct *mm;
	struct range r[2];
	int nr;
};

static int make(struct world *w, int levels, int kind, uint64_t frames,
		uint64_t table_base)
{
	struct pw_machine_config cfg = { .levels = levels,
					 .frames = frames,
					 .table_base = table_base,
					 .zero_pfn = 1 };
	int i, err;

	memset(w, 0, sizeof(*w));
	if (pw_machine_create(&cfg, &w->m))
		return -1;
	pw_machine_set_event_hook(w->m, on_event, NULL);
	w->mm = pw_mm_create(w->m);
	if (!w->mm)
		return -1;
	w->nr = layout_ranges(pw_machine_geometry(w->m), kind, w->r);
	for (i = 0; i < w->nr; i++)
		if (!pw_vma_add(w->mm, w->r[i].start, w->r[i].end,
				VM_READ | VM_WRITE, NULL, 0, 0, &err))
			return -1;
	if (kind == 1) /* some tables exist already, one PTE is populated */
		pw_mm_set_entry(w->mm, PW_LEVEL_PTE,
				w->r[0].start + PW_PAGE_SIZE,
				pte_for(w->r[0].start + PW_PAGE_SIZE));
	/* a kernel mapping too, so init_mm has tables of its own */
	pw_mm_set_entry(pw_init_mm(w->m), PW_LEVEL_PTE,
			~0UL << (pw_machine_geometry(w->m)->va_bits - 1),
			0x63 | (2ULL << PW_PAGE_SHIFT));
	return 0;
}

static int install_walk(struct world *w, bool with_pte_entry)
{
	struct mm_walk_ops ops = { .install_pte = do_install };
	unsigned long n[2] = { 0, 0 };
	int err, i;

	if (with_pte_entry)
		ops.pte_entry = count_pte;
	mmap_read_lock(w->mm);
	err = 0;
	for (i = 0; i < w->nr && !err; i++)
		err = walk_page_range_mm(w->mm, w->r[i].start, w->r[i].end,
					 &ops, n);
	mmap_read_unlock(w->mm);
	return err;
}

static void check_consistent(struct world *w)
{
	struct pw_machine_stats st;
	struct mm_walk_ops ops = { .pte_entry = count_pte,
				   .pte_hole = count_hole };
	unsigned long n[2] = { 0, 0 };
	unsigned long before = bad_events;
	int i, err = 0;

	pw_machine_get_stats(w->m, &st);
	CHECK(st.tables_in_use == reachable_tables(w->m, w->mm));
	mmap_read_lock(w->mm);
	for (i = 0; i < w->nr && !err; i++)
		err = walk_page_range(w->mm, w->r[i].start, w->r[i].end, &ops,
				      n);
	mmap_read_unlock(w->mm);
	CHECK(err == 0);
	CHECK(bad_events == before);
	CHECK(pw_ptl_held_by_thread() == 0);
}

static void check_installed(struct world *w)
{
	int i;
	unsigned long a;

	for (i = 0; i < w->nr; i++)
		for (a = w->r[i].start; a < w->r[i].end; a += PW_PAGE_SIZE) {
			uint64_t v = 0;

			CHECK(pw_mm_get_entry(w->mm, PW_LEVEL_PTE, a, &v) == 0);
			CHECK(v == pte_for(a));
			if (v != pte_for(a))
				return;
		}
}

/* ---- the tests ------------------------------------------------------------------ */

static void budget_tests(int levels, int kind, bool with_pte_entry)
{
	struct world w;
	struct pw_machine_stats st0, st;
	uint64_t k;
	int64_t b;

	case_begin("geometry %d layout %d: full install walk (pte_entry %d)",
		   levels, kind, with_pte_entry);
	CHECK(make(&w, levels, kind, 4096, 1024) == 0);
	pw_machine_get_stats(w.m, &st0);
	bad_events = 0;
	CHECK(install_walk(&w, with_pte_entry) == 0);
	CHECK(bad_events == 0);
	pw_machine_get_stats(w.m, &st);
	k = st.table_allocs - st0.table_allocs;
	printf("ok geometry %d layout %d: a full install walk allocates %llu tables\n",
	       levels, kind, (unsigned long long)k);
	/* a new table at every real level below the top, at least once */
	CHECK(k >= (uint64_t)levels - 1);
	check_installed(&w);
	check_consistent(&w);
	pw_machine_destroy(w.m);
	case_end();

	for (b = 0; b < (int64_t)k; b++) {
		case_begin("geometry %d layout %d budget %d", levels, kind,
			   (int)b);
		CHECK(make(&w, levels, kind, 4096, 1024) == 0);
		pw_machine_set_alloc_budget(w.m, b);
		bad_events = 0;
		CHECK(install_walk(&w, with_pte_entry) == -ENOMEM);
		CHECK(bad_events == 0);
		pw_machine_get_stats(w.m, &st);
		CHECK(st.table_alloc_fails == 1);
		check_consistent(&w);
		pw_machine_set_alloc_budget(w.m, -1);
		CHECK(install_walk(&w, with_pte_entry) == 0);
		check_installed(&w);
		check_consistent(&w);
		pw_machine_destroy(w.m);
		case_end();
	}
}

/* The table region runs out: the same results without any budget. */
static void region_tests(int levels)
{
	const uint64_t base = 256;
	struct world w;
	int extra;

	/* The two top tables and the kernel mapping's levels - 1 tables come
	 * first; then room for 0 .. 2 * (levels - 1) - 1 more, fewer than the
	 * install walk over the top-level boundary needs. */
	for (extra = 0; extra < 2 * (levels - 1); extra++) {
		case_begin(
			"geometry %d: table region full after %d more tables",
			levels, extra, 0);
		if (make(&w, levels, 0,
			 base + 2 + (uint64_t)(levels - 1 + extra), base)) {
			CHECK(!"machine set-up");
		} else {
			bad_events = 0;
			CHECK(install_walk(&w, true) == -ENOMEM);
			CHECK(bad_events == 0);
			check_consistent(&w);
		}
		pw_machine_destroy(w.m);
		case_end();
	}
}

int main(void)
{
	int levels, kind;

	for (levels = 2; levels <= 5; levels++) {
		for (kind = 0; kind < 3; kind++)
			budget_tests(levels, kind, kind != 2);
		region_tests(levels);
	}
	return cases_summary();
}
