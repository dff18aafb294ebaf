/*
 * cbench.c - C visitors, batched visitors and bare loops for pagewalk-bench.
 * See cbench.h.  Written against the public headers only.
 */
#include "cbench.h"

#define P_PRESENT PW_PAGE_PRESENT
#define P_LEAF (PW_PAGE_PRESENT | PW_PAGE_HUGE)
#define HPAGE_PMD_SIZE (1UL << 21)

bool cb_optimized(void)
{
#ifdef __OPTIMIZE__
	return true;
#else
	return false;
#endif
}

/* ---- path (a) and (e): C callbacks on the C core ------------------------- */

static int count_pte_entry(pte_t *pte, unsigned long addr, unsigned long next,
			   struct mm_walk *walk)
{
	struct cb_counts *c = walk->private;

	(void)addr;
	(void)next;
	c->ptes++;
	if (*pte & P_PRESENT)
		c->present++;
	return 0;
}

/* The batched form: one call per run of PTEs inside one table. */
static int count_pte_range(pte_t *pte, unsigned long addr, unsigned long end,
			   struct mm_walk *walk)
{
	struct cb_counts *c = walk->private;
	size_t n = (end - addr) >> PW_PAGE_SHIFT, i;
	uint64_t present = 0;

	for (i = 0; i < n; i++)
		present += pte[i] & P_PRESENT;
	c->ptes += n;
	c->present += present;
	return 0;
}

static int count_pte_hole(unsigned long addr, unsigned long next, int depth,
			  struct mm_walk *walk)
{
	struct cb_counts *c = walk->private;

	(void)depth;
	c->holes++;
	c->hole_bytes += next - addr;
	return 0;
}

static int count_pmd_thp(pmd_t *pmd, unsigned long addr, unsigned long next,
			 struct mm_walk *walk)
{
	struct cb_counts *c = walk->private;

	(void)addr;
	(void)next;
	if ((*pmd & P_LEAF) == P_LEAF) {
		c->leaves++;
		walk->action = ACTION_CONTINUE;
	}
	return 0;
}

static int count_test_walk(unsigned long addr, unsigned long next,
			   struct mm_walk *walk)
{
	struct cb_counts *c = walk->private;

	(void)addr;
	(void)next;
	c->vmas++;
	if (walk->vma->vm_flags & VM_EXEC) {
		c->skipped++;
		return 1;
	}
	return 0;
}

int cb_walk_count(struct mm_struct *mm, unsigned long start, unsigned long end,
		  unsigned mode, struct cb_counts *c)
{
	struct mm_walk_ops ops = { .walk_lock = PGWALK_RDLOCK };
	int err;

	if (mode & CB_PTE_ENTRY)
		ops.pte_entry = count_pte_entry;
	if (mode & CB_PTE_RANGE)
		ops.pte_range = count_pte_range;
	if (mode & CB_PTE_HOLE)
		ops.pte_hole = count_pte_hole;
	if (mode & CB_PMD_THP)
		ops.pmd_entry = count_pmd_thp;
	if (mode & CB_TEST_WALK)
		ops.test_walk = count_test_walk;
	mmap_read_lock(mm);
	err = walk_page_range(mm, start, end, &ops, c);
	mmap_read_unlock(mm);
	return err;
}

/* ---- path (d): the floor ---------------------------------------------------- */

/* The real levels of a geometry, top first, and their shifts. */
struct levels {
	const struct pw_machine_layout *lay;
	int n;
	unsigned shift[PW_NR_LEVELS];
};

static void get_levels(struct mm_struct *mm, struct levels *lv)
{
	int l;

	lv->lay = pw_machine_layout(pw_mm_machine(mm));
	lv->n = 0;
	for (l = PW_LEVEL_PGD; l <= PW_LEVEL_PTE; l++)
		if (!lv->lay->geo.folded[l])
			lv->shift[lv->n++] = lv->lay->geo.shift[l];
}

