/*
 * cbench.h - the C side of pagewalk-bench: C visitors driving the C core
 * as a C embedder would (path a), the batched pte_range visitors (path e),
 * and bare nested loops over the same tables with no callbacks (path d,
 * the floor).  Every function returns the counts it saw so the benchmark
 * can check that all paths agree.
 */
#ifndef CBENCH_H
#define CBENCH_H

#include "pagewalk.h"
#include "pagewalk_machine.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What a counting walk saw. */
struct cb_counts {
	uint64_t ptes;       /**< PTEs visited */
	uint64_t present;    /**< present PTEs among them */
	uint64_t holes;      /**< holes reported (pte_hole calls) */
	uint64_t hole_bytes; /**< bytes the holes cover */
	uint64_t leaves;     /**< PMD leaves handled (THP) */
	uint64_t vmas;       /**< VMAs tested (test_walk calls) */
	uint64_t skipped;    /**< VMAs test_walk skipped */
};

/** What an smaps-like walk accounts, in bytes (as /proc/PID/smaps). */
struct cb_smaps {
	uint64_t rss;
	uint64_t dirty;
	uint64_t referenced;
	uint64_t swap;
	uint64_t anon_thp;
	uint64_t ptes; /**< PTEs looked at */
	uint64_t pmds; /**< PMD entries handed to pmd_entry */
};

/** Which callbacks cb_walk_count() sets. */
enum cb_mode {
	CB_PTE_ENTRY = 1, /**< pte_entry counting PTEs and present ones */
	CB_PTE_RANGE = 2, /**< pte_range doing the same a table run at a time */
	CB_PTE_HOLE = 4,  /**< pte_hole counting holes */
	CB_PMD_THP =
		8, /**< pmd_entry: a PMD leaf is counted, ACTION_CONTINUE */
	CB_TEST_WALK = 16, /**< test_walk: skips VM_EXEC VMAs */
};

/** True when this file was compiled with optimization (__OPTIMIZE__). */
bool cb_optimized(void);

/**
 * walk_page_range(@mm, @start, @end) under the mmap read lock with the C
 * callbacks @mode names; adds what they saw to *@c.  Returns the walk's
 * result.
 */
int cb_walk_count(struct mm_struct *mm, unsigned long start, unsigned long end,
		  unsigned mode, struct cb_counts *c);

/**
 * The floor: bare nested loops over the tables of @mm for [@start, @end),
 * no callbacks, no locks: counts PTEs and present ones, none entries above
 * the PTE level as holes (with the bytes they cover) and PMD leaves (not
 * descended).  @per_vma: for each VMA of @mm in the range, skip VM_EXEC
 * ones (counting them as test_walk would) and read the others' PTEs.
 */
void cb_floor_count(struct mm_struct *mm, unsigned long start,
		    unsigned long end, bool per_vma, struct cb_counts *c);

/**
 * folio_walk_start/folio_walk_end at each of @n addresses in @vma; returns
 * the sum of the exact PFNs found and sets *@found.
 */
uint64_t cb_folio_walk(struct mm_struct *mm, struct vm_area_struct *vma,
		       const uint64_t *addrs, size_t n, uint64_t *found);

/** The floor of folio lookups: a bare radix descent per address, no
 *  locks, no checks beyond "is there a table"; the same sum. */
uint64_t cb_floor_lookup(struct mm_struct *mm, const uint64_t *addrs, size_t n,
			 uint64_t *found);

/**
 * walk_page_range_mm with an install_pte that maps PFN @pfn_base + page
 * index over every empty PTE of [@start, @end).  Returns the walk's result
 * and sets *@installed.
 */
int cb_install(struct mm_struct *mm, unsigned long start, unsigned long end,
	       uint64_t pfn_base, uint64_t *installed);

/** The install floor: allocates the missing tables with
 *  pw_table_alloc_into and writes the same PTEs with bare loops. */
int cb_floor_install(struct mm_struct *mm, unsigned long start,
		     unsigned long end, uint64_t pfn_base, uint64_t *installed);

/** Sum of every PTE value under [@start, @end) of @mm (for checking). */
uint64_t cb_pte_checksum(struct mm_struct *mm, unsigned long start,
			 unsigned long end);

/** smaps-like accounting with a C pmd_entry that handles PMD leaves and
 *  loops over the PTEs itself under pte_offset_map_lock. */
int cb_smaps(struct mm_struct *mm, unsigned long start, unsigned long end,
	     struct cb_smaps *s);

/** The same accounting with bare nested loops (no callbacks, no locks). */
void cb_floor_smaps(struct mm_struct *mm, unsigned long start,
		    unsigned long end, struct cb_smaps *s);

/** Accounting of one PTE, shared by every smaps path. */
static inline void cb_smaps_pte(struct cb_smaps *s, uint64_t pte)
{
	if (pte & PW_PAGE_PRESENT) {
		s->rss += PW_PAGE_SIZE;
		if (pte & PW_PAGE_DIRTY)
			s->dirty += PW_PAGE_SIZE;
		if (pte & PW_PAGE_ACCESSED)
			s->referenced += PW_PAGE_SIZE;
	} else if (pte != 0) {
		s->swap += PW_PAGE_SIZE;
	}
}

/** Accounting of one PMD leaf (2 MiB). */
static inline void cb_smaps_pmd_leaf(struct cb_smaps *s, uint64_t pmd,
				     uint64_t size)
{
	s->rss += size;
	s->anon_thp += size;
	if (pmd & PW_PAGE_DIRTY)
		s->dirty += size;
	if (pmd & PW_PAGE_ACCESSED)
		s->referenced += size;
}

#ifdef __cplusplus
}
#endif

#endif /* CBENCH_H */
