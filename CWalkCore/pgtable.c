/* pgtable.c - page-table primitives: entries, pte_offset_map, THP splits, hugetlb_walk, vm_normal_page. */
#include "internal.h"

/*
 * Also what set-up and VMA management do to tables: reading and writing
 * the entry of a level (allocating the tables above it), dumping an mm's
 * tables, and applying one operation (munmap's zap, mprotect's
 * change_protection) over a range, splitting the huge entries it covers
 * only partly.
 */

/* ---- entries shared between threads --------------------------------------- */

uint64_t pw_entry_get(const uint64_t *p)
{
	return pw_load(p);
}

void pw_entry_set(uint64_t *p, uint64_t v)
{
	pw_store(p, v);
}

bool pw_pxd_none_or_clear_bad(struct pw_machine *m, enum pw_level level,
			      uint64_t *p)
{
	return pw_none_or_clear_bad_inline(m, level, p);
}

/* ---- operations the walker needs ------------------------------------------- */

pte_t *pw_pte_offset_map(struct pw_machine *m, pmd_t *pmdp, unsigned long addr)
{
	pmd_t v = pw_load(pmdp);

	if (v == 0 || pw_mem_is_migration(m, v) || lvl_leaf(m, PW_LEVEL_PMD, v))
		return NULL;
	if (!(v & PW_PAGE_PRESENT) ||
	    !pw_pfn_valid_inline(m, pw_entry_pfn(v))) {
		pw_report_bad(m, PW_LEVEL_PMD, v);
		pw_store(pmdp, 0);
		return NULL;
	}
	return pw_table_of(m, v) + pw_index(m, PW_LEVEL_PTE, addr);
}

static void emit_split(struct vm_area_struct *vma, enum pw_event_kind kind,
		       unsigned long haddr)
{
	struct pw_event ev = {
		.kind = kind, .addr = haddr, .vma = vma, .mm = vma->vm_mm
	};

	pw_emit(vma->vm_mm->m, &ev);
}

static bool is_huge_zero(const struct pw_machine *m, uint64_t v)
{
	return m->cfg.huge_zero_pfn && (v & PW_PAGE_PRESENT) &&
	       pw_entry_pfn(v) == m->cfg.huge_zero_pfn;
}

void pw_fill_split_pmd(const struct pw_machine *m, pte_t *pte, pmd_t v)
{
	unsigned i;

	if (pw_mem_is_migration(m, v)) {
		unsigned type = pw_mem_swp_type(m, v);
		uint64_t off = pw_mem_swp_offset(m, v);

		for (i = 0; i < PW_PTRS_PER_TABLE; i++)
			pte[i] = pw_mem_swp_entry(m, type, off + i);
	} else if (is_huge_zero(m, v)) {
		uint64_t flags =
			(v & ~PW_PFN_MASK & ~PW_PAGE_HUGE) | PW_PAGE_SPECIAL;

		for (i = 0; i < PW_PTRS_PER_TABLE; i++)
			pte[i] = flags | (m->cfg.zero_pfn << PW_PAGE_SHIFT);
	} else {
		uint64_t flags = v & ~PW_PFN_MASK & ~PW_PAGE_HUGE;
		uint64_t base = pw_entry_pfn(v);

		for (i = 0; i < PW_PTRS_PER_TABLE; i++)
			pte[i] = flags |
				 (((base + i) << PW_PAGE_SHIFT) & PW_PFN_MASK);
	}
}

