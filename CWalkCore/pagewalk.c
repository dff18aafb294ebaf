/*
 * pagewalk.c - the page-table walker: walk_page_range() and friends, and
 * folio_walk_start() / folio_walk_end(), with the semantics of the
 * kernel's mm/pagewalk.c (see MODEL.md for the machine underneath).
 *
 * One function per level, top to bottom: each visits the entries of its
 * level in [addr, end), reports holes, calls the level's callback, honours
 * walk->action, and descends when a handler below needs it.
 */
#include "internal.h"

#define PAGE_SIZE PW_PAGE_SIZE

/* The depth a hole is reported at, skipping folded levels. */
static int real_depth(const struct pw_machine *m, int depth)
{
	if (depth == 3 && m->layout.geo.folded[PW_LEVEL_PMD])
		depth = 2;
	if (depth == 2 && m->layout.geo.folded[PW_LEVEL_PUD])
		depth = 1;
	if (depth == 1 && m->layout.geo.folded[PW_LEVEL_P4D])
		depth = 0;
	return depth;
}

/*
 * pXd_addr_end with the level's entry size in a local: the level loops
 * keep the geometry (fixed for a machine's life) and the callbacks (ops
 * is const) in registers across callbacks instead of re-reading them.
 */
static inline unsigned long size_addr_end(unsigned long size,
					  unsigned long addr, unsigned long end)
{
	unsigned long boundary = (addr + size) & ~(size - 1);

	return (boundary - 1 < end - 1) ? boundary : end;
}

static bool has_pte_handler(const struct mm_walk_ops *ops)
{
	return ops->pte_entry || ops->pte_range;
}

/*
 * Where the code of the hot loops goes, GCC and Clang: out of line, 64-byte
 * aligned, with the loop itself starting on a line of its own
 * (PW_ALIGN_LOOP pads the prologue), wherever the linker puts the core.
 * Each is its own function so that the compilers keep its values in
 * callee-saved registers.  Without this the walk's speed depended on the
 * embedder's link order by up to 10% (a loop straddling two lines;
 * docs/BENCHMARKS.md, "Code placement").
 */
#if defined(__GNUC__)
#define PW_HOT_LOOP __attribute__((noinline, aligned(64)))
#define PW_ALIGN_LOOP() __asm__ volatile(".p2align 6")
#define PW_NOINLINE __attribute__((noinline))
#else
#define PW_HOT_LOOP
#define PW_ALIGN_LOOP() ((void)0)
#define PW_NOINLINE
#endif

typedef int (*pw_hole_fn)(unsigned long, unsigned long, int, struct mm_walk *);

/*
 * A run of none entries from r->entry on, each reported to pte_hole as the
 * level loops would: stops at the first entry that is not none (read
 * again after every callback) or at r->end, and says where in *r.
 */
static PW_HOT_LOOP int hole_run(pw_hole_fn pte_hole, struct mm_walk_run *r,
				struct mm_walk *walk)
{
	uint64_t *e = r->entry;
	unsigned long addr = r->addr, end = r->end, next;
	const unsigned long size = 1UL << r->shift;
	const int depth = r->depth;
	int err;

	PW_ALIGN_LOOP();
	do {
		next = size_addr_end(size, addr, end);
		err = pte_hole(addr, next, depth, walk);
		if (err)
			return err;
		e++;
		addr = next;
	} while (addr != end && pw_load(e) == 0);
	r->entry = e;
	r->addr = addr;
	r->entry_called = false;
	return 0;
}

/*
 * Hands the run of entries from *entry to ops->entry_run (a binding) or to
 * hole_run, and moves the level loop's entry and address to where it
 * stopped.  Returns a callback's non-zero result.
 */
static PW_NOINLINE int
level_run(int (*entry_run)(struct mm_walk_run *, struct mm_walk *),
	  pw_hole_fn pte_hole, struct mm_walk_run *r, uint64_t **entry,
	  unsigned long *addr, struct mm_walk *walk)
{
	int err = entry_run ? entry_run(r, walk) : hole_run(pte_hole, r, walk);

	*entry = r->entry;
	*addr = r->addr;
	return err;
}

/* ---- PTE level ------------------------------------------------------------ */

/* Installs one PTE over an empty slot. */
static int install_one(pte_t *pte, unsigned long addr, struct mm_walk *walk)
{
	pte_t new_pte = 0;
	int err =
		walk->ops->install_pte(addr, addr + PAGE_SIZE, &new_pte, walk);

	if (err)
		return err;
	*pte = new_pte;
	if (walk->no_vma)
		pw_warn(walk->mm->m); /* update_mmu_cache needs a VMA */
	return 0;
}

