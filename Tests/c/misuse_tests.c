/*
 * misuse_tests.c - the walk API used wrongly, and what it promises then.
 *
 *   - install_pte through any entry point but walk_page_range_mm: -EINVAL,
 *     and nothing is called, allocated or asserted;
 *   - start >= end: -EINVAL at every ranged entry point;
 *   - install_pte without pte_entry: populated PTEs are skipped (MODEL.md);
 *   - install_pte over a hugetlb VMA: -EINVAL;
 *   - failed lock assertions and WARNs go to the event hook; without a
 *     hook to stderr, and always to the stats counters.
 *
 * Last line: "N passed, M failed"; exit status 1 on any failure.
 */
#define _POSIX_C_SOURCE 200809L /* dup, fileno */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pagewalk.h"
#include "pagewalk_machine.h"

#include "capture_stderr.h"
#include "test_cases.h"

/* ---- a machine and counting callbacks -------------------------------------- */

struct counts {
	int calls; /* any callback */
	int installs;
	int ptes;
	int asserts[5];
	int warns, bads, events;
};

static int c_level(uint64_t *p, unsigned long a, unsigned long n,
		   struct mm_walk *w)
{
	(void)p, (void)a, (void)n;
	((struct counts *)w->private)->calls++;
	return 0;
}

static int c_pte(pte_t *p, unsigned long a, unsigned long n, struct mm_walk *w)
{
	struct counts *c = w->private;

	(void)p, (void)a, (void)n;
	c->calls++;
	c->ptes++;
	return 0;
}

static int c_hole(unsigned long a, unsigned long n, int d, struct mm_walk *w)
{
	(void)a, (void)n, (void)d;
	((struct counts *)w->private)->calls++;
	return 0;
}

static int c_range(unsigned long a, unsigned long n, struct mm_walk *w)
{
	(void)a, (void)n;
	((struct counts *)w->private)->calls++;
	return 0;
}

static int c_hugetlb(pte_t *p, unsigned long h, unsigned long a,
		     unsigned long n, struct mm_walk *w)
{
	(void)p, (void)h, (void)a, (void)n;
	((struct counts *)w->private)->calls++;
	return 0;
}

static int c_install(unsigned long a, unsigned long n, pte_t *ptep,
		     struct mm_walk *w)
{
	struct counts *c = w->private;

	(void)n;
	c->calls++;
	c->installs++;
	*ptep = 0x67 | ((0x100 + ((a >> 12) & 0xff)) << 12);
	return 0;
}

static void on_event(void *ctx, const struct pw_event *ev)
{
	struct counts *c = ctx;

	c->events++;
	if (ev->kind == PW_EVENT_ASSERT_FAIL)
		c->asserts[ev->assertion]++;
	else if (ev->kind == PW_EVENT_WARN)
		c->warns++;
	else if (ev->kind == PW_EVENT_BAD)
		c->bads++;
}

static const struct mm_walk_ops all_ops = {
	.pgd_entry = c_level,
	.p4d_entry = c_level,
	.pud_entry = c_level,
	.pmd_entry = c_level,
	.pte_entry = c_pte,
	.pte_hole = c_hole,
	.hugetlb_entry = c_hugetlb,
	.test_walk = c_range,
	.pre_vma = c_range,
	.install_pte = c_install,
};

struct world {
	struct pw_machine *m;
	struct mm_struct *mm, *kmm;
	struct vm_area_struct *anon, *file, *huge;
	struct address_space *as;
	struct counts c;
};

#define ANON_START 0x400000UL
#define ANON_END 0x800000UL
#define KADDR 0xffff800000000000UL