void pw_split_huge_pmd(struct vm_area_struct *vma, pmd_t *pmd,
		       unsigned long addr)
{
	struct mm_struct *mm = vma->vm_mm;
	struct pw_machine *m = mm->m;
	unsigned long haddr =
		addr & ~((1UL << m->layout.geo.shift[PW_LEVEL_PMD]) - 1);
	spinlock_t *ptl = pw_table_lock_inline(m, pmd);
	uint64_t v, pfn;

	/* As the kernel's split_huge_pmd(): nothing to do, and no lock taken,
	 * unless the entry looks like a leaf or a migration entry. */
	v = pw_load(pmd);
	if (!lvl_leaf(m, PW_LEVEL_PMD, v) && !pw_mem_is_migration(m, v))
		return;
	pw_spin_lock_inline(ptl);
	v = pw_load(pmd);
	if (!lvl_leaf(m, PW_LEVEL_PMD, v) && !pw_mem_is_migration(m, v)) {
		pw_spin_unlock_inline(ptl);
		return;
	}
	emit_split(vma, PW_EVENT_SPLIT_PMD, haddr);
	if (!pw_vma_is_anonymous(vma)) {
		pw_store(pmd, 0);
		pw_spin_unlock_inline(ptl);
		return;
	}
	/* The kernel deposits this table in advance; it is no allocation. */
	pfn = pw_table_alloc(m);
	if (!pfn) {
		/* No frame left to deposit: drop the mapping rather than loop. */
		pw_warn(m);
		pw_store(pmd, 0);
		pw_spin_unlock_inline(ptl);
		return;
	}
	pw_fill_split_pmd(m, pw_frame_inline(m, pfn), v);
	/* release: the filled table before the entry naming it */
	pw_store(pmd, PW_PAGE_TABLE | (pfn << PW_PAGE_SHIFT));
	pw_spin_unlock_inline(ptl);
}

void pw_split_huge_pud(struct vm_area_struct *vma, pud_t *pud,
		       unsigned long addr)
{
	struct mm_struct *mm = vma->vm_mm;
	struct pw_machine *m = mm->m;
	unsigned long haddr =
		addr & ~((1UL << m->layout.geo.shift[PW_LEVEL_PUD]) - 1);

	/* As split_huge_pud(): no lock unless it looks like a leaf. */
	if (!lvl_leaf(m, PW_LEVEL_PUD, pw_load(pud)))
		return;
	pw_spin_lock_inline(&mm->page_table_lock);
	if (lvl_leaf(m, PW_LEVEL_PUD, pw_load(pud))) {
		emit_split(vma, PW_EVENT_SPLIT_PUD, haddr);
		pw_store(pud, 0);
	}
	pw_spin_unlock_inline(&mm->page_table_lock);
}

pte_t *pw_hugetlb_walk(struct vm_area_struct *vma, unsigned long addr,
		       unsigned long sz)
{
	struct pw_machine *m = vma->vm_mm->m;
	uint64_t *pgd = pw_pgd_offset(m, vma->vm_mm->pgd, addr), *p4d, *pud;

	if (!lvl_present(m, PW_LEVEL_PGD, pw_load(pgd)))
		return NULL;
	p4d = pw_offset(m, PW_LEVEL_P4D, pgd, addr);
	if (!p4d || !lvl_present(m, PW_LEVEL_P4D, pw_load(p4d)))
		return NULL;
	pud = pw_offset(m, PW_LEVEL_PUD, p4d, addr);
	if (!pud)
		return NULL;
	if (sz == (1UL << m->layout.geo.shift[PW_LEVEL_PUD]))
		return pud; /* huge, non-present or none */
	if (!lvl_present(m, PW_LEVEL_PUD, pw_load(pud)))
		return NULL;
	return pw_offset(m, PW_LEVEL_PMD, pud, addr);
}

struct page *pw_vm_normal_page(struct vm_area_struct *vma, unsigned long addr,
			       pte_t pte)
{
	struct pw_machine *m = vma->vm_mm->m;
	uint64_t pfn = pw_entry_pfn(pte);
	struct page *page;

	(void)addr;
	if (pte & PW_PAGE_SPECIAL) {
		if (!(vma->vm_flags & (VM_PFNMAP | VM_MIXEDMAP)) &&
		    pfn != m->cfg.zero_pfn)
			pw_report_bad(m, PW_LEVEL_PTE, pte);
		return NULL;
	}
	page = pw_page_inline(m, pfn);
	if (!page)
		pw_report_bad(m, PW_LEVEL_PTE, pte);
	return page;
}

struct page *pw_vm_normal_page_pmd(struct vm_area_struct *vma,
				   unsigned long addr, pmd_t pmd)
{
	struct pw_machine *m = vma->vm_mm->m;
	uint64_t pfn = pw_entry_pfn(pmd);

	(void)addr;
	if ((pmd & PW_PAGE_SPECIAL) ||
	    (vma->vm_flags & (VM_PFNMAP | VM_MIXEDMAP)) || is_huge_zero(m, pmd))
		return NULL;
	return pw_page_inline(m, pfn);
}