/* With install_pte and pte_range: runs of populated PTEs go to pte_range. */
static int walk_pte_runs_installing(pte_t *pte, unsigned long addr,
				    unsigned long end, struct mm_walk *walk)
{
	pte_t *run = NULL;
	unsigned long run_addr = 0;
	int err = 0;

	for (; addr < end; addr += PAGE_SIZE, pte++) {
		if (*pte != 0) {
			if (!run) {
				run = pte;
				run_addr = addr;
			}
			continue;
		}
		if (run) {
			err = walk->ops->pte_range(run, run_addr, addr, walk);
			run = NULL;
			if (err)
				return err;
		}
		err = install_one(pte, addr, walk);
		if (err)
			return err;
	}
	return run ? walk->ops->pte_range(run, run_addr, end, walk) : 0;
}

/*
 * The hot loop: every PTE from @pte to @last to pte_entry, the callback in a
 * local (ops is const); see PW_HOT_LOOP.
 */
static PW_HOT_LOOP int pte_entry_loop(int (*pte_entry)(pte_t *, unsigned long,
						       unsigned long,
						       struct mm_walk *),
				      pte_t *pte, unsigned long addr,
				      pte_t *last, struct mm_walk *walk)
{
	PW_ALIGN_LOOP();
	for (;;) {
		int err = pte_entry(pte, addr, addr + PAGE_SIZE, walk);

		if (err || pte == last)
			return err;
		addr += PAGE_SIZE;
		pte++;
	}
}

static int walk_pte_range_inner(pte_t *pte, unsigned long addr,
				unsigned long end, struct mm_walk *walk)
{
	const struct mm_walk_ops *ops = walk->ops;
	unsigned long last;
	int err = 0;

	if (ops->install_pte && ops->entry_run && !walk->no_vma) {
		struct mm_walk_run r = { .entry = pte,
					 .addr = addr,
					 .end = end,
					 .level = PW_LEVEL_PTE,
					 .depth = 4,
					 .shift = PW_PAGE_SHIFT };

		return ops->entry_run(&r, walk);
	}
	if (ops->pte_range)
		return ops->install_pte ?
			       walk_pte_runs_installing(pte, addr, end, walk) :
			       ops->pte_range(pte, addr, end, walk);

	/*
	 * The kernel stops after the PTE at or past end - PAGE_SIZE.  With an
	 * unaligned end below PAGE_SIZE that subtraction wraps and the loop
	 * would run off the table: @last is the PTE of the page holding
	 * end - 1 instead, which is the same everywhere else.
	 */
	last = end > PAGE_SIZE ? end - PAGE_SIZE : 0;

	if (!ops->install_pte) {
		/* Past @pte, the PTE of the first address at or past @last
		 * (addr may be unaligned): where the kernel's loop stops. */
		unsigned long n = last > addr ? (last - addr + PAGE_SIZE - 1) >>
							PW_PAGE_SHIFT :
						0;

		return pte_entry_loop(ops->pte_entry, pte, addr, pte + n, walk);
	}

	for (;;) {
		if (*pte == 0)
			err = install_one(pte, addr, walk);
		/* MODEL.md: without pte_entry, populated PTEs are skipped */
		else if (ops->pte_entry)
			err = ops->pte_entry(pte, addr, addr + PAGE_SIZE, walk);
		if (err || addr >= last)
			return err;
		addr += PAGE_SIZE;
		pte++;
	}
}

static int walk_pte_range(pmd_t *pmd, unsigned long addr, unsigned long end,
			  struct mm_walk *walk)
{
	struct mm_struct *mm = walk->mm;
	struct pw_machine *m = mm->m;
	pte_t *pte;
	int err = 0;

	if (walk->no_vma) {
		if (mm->kernel || addr >= m->layout.geo.task_size) {
			/* pte_offset_kernel checks nothing; a table beyond
			 * memory is garbage, skipped rather than read. */
			pte_t *table = pw_table_of(m, pw_load(pmd));

			if (!table)
				return 0;
			pte = table + pw_index(m, PW_LEVEL_PTE, addr);
		} else {
			pte = pw_pte_offset_map_inline(m, pmd, addr);
		}
		if (pte)
			err = walk_pte_range_inner(pte, addr, end, walk);
	} else {
		pte = pw_pte_offset_map_inline(m, pmd, addr);
		if (pte) {
			spinlock_t *ptl = pw_table_lock_inline(m, pte);

			pw_spin_lock_inline(ptl);
			err = walk_pte_range_inner(pte, addr, end, walk);
			pw_spin_unlock_inline(ptl);
		}
	}
	if (!pte)
		walk->action = ACTION_AGAIN;
	return err;
}

/* ---- PMD level --------------------------------------------------------------- */

static int walk_pmd_range(pud_t *pud, unsigned long addr, unsigned long end,
			  struct mm_walk *walk)
{
	struct pw_machine *m = walk->mm->m;
	const struct mm_walk_ops *ops = walk->ops;
	bool has_handler = has_pte_handler(ops);
	bool has_install = ops->install_pte;
	int depth = real_depth(m, 3);
	const unsigned long size = 1UL << m->layout.geo.shift[PW_LEVEL_PMD];
	const bool trivial = m->layout.trivial[PW_LEVEL_PMD];
	const pw_hole_fn pte_hole = ops->pte_hole;
	unsigned long next;
	pmd_t *pmd;
	int err = 0;