static void make(struct world *w, bool hook)
{
	struct pw_machine_config cfg = {
		.levels = 4, .frames = 4096, .table_base = 1024, .zero_pfn = 1
	};
	int err;

	memset(w, 0, sizeof(*w));
	if (pw_machine_create(&cfg, &w->m))
		abort();
	if (hook)
		pw_machine_set_event_hook(w->m, on_event, &w->c);
	w->mm = pw_mm_create(w->m);
	w->kmm = pw_init_mm(w->m);
	w->as = pw_mapping_get(w->m, 1);
	w->anon = pw_vma_add(w->mm, ANON_START, ANON_END, VM_READ | VM_WRITE,
			     NULL, 0, 0, &err);
	w->file = pw_vma_add(w->mm, 0x1000000, 0x1200000, VM_READ, w->as, 0, 0,
			     &err);
	w->huge = pw_vma_add(w->mm, 0x40000000, 0x40400000, VM_READ | VM_WRITE,
			     NULL, 0, 21, &err);
	if (!w->mm || !w->anon || !w->file || !w->huge)
		abort();
	pw_mm_set_entry(w->mm, PW_LEVEL_PTE, ANON_START,
			0x67 | (0x200ULL << 12));
	pw_mm_set_entry(w->mm, PW_LEVEL_PTE, 0x1000000,
			0x65 | (0x201ULL << 12));
	pw_mm_set_entry(w->mm, PW_LEVEL_PMD, 0x40000000,
			0xe7 | (0x400ULL << 12));
	pw_mm_set_entry(w->kmm, PW_LEVEL_PTE, KADDR, 0x63 | (0x202ULL << 12));
	pw_mm_set_lock_state(w->mm, PW_LOCK_WRITE);
	pw_mm_set_lock_state(w->kmm, PW_LOCK_WRITE);
	pw_mapping_set_i_mmap_held(w->as, true);
	pw_vma_set_lock_state(w->anon, PW_LOCK_WRITE);
	pw_vma_set_lock_state(w->file, PW_LOCK_WRITE);
	pw_vma_set_lock_state(w->huge, PW_LOCK_WRITE);
}

static uint64_t allocs(struct world *w)
{
	struct pw_machine_stats st;

	pw_machine_get_stats(w->m, &st);
	return st.table_allocs + st.table_alloc_fails;
}

static int nothing_happened(struct world *w, uint64_t allocs_before)
{
	return w->c.calls == 0 && w->c.events == 0 &&
	       allocs(w) == allocs_before && pw_ptl_held_by_thread() == 0;
}

/* ---- install_pte is for walk_page_range_mm only ------------------------------ */

static void install_elsewhere(void)
{
	struct world w;
	uint64_t a;

	make(&w, true);
	a = allocs(&w);

	TEST("install_pte: walk_page_range -EINVAL")
	{
		CHECK(walk_page_range(w.mm, ANON_START, ANON_END, &all_ops,
				      &w.c) == -EINVAL);
		CHECK(nothing_happened(&w, a));
	}
	TEST("install_pte: walk_page_range_vma -EINVAL")
	{
		CHECK(walk_page_range_vma(w.anon, ANON_START, ANON_END,
					  &all_ops, &w.c) == -EINVAL);
		CHECK(nothing_happened(&w, a));
	}
	TEST("install_pte: walk_page_vma -EINVAL")
	{
		CHECK(walk_page_vma(w.anon, &all_ops, &w.c) == -EINVAL);
		CHECK(walk_page_vma(w.file, &all_ops, &w.c) == -EINVAL);
		CHECK(nothing_happened(&w, a));
	}
	TEST("install_pte: walk_page_mapping -EINVAL")
	{
		CHECK(walk_page_mapping(w.as, 0, 512, &all_ops, &w.c) ==
		      -EINVAL);
		CHECK(nothing_happened(&w, a));
	}
	TEST("install_pte: walk_kernel_page_table_range -EINVAL")
	{
		CHECK(walk_kernel_page_table_range(w.m, KADDR, KADDR + 0x200000,
						   &all_ops, NULL,
						   &w.c) == -EINVAL);
		CHECK(walk_kernel_page_table_range(w.m, KADDR, KADDR + 0x200000,
						   &all_ops, pw_mm_pgd(w.mm),
						   &w.c) == -EINVAL);
		CHECK(nothing_happened(&w, a));
	}
	TEST("install_pte: walk_kernel_page_table_range_lockless -EINVAL")
	{
		CHECK(walk_kernel_page_table_range_lockless(
			      w.m, KADDR, KADDR + 0x200000, &all_ops, NULL,
			      &w.c) == -EINVAL);
		CHECK(nothing_happened(&w, a));
	}
	TEST("install_pte: walk_page_range_debug (user and kernel) -EINVAL")
	{
		CHECK(walk_page_range_debug(w.mm, ANON_START, ANON_END,
					    &all_ops, NULL, &w.c) == -EINVAL);
		CHECK(walk_page_range_debug(w.kmm, KADDR, KADDR + 0x200000,
					    &all_ops, NULL, &w.c) == -EINVAL);
		CHECK(nothing_happened(&w, a));
	}
	TEST("install_pte: walk_page_range_mm accepts it")
	{
		CHECK(walk_page_range_mm(w.mm, ANON_START, ANON_START + 0x4000,
					 &all_ops, &w.c) == 0);
		CHECK(w.c.installs == 3 && w.c.ptes == 1);
		CHECK(pw_ptl_held_by_thread() == 0);
	}
	pw_machine_destroy(w.m);

	make(&w, true);
	TEST("install_pte: a hugetlb VMA is refused with -EINVAL")
	{
		a = allocs(&w);
		CHECK(walk_page_range_mm(w.mm, 0x40000000, 0x40400000, &all_ops,
					 &w.c) == -EINVAL);
		/* test_walk ran (it decides first); nothing else did */
		CHECK(w.c.calls == 1 && w.c.events == 0 && allocs(&w) == a);
	}
	pw_machine_destroy(w.m);
}

