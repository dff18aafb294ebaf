/*
 * strict_tests.c - misuse made loud (issue 12 item 8):
 *
 *   - a strict machine (pw_machine_set_strict) turns each failed lock
 *     assertion into -ENOLCK from the walk entry point that made it
 *     (folio_walk_start: NULL), before any callback about the VMA or range
 *     whose lock is missing; the event and the counter stay as before; a
 *     machine that is not strict still walks on;
 *   - an address space destroyed by pw_mm_destroy stays poisoned: walking
 *     it, mapping into it, writing or checking it and destroying it again
 *     each report PW_EVENT_MM_DESTROYED (stderr without a hook) and fail
 *     with -ESRCH, while its tables went back to the allocator;
 *   - stats.tables_in_use counts the top-level tables, init_mm's included.
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

#include "capture_stderr.h"
#include "test_cases.h"

struct seen {
	int callbacks;       /* any callback */
	int first_vma_ptes;  /* PTE callbacks below SECOND_START */
	int second_vma_ptes; /* PTE callbacks at or above SECOND_START */
	int asserts[5];      /* PW_EVENT_ASSERT_FAIL by assertion */
	int start_writes;    /* PW_EVENT_VMA_START_WRITE */
	int destroyed;       /* PW_EVENT_MM_DESTROYED */
	struct mm_struct *destroyed_mm;
	const char *where; /* the last event's entry point */
	int events;
};

#define FIRST_START 0x400000UL
#define SECOND_START 0x600000UL
#define SECOND_END 0x800000UL
#define KADDR 0xffff800000000000UL

static int on_pte(pte_t *p, unsigned long a, unsigned long n, struct mm_walk *w)
{
	struct seen *s = w->private;

	(void)p, (void)n;
	s->callbacks++;
	if (a < SECOND_START)
		s->first_vma_ptes++;
	else
		s->second_vma_ptes++;
	return 0;
}

static int on_hole(unsigned long a, unsigned long n, int d, struct mm_walk *w)
{
	(void)a, (void)n, (void)d;
	((struct seen *)w->private)->callbacks++;
	return 0;
}

static int on_pmd(pmd_t *p, unsigned long a, unsigned long n, struct mm_walk *w)
{
	(void)p, (void)a, (void)n;
	((struct seen *)w->private)->callbacks++;
	return 0;
}

static void on_event(void *ctx, const struct pw_event *ev)
{
	struct seen *s = ctx;

	s->events++;
	s->where = ev->where;
	if (ev->kind == PW_EVENT_ASSERT_FAIL)
		s->asserts[ev->assertion]++;
	else if (ev->kind == PW_EVENT_VMA_START_WRITE)
		s->start_writes++;
	else if (ev->kind == PW_EVENT_MM_DESTROYED) {
		s->destroyed++;
		s->destroyed_mm = ev->mm;
	}
}

struct world {
	struct pw_machine *m;
	struct mm_struct *mm, *kmm;
	struct vm_area_struct *first, *second, *file;
	struct address_space *as;
	struct seen s;
};

/* Two touching anonymous VMAs with one present PTE each, a file VMA, a
 * kernel PTE; every lock held as a walk needs it. */
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
		pw_machine_set_event_hook(w->m, on_event, &w->s);
	w->mm = pw_mm_create(w->m);
	w->kmm = pw_init_mm(w->m);
	w->as = pw_mapping_get(w->m, 1);
	if (!w->mm || !w->as)
		abort();
	w->first = pw_vma_add(w->mm, FIRST_START, SECOND_START,
			      VM_READ | VM_WRITE, NULL, 0, 0, &err);
	w->second = pw_vma_add(w->mm, SECOND_START, SECOND_END, VM_READ, NULL,
			       0, 0, &err);
	w->file = pw_vma_add(w->mm, 0x1000000, 0x1200000, VM_READ, w->as, 0, 0,
			     &err);
	if (!w->first || !w->second || !w->file)
		abort();
	if (pw_mm_set_entry(w->mm, PW_LEVEL_PTE, FIRST_START,
			    0x67 | (0x200ULL << 12)) ||
	    pw_mm_set_entry(w->mm, PW_LEVEL_PTE, SECOND_START,
			    0x65 | (0x201ULL << 12)) ||
	    pw_mm_set_entry(w->kmm, PW_LEVEL_PTE, KADDR,
			    0x63 | (0x202ULL << 12)))
		abort();
	pw_mm_set_lock_state(w->mm, PW_LOCK_WRITE);
	pw_mm_set_lock_state(w->kmm, PW_LOCK_WRITE);
	pw_mapping_set_i_mmap_held(w->as, true);
	pw_vma_set_lock_state(w->first, PW_LOCK_WRITE);
	pw_vma_set_lock_state(w->second, PW_LOCK_WRITE);
	pw_vma_set_lock_state(w->file, PW_LOCK_WRITE);
}