	pmd = pw_offset(m, PW_LEVEL_PMD, pud, addr);
	if (!pmd)
		return 0;
	do {
again:
		next = size_addr_end(size, addr, end);
		if (!trivial && pw_load(pmd) == 0) {
			if (!has_install) {
				if (pte_hole)
					goto run;
				continue;
			}
			err = pw_table_alloc_into(walk->mm, pmd);
			if (err)
				break;
		} else if (ops->entry_run && ops->pmd_entry && !has_install &&
			   !trivial) {
			goto run;
		}
resume:
		walk->action = ACTION_SUBTREE;
		if (ops->pmd_entry)
			err = ops->pmd_entry(pmd, addr, next, walk);
		if (err)
			break;
		if (walk->action == ACTION_AGAIN)
			goto again;
		if (walk->action == ACTION_CONTINUE)
			continue;

descend:
		if (!has_handler) {
			if (!has_install)
				continue;
			/* Only installing: leave present huge pages alone. */
			if (lvl_leaf(m, PW_LEVEL_PMD, pw_load(pmd)))
				continue;
		}

		if (walk->vma) {
			/* split_huge_pmd(): only a leaf or a migration entry
			 * has anything to split (checked again under the lock). */
			uint64_t v = pw_load(pmd);

			if (lvl_leaf(m, PW_LEVEL_PMD, v) ||
			    pw_mem_is_migration(m, v))
				pw_split_huge_pmd(walk->vma, pmd, addr);
		} else if (lvl_leaf(m, PW_LEVEL_PMD, pw_load(pmd)) ||
			   !lvl_present(m, PW_LEVEL_PMD, pw_load(pmd)))
			continue;

		err = walk_pte_range(pmd, addr, next, walk);
		if (err)
			break;
		if (walk->action == ACTION_AGAIN)
			goto again;
		continue;
run:
		/* A run of holes (and, for a binding, of pmd_entry calls) in one
		 * call; then the entry it stopped at, or the descent below the
		 * entry whose pmd_entry it called. */
		{
			struct mm_walk_run r = {
				.entry = pmd,
				.addr = addr,
				.end = end,
				.level = PW_LEVEL_PMD,
				.depth = depth,
				.shift = m->layout.geo.shift[PW_LEVEL_PMD]
			};

			err = level_run(ops->entry_run, pte_hole, &r, &pmd,
					&addr, walk);
			if (err || addr == end)
				break;
			next = size_addr_end(size, addr, end);
			if (r.entry_called)
				goto descend;
			goto resume;
		}
	} while (pmd++, addr = next, addr != end);

	return err;
}

/* ---- PUD level --------------------------------------------------------------- */

static int walk_pud_range(p4d_t *p4d, unsigned long addr, unsigned long end,
			  struct mm_walk *walk)
{
	struct pw_machine *m = walk->mm->m;
	const struct mm_walk_ops *ops = walk->ops;
	bool has_handler = ops->pmd_entry || has_pte_handler(ops);
	bool has_install = ops->install_pte;
	int depth = real_depth(m, 2);
	const unsigned long size = 1UL << m->layout.geo.shift[PW_LEVEL_PUD];
	const bool trivial = m->layout.trivial[PW_LEVEL_PUD];
	const pw_hole_fn pte_hole = ops->pte_hole;
	unsigned long next;
	pud_t *pud;
	int err = 0;

	pud = pw_offset(m, PW_LEVEL_PUD, p4d, addr);
	if (!pud)
		return 0;
	do {
again:
		next = size_addr_end(size, addr, end);
		if (!trivial && pw_load(pud) == 0) {
			if (!has_install) {
				if (pte_hole)
					goto run;
				continue;
			}
			err = pw_table_alloc_into(walk->mm, pud);
			if (err)
				break;
		} else if (ops->entry_run && ops->pud_entry && !has_install &&
			   !trivial) {
			goto run;
		}
resume:
		walk->action = ACTION_SUBTREE;
		if (ops->pud_entry)
			err = ops->pud_entry(pud, addr, next, walk);
		if (err)
			break;
		if (walk->action == ACTION_AGAIN)
			goto again;
		if (walk->action == ACTION_CONTINUE)
			continue;

descend:
		if (!has_handler) {
			if (!has_install)
				continue;
			if (lvl_leaf(m, PW_LEVEL_PUD, pw_load(pud)))
				continue;
		}

		if (walk->vma) {
			if (lvl_leaf(m, PW_LEVEL_PUD, pw_load(pud)))
				pw_split_huge_pud(walk->vma, pud, addr);
		} else if (lvl_leaf(m, PW_LEVEL_PUD, pw_load(pud)) ||
			   !lvl_present(m, PW_LEVEL_PUD, pw_load(pud)))
			continue;

		if (lvl_none(m, PW_LEVEL_PUD, pw_load(pud)))
			goto again;

		err = walk_pmd_range(pud, addr, next, walk);
		if (err)
			break;
		continue;
run:
		/* A run of holes (and, for a binding, of pud_entry calls) in one
		 * call; then the entry it stopped at, or the descent below the
		 * entry whose pud_entry it called. */
		{
			struct mm_walk_run r = {
				.entry = pud,
				.addr = addr,
				.end = end,
				.level = PW_LEVEL_PUD,
				.depth = depth,
				.shift = m->layout.geo.shift[PW_LEVEL_PUD]
			};

			err = level_run(ops->entry_run, pte_hole, &r, &pud,
					&addr, walk);
			if (err || addr == end)
				break;
			next = size_addr_end(size, addr, end);
			if (r.entry_called)
				goto descend;
			goto resume;
		}
	} while (pud++, addr = next, addr != end);