static inline uint64_t *table_of(const struct pw_machine_layout *lay,
				 uint64_t v)
{
	uint64_t pfn = pw_entry_pfn(v);

	return pfn < lay->frames ? lay->mem + pfn * PW_PTRS_PER_TABLE : NULL;
}

static inline unsigned long level_end(unsigned long addr, unsigned long end,
				      unsigned shift)
{
	unsigned long size = 1UL << shift;
	unsigned long next = (addr + size) & ~(size - 1);

	return next - 1 < end - 1 ? next : end;
}

/* [start, end) lies inside the table of real level @k. */
static void floor_count_table(const struct levels *lv, int k, uint64_t *table,
			      unsigned long start, unsigned long end,
			      struct cb_counts *c)
{
	unsigned shift = lv->shift[k];
	unsigned long addr = start, next;
	uint64_t *e = table + ((start >> shift) & (PW_PTRS_PER_TABLE - 1));

	if (k == lv->n - 1) {
		size_t n = (end - start) >> PW_PAGE_SHIFT, i;
		uint64_t present = 0;

		for (i = 0; i < n; i++)
			present += e[i] & P_PRESENT;
		c->ptes += n;
		c->present += present;
		return;
	}
	/* Counters in locals: c may alias the tables as far as C knows. */
	uint64_t holes = 0, hole_bytes = 0;

	do {
		uint64_t v = *e++, *t;

		next = level_end(addr, end, shift);
		if (v == 0) {
			holes++;
			hole_bytes += next - addr;
		} else if ((v & P_LEAF) == P_LEAF) {
			c->leaves++;
		} else if ((t = table_of(lv->lay, v))) {
			floor_count_table(lv, k + 1, t, addr, next, c);
		}
	} while (addr = next, addr != end);
	c->holes += holes;
	c->hole_bytes += hole_bytes;
}

void cb_floor_count(struct mm_struct *mm, unsigned long start,
		    unsigned long end, bool per_vma, struct cb_counts *c)
{
	struct levels lv;
	size_t i, n;

	get_levels(mm, &lv);
	if (!per_vma) {
		floor_count_table(&lv, 0, pw_mm_pgd(mm), start, end, c);
		return;
	}
	n = pw_mm_vma_count(mm);
	for (i = 0; i < n; i++) {
		struct vm_area_struct *vma = pw_mm_vma_at(mm, i);
		unsigned long s = vma->vm_start > start ? vma->vm_start : start;
		unsigned long e = vma->vm_end < end ? vma->vm_end : end;

		if (s >= e)
			continue;
		c->vmas++;
		if (vma->vm_flags & VM_EXEC) {
			c->skipped++;
			continue;
		}
		floor_count_table(&lv, 0, pw_mm_pgd(mm), s, e, c);
	}
}

/* ---- folio_walk ---------------------------------------------------------------- */

uint64_t cb_folio_walk(struct mm_struct *mm, struct vm_area_struct *vma,
		       const uint64_t *addrs, size_t n, uint64_t *found)
{
	struct pw_machine *m = pw_mm_machine(mm);
	struct folio_walk fw;
	uint64_t sum = 0, hits = 0;
	size_t i;

	mmap_read_lock(mm);
	for (i = 0; i < n; i++) {
		if (!folio_walk_start(&fw, vma, addrs[i], 0))
			continue;
		if (fw.page) {
			sum += pw_page_to_pfn(m, fw.page);
			hits++;
		}
		folio_walk_end(&fw, vma);
	}
	mmap_read_unlock(mm);
	*found = hits;
	return sum;
}