static uint64_t assert_failures(struct world *w)
{
	struct pw_machine_stats st;

	pw_machine_get_stats(w->m, &st);
	return st.assert_failures;
}

/* ---- strict mode ------------------------------------------------------------- */

static void strict_mode(void)
{
	struct mm_walk_ops ops = { .pte_entry = on_pte,
				   .pte_hole = on_hole,
				   .pmd_entry = on_pmd };
	struct folio_walk fw;
	struct world w;

	make(&w, true);
	TEST("strict: off by default; a missing mmap_lock is only reported")
	{
		CHECK(!pw_machine_strict(w.m));
		pw_mm_set_lock_state(w.mm, PW_LOCK_NONE);
		CHECK(walk_page_range(w.mm, FIRST_START, SECOND_END, &ops,
				      &w.s) == 0);
		CHECK(w.s.asserts[PW_ASSERT_MMAP_LOCKED] == 1);
		CHECK(w.s.first_vma_ptes == 512 && w.s.second_vma_ptes == 512);
	}
	memset(&w.s, 0, sizeof(w.s));
	pw_machine_set_strict(w.m, true);
	TEST("strict: walk_page_range without the mmap_lock is -ENOLCK")
	{
		CHECK(pw_machine_strict(w.m));
		CHECK(walk_page_range(w.mm, FIRST_START, SECOND_END, &ops,
				      &w.s) == -ENOLCK);
		CHECK(w.s.callbacks == 0);
		CHECK(w.s.asserts[PW_ASSERT_MMAP_LOCKED] == 1);
		CHECK(w.s.where && !strcmp(w.s.where, "walk_page_range"));
		CHECK(assert_failures(&w) == 2);
		CHECK(pw_ptl_held_by_thread() == 0);
	}
	TEST("strict: with the lock held the walk is as before")
	{
		pw_mm_set_lock_state(w.mm, PW_LOCK_READ);
		CHECK(walk_page_range(w.mm, FIRST_START, SECOND_END, &ops,
				      &w.s) == 0);
		CHECK(w.s.first_vma_ptes == 512 && w.s.second_vma_ptes == 512);
		CHECK(w.s.asserts[PW_ASSERT_MMAP_LOCKED] == 1);
	}
	memset(&w.s, 0, sizeof(w.s));
	TEST("strict: PGWALK_WRLOCK under the read lock: -ENOLCK, no VMA locked")
	{
		pw_vma_set_lock_state(w.first, PW_LOCK_NONE);
		ops.walk_lock = PGWALK_WRLOCK;
		CHECK(walk_page_range(w.mm, FIRST_START, SECOND_END, &ops,
				      &w.s) == -ENOLCK);
		CHECK(w.s.callbacks == 0);
		CHECK(w.s.start_writes == 0);
		CHECK(w.first->lock_state == PW_LOCK_NONE);
		CHECK(w.s.asserts[PW_ASSERT_MMAP_WRITE_LOCKED] == 1);
	}
	memset(&w.s, 0, sizeof(w.s));
	TEST("strict: WRLOCK_VERIFY stops at the first VMA not write-locked")
	{
		pw_mm_set_lock_state(w.mm, PW_LOCK_WRITE);
		pw_vma_set_lock_state(w.first, PW_LOCK_WRITE);
		pw_vma_set_lock_state(w.second, PW_LOCK_READ);
		ops.walk_lock = PGWALK_WRLOCK_VERIFY;
		CHECK(walk_page_range(w.mm, FIRST_START, SECOND_END, &ops,
				      &w.s) == -ENOLCK);
		CHECK(w.s.first_vma_ptes == 512);
		CHECK(w.s.second_vma_ptes == 0);
		CHECK(w.s.asserts[PW_ASSERT_VMA_WRITE_LOCKED] == 1);
	}
	memset(&w.s, 0, sizeof(w.s));
	TEST("strict: walk_page_vma and walk_page_range_vma: -ENOLCK")
	{
		pw_vma_set_lock_state(w.second, PW_LOCK_NONE);
		ops.walk_lock = PGWALK_VMA_RDLOCK_VERIFY;
		CHECK(walk_page_vma(w.second, &ops, &w.s) == -ENOLCK);
		CHECK(walk_page_range_vma(w.second, SECOND_START, SECOND_END,
					  &ops, &w.s) == -ENOLCK);
		CHECK(w.s.callbacks == 0);
		CHECK(w.s.asserts[PW_ASSERT_VMA_LOCKED] == 2);
		pw_vma_set_lock_state(w.second, PW_LOCK_READ);
		CHECK(walk_page_vma(w.second, &ops, &w.s) == 0);
		CHECK(w.s.second_vma_ptes == 512);
	}
	memset(&w.s, 0, sizeof(w.s));
	ops.walk_lock = PGWALK_RDLOCK;
	TEST("strict: walk_page_mapping without i_mmap_rwsem: -ENOLCK")
	{
		pw_mapping_set_i_mmap_held(w.as, false);
		CHECK(walk_page_mapping(w.as, 0, 512, &ops, &w.s) == -ENOLCK);
		CHECK(w.s.callbacks == 0);
		CHECK(w.s.asserts[PW_ASSERT_I_MMAP_HELD] == 1);
		pw_mapping_set_i_mmap_held(w.as, true);
		CHECK(walk_page_mapping(w.as, 0, 512, &ops, &w.s) == 0);
		CHECK(w.s.callbacks > 0);
	}
	memset(&w.s, 0, sizeof(w.s));
	TEST("strict: kernel walks and walk_page_range_debug: -ENOLCK")
	{
		pw_mm_set_lock_state(w.kmm, PW_LOCK_NONE);
		CHECK(walk_kernel_page_table_range(w.m, KADDR, KADDR + 0x1000,
						   &ops, NULL,
						   &w.s) == -ENOLCK);
		CHECK(walk_page_range_debug(w.kmm, KADDR, KADDR + 0x1000, &ops,
					    NULL, &w.s) == -ENOLCK);
		/* the lockless one asserts nothing */
		CHECK(walk_kernel_page_table_range_lockless(
			      w.m, KADDR, KADDR + 0x1000, &ops, NULL, &w.s) ==
		      0);
		CHECK(w.s.callbacks > 0);
		w.s.callbacks = 0;
		pw_mm_set_lock_state(w.mm, PW_LOCK_READ);
		CHECK(walk_page_range_debug(w.mm, FIRST_START, SECOND_END, &ops,
					    NULL, &w.s) == -ENOLCK);
		CHECK(w.s.callbacks == 0);
		CHECK(w.s.asserts[PW_ASSERT_MMAP_LOCKED] == 2);
		CHECK(w.s.asserts[PW_ASSERT_MMAP_WRITE_LOCKED] == 1);
	}
	memset(&w.s, 0, sizeof(w.s));
	TEST("strict: folio_walk_start without the mmap_lock: NULL, no lock")
	{
		pw_mm_set_lock_state(w.mm, PW_LOCK_NONE);
		CHECK(folio_walk_start(&fw, w.first, FIRST_START, 0) == NULL);
		CHECK(pw_ptl_held_by_thread() == 0);
		CHECK(w.s.asserts[PW_ASSERT_MMAP_LOCKED] == 1);
		pw_mm_set_lock_state(w.mm, PW_LOCK_READ);
		CHECK(folio_walk_start(&fw, w.first, FIRST_START, 0) != NULL);
		folio_walk_end(&fw, w.first);
		CHECK(pw_ptl_held_by_thread() == 0);
	}
	TEST("strict: the assertion primitives return -ENOLCK, 0 when held")
	{
		pw_mm_set_lock_state(w.mm, PW_LOCK_NONE);
		CHECK(pw_mmap_assert_locked(w.mm) == -ENOLCK);
		CHECK(pw_mmap_assert_write_locked(w.mm) == -ENOLCK);
		CHECK(pw_vma_start_write(w.first) == -ENOLCK);
		pw_mm_set_lock_state(w.mm, PW_LOCK_WRITE);
		CHECK(pw_mmap_assert_locked(w.mm) == 0);
		CHECK(pw_vma_start_write(w.first) == 0);
		CHECK(pw_vma_assert_write_locked(w.first) == 0);
	}
	TEST("strict off again: the same misuse walks on")
	{
		pw_machine_set_strict(w.m, false);
		CHECK(!pw_machine_strict(w.m));
		pw_mm_set_lock_state(w.mm, PW_LOCK_NONE);
		CHECK(pw_mmap_assert_locked(w.mm) == 0);
		CHECK(walk_page_range(w.mm, FIRST_START, SECOND_END, &ops,
				      &w.s) == 0);
	}
	pw_machine_destroy(w.m);
}