	return err;
}

/* ---- P4D and PGD levels ------------------------------------------------------ */

static int walk_p4d_range(pgd_t *pgd, unsigned long addr, unsigned long end,
			  struct mm_walk *walk)
{
	struct pw_machine *m = walk->mm->m;
	const struct mm_walk_ops *ops = walk->ops;
	bool has_handler =
		ops->pud_entry || ops->pmd_entry || has_pte_handler(ops);
	bool has_install = ops->install_pte;
	int depth = real_depth(m, 1);
	unsigned long next;
	p4d_t *p4d;
	int err = 0;

	p4d = pw_offset(m, PW_LEVEL_P4D, pgd, addr);
	if (!p4d)
		return 0;
	do {
again:
		next = pw_addr_end(m, PW_LEVEL_P4D, addr, end);
		if (pw_none_or_clear_bad_inline(m, PW_LEVEL_P4D, p4d)) {
			if (has_install)
				err = pw_table_alloc_into(walk->mm, p4d);
			else if (ops->pte_hole) {
				/* This hole (a bad entry is now cleared) and
				 * the none entries after it, in one call. */
				struct mm_walk_run r = {
					.entry = p4d,
					.addr = addr,
					.end = end,
					.level = PW_LEVEL_P4D,
					.depth = depth,
					.shift = m->layout.geo
							 .shift[PW_LEVEL_P4D]
				};

				err = level_run(ops->entry_run, ops->pte_hole,
						&r, &p4d, &addr, walk);
				if (err || addr == end)
					break;
				goto again;
			}
			if (err)
				break;
			if (!has_install)
				continue;
		}
		if (ops->p4d_entry) {
			err = ops->p4d_entry(p4d, addr, next, walk);
			if (err)
				break;
		}
		if (has_handler || has_install)
			err = walk_pud_range(p4d, addr, next, walk);
		if (err)
			break;
	} while (p4d++, addr = next, addr != end);

	return err;
}

static int walk_pgd_range(unsigned long addr, unsigned long end,
			  struct mm_walk *walk)
{
	struct pw_machine *m = walk->mm->m;
	const struct mm_walk_ops *ops = walk->ops;
	bool has_handler = ops->p4d_entry || ops->pud_entry || ops->pmd_entry ||
			   has_pte_handler(ops);
	bool has_install = ops->install_pte;
	pgd_t *base = walk->pgd ? walk->pgd : walk->mm->pgd;
	unsigned long next;
	pgd_t *pgd;
	int err = 0;

	do {
		/*
		 * The non-canonical hole [TASK_SIZE, -TASK_SIZE) is translated
		 * by no table: it is one hole (depth -1), not 2^(64 - VA bits)
		 * passes over the top table's wrapped indices, which with 2
		 * or 3 levels would take years.  No conformance case reaches
		 * it; see docs/RELIABILITY.md.
		 */
		if (addr >= m->layout.geo.task_size &&
		    addr < 0UL - m->layout.geo.task_size) {
			unsigned long canon = 0UL - m->layout.geo.task_size;

			next = end - 1 < canon - 1 ? end : canon;
			if (ops->pte_hole)
				err = ops->pte_hole(addr, next, -1, walk);
			if (err)
				break;
			continue;
		}
		/* Index bits above the VA bits are ignored: the top table
		 * wraps instead of running off its frame. */
		pgd = pw_pgd_offset(m, base, addr);
		next = pw_addr_end(m, PW_LEVEL_PGD, addr, end);
		if (pw_none_or_clear_bad_inline(m, PW_LEVEL_PGD, pgd)) {
			if (has_install)
				err = pw_table_alloc_into(walk->mm, pgd);
			else if (ops->pte_hole)
				err = ops->pte_hole(addr, next, 0, walk);
			if (err)
				break;
			if (!has_install)
				continue;
		}
		if (ops->pgd_entry) {
			err = ops->pgd_entry(pgd, addr, next, walk);
			if (err)
				break;
		}
		if (has_handler || has_install)
			err = walk_p4d_range(pgd, addr, next, walk);
		if (err)
			break;
	} while (addr = next, addr != end);

	return err;
}

/* ---- hugetlb ------------------------------------------------------------------- */