/* ---- empty and reversed ranges ------------------------------------------------- */

static void bad_ranges(void)
{
	struct mm_walk_ops ops = all_ops;
	struct world w;
	uint64_t a;
	static const unsigned long user[][2] = {
		{ ANON_START, ANON_START },
		{ ANON_END, ANON_START },
		{ ANON_START + 0x1000, ANON_START + 0x1000 },
		{ 0x1000, 0 },
	};
	static const unsigned long kern[][2] = {
		{ KADDR, KADDR },
		{ KADDR + 0x1000, KADDR },
		{ 0x1000, 0 },
	};
	unsigned i;

	ops.install_pte = NULL;
	make(&w, true);
	a = allocs(&w);
	TEST("start >= end: walk_page_range, _mm, _debug -EINVAL")
	{
		for (i = 0; i < sizeof(user) / sizeof(user[0]); i++) {
			CHECK(walk_page_range(w.mm, user[i][0], user[i][1],
					      &ops, &w.c) == -EINVAL);
			CHECK(walk_page_range_mm(w.mm, user[i][0], user[i][1],
						 &all_ops, &w.c) == -EINVAL);
			CHECK(walk_page_range_debug(w.mm, user[i][0],
						    user[i][1], &ops, NULL,
						    &w.c) == -EINVAL);
		}
		CHECK(nothing_happened(&w, a));
	}
	TEST("start >= end: walk_page_range_vma -EINVAL")
	{
		for (i = 0; i < 3; i++)
			CHECK(walk_page_range_vma(w.anon, user[i][0],
						  user[i][1], &ops,
						  &w.c) == -EINVAL);
		CHECK(nothing_happened(&w, a));
	}
	TEST("walk_page_range_vma outside its VMA -EINVAL")
	{
		CHECK(walk_page_range_vma(w.anon, ANON_START - 0x1000, ANON_END,
					  &ops, &w.c) == -EINVAL);
		CHECK(walk_page_range_vma(w.anon, ANON_START, ANON_END + 0x1000,
					  &ops, &w.c) == -EINVAL);
		CHECK(walk_page_range_vma(w.file, ANON_START, ANON_END, &ops,
					  &w.c) == -EINVAL);
		CHECK(nothing_happened(&w, a));
	}
	TEST("start >= end: kernel walks (locked, lockless, debug) -EINVAL")
	{
		for (i = 0; i < sizeof(kern) / sizeof(kern[0]); i++) {
			CHECK(walk_kernel_page_table_range(
				      w.m, kern[i][0], kern[i][1], &ops, NULL,
				      &w.c) == -EINVAL);
			CHECK(walk_kernel_page_table_range_lockless(
				      w.m, kern[i][0], kern[i][1], &ops, NULL,
				      &w.c) == -EINVAL);
			CHECK(walk_page_range_debug(w.kmm, kern[i][0],
						    kern[i][1], &ops, NULL,
						    &w.c) == -EINVAL);
		}
		CHECK(nothing_happened(&w, a));
	}
	TEST("pw_vma_add: pgoff + pages past 2^64 is -EOVERFLOW, as mmap")
	{
		int err = 0;

		CHECK(!pw_vma_add(w.mm, 0x2000000, 0x2002000, VM_READ, w.as,
				  ~0UL - 1, 0, &err) &&
		      err == -EOVERFLOW);
		CHECK(pw_vma_add(w.mm, 0x2000000, 0x2002000, VM_READ, w.as,
				 ~0UL - 2, 0, &err) &&
		      err == 0);
	}
	TEST("walk_page_mapping with nr == 0 walks nothing and returns 0")
	{
		CHECK(walk_page_mapping(w.as, 0, 0, &ops, &w.c) == 0);
		CHECK(walk_page_mapping(w.as, 5, 0, &ops, &w.c) == 0);
		CHECK(nothing_happened(&w, a));
	}
	pw_machine_destroy(w.m);
}