/* ---- a destroyed address space ------------------------------------------------- */

static void count_entry(void *ctx, enum pw_level level, unsigned long addr,
			uint64_t value, bool is_table)
{
	(void)level, (void)addr, (void)value, (void)is_table;
	++*(int *)ctx;
}

static void destroyed_mm(void)
{
	struct mm_walk_ops ops = { .pte_entry = on_pte, .pte_hole = on_hole };
	struct pw_machine_stats st;
	struct vm_area_struct *vma;
	struct mm_struct *other;
	struct captured cap;
	struct world w;
	char err[128];
	uint64_t value;
	int e, dumped = 0;

	make(&w, true);
	TEST("tables_in_use counts the top-level tables, init_mm's too")
	{
		struct pw_machine_config cfg = { .levels = 4,
						 .frames = 4096,
						 .table_base = 1024 };
		struct pw_machine *m;
		struct mm_struct *mm;

		CHECK(pw_machine_create(&cfg, &m) == 0);
		pw_machine_get_stats(m, &st);
		CHECK(st.tables_in_use == 1); /* init_mm's top level */
		mm = pw_mm_create(m);
		pw_machine_get_stats(m, &st);
		CHECK(st.tables_in_use == 2);
		pw_mm_destroy(mm);
		pw_machine_get_stats(m, &st);
		CHECK(st.tables_in_use == 1);
		pw_machine_destroy(m);
	}
	other = pw_mm_create(w.m);
	if (!other)
		abort();
	pw_mm_set_lock_state(other, PW_LOCK_WRITE);
	pw_machine_get_stats(w.m, &st);
	TEST("destroy: the tables go back, the struct stays, poisoned")
	{
		/* w.mm: its top level, a PUD and a PMD table, and a PTE
		 * table for each of its two PTEs */
		uint64_t before = st.tables_in_use;

		pw_mm_destroy(w.mm);
		pw_machine_get_stats(w.m, &st);
		CHECK(st.tables_in_use == before - 5);
		CHECK(pw_mm_pgd(w.mm) == NULL);
		CHECK(pw_mm_vma_count(w.mm) == 0);
		CHECK(find_vma(w.mm, 0) == NULL);
		CHECK(pw_mapping_vma_count(w.as) == 0);
		CHECK(w.s.destroyed == 0);
		CHECK(pw_mm_check(other, err, sizeof(err)) == 0);
	}
	TEST("destroyed: walk_page_range, _mm, _debug: event and -ESRCH")
	{
		CHECK(walk_page_range(w.mm, FIRST_START, SECOND_END, &ops,
				      &w.s) == -ESRCH);
		CHECK(walk_page_range_mm(w.mm, FIRST_START, SECOND_END, &ops,
					 &w.s) == -ESRCH);
		CHECK(walk_page_range_debug(w.mm, FIRST_START, SECOND_END, &ops,
					    NULL, &w.s) == -ESRCH);
		CHECK(w.s.callbacks == 0);
		CHECK(w.s.destroyed == 3);
		CHECK(w.s.destroyed_mm == w.mm);
		CHECK(w.s.where && !strcmp(w.s.where, "walk_page_range_debug"));
		CHECK(w.s.asserts[PW_ASSERT_MMAP_LOCKED] == 0);
	}
	w.s.destroyed = 0;
	TEST("destroyed: set-up calls report it and fail with -ESRCH")
	{
		CHECK(pw_mmap(w.mm, FIRST_START, 0x1000, VM_READ, NULL, 0, 0,
			      &vma) == -ESRCH);
		CHECK(vma == NULL);
		CHECK(pw_munmap(w.mm, FIRST_START, 0x1000) == -ESRCH);
		CHECK(pw_mprotect(w.mm, FIRST_START, 0x1000, VM_READ) ==
		      -ESRCH);
		CHECK(pw_vma_add(w.mm, FIRST_START, SECOND_START, VM_READ, NULL,
				 0, 0, &e) == NULL);
		CHECK(e == -ESRCH);
		CHECK(pw_mm_set_entry(w.mm, PW_LEVEL_PTE, FIRST_START, 0x67) ==
		      -ESRCH);
		value = 1;
		CHECK(pw_mm_get_entry(w.mm, PW_LEVEL_PTE, FIRST_START,
				      &value) == -ESRCH);
		CHECK(value == 0);
		CHECK(pw_mm_check(w.mm, err, sizeof(err)) == -ESRCH);
		CHECK(strstr(err, "destroyed") != NULL);
		CHECK(pw_mm_check_merged(w.mm, NULL, 0) == -ESRCH);
		pw_mm_dump(w.mm, count_entry, &dumped);
		CHECK(dumped == 0);
		pw_mm_destroy(w.mm); /* again */
		CHECK(w.s.where && !strcmp(w.s.where, "pw_mm_destroy"));
		CHECK(w.s.destroyed == 10);
		pw_machine_get_stats(w.m, &st);
		CHECK(st.warnings == 13);
		CHECK(pw_mm_check(other, err, sizeof(err)) == 0);
	}
	TEST("destroyed: other address spaces walk as before")
	{
		CHECK(pw_mm_set_entry(other, PW_LEVEL_PTE, FIRST_START,
				      0x67 | (0x300ULL << 12)) == 0);
		CHECK(pw_vma_add(other, FIRST_START, SECOND_START, VM_READ,
				 NULL, 0, 0, &e) != NULL);
		w.s.callbacks = w.s.first_vma_ptes = 0;
		CHECK(walk_page_range(other, FIRST_START, SECOND_START, &ops,
				      &w.s) == 0);
		CHECK(w.s.first_vma_ptes == 512);
	}
	pw_machine_destroy(w.m); /* frees the poisoned mm: no leak */

	make(&w, false);
	TEST("destroyed, no hook: one line on stderr per use")
	{
		char *out;

		pw_mm_destroy(w.mm);
		capture_begin(&cap);
		e = walk_page_range(w.mm, FIRST_START, SECOND_END, &ops, &w.s);
		out = capture_end(&cap);
		CHECK(e == -ESRCH);
		CHECK(!strncmp(out, "pagewalk: walk_page_range: address space ",
			       41));
		CHECK(strstr(out, " used after pw_mm_destroy()\n") != NULL);
		CHECK(strchr(out, '\n') == out + strlen(out) - 1);
	}
	pw_machine_destroy(w.m);
}

int main(void)
{
	strict_mode();
	destroyed_mm();
	return cases_summary();
}