/*
 * Where the region around @addr that hugetlb_walk() found no table for
 * ends: the end of the pgd, p4d or pud entry that is absent (or points
 * beyond memory), clipped to @end.
 */
static unsigned long hugetlb_absent_end(struct vm_area_struct *vma,
					unsigned long addr, unsigned long end)
{
	struct pw_machine *m = vma->vm_mm->m;
	uint64_t *pgd = pw_pgd_offset(m, vma->vm_mm->pgd, addr), *p4d;

	if (!lvl_present(m, PW_LEVEL_PGD, pw_load(pgd)))
		return pw_addr_end(m, PW_LEVEL_PGD, addr, end);
	p4d = pw_offset(m, PW_LEVEL_P4D, pgd, addr);
	if (!p4d || !lvl_present(m, PW_LEVEL_P4D, pw_load(p4d)))
		return pw_addr_end(m, PW_LEVEL_P4D, addr, end);
	return pw_addr_end(m, PW_LEVEL_PUD, addr, end);
}

static int walk_hugetlb_range(unsigned long addr, unsigned long end,
			      struct mm_walk *walk)
{
	struct vm_area_struct *vma = walk->vma;
	const struct mm_walk_ops *ops = walk->ops;
	unsigned long sz = 1UL << vma->hugetlb_shift;
	unsigned long hmask = ~(sz - 1);
	unsigned long next, boundary;
	pte_t *pte;
	int err = 0;

	do {
		boundary = (addr & hmask) + sz;
		next = boundary < end ? boundary : end;
		pte = pw_hugetlb_walk(vma, addr & hmask, sz);
		if (pte)
			err = ops->hugetlb_entry(pte, hmask, addr, next, walk);
		else if (ops->pte_hole)
			err = ops->pte_hole(addr, next, -1, walk);
		else
			/* Nothing to call for the huge pages of a missing
			 * table: skip them at once rather than one by one
			 * (2^35 of them in a 5-level VMA).  Same callbacks. */
			next = hugetlb_absent_end(vma, addr, end);
		if (err)
			break;
	} while (addr = next, addr != end);

	return err;
}

/* ---- one VMA ------------------------------------------------------------------- */

/*
 * 0: walk the VMA; 1: skip it; negative: abort.  Without test_walk a
 * PFNMAP VMA is skipped, reported as a hole when pte_hole is set.
 */
static int walk_page_test(unsigned long start, unsigned long end,
			  struct mm_walk *walk)
{
	const struct mm_walk_ops *ops = walk->ops;

	if (ops->test_walk)
		return ops->test_walk(start, end, walk);
	if (walk->vma->vm_flags & VM_PFNMAP) {
		int err = 1;

		if (ops->pte_hole)
			err = ops->pte_hole(start, end, -1, walk);
		return err ? err : 1;
	}
	return 0;
}

static int __walk_page_range(unsigned long start, unsigned long end,
			     struct mm_walk *walk)
{
	struct vm_area_struct *vma = walk->vma;
	const struct mm_walk_ops *ops = walk->ops;
	bool is_hugetlb = vma->vm_flags & VM_HUGETLB;
	int err = 0;

	if (ops->install_pte && is_hugetlb)
		return -EINVAL;
	if (ops->pre_vma) {
		err = ops->pre_vma(start, end, walk);
		if (err)
			return err;
	}
	if (is_hugetlb) {
		if (ops->hugetlb_entry)
			err = walk_hugetlb_range(start, end, walk);
	} else {
		err = walk_pgd_range(start, end, walk);
	}
	if (ops->post_vma)
		ops->post_vma(walk);
	return err;
}

/* ---- locks and checks ------------------------------------------------------------ */

/*
 * The lock assertions of a walk, made on behalf of entry point @where
 * (named in the events): 0, or -ENOLCK on a strict machine.
 */
static int process_mm_walk_lock(struct mm_struct *mm, enum page_walk_lock lock,
				const char *where)
{
	if (lock == PGWALK_RDLOCK)
		return pw_mmap_assert_locked_at(mm, where);
	if (lock != PGWALK_VMA_RDLOCK_VERIFY)
		return pw_mmap_assert_write_locked_at(mm, where);
	return 0;
}

static int process_vma_walk_lock(struct vm_area_struct *vma,
				 enum page_walk_lock lock, const char *where)
{
	switch (lock) {
	case PGWALK_WRLOCK: return pw_vma_start_write_at(vma, where);
	case PGWALK_WRLOCK_VERIFY:
		return pw_vma_assert_write_locked_at(vma, where);
	case PGWALK_VMA_RDLOCK_VERIFY:
		return pw_vma_assert_locked_at(vma, where);
	case PGWALK_RDLOCK: break;
	}
	return 0;
}

/* Only walk_page_range_mm() may install PTEs. */
static bool check_ops_valid(const struct mm_walk_ops *ops)
{
	return !ops->install_pte;
}

/* ---- entry points ------------------------------------------------------------------ */