/* ---- install_pte without pte_entry ------------------------------------------------ */

static void install_without_pte_entry(void)
{
	struct mm_walk_ops ops = { .install_pte = c_install };
	struct world w;
	uint64_t v;

	make(&w, true);
	TEST("install_pte without pte_entry skips populated PTEs (MODEL.md)")
	{
		/* PTE 0 is populated; 1..3 are empty */
		CHECK(walk_page_range_mm(w.mm, ANON_START, ANON_START + 0x4000,
					 &ops, &w.c) == 0);
		CHECK(w.c.installs == 3 && w.c.calls == 3);
		CHECK(pw_mm_get_entry(w.mm, PW_LEVEL_PTE, ANON_START, &v) ==
			      0 &&
		      v == (0x67 | (0x200ULL << 12)));
		CHECK(pw_mm_get_entry(w.mm, PW_LEVEL_PTE, ANON_START + 0x1000,
				      &v) == 0 &&
		      v == (0x67 | (0x101ULL << 12)));
		CHECK(w.c.events == 0);
	}
	TEST("install_pte without pte_entry: a second pass installs nothing")
	{
		w.c.installs = w.c.calls = 0;
		CHECK(walk_page_range_mm(w.mm, ANON_START, ANON_START + 0x4000,
					 &ops, &w.c) == 0);
		CHECK(w.c.installs == 0 && w.c.calls == 0);
	}
	TEST("install_pte with pte_entry: populated PTEs go to pte_entry")
	{
		struct mm_walk_ops o2 = { .install_pte = c_install,
					  .pte_entry = c_pte };

		w.c.installs = w.c.ptes = 0;
		CHECK(walk_page_range_mm(w.mm, ANON_START, ANON_START + 0x8000,
					 &o2, &w.c) == 0);
		CHECK(w.c.installs == 4 && w.c.ptes == 4);
		CHECK(pw_ptl_held_by_thread() == 0);
	}
	pw_machine_destroy(w.m);
}

/* ---- assertions: hook, stderr, counters ------------------------------------------ */