uint64_t cb_floor_lookup(struct mm_struct *mm, const uint64_t *addrs, size_t n,
			 uint64_t *found)
{
	struct levels lv;
	uint64_t sum = 0, hits = 0;
	size_t i;
	int k;

	get_levels(mm, &lv);
	for (i = 0; i < n; i++) {
		unsigned long addr = addrs[i];
		uint64_t *t = pw_mm_pgd(mm);

		for (k = 0; t; k++) {
			uint64_t v = t[(addr >> lv.shift[k]) &
				       (PW_PTRS_PER_TABLE - 1)];

			if (k == lv.n - 1 || (v & P_LEAF) == P_LEAF) {
				if (v & P_PRESENT) {
					sum += pw_entry_pfn(v) +
					       ((addr &
						 ((1UL << lv.shift[k]) - 1)) >>
						PW_PAGE_SHIFT);
					hits++;
				}
				break;
			}
			t = v ? table_of(lv.lay, v) : NULL;
		}
	}
	*found = hits;
	return sum;
}

/* ---- install ------------------------------------------------------------------- */

struct install_state {
	unsigned long start;
	uint64_t pfn_base;
	uint64_t installed;
};

static inline uint64_t install_value(const struct install_state *s,
				     unsigned long addr)
{
	return PW_PAGE_TABLE |
	       ((s->pfn_base + ((addr - s->start) >> PW_PAGE_SHIFT))
		<< PW_PAGE_SHIFT);
}

static int install_one(unsigned long addr, unsigned long next, pte_t *ptep,
		       struct mm_walk *walk)
{
	struct install_state *s = walk->private;

	(void)next;
	*ptep = install_value(s, addr);
	s->installed++;
	return 0;
}

int cb_install(struct mm_struct *mm, unsigned long start, unsigned long end,
	       uint64_t pfn_base, uint64_t *installed)
{
	const struct mm_walk_ops ops = { .install_pte = install_one,
					 .walk_lock = PGWALK_RDLOCK };
	struct install_state s = { .start = start, .pfn_base = pfn_base };
	int err;

	mmap_read_lock(mm);
	err = walk_page_range_mm(mm, start, end, &ops, &s);
	mmap_read_unlock(mm);
	*installed = s.installed;
	return err;
}

static int floor_install_table(struct mm_struct *mm, const struct levels *lv,
			       int k, uint64_t *table, unsigned long start,
			       unsigned long end, struct install_state *s)
{
	unsigned shift = lv->shift[k];
	unsigned long addr = start, next;
	uint64_t *e = table + ((start >> shift) & (PW_PTRS_PER_TABLE - 1));
	int err;

	if (k == lv->n - 1) {
		for (; addr != end; addr += PW_PAGE_SIZE, e++) {
			if (*e == 0) {
				*e = install_value(s, addr);
				s->installed++;
			}
		}
		return 0;
	}
	do {
		uint64_t *t;

		next = level_end(addr, end, shift);
		if (*e == 0 && (err = pw_table_alloc_into(mm, e)))
			return err;
		if ((*e & P_LEAF) != P_LEAF && (t = table_of(lv->lay, *e))) {
			err = floor_install_table(mm, lv, k + 1, t, addr, next,
						  s);
			if (err)
				return err;
		}
		e++;
	} while (addr = next, addr != end);
	return 0;
}

int cb_floor_install(struct mm_struct *mm, unsigned long start,
		     unsigned long end, uint64_t pfn_base, uint64_t *installed)
{
	struct install_state s = { .start = start, .pfn_base = pfn_base };
	struct levels lv;
	int err;

	get_levels(mm, &lv);
	err = floor_install_table(mm, &lv, 0, pw_mm_pgd(mm), start, end, &s);
	*installed = s.installed;
	return err;
}

/* ---- smaps ------------------------------------------------------------------------ */

/* As fs/proc/task_mmu.c's PMD handler: a PMD leaf under its lock, else the
 * PTE table under pte_offset_map_lock, looped over here. */
static int smaps_pmd_entry(pmd_t *pmd, unsigned long addr, unsigned long next,
			   struct mm_walk *walk)
{
	struct cb_smaps *s = walk->private;
	spinlock_t *ptl;
	pte_t *pte, *start_pte;