/* walk_page_range_mm() on behalf of entry point @where. */
static int walk_mm(struct mm_struct *mm, unsigned long start, unsigned long end,
		   const struct mm_walk_ops *ops, void *private,
		   const char *where)
{
	struct mm_walk walk = { .ops = ops, .mm = mm, .private = private };
	struct vm_area_struct *vma;
	unsigned long next;
	int err = 0;

	if (start >= end || !mm)
		return -EINVAL;
	err = pw_mm_alive(mm, where);
	if (!err)
		err = process_mm_walk_lock(mm, ops->walk_lock, where);
	if (err)
		return err;

	vma = pw_find_vma(mm, start);
	do {
		if (!vma) { /* after the last VMA */
			walk.vma = NULL;
			next = end;
			if (ops->pte_hole)
				err = ops->pte_hole(start, next, -1, &walk);
		} else if (start < vma->vm_start) { /* a gap before a VMA */
			walk.vma = NULL;
			next = end < vma->vm_start ? end : vma->vm_start;
			if (ops->pte_hole)
				err = ops->pte_hole(start, next, -1, &walk);
		} else { /* inside a VMA */
			err = process_vma_walk_lock(vma, ops->walk_lock, where);
			if (err)
				break;
			walk.vma = vma;
			next = end < vma->vm_end ? end : vma->vm_end;
			vma = pw_find_vma(mm, vma->vm_end);

			err = walk_page_test(start, next, &walk);
			if (err > 0) {
				/* Positive values only steer the walk. */
				err = 0;
				continue;
			}
			if (err < 0)
				break;
			err = __walk_page_range(start, next, &walk);
		}
		if (err)
			break;
	} while (start = next, start < end);

	return err;
}

int walk_page_range_mm(struct mm_struct *mm, unsigned long start,
		       unsigned long end, const struct mm_walk_ops *ops,
		       void *private)
{
	return walk_mm(mm, start, end, ops, private, __func__);
}

int walk_page_range(struct mm_struct *mm, unsigned long start,
		    unsigned long end, const struct mm_walk_ops *ops,
		    void *private)
{
	if (!check_ops_valid(ops))
		return -EINVAL;
	return walk_mm(mm, start, end, ops, private, __func__);
}

int walk_kernel_page_table_range_lockless(struct pw_machine *m,
					  unsigned long start,
					  unsigned long end,
					  const struct mm_walk_ops *ops,
					  pgd_t *pgd, void *private)
{
	struct mm_walk walk = { .ops = ops,
				.mm = m->init_mm,
				.pgd = pgd,
				.private = private,
				.no_vma = true };

	if (start >= end || !check_ops_valid(ops))
		return -EINVAL;
	return walk_pgd_range(start, end, &walk);
}

/* walk_kernel_page_table_range() on behalf of entry point @where. */
static int walk_kernel(struct pw_machine *m, unsigned long start,
		       unsigned long end, const struct mm_walk_ops *ops,
		       pgd_t *pgd, void *private, const char *where)
{
	int err;

	if (start >= end || !check_ops_valid(ops))
		return -EINVAL;
	err = pw_mmap_assert_locked_at(m->init_mm, where);
	if (err)
		return err;
	return walk_kernel_page_table_range_lockless(m, start, end, ops, pgd,
						     private);
}

int walk_kernel_page_table_range(struct pw_machine *m, unsigned long start,
				 unsigned long end,
				 const struct mm_walk_ops *ops, pgd_t *pgd,
				 void *private)
{
	return walk_kernel(m, start, end, ops, pgd, private, __func__);
}

int walk_page_range_debug(struct mm_struct *mm, unsigned long start,
			  unsigned long end, const struct mm_walk_ops *ops,
			  pgd_t *pgd, void *private)
{
	struct mm_walk walk = { .ops = ops,
				.mm = mm,
				.pgd = pgd,
				.private = private,
				.no_vma = true };
	int err;

	if (mm && mm->kernel)
		return walk_kernel(mm->m, start, end, ops, pgd, private,
				   __func__);
	if (start >= end || !mm || !check_ops_valid(ops))
		return -EINVAL;
	err = pw_mm_alive(mm, __func__);
	if (!err)
		err = pw_mmap_assert_write_locked_at(mm, __func__);
	if (err)
		return err;
	return walk_pgd_range(start, end, &walk);
}

int walk_page_range_vma(struct vm_area_struct *vma, unsigned long start,
			unsigned long end, const struct mm_walk_ops *ops,
			void *private)
{
	struct mm_walk walk = {
		.ops = ops, .mm = vma->vm_mm, .vma = vma, .private = private
	};
	int err;

	if (start >= end || !walk.mm)
		return -EINVAL;
	if (start < vma->vm_start || end > vma->vm_end)
		return -EINVAL;
	if (!check_ops_valid(ops))
		return -EINVAL;
	err = process_mm_walk_lock(walk.mm, ops->walk_lock, __func__);
	if (!err)
		err = process_vma_walk_lock(vma, ops->walk_lock, __func__);
	if (err)
		return err;
	return __walk_page_range(start, end, &walk);
}