static void assertions(void)
{
	struct mm_walk_ops ops = { .pte_entry = c_pte };
	struct pw_machine_stats st;
	struct world w;
	struct captured cap;
	struct folio_walk fw;
	char *out;

	make(&w, true);
	TEST("assertions go to the hook: each kind")
	{
		pw_mm_set_lock_state(w.mm, PW_LOCK_NONE);
		ops.walk_lock = PGWALK_RDLOCK;
		CHECK(walk_page_range(w.mm, ANON_START, ANON_END, &ops, &w.c) ==
		      0);
		CHECK(w.c.asserts[PW_ASSERT_MMAP_LOCKED] == 1);

		pw_mm_set_lock_state(w.mm, PW_LOCK_READ);
		ops.walk_lock = PGWALK_WRLOCK;
		CHECK(walk_page_range(w.mm, ANON_START, ANON_END, &ops, &w.c) ==
		      0);
		/* mmap_assert_write_locked, then vma_start_write's own */
		CHECK(w.c.asserts[PW_ASSERT_MMAP_WRITE_LOCKED] == 2);

		pw_vma_set_lock_state(w.anon, PW_LOCK_READ);
		ops.walk_lock = PGWALK_WRLOCK_VERIFY;
		pw_mm_set_lock_state(w.mm, PW_LOCK_WRITE);
		CHECK(walk_page_range(w.mm, ANON_START, ANON_END, &ops, &w.c) ==
		      0);
		CHECK(w.c.asserts[PW_ASSERT_VMA_WRITE_LOCKED] == 1);

		pw_vma_set_lock_state(w.anon, PW_LOCK_NONE);
		ops.walk_lock = PGWALK_VMA_RDLOCK_VERIFY;
		CHECK(walk_page_range(w.mm, ANON_START, ANON_END, &ops, &w.c) ==
		      0);
		CHECK(w.c.asserts[PW_ASSERT_VMA_LOCKED] == 1);

		pw_mapping_set_i_mmap_held(w.as, false);
		ops.walk_lock = PGWALK_RDLOCK;
		CHECK(walk_page_mapping(w.as, 0, 512, &ops, &w.c) == 0);
		CHECK(w.c.asserts[PW_ASSERT_I_MMAP_HELD] == 1);

		pw_machine_get_stats(w.m, &st);
		CHECK(st.assert_failures == 6);
		CHECK(pw_ptl_held_by_thread() == 0);
	}
	pw_machine_destroy(w.m);

	make(&w, false);
	TEST("assertions without a hook: stderr names the entry point")
	{
		pw_mm_set_lock_state(w.mm, PW_LOCK_NONE);
		pw_mm_set_lock_state(w.kmm, PW_LOCK_NONE);
		pw_mapping_set_i_mmap_held(w.as, false);
		ops.walk_lock = PGWALK_RDLOCK;
		capture_begin(&cap);
		walk_page_range(w.mm, ANON_START, ANON_END, &ops, &w.c);
		walk_kernel_page_table_range(w.m, KADDR, KADDR + 0x1000, &ops,
					     NULL, &w.c);
		walk_page_mapping(w.as, 0, 512, &ops, &w.c);
		pw_mm_set_lock_state(w.mm, PW_LOCK_READ);
		walk_page_range_debug(w.mm, ANON_START, ANON_END, &ops, NULL,
				      &w.c);
		pw_mm_set_lock_state(w.mm, PW_LOCK_NONE);
		pw_mmap_assert_locked(w.mm); /* a primitive: no entry point */
		out = capture_end(&cap);
		CHECK(strstr(out, "pagewalk: walk_page_range: lock assertion "
				  "failed: mmap_locked\n"));
		CHECK(strstr(out,
			     "pagewalk: walk_kernel_page_table_range: lock "
			     "assertion failed: mmap_locked\n"));
		CHECK(strstr(out, "pagewalk: walk_page_mapping: lock assertion "
				  "failed: i_mmap_held\n"));
		CHECK(strstr(out, "pagewalk: walk_page_range_debug: lock "
				  "assertion failed: mmap_write_locked\n"));
		CHECK(strstr(
			out,
			"\npagewalk: lock assertion failed: mmap_locked\n"));
		pw_machine_get_stats(w.m, &st);
		CHECK(st.assert_failures == 5);
		CHECK(w.c.events == 0);
	}
	TEST("WARN without a hook: stderr and the counter")
	{
		capture_begin(&cap);
		/* an address outside the VMA: WARN_ON_ONCE, nothing found */
		CHECK(folio_walk_start(&fw, w.anon, ANON_END, 0) == NULL);
		out = capture_end(&cap);
		CHECK(strstr(out, "pagewalk: WARN_ON_ONCE\n"));
		pw_machine_get_stats(w.m, &st);
		CHECK(st.warnings == 1);
		CHECK(pw_ptl_held_by_thread() == 0);
	}
	TEST("bad entries without a hook: counted, not printed")
	{
		pw_mm_set_lock_state(w.mm, PW_LOCK_READ);
		/* a non-present, non-migration pmd: bad, cleared */
		pw_mm_set_entry(w.mm, PW_LEVEL_PMD, 0x600000,
				pw_swp_entry(3, 7));
		capture_begin(&cap);
		CHECK(walk_page_range(w.mm, ANON_START, ANON_END, &ops, &w.c) ==
		      0);
		out = capture_end(&cap);
		CHECK(out[0] == 0);
		pw_machine_get_stats(w.m, &st);
		CHECK(st.bad_entries == 1);
	}
	pw_machine_destroy(w.m);
}

int main(void)
{
	install_elsewhere();
	bad_ranges();
	install_without_pte_entry();
	assertions();
	return cases_summary();
}