pte_t *pw_pte_offset_map_lock(struct mm_struct *mm, pmd_t *pmdp,
			      unsigned long addr, spinlock_t **ptlp)
{
	pte_t *pte = pw_pte_offset_map(mm->m, pmdp, addr);

	if (pte) {
		*ptlp = pw_table_lock_inline(mm->m, pte);
		pw_spin_lock_inline(*ptlp);
	}
	return pte;
}

void pw_pte_unmap_unlock(pte_t *pte, spinlock_t *ptl)
{
	(void)pte;
	pw_spin_unlock_inline(ptl);
}

/* ---- entries by level -------------------------------------------------------- */

/* The entry of real level @level covering @addr; creates missing tables
 * when @create.  Sets *err on failure. */
static uint64_t *entry_slot(const struct mm_struct *mm, enum pw_level level,
			    unsigned long addr, bool create, int *err)
{
	struct pw_machine *m = mm->m;
	uint64_t *p = mm->pgd + pw_index(m, PW_LEVEL_PGD, addr);
	int l;

	*err = 0;
	if (level < PW_LEVEL_PGD || level > PW_LEVEL_PTE ||
	    m->layout.geo.folded[level]) {
		*err = -EINVAL;
		return NULL;
	}
	for (l = PW_LEVEL_PGD; l < (int)level; l++) {
		uint64_t *table, v;

		if (m->layout.geo.folded[l + 1])
			continue;
		if (pw_load(p) == 0) {
			uint64_t pfn;

			if (!create)
				return NULL;
			pfn = pw_table_alloc(m);
			if (!pfn) {
				*err = -ENOMEM;
				return NULL;
			}
			pw_store(p, PW_PAGE_TABLE | (pfn << PW_PAGE_SHIFT));
		}
		v = pw_load(p);
		table = pw_table_of(m, v);
		if (!table || (v & PW_PAGE_HUGE) || !(v & PW_PAGE_PRESENT)) {
			*err = -EFAULT;
			return NULL;
		}
		p = table + pw_index(m, l + 1, addr);
	}
	return p;
}

int pw_mm_get_entry(const struct mm_struct *mm, enum pw_level level,
		    unsigned long addr, uint64_t *value)
{
	int err;
	uint64_t *p;

	*value = 0;
	err = pw_mm_alive(mm, __func__);
	if (err)
		return err;
	p = entry_slot(mm, level, addr, false, &err);
	if (p)
		*value = pw_load(p);
	return err;
}

int pw_mm_set_entry(struct mm_struct *mm, enum pw_level level,
		    unsigned long addr, uint64_t value)
{
	int err = pw_mm_alive(mm, __func__);
	uint64_t *p;

	if (err)
		return err;
	p = entry_slot(mm, level, addr, true, &err);
	if (p)
		pw_store(p, value);
	return err;
}

static unsigned long sign_extend(const struct pw_machine *m, unsigned long a)
{
	unsigned sh = 64 - m->layout.geo.va_bits;

	return (unsigned long)((long)(a << sh) >> sh);
}

static void dump_table(const struct mm_struct *mm, const uint64_t *table,
		       int level, unsigned long base, pw_dump_fn fn, void *ctx)
{
	const struct pw_machine *m = mm->m;
	int next = level + 1;
	unsigned i;

	while (next < PW_LEVEL_PTE && m->layout.geo.folded[next])
		next++;
	for (i = 0; i < PW_PTRS_PER_TABLE; i++) {
		uint64_t v = table[i];
		unsigned long addr =
			base | ((unsigned long)i << m->layout.geo.shift[level]);
		bool descend;

		if (!v)
			continue;
		descend = level < PW_LEVEL_PTE && pw_entry_is_table(m, v);
		fn(ctx, (enum pw_level)level, sign_extend(m, addr), v, descend);
		if (descend)
			dump_table(mm, pw_table_of(m, v), next, addr, fn, ctx);
	}
}

void pw_mm_dump(const struct mm_struct *mm, pw_dump_fn fn, void *ctx)
{
	if (pw_mm_alive(mm, __func__))
		return;
	dump_table(mm, mm->pgd, PW_LEVEL_PGD, 0, fn, ctx);
}

/* ---- the levels a geometry really has -------------------------------------- */