int walk_page_vma(struct vm_area_struct *vma, const struct mm_walk_ops *ops,
		  void *private)
{
	struct mm_walk walk = {
		.ops = ops, .mm = vma->vm_mm, .vma = vma, .private = private
	};
	int err;

	if (!walk.mm || !check_ops_valid(ops))
		return -EINVAL;
	err = process_mm_walk_lock(walk.mm, ops->walk_lock, __func__);
	if (!err)
		err = process_vma_walk_lock(vma, ops->walk_lock, __func__);
	if (err)
		return err;
	return __walk_page_range(vma->vm_start, vma->vm_end, &walk);
}

int walk_page_mapping(struct address_space *mapping, unsigned long first_index,
		      unsigned long nr, const struct mm_walk_ops *ops,
		      void *private)
{
	struct mm_walk walk = { .ops = ops, .private = private };
	unsigned long last = first_index + nr - 1;
	unsigned long vba, vea, cba, cea, start_addr, end_addr;
	size_t i;
	int err = 0;

	if (!check_ops_valid(ops))
		return -EINVAL;
	err = pw_i_mmap_assert_held_at(mapping, __func__);
	if (err)
		return err;
	/* No pages: nothing to walk (the kernel's last = first - 1 would
	 * wrap to the whole file when first is 0). */
	if (nr == 0)
		return 0;
	for (i = 0; i < mapping->nr; i++) {
		struct vm_area_struct *vma = mapping->vmas[i];
		unsigned long pages =
			(vma->vm_end - vma->vm_start) >> PW_PAGE_SHIFT;

		/* vma_interval_tree_foreach: page offsets overlapping
		 * [first_index, last]. */
		vba = vma->vm_pgoff;
		vea = vba + pages;
		if (!(vba <= last && first_index <= vea - 1))
			continue;
		cba = first_index > vba ? first_index : vba;
		cea = first_index + nr < vea ? first_index + nr : vea;
		start_addr = ((cba - vba) << PW_PAGE_SHIFT) + vma->vm_start;
		end_addr = ((cea - vba) << PW_PAGE_SHIFT) + vma->vm_start;
		/* Offsets that wrap (nr == 0 under a pgoff above first_index,
		 * first_index + nr or pgoff + pages past 2^64) can put the
		 * clipped range outside the VMA, even across the whole address
		 * space: such a VMA is skipped, as an empty range is. */
		if (start_addr >= end_addr || start_addr < vma->vm_start ||
		    end_addr > vma->vm_end)
			continue;

		walk.vma = vma;
		walk.mm = vma->vm_mm;
		err = walk_page_test(vma->vm_start, vma->vm_end, &walk);
		if (err > 0) {
			err = 0;
			break;
		} else if (err < 0) {
			break;
		}
		err = __walk_page_range(start_addr, end_addr, &walk);
		if (err)
			break;
	}
	return err;
}

/* ---- folio_walk ---------------------------------------------------------------------- */