	s->pmds++;
	if ((*pmd & P_LEAF) == P_LEAF) {
		ptl = pw_table_lock(pw_mm_machine(walk->mm), pmd);
		spin_lock(ptl);
		if ((*pmd & P_LEAF) == P_LEAF) {
			cb_smaps_pmd_leaf(s, *pmd, HPAGE_PMD_SIZE);
			spin_unlock(ptl);
			return 0;
		}
		spin_unlock(ptl);
	}
	start_pte = pte = pte_offset_map_lock(walk->mm, pmd, addr, &ptl);
	if (!pte) {
		walk->action = ACTION_AGAIN;
		return 0;
	}
	for (; addr != next; pte++, addr += PW_PAGE_SIZE)
		cb_smaps_pte(s, *pte);
	s->ptes += (uint64_t)(pte - start_pte);
	pte_unmap_unlock(start_pte, ptl);
	return 0;
}

int cb_smaps(struct mm_struct *mm, unsigned long start, unsigned long end,
	     struct cb_smaps *s)
{
	const struct mm_walk_ops ops = { .pmd_entry = smaps_pmd_entry,
					 .walk_lock = PGWALK_RDLOCK };
	int err;

	mmap_read_lock(mm);
	err = walk_page_range(mm, start, end, &ops, s);
	mmap_read_unlock(mm);
	return err;
}

static void floor_smaps_table(const struct levels *lv, int k, uint64_t *table,
			      unsigned long start, unsigned long end,
			      struct cb_smaps *s)
{
	unsigned shift = lv->shift[k];
	unsigned long addr = start, next;
	uint64_t *e = table + ((start >> shift) & (PW_PTRS_PER_TABLE - 1));

	if (k == lv->n - 1) {
		size_t n = (end - start) >> PW_PAGE_SHIFT, i;

		for (i = 0; i < n; i++)
			cb_smaps_pte(s, e[i]);
		s->ptes += n;
		return;
	}
	do {
		uint64_t v = *e++, *t;

		next = level_end(addr, end, shift);
		if (v == 0)
			continue;
		if (k == lv->n - 2)
			s->pmds++;
		if ((v & P_LEAF) == P_LEAF)
			cb_smaps_pmd_leaf(s, v, HPAGE_PMD_SIZE);
		else if ((t = table_of(lv->lay, v)))
			floor_smaps_table(lv, k + 1, t, addr, next, s);
	} while (addr = next, addr != end);
}

void cb_floor_smaps(struct mm_struct *mm, unsigned long start,
		    unsigned long end, struct cb_smaps *s)
{
	struct levels lv;

	get_levels(mm, &lv);
	floor_smaps_table(&lv, 0, pw_mm_pgd(mm), start, end, s);
}

/* ---- checking ------------------------------------------------------------------------ */

static uint64_t sum_table(const struct levels *lv, int k, uint64_t *table,
			  unsigned long start, unsigned long end)
{
	unsigned shift = lv->shift[k];
	unsigned long addr = start, next;
	uint64_t *e = table + ((start >> shift) & (PW_PTRS_PER_TABLE - 1));
	uint64_t sum = 0;

	if (k == lv->n - 1) {
		for (; addr != end; addr += PW_PAGE_SIZE)
			sum += *e++;
		return sum;
	}
	do {
		uint64_t v = *e++, *t;

		next = level_end(addr, end, shift);
		if (v && (v & P_LEAF) != P_LEAF && (t = table_of(lv->lay, v)))
			sum += sum_table(lv, k + 1, t, addr, next);
	} while (addr = next, addr != end);
	return sum;
}

uint64_t cb_pte_checksum(struct mm_struct *mm, unsigned long start,
			 unsigned long end)
{
	struct levels lv;

	get_levels(mm, &lv);
	return sum_table(&lv, 0, pw_mm_pgd(mm), start, end);
}