/*
 * The level whose rules the entries of real level @l follow: the lowest
 * level folded into it (a 2-level PGD holds PMD entries, which can be
 * huge leaves).
 */
static int level_role(const struct pw_machine *m, int l)
{
	while (l < PW_LEVEL_PTE && m->layout.geo.folded[l + 1])
		l++;
	return l;
}

static bool table_is_empty(const uint64_t *table)
{
	size_t i;

	for (i = 0; i < PW_PTRS_PER_TABLE; i++)
		if (table[i])
			return false;
	return true;
}

/* A huge entry that is split, rather than cleared or left, when a range
 * covers only part of it. */
static bool is_splittable(const struct pw_machine *m, int role, uint64_t v)
{
	bool leaf = (v & (PW_PAGE_PRESENT | PW_PAGE_HUGE)) ==
		    (PW_PAGE_PRESENT | PW_PAGE_HUGE);

	if (role == PW_LEVEL_PMD)
		return leaf || pw_mem_is_migration(m, v);
	return role == PW_LEVEL_PUD && leaf;
}

/* ---- one operation over a range (zap, change_protection) ----------------- */

/*
 * Splits the huge entry @p, which the range covers only partly.  In a VMA
 * this is the kernel's split (events included); in a gap there is no VMA
 * to report or to ask, so a PMD is split as in an anonymous VMA, silently,
 * and a PUD is cleared as split_huge_pud clears it.
 */
static void split_partial(struct pw_range *r, uint64_t *p, int role,
			  unsigned long addr)
{
	struct pw_machine *m = r->mm->m;
	uint64_t pfn;

	if (r->vma) {
		if (role == PW_LEVEL_PMD)
			pw_split_huge_pmd(r->vma, p, addr);
		else
			pw_split_huge_pud(r->vma, p, addr);
		return;
	}
	if (role == PW_LEVEL_PUD) {
		*p = 0;
		return;
	}
	pfn = pw_table_alloc(m);
	if (!pfn) {
		/* As pw_split_huge_pmd: no frame, so the mapping goes. */
		pw_warn(m);
		*p = 0;
		return;
	}
	pw_fill_split_pmd(m, pw_frame_inline(m, pfn), *p);
	*p = PW_PAGE_TABLE | (pfn << PW_PAGE_SHIFT);
}

/* The table that entry @p points to, just visited: freed, and @p
 * cleared, if it is now empty. */
static void free_if_empty(struct pw_machine *m, uint64_t *p)
{
	uint64_t pfn = pw_entry_pfn(*p);

	if (table_is_empty(pw_frame_inline(m, pfn))) {
		*p = 0;
		pw_table_free(m, pfn);
	}
}

static void range_table(struct pw_range *r, uint64_t *table, int l,
			unsigned long addr, unsigned long end);

/* Applies @r's operation to entry @p of real level @l, which
 * covers [addr, next) of the range. */
static void range_entry(struct pw_range *r, uint64_t *p, int l,
			unsigned long addr, unsigned long next)
{
	struct pw_machine *m = r->mm->m;
	int role = level_role(m, l);
	bool whole = next - addr == 1UL << m->layout.geo.shift[l];

	if (!*p)
		return;
	if (l == PW_LEVEL_PTE) {
		r->leaf(r, p, role);
		return;
	}
	if (!whole && is_splittable(m, role, *p))
		split_partial(r, p, role, addr);
	if (pw_is_live_table(m, *p)) {
		range_table(r, pw_table_of(m, *p), pw_level_below(m, l), addr,
			    next);
		if (r->free_empty)
			free_if_empty(m, p);
		return;
	}
	/* Not a table: a leaf, a swap entry, or garbage.  Only touched when
	 * wholly inside; a partial one that could be split was split above. */
	if (!whole || !*p)
		return;
	r->leaf(r, p, role);
}

static void range_table(struct pw_range *r, uint64_t *table, int l,
			unsigned long addr, unsigned long end)
{
	const struct pw_machine *m = r->mm->m;
	unsigned long next;

	for (; addr < end; addr = next) {
		next = pw_addr_end(m, l, addr, end);
		range_entry(r, table + pw_index(m, l, addr), l, addr, next);
	}
}

void pw_range_apply(struct pw_range *r, unsigned long start, unsigned long end)
{
	range_table(r, r->mm->pgd, PW_LEVEL_PGD, start, end);
}