struct folio *folio_walk_start(struct folio_walk *fw,
			       struct vm_area_struct *vma, unsigned long addr,
			       folio_walk_flags_t flags)
{
	struct mm_struct *mm = vma->vm_mm;
	struct pw_machine *m = mm->m;
	unsigned long entry_size;
	bool expose_page = true;
	struct page *page = NULL;
	pgd_t *pgdp;
	p4d_t *p4dp;
	pud_t *pudp, pud;
	pmd_t *pmdp, pmd;
	pte_t *ptep, pte;
	spinlock_t *ptl;
	uint64_t nth;

	fw->vma = vma;
	if (pw_mmap_assert_locked_at(mm, __func__))
		return NULL; /* strict machine: reported, and no folio */

	if (addr < vma->vm_start || addr >= vma->vm_end) {
		pw_warn(m);
		goto not_found;
	}

	pgdp = pw_pgd_offset(m, mm->pgd, addr);
	if (pw_none_or_clear_bad_inline(m, PW_LEVEL_PGD, pgdp))
		goto not_found;
	p4dp = pw_offset(m, PW_LEVEL_P4D, pgdp, addr);
	if (!p4dp || pw_none_or_clear_bad_inline(m, PW_LEVEL_P4D, p4dp))
		goto not_found;
	pudp = pw_offset(m, PW_LEVEL_PUD, p4dp, addr);
	if (!pudp)
		goto not_found;
	pud = pw_load(pudp);
	if (lvl_none(m, PW_LEVEL_PUD, pud))
		goto not_found;
	if (!lvl_present(m, PW_LEVEL_PUD, pud) ||
	    lvl_leaf(m, PW_LEVEL_PUD, pud)) {
		ptl = &mm->page_table_lock;
		pw_spin_lock_inline(ptl);
		pud = pw_load(pudp);
		entry_size = 1UL << m->layout.geo.shift[PW_LEVEL_PUD];
		fw->level = FW_LEVEL_PUD;
		fw->pudp = pudp;
		fw->pud = pud;
		if (!lvl_present(m, PW_LEVEL_PUD, pud) ||
		    (pud & PW_PAGE_SPECIAL) ||
		    !pw_pfn_valid_inline(m, pw_entry_pfn(pud))) {
			pw_spin_unlock_inline(ptl);
			goto not_found;
		} else if (!lvl_leaf(m, PW_LEVEL_PUD, pud)) {
			pw_spin_unlock_inline(ptl);
			goto pmd_table;
		}
		page = pw_page_inline(m, pw_entry_pfn(pud));
		goto found;
	}

pmd_table:
	pmdp = pw_offset(m, PW_LEVEL_PMD, pudp, addr);
	if (!pmdp)
		goto not_found;
	pmd = pw_load(pmdp);
	if (lvl_none(m, PW_LEVEL_PMD, pmd))
		goto not_found;
	if (!lvl_present(m, PW_LEVEL_PMD, pmd) ||
	    lvl_leaf(m, PW_LEVEL_PMD, pmd)) {
		ptl = pw_table_lock_inline(m, pmdp);
		pw_spin_lock_inline(ptl);
		pmd = pw_load(pmdp);
		entry_size = 1UL << m->layout.geo.shift[PW_LEVEL_PMD];
		fw->level = FW_LEVEL_PMD;
		fw->pmdp = pmdp;
		fw->pmd = pmd;
		if (lvl_none(m, PW_LEVEL_PMD, pmd)) {
			pw_spin_unlock_inline(ptl);
			goto not_found;
		} else if (lvl_present(m, PW_LEVEL_PMD, pmd) &&
			   !lvl_leaf(m, PW_LEVEL_PMD, pmd)) {
			pw_spin_unlock_inline(ptl);
			goto pte_table;
		} else if (lvl_present(m, PW_LEVEL_PMD, pmd)) {
			page = pw_vm_normal_page_pmd(vma, addr, pmd);
			if (page)
				goto found;
			if ((flags & FW_ZEROPAGE) && m->cfg.huge_zero_pfn &&
			    pw_entry_pfn(pmd) == m->cfg.huge_zero_pfn &&
			    pw_pfn_valid_inline(m, m->cfg.huge_zero_pfn)) {
				page = pw_page_inline(m, m->cfg.huge_zero_pfn);
				expose_page = false;
				goto found;
			}
		} else if ((flags & FW_MIGRATION) &&
			   pw_mem_is_migration(m, pmd) &&
			   pw_pfn_valid_inline(m, pw_mem_swp_offset(m, pmd))) {
			page = pw_page_inline(m, pw_mem_swp_offset(m, pmd));
			expose_page = false;
			goto found;
		}
		pw_spin_unlock_inline(ptl);
		goto not_found;
	}

pte_table:
	ptep = pw_pte_offset_map_inline(m, pmdp, addr);
	if (!ptep)
		goto not_found;
	ptl = pw_table_lock_inline(m, ptep);
	pw_spin_lock_inline(ptl);
	pte = *ptep;
	entry_size = PAGE_SIZE;
	fw->level = FW_LEVEL_PTE;
	fw->ptep = ptep;
	fw->pte = pte;
	if (pte & PW_PAGE_PRESENT) {
		/* vm_normal_page: a normal page is not special and in memory;
		 * anything else is decided (and reported) out of line. */
		if (!(pte & PW_PAGE_SPECIAL) &&
		    pw_pfn_valid_inline(m, pw_entry_pfn(pte)))
			page = pw_page_inline(m, pw_entry_pfn(pte));
		else
			page = pw_vm_normal_page(vma, addr, pte);
		if (page)
			goto found;
		if ((flags & FW_ZEROPAGE) &&
		    pw_entry_pfn(pte) == m->cfg.zero_pfn &&
		    pw_pfn_valid_inline(m, m->cfg.zero_pfn)) {
			page = pw_page_inline(m, m->cfg.zero_pfn);
			expose_page = false;
			goto found;
		}
	} else if (pte != 0) {
		if ((flags & FW_MIGRATION) && pw_mem_is_migration(m, pte) &&
		    pw_pfn_valid_inline(m, pw_mem_swp_offset(m, pte))) {
			page = pw_page_inline(m, pw_mem_swp_offset(m, pte));
			expose_page = false;
			goto found;
		}
	}
	pw_spin_unlock_inline(ptl);
not_found:
	return NULL;
found:
	/* The page at @addr: an offset from the mapped page, not the folio. */
	nth = pw_page_to_pfn_inline(m, page) +
	      ((addr & (entry_size - 1)) >> PW_PAGE_SHIFT);
	fw->page = expose_page && pw_pfn_valid_inline(m, nth) ?
			   pw_page_inline(m, nth) :
			   NULL;
	fw->ptl = ptl;
	return pw_page_folio_inline(m, page);
}

void folio_walk_end(struct folio_walk *fw, struct vm_area_struct *vma)
{
	(void)vma; /* the kernel's signature; the lock is in fw */
	pw_spin_unlock_inline(fw->ptl);
}
