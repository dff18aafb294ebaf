/*
 * vma.c - VMA management over the simulated machine: pw_mmap, pw_munmap
 * and pw_mprotect with the kernel's merging and splitting (mm/vma.c,
 * mm/mmap.c, mm/mprotect.c), the page-table updates they imply (zapping,
 * freeing emptied tables, change_protection), an invariant checker and
 * address-space teardown.
 *
 * pw_vma_add() in machine.c stays the raw primitive that never merges;
 * everything here keeps the same structures consistent: mm->vmas sorted
 * by address, mm->by_id indexed by id (NULL for a removed VMA) and each
 * mapping's i_mmap array in pgoff order.
 *
 * Every public operation validates and reserves memory first, then
 * changes things in steps that cannot fail, so an error changes nothing.
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The kernel's VM_SPECIAL, as far as this machine has its flags: never merged. */
#define PW_VM_SPECIAL (VM_PFNMAP | VM_MIXEDMAP)
/* The flags mprotect() replaces. */
#define PW_VM_PROT (VM_READ | VM_WRITE | VM_EXEC)

#define PAGE_SIZE PW_PAGE_SIZE
#define PAGE_ALIGN(x) (((x) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1))

/* ---- VMA geometry and compatibility -------------------------------------- */

/* The file page offset that @addr inside @vma maps. */
static unsigned long vma_pgoff_at(const struct vm_area_struct *vma,
				  unsigned long addr)
{
	return vma->vm_pgoff + ((addr - vma->vm_start) >> PW_PAGE_SHIFT);
}

static unsigned long huge_size(unsigned shift)
{
	return shift ? 1UL << shift : PAGE_SIZE;
}

/*
 * What decides whether two touching ranges merge: a VMA, or a range that
 * is about to become (part of) one.
 */
struct vma_desc {
	unsigned long start, end, flags, pgoff;
	const struct address_space *file;
	unsigned shift;
	const void *user;
};

static struct vma_desc desc_of(const struct vm_area_struct *vma)
{
	return (struct vma_desc){ .start = vma->vm_start, .end = vma->vm_end,
		.flags = vma->vm_flags, .pgoff = vma->vm_pgoff,
		.file = vma->vm_file, .shift = vma->hugetlb_shift,
		.user = vma->user };
}

/*
 * Could @lo and @hi, with @lo just below @hi, be one VMA?  The kernel's
 * is_mergeable_vma plus the pgoff continuity of can_vma_merge_before/after
 * (anonymous VMAs have linear pgoffs, so the rule is the same for them).
 */
static bool mergeable(const struct vma_desc *lo, const struct vma_desc *hi)
{
	return lo->end == hi->start && lo->flags == hi->flags &&
	       !(lo->flags & PW_VM_SPECIAL) && lo->file == hi->file &&
	       lo->shift == hi->shift && lo->user == hi->user &&
	       lo->pgoff + ((lo->end - lo->start) >> PW_PAGE_SHIFT) == hi->pgoff;
}

/* Would @vma, just below the range @hi, merge with it? */
static bool merges_below(const struct vm_area_struct *vma,
			 const struct vma_desc *hi)
{
	struct vma_desc lo = desc_of(vma);

	return mergeable(&lo, hi);
}

/* Would @vma, just above the range @lo, merge with it? */
static bool merges_above(const struct vma_desc *lo,
			 const struct vm_area_struct *vma)
{
	struct vma_desc hi = desc_of(vma);

	return mergeable(lo, &hi);
}

/* ---- the mm's VMA array, by_id and i_mmap ---------------------------------- */

/* The VMA that contains @addr, or NULL. */
static struct vm_area_struct *vma_at(struct mm_struct *mm, unsigned long addr)
{
	struct vm_area_struct *vma = pw_find_vma(mm, addr);

	return vma && vma->vm_start <= addr ? vma : NULL;
}

/* The VMA ending exactly where @vma starts, or NULL. */
static struct vm_area_struct *prev_touching(struct vm_area_struct *vma)
{
	struct mm_struct *mm = vma->vm_mm;
	size_t i = pw_vma_index(mm, vma->vm_start);

	return i > 0 && mm->vmas[i - 1]->vm_end == vma->vm_start ?
		       mm->vmas[i - 1] : NULL;
}

/* The VMA starting exactly where @vma ends, or NULL. */
static struct vm_area_struct *next_touching(struct vm_area_struct *vma)
{
	struct mm_struct *mm = vma->vm_mm;
	size_t i = pw_vma_index(mm, vma->vm_start) + 1;

	return i < mm->nr_vmas && mm->vmas[i]->vm_start == vma->vm_end ?
		       mm->vmas[i] : NULL;
}

/*
 * Makes room for @n more VMAs in @mm, and in mappings @a and @b (either
 * may be NULL), so that linking them later cannot fail.
 */
static int reserve_vmas(struct mm_struct *mm, struct address_space *a,
			struct address_space *b, size_t n)
{
	if (!pw_array_reserve((void **)&mm->vmas, &mm->cap_vmas, mm->nr_vmas + n,
		     sizeof(*mm->vmas)) ||
	    !pw_array_reserve((void **)&mm->by_id, &mm->cap_ids, mm->nr_ids + n,
		     sizeof(*mm->by_id)))
		return -ENOMEM;
	if (a && !pw_array_reserve((void **)&a->vmas, &a->cap, a->nr + n, sizeof(*a->vmas)))
		return -ENOMEM;
	if (b && !pw_array_reserve((void **)&b->vmas, &b->cap, b->nr + n, sizeof(*b->vmas)))
		return -ENOMEM;
	return 0;
}

/* Inserts @vma into its mapping's i_mmap after the VMAs of equal pgoff. */
static void i_mmap_insert(struct vm_area_struct *vma)
{
	struct address_space *as = vma->vm_file;
	size_t i;

	for (i = as->nr; i > 0 && as->vmas[i - 1]->vm_pgoff > vma->vm_pgoff; i--)
		as->vmas[i] = as->vmas[i - 1];
	as->vmas[i] = vma;
	as->nr++;
}

static void i_mmap_remove(struct vm_area_struct *vma)
{
	struct address_space *as = vma->vm_file;
	size_t i;

	for (i = 0; i < as->nr; i++) {
		if (as->vmas[i] == vma) {
			memmove(&as->vmas[i], &as->vmas[i + 1],
				(as->nr - i - 1) * sizeof(*as->vmas));
			as->nr--;
			return;
		}
	}
}

/*
 * Gives @vma (filled in, not yet linked) the next id and links it into
 * its mm and mapping.  Room must have been reserved with reserve_vmas().
 */
static void vma_link(struct vm_area_struct *vma)
{
	struct mm_struct *mm = vma->vm_mm;
	size_t at = pw_vma_index(mm, vma->vm_start);

	mm->by_id[mm->nr_ids++] = vma;
	vma->id = (unsigned)mm->nr_ids;
	memmove(&mm->vmas[at + 1], &mm->vmas[at],
		(mm->nr_vmas - at) * sizeof(*mm->vmas));
	mm->vmas[at] = vma;
	mm->nr_vmas++;
	if (vma->vm_file)
		i_mmap_insert(vma);
}

/* Unlinks @vma from its mm, by_id and mapping, and frees it. */
static void vma_remove(struct vm_area_struct *vma)
{
	struct mm_struct *mm = vma->vm_mm;
	size_t at = pw_vma_index(mm, vma->vm_start);

	memmove(&mm->vmas[at], &mm->vmas[at + 1],
		(mm->nr_vmas - at - 1) * sizeof(*mm->vmas));
	mm->nr_vmas--;
	mm->by_id[vma->id - 1] = NULL;
	if (vma->vm_file)
		i_mmap_remove(vma);
	free(vma);
}

/*
 * Moves @vma's start to @start (up or down), keeping the same pages at
 * the same file offsets, and re-sorts it in i_mmap since its pgoff
 * changed.  The caller keeps mm->vmas free of overlaps.
 */
static void vma_set_start(struct vm_area_struct *vma, unsigned long start)
{
	if (start >= vma->vm_start)
		vma->vm_pgoff += (start - vma->vm_start) >> PW_PAGE_SHIFT;
	else
		vma->vm_pgoff -= (vma->vm_start - start) >> PW_PAGE_SHIFT;
	vma->vm_start = start;
	if (vma->vm_file) {
		i_mmap_remove(vma);
		i_mmap_insert(vma);
	}
}

/*
 * Splits @vma at @addr using the preallocated @new: @vma keeps
 * [vm_start, addr), @new becomes [addr, vm_end) with the next id.
 */
static struct vm_area_struct *vma_split(struct vm_area_struct *vma,
					unsigned long addr,
					struct vm_area_struct *new)
{
	*new = *vma;
	new->vm_start = addr;
	new->vm_pgoff = vma_pgoff_at(vma, addr);
	vma->vm_end = addr;
	vma_link(new);
	return new;
}

/* ---- page tables: the levels this geometry really has --------------------- */

/* The real level below real level @l. */
static int level_below(const struct pw_machine *m, int l)
{
	do
		l++;
	while (l < PW_LEVEL_PTE && m->geo.folded[l]);
	return l;
}

/*
 * The level whose rules the entries of real level @l follow: the lowest
 * level folded into it (a 2-level PGD holds PMD entries, which can be
 * huge leaves).
 */
static int level_role(const struct pw_machine *m, int l)
{
	while (l < PW_LEVEL_PTE && m->geo.folded[l + 1])
		l++;
	return l;
}

/* Points to a page table that the allocator handed out (not to garbage). */
static bool is_live_table(const struct pw_machine *m, uint64_t v)
{
	return pw_entry_is_table(m, v) &&
	       (m->pages[pw_entry_pfn(v)].flags & PW_PG_TABLE);
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
static bool is_splittable(int role, uint64_t v)
{
	bool leaf = (v & (PW_PAGE_PRESENT | PW_PAGE_HUGE)) ==
		    (PW_PAGE_PRESENT | PW_PAGE_HUGE);

	if (role == PW_LEVEL_PMD)
		return leaf || pw_is_migration_entry(v);
	return role == PW_LEVEL_PUD && leaf;
}

/* ---- page tables: one operation over a range ------------------------------- */

enum range_op {
	RANGE_ZAP,     /* munmap: clear entries, free emptied tables */
	RANGE_PROTECT, /* mprotect: change_protection */
};

struct range {
	struct mm_struct *mm;
	struct vm_area_struct *vma; /* the VMA the range lies in; NULL: a gap */
	enum range_op op;
	unsigned long flags;        /* RANGE_PROTECT: the VMA's new flags */
};

/*
 * Splits the huge entry @p, which the range covers only partly.  In a VMA
 * this is the kernel's split (events included); in a gap there is no VMA
 * to report or to ask, so a PMD is split as in an anonymous VMA, silently,
 * and a PUD is cleared as split_huge_pud clears it.
 */
static void split_partial(struct range *r, uint64_t *p, int role,
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
	pw_fill_split_pmd(m, m->mem + pfn * PW_PTRS_PER_TABLE, *p);
	*p = PW_PAGE_TABLE | (pfn << PW_PAGE_SHIFT);
}

/* x86's pte_modify for the bits mprotect changes: write is only taken
 * away (a write fault grants it), NX follows VM_EXEC. */
static uint64_t protect_value(uint64_t v, unsigned long flags)
{
	if (!(flags & VM_WRITE))
		v &= ~PW_PAGE_RW;
	if (flags & VM_EXEC)
		v &= ~PW_PAGE_NX;
	else
		v |= PW_PAGE_NX;
	return v;
}

/* change_protection on one entry that is not a table.  Only PTEs and
 * PMD/PUD entries map memory; anything else at the levels above is
 * garbage and left alone. */
static void protect_entry(struct range *r, uint64_t *p, int role)
{
	uint64_t v = *p;

	if (role < PW_LEVEL_PUD)
		return;
	if (pw_is_migration_entry(v)) {
		/* "A protection check is difficult so just be safe and
		 * disable write": the kernel does it whatever the new flags. */
		if (pw_swp_type(v) == PW_SWP_MIGRATION_WRITE)
			*p = pw_swp_entry(pw_vma_is_anonymous(r->vma) ?
					  PW_SWP_MIGRATION_READ_EXCLUSIVE :
					  PW_SWP_MIGRATION_READ,
					  pw_swp_offset(v));
		return;
	}
	if (!(v & PW_PAGE_PRESENT))
		return;
	if (role == PW_LEVEL_PTE || (v & PW_PAGE_HUGE))
		*p = protect_value(v, r->flags);
}

/* The table that entry @p points to, just visited: freed, and @p
 * cleared, if it is now empty. */
static void free_if_empty(struct pw_machine *m, uint64_t *p)
{
	uint64_t pfn = pw_entry_pfn(*p);

	if (table_is_empty(m->mem + pfn * PW_PTRS_PER_TABLE)) {
		*p = 0;
		pw_table_free(m, pfn);
	}
}

static void range_table(struct range *r, uint64_t *table, int l,
			unsigned long addr, unsigned long end);

/* Applies the range's operation to entry @p of real level @l, which
 * covers [addr, next) of the range. */
static void range_entry(struct range *r, uint64_t *p, int l,
			unsigned long addr, unsigned long next)
{
	struct pw_machine *m = r->mm->m;
	int role = level_role(m, l);
	bool whole = next - addr == 1UL << m->geo.shift[l];

	if (!*p)
		return;
	if (l == PW_LEVEL_PTE) {
		if (r->op == RANGE_ZAP)
			*p = 0;
		else
			protect_entry(r, p, role);
		return;
	}
	if (!whole && is_splittable(role, *p))
		split_partial(r, p, role, addr);
	if (is_live_table(m, *p)) {
		range_table(r, pw_table_of(m, *p), level_below(m, l), addr, next);
		if (r->op == RANGE_ZAP)
			free_if_empty(m, p);
		return;
	}
	/* Not a table: a leaf, a swap entry, or garbage.  Only touched when
	 * wholly inside; a partial one that could be split was split above. */
	if (!whole || !*p)
		return;
	if (r->op == RANGE_ZAP)
		*p = 0;
	else
		protect_entry(r, p, role);
}

static void range_table(struct range *r, uint64_t *table, int l,
			unsigned long addr, unsigned long end)
{
	const struct pw_machine *m = r->mm->m;
	unsigned long next;

	for (; addr < end; addr = next) {
		next = pw_addr_end(m, l, addr, end);
		range_entry(r, table + pw_index(m, l, addr), l, addr, next);
	}
}

static void range_apply(struct mm_struct *mm, struct vm_area_struct *vma,
			enum range_op op, unsigned long flags,
			unsigned long start, unsigned long end)
{
	struct range r = { .mm = mm, .vma = vma, .op = op, .flags = flags };

	range_table(&r, mm->pgd, PW_LEVEL_PGD, start, end);
}

/*
 * Clears [start, end) VMA by VMA and gap by gap, so that each huge entry
 * a piece covers partly is split by the rules of the VMA it lies in.
 */
static void zap_range(struct mm_struct *mm, unsigned long start,
		      unsigned long end)
{
	unsigned long addr = start;

	while (addr < end) {
		struct vm_area_struct *vma = pw_find_vma(mm, addr);
		unsigned long piece_end;

		if (!vma || vma->vm_start >= end) {
			range_apply(mm, NULL, RANGE_ZAP, 0, addr, end);
			return;
		}
		if (vma->vm_start > addr) {
			range_apply(mm, NULL, RANGE_ZAP, 0, addr, vma->vm_start);
			addr = vma->vm_start;
		}
		piece_end = vma->vm_end < end ? vma->vm_end : end;
		range_apply(mm, vma, RANGE_ZAP, 0, addr, piece_end);
		addr = piece_end;
	}
}

/* ---- argument checks --------------------------------------------------------- */

/*
 * A range may not start or end inside a hugetlb VMA off its huge page
 * size: the kernel's hugetlb_vm_op_split refuses that split.
 */
static bool hugetlb_misaligned(struct mm_struct *mm, unsigned long addr)
{
	struct vm_area_struct *vma = vma_at(mm, addr);

	return vma && vma->hugetlb_shift && vma->vm_start < addr &&
	       (addr & (huge_size(vma->hugetlb_shift) - 1));
}

/* The range [start, end) of a user mm, or -EINVAL as munmap reports it. */
static int user_range(const struct mm_struct *mm, unsigned long start,
		      unsigned long len, unsigned long *end)
{
	unsigned long task_size = mm->m->geo.task_size;

	if (mm->kernel || (start & (PAGE_SIZE - 1)) || start > task_size ||
	    len > task_size - start)
		return -EINVAL;
	*end = start + PAGE_ALIGN(len);
	return 0;
}

/* ---- pw_mmap ------------------------------------------------------------------- */

/* mmap's argument checks, in the kernel's order of errors; rounds *@len
 * up to the page or huge page size. */
static int mmap_check(struct mm_struct *mm, unsigned long start,
		      unsigned long *len, unsigned long flags,
		      struct address_space *mapping, unsigned long pgoff,
		      unsigned shift)
{
	unsigned long size = huge_size(shift);

	if (mm->kernel || *len == 0 || (shift && shift != 21 && shift != 30) ||
	    ((flags & VM_HUGETLB) && !shift) || (start & (size - 1)))
		return -EINVAL;
	if (shift && mapping && (pgoff & ((size >> PW_PAGE_SHIFT) - 1)))
		return -EINVAL;
	if (*len > mm->m->geo.task_size)
		return -ENOMEM;
	*len = (*len + size - 1) & ~(size - 1);
	if (start > mm->m->geo.task_size - *len)
		return -ENOMEM;
	if (mapping && pgoff + (*len >> PW_PAGE_SHIFT) < pgoff)
		return -EOVERFLOW;
	return 0;
}

int pw_mmap(struct mm_struct *mm, unsigned long start, unsigned long len,
	    unsigned long flags, struct address_space *mapping,
	    unsigned long pgoff, unsigned hugetlb_shift,
	    struct vm_area_struct **out)
{
	struct vm_area_struct *prev = NULL, *next = NULL, *vma;
	struct vma_desc new;
	bool left, right;
	size_t i;
	int err;

	if (out)
		*out = NULL;
	err = mmap_check(mm, start, &len, flags, mapping, pgoff, hugetlb_shift);
	if (err)
		return err;
	i = pw_vma_index(mm, start);
	if (i < mm->nr_vmas && mm->vmas[i]->vm_start < start + len)
		return -EEXIST;
	if (i > 0 && mm->vmas[i - 1]->vm_end == start)
		prev = mm->vmas[i - 1];
	if (i < mm->nr_vmas && mm->vmas[i]->vm_start == start + len)
		next = mm->vmas[i];

	new = (struct vma_desc){ .start = start, .end = start + len,
		.flags = flags | (hugetlb_shift ? VM_HUGETLB : 0),
		.pgoff = mapping ? pgoff : start >> PW_PAGE_SHIFT,
		.file = mapping, .shift = hugetlb_shift, .user = NULL };
	left = prev && merges_below(prev, &new);
	right = next && merges_above(&new, next);

	if (left && right) {
		/* prev swallows the range and next (next goes first, so that
		 * mm->vmas never holds overlapping VMAs). */
		unsigned long next_end = next->vm_end;

		vma_remove(next);
		prev->vm_end = next_end;
		vma = prev;
	} else if (left) {
		prev->vm_end = start + len;
		vma = prev;
	} else if (right) {
		vma_set_start(next, start);
		vma = next;
	} else {
		vma = pw_vma_add(mm, start, start + len, new.flags, mapping,
				 new.pgoff, hugetlb_shift, &err);
		if (!vma)
			return err;
	}
	if (out)
		*out = vma;
	return 0;
}

/* ---- pw_munmap --------------------------------------------------------------- */

/* Takes [start, end) out of every VMA it touches. */
static void munmap_vmas(struct mm_struct *mm, unsigned long start,
			unsigned long end, struct vm_area_struct *spare)
{
	unsigned long addr = start;

	for (;;) {
		struct vm_area_struct *vma = pw_find_vma(mm, addr);

		if (!vma || vma->vm_start >= end)
			return;
		addr = vma->vm_end;
		if (vma->vm_start < start && vma->vm_end > end) {
			/* A hole in the middle: the upper piece is new. */
			vma_split(vma, end, spare);
			vma->vm_end = start;
			return;
		}
		if (vma->vm_start < start)
			vma->vm_end = start;
		else if (vma->vm_end > end)
			vma_set_start(vma, end);
		else
			vma_remove(vma);
	}
}

int pw_munmap(struct mm_struct *mm, unsigned long start, unsigned long len)
{
	struct vm_area_struct *spare = NULL, *vma;
	unsigned long end;
	int err;

	if (len == 0)
		return -EINVAL;
	err = user_range(mm, start, len, &end);
	if (err)
		return err;
	if (hugetlb_misaligned(mm, start) || hugetlb_misaligned(mm, end))
		return -EINVAL;

	/* Only a VMA spanning the whole range needs a new VMA. */
	vma = vma_at(mm, start);
	if (vma && vma->vm_start < start && vma->vm_end > end) {
		spare = malloc(sizeof(*spare));
		if (!spare || reserve_vmas(mm, vma->vm_file, NULL, 1)) {
			free(spare);
			return -ENOMEM;
		}
	}

	/* The VMAs still describe the range: the zap needs them to split. */
	zap_range(mm, start, end);
	munmap_vmas(mm, start, end, spare);
	return 0;
}

/* ---- pw_mprotect -------------------------------------------------------------- */

static unsigned long prot_flags(const struct vm_area_struct *vma,
				unsigned long prot)
{
	return (vma->vm_flags & ~PW_VM_PROT) | prot;
}

/* True if every page of [start, end) is in a VMA. */
static bool range_mapped(struct mm_struct *mm, unsigned long start,
			 unsigned long end)
{
	unsigned long addr = start;

	while (addr < end) {
		struct vm_area_struct *vma = vma_at(mm, addr);

		if (!vma)
			return false;
		addr = vma->vm_end;
	}
	return true;
}

/* One of the preallocated VMAs; there are enough (mprotect_reserve). */
static struct vm_area_struct *take_spare(struct vm_area_struct *spare[2])
{
	struct vm_area_struct *vma;
	int i = spare[0] ? 0 : 1;

	vma = spare[i];
	spare[i] = NULL;
	return vma;
}

/*
 * Gives [start, end), which lies in @vma, the flags @flags: merges it
 * into a compatible neighbour where vma_modify_flags would, else splits
 * @vma so that exactly [start, end) changes.  @spare holds up to two
 * preallocated VMAs; those used are set to NULL.
 */
static void mprotect_vma(struct vm_area_struct *vma, unsigned long start,
			 unsigned long end, unsigned long flags,
			 struct vm_area_struct *spare[2])
{
	struct vm_area_struct *prev = NULL, *next = NULL;
	struct vma_desc mid = desc_of(vma);
	bool left, right;

	mid.start = start;
	mid.end = end;
	mid.flags = flags;
	mid.pgoff = vma_pgoff_at(vma, start);
	if (start == vma->vm_start)
		prev = prev_touching(vma);
	if (end == vma->vm_end)
		next = next_touching(vma);
	left = prev && merges_below(prev, &mid);
	right = next && merges_above(&mid, next);

	/* Shrink or remove before growing, so that mm->vmas never holds
	 * overlapping VMAs (vma_index relies on it). */
	if (left && right) {
		unsigned long next_end = next->vm_end;

		vma_remove(vma);
		vma_remove(next);
		prev->vm_end = next_end;
	} else if (left) {
		if (end == vma->vm_end)
			vma_remove(vma);
		else
			vma_set_start(vma, end);
		prev->vm_end = end;
	} else if (right) {
		if (start == vma->vm_start)
			vma_remove(vma);
		else
			vma->vm_end = start;
		vma_set_start(next, start);
	} else {
		if (start > vma->vm_start)
			vma = vma_split(vma, start, take_spare(spare));
		if (end < vma->vm_end)
			vma_split(vma, end, take_spare(spare));
		vma->vm_flags = flags;
	}
}

/* Preallocates the (at most two) VMAs that splitting at @start and @end needs. */
static int mprotect_reserve(struct mm_struct *mm, unsigned long start,
			    unsigned long end, struct vm_area_struct *spare[2])
{
	struct vm_area_struct *first = vma_at(mm, start);
	struct vm_area_struct *last = vma_at(mm, end - 1);

	spare[0] = malloc(sizeof(*spare[0]));
	spare[1] = malloc(sizeof(*spare[1]));
	if (!spare[0] || !spare[1] ||
	    reserve_vmas(mm, first->vm_file, last->vm_file, 2)) {
		free(spare[0]);
		free(spare[1]);
		return -ENOMEM;
	}
	return 0;
}

int pw_mprotect(struct mm_struct *mm, unsigned long start, unsigned long len,
		unsigned long prot)
{
	struct vm_area_struct *spare[2];
	unsigned long addr, end;

	if (mm->kernel || (start & (PAGE_SIZE - 1)) || (prot & ~PW_VM_PROT))
		return -EINVAL;
	if (len == 0)
		return 0;
	end = start + PAGE_ALIGN(len);
	if (end <= start)
		return -ENOMEM;
	if (!range_mapped(mm, start, end))
		return -ENOMEM;
	if (hugetlb_misaligned(mm, start) || hugetlb_misaligned(mm, end))
		return -EINVAL;
	if (mprotect_reserve(mm, start, end, spare))
		return -ENOMEM;

	/* change_protection first, while each piece's VMA is the original. */
	for (addr = start; addr < end;) {
		struct vm_area_struct *vma = vma_at(mm, addr);
		unsigned long piece_end = vma->vm_end < end ? vma->vm_end : end;
		unsigned long flags = prot_flags(vma, prot);

		if (flags != vma->vm_flags)
			range_apply(mm, vma, RANGE_PROTECT, flags, addr, piece_end);
		addr = piece_end;
	}
	/* Then the VMAs; each step leaves [start, addr) done and merged. */
	for (addr = start; addr < end;) {
		struct vm_area_struct *vma = vma_at(mm, addr);
		unsigned long piece_end = vma->vm_end < end ? vma->vm_end : end;
		unsigned long flags = prot_flags(vma, prot);

		if (flags != vma->vm_flags)
			mprotect_vma(vma, addr, piece_end, flags, spare);
		addr = piece_end;
	}
	free(spare[0]);
	free(spare[1]);
	return 0;
}

/* ---- pw_mm_destroy -------------------------------------------------------------- */

/* Frees the tables under @table, of real level @l, each frame once. */
static void free_tables(struct pw_machine *m, uint64_t *table, int l)
{
	size_t i;

	if (l == PW_LEVEL_PTE)
		return;
	for (i = 0; i < PW_PTRS_PER_TABLE; i++) {
		uint64_t v = table[i];

		if (!is_live_table(m, v))
			continue;
		free_tables(m, pw_table_of(m, v), level_below(m, l));
		/* A frame reachable twice was freed the first time. */
		if (m->pages[pw_entry_pfn(v)].flags & PW_PG_TABLE)
			pw_table_free(m, pw_entry_pfn(v));
		table[i] = 0;
	}
}

void pw_mm_destroy(struct mm_struct *mm)
{
	struct pw_machine *m;
	size_t i;

	if (!mm)
		return;
	m = mm->m;
	if (mm->kernel) {
		pw_warn(m);
		return;
	}
	while (mm->nr_vmas)
		vma_remove(mm->vmas[mm->nr_vmas - 1]);
	free_tables(m, mm->pgd, PW_LEVEL_PGD);
	pw_table_free(m, mm->pgd_pfn);
	for (i = 0; i < m->nr_mms; i++) {
		if (m->mms[i] == mm) {
			memmove(&m->mms[i], &m->mms[i + 1],
				(m->nr_mms - i - 1) * sizeof(*m->mms));
			m->nr_mms--;
			break;
		}
	}
	free(mm->by_id);
	free(mm->vmas);
	pthread_rwlock_destroy(&mm->mmap_lock);
	free(mm);
}

/* ---- pw_mm_check ------------------------------------------------------------------ */

struct check {
	const struct mm_struct *mm;
	struct pw_machine *m;
	char *err;
	size_t errlen;
	const struct vm_area_struct **live; /* every VMA of every mm, sorted */
	size_t nr_live;
	unsigned char *seen;                /* table frames reached, a bitmap */
	uint64_t tables;                    /* table frames reached */
};

/* Describes the first problem found; returns -EINVAL. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
static int fail(struct check *c, const char *fmt, ...);

static int fail(struct check *c, const char *fmt, ...)
{
	va_list ap;

	if (c->err && c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err, c->errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int check_vma(struct check *c, const struct vm_area_struct *vma)
{
	unsigned long size = huge_size(vma->hugetlb_shift);
	size_t i;

	if (vma->vm_mm != c->mm)
		return fail(c, "vma %u belongs to another mm", vma->id);
	if (vma->vm_start >= vma->vm_end ||
	    ((vma->vm_start | vma->vm_end) & (PAGE_SIZE - 1)) ||
	    vma->vm_end > c->m->geo.task_size)
		return fail(c, "vma %u [%#lx, %#lx) is empty, unaligned or past TASK_SIZE",
			    vma->id, vma->vm_start, vma->vm_end);
	if (vma->hugetlb_shift != 0 && vma->hugetlb_shift != 21 &&
	    vma->hugetlb_shift != 30)
		return fail(c, "vma %u has hugetlb_shift %u", vma->id,
			    vma->hugetlb_shift);
	if (!(vma->vm_flags & VM_HUGETLB) != !vma->hugetlb_shift)
		return fail(c, "vma %u: VM_HUGETLB disagrees with hugetlb_shift %u",
			    vma->id, vma->hugetlb_shift);
	if ((vma->vm_start | vma->vm_end) & (size - 1))
		return fail(c, "hugetlb vma %u [%#lx, %#lx) is not aligned to %#lx",
			    vma->id, vma->vm_start, vma->vm_end, size);
	if (!vma->vm_file)
		return 0;
	for (i = 0; i < c->m->nr_maps; i++)
		if (c->m->maps[i] == vma->vm_file)
			return 0;
	return fail(c, "vma %u has a vm_file that is not a mapping of the machine",
		    vma->id);
}

static int check_vmas(struct check *c, bool merged)
{
	const struct mm_struct *mm = c->mm;
	size_t i;
	int err;

	for (i = 0; i < mm->nr_vmas; i++) {
		const struct vm_area_struct *vma = mm->vmas[i], *prev;
		struct vma_desc lo, hi;

		if (!vma)
			return fail(c, "vmas[%zu] is NULL", i);
		err = check_vma(c, vma);
		if (err)
			return err;
		if (i == 0)
			continue;
		prev = mm->vmas[i - 1];
		if (prev->vm_end > vma->vm_start)
			return fail(c, "vma %u [%#lx, %#lx) and vma %u [%#lx, %#lx) are out of order or overlap",
				    prev->id, prev->vm_start, prev->vm_end,
				    vma->id, vma->vm_start, vma->vm_end);
		lo = desc_of(prev);
		hi = desc_of(vma);
		if (merged && mergeable(&lo, &hi))
			return fail(c, "vma %u [%#lx, %#lx) and vma %u [%#lx, %#lx) should have been merged",
				    prev->id, prev->vm_start, prev->vm_end,
				    vma->id, vma->vm_start, vma->vm_end);
	}
	return 0;
}

static int check_ids(struct check *c)
{
	const struct mm_struct *mm = c->mm;
	size_t i, slots = 0;

	for (i = 0; i < mm->nr_vmas; i++) {
		const struct vm_area_struct *vma = mm->vmas[i];

		if (vma->id < 1 || vma->id > mm->nr_ids ||
		    mm->by_id[vma->id - 1] != vma)
			return fail(c, "vma %u [%#lx, %#lx) is not in by_id under its id",
				    vma->id, vma->vm_start, vma->vm_end);
	}
	/* Each VMA is in its own slot, so equal counts leave no stray slot. */
	for (i = 0; i < mm->nr_ids; i++)
		slots += mm->by_id[i] != NULL;
	if (slots != mm->nr_vmas)
		return fail(c, "by_id holds %zu VMAs but the mm has %zu", slots,
			    mm->nr_vmas);
	return 0;
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(const void *const *)a;
	uintptr_t y = (uintptr_t)*(const void *const *)b;

	return x < y ? -1 : x > y;
}

/* Collects every VMA of the machine, to tell live i_mmap entries from
 * dangling ones without dereferencing them. */
static int collect_live(struct check *c)
{
	struct pw_machine *m = c->m;
	size_t i, n = 0;

	for (i = 0; i < m->nr_mms; i++)
		n += m->mms[i]->nr_vmas;
	c->live = malloc((n ? n : 1) * sizeof(*c->live));
	if (!c->live)
		return -ENOMEM;
	for (i = 0; i < m->nr_mms; i++) {
		const struct mm_struct *mm = m->mms[i];
		size_t j;

		for (j = 0; j < mm->nr_vmas; j++)
			c->live[c->nr_live++] = mm->vmas[j];
	}
	qsort(c->live, c->nr_live, sizeof(*c->live), cmp_ptr);
	return 0;
}

static bool is_live(const struct check *c, const struct vm_area_struct *vma)
{
	return bsearch(&vma, c->live, c->nr_live, sizeof(*c->live), cmp_ptr);
}

static int check_mapping(struct check *c, const struct address_space *as)
{
	size_t i, j;

	for (i = 0; i < as->nr; i++) {
		const struct vm_area_struct *vma = as->vmas[i];

		if (!is_live(c, vma))
			return fail(c, "mapping %u lists a VMA that no mm has", as->id);
		if (vma->vm_file != as)
			return fail(c, "mapping %u lists vma %u of another mapping",
				    as->id, vma->id);
		if (i > 0 && as->vmas[i - 1]->vm_pgoff > vma->vm_pgoff)
			return fail(c, "mapping %u: vma %u (pgoff %#lx) comes after vma %u (pgoff %#lx)",
				    as->id, vma->id, vma->vm_pgoff,
				    as->vmas[i - 1]->id, as->vmas[i - 1]->vm_pgoff);
		for (j = 0; j < i; j++)
			if (as->vmas[j] == vma)
				return fail(c, "mapping %u lists vma %u twice",
					    as->id, vma->id);
	}
	return 0;
}

static int check_i_mmap(struct check *c)
{
	const struct mm_struct *mm = c->mm;
	size_t i, j;
	int err;

	err = collect_live(c);
	if (err) {
		fail(c, "out of memory");
		return err;
	}
	for (i = 0; i < c->m->nr_maps; i++) {
		err = check_mapping(c, c->m->maps[i]);
		if (err)
			return err;
	}
	for (i = 0; i < mm->nr_vmas; i++) {
		const struct vm_area_struct *vma = mm->vmas[i];
		const struct address_space *as = vma->vm_file;

		if (!as)
			continue;
		for (j = 0; j < as->nr && as->vmas[j] != vma; j++)
			;
		if (j == as->nr)
			return fail(c, "vma %u is missing from mapping %u's i_mmap",
				    vma->id, as->id);
	}
	return 0;
}

static const char *const level_names[PW_NR_LEVELS] = {
	"pgd", "p4d", "pud", "pmd", "pte",
};

/*
 * Marks table frame @pfn reached from the level-@l entry for @addr (l < 0:
 * it is an mm's top level); fails if it was reached before or is not an
 * allocated table.
 */
static int reach_table(struct check *c, uint64_t pfn, int l, unsigned long addr)
{
	const char *from = l < 0 ? "top" : level_names[l];

	if (!(c->m->pages[pfn].flags & PW_PG_TABLE))
		return fail(c, "%s entry for %#lx points to frame %#llx, which is not an allocated table",
			    from, addr, (unsigned long long)pfn);
	if (c->seen[pfn / 8] & (1u << (pfn % 8)))
		return fail(c, "table frame %#llx is reachable twice (again from the %s entry for %#lx)",
			    (unsigned long long)pfn, from, addr);
	c->seen[pfn / 8] |= (unsigned char)(1u << (pfn % 8));
	c->tables++;
	return 0;
}

static int check_table(struct check *c, const uint64_t *table, int l,
		       unsigned long base)
{
	struct pw_machine *m = c->m;
	size_t i;
	int err;

	if (l == PW_LEVEL_PTE)
		return 0;
	for (i = 0; i < PW_PTRS_PER_TABLE; i++) {
		unsigned long addr = base | ((unsigned long)i << m->geo.shift[l]);
		uint64_t v = table[i];

		if (!pw_entry_is_table(m, v))
			continue;
		err = reach_table(c, pw_entry_pfn(v), l, addr);
		if (!err)
			err = check_table(c, pw_table_of(m, v), level_below(m, l),
					  addr);
		if (err)
			return err;
	}
	return 0;
}

/* Every table frame reachable from some mm's top level, once, and all of
 * them: the allocator's count must agree. */
static int check_tables(struct check *c)
{
	struct pw_machine *m = c->m;
	size_t i;
	int err;

	c->seen = calloc((size_t)(m->cfg.frames + 7) / 8, 1);
	if (!c->seen) {
		fail(c, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < m->nr_mms; i++) {
		const struct mm_struct *mm = m->mms[i];

		err = reach_table(c, mm->pgd_pfn, -1, 0);
		if (!err)
			err = check_table(c, mm->pgd, PW_LEVEL_PGD, 0);
		if (err)
			return err;
	}
	if (c->tables != m->stats.tables_in_use)
		return fail(c, "%llu table frames are reachable but tables_in_use is %llu",
			    (unsigned long long)c->tables,
			    (unsigned long long)m->stats.tables_in_use);
	return 0;
}

static int mm_check(const struct mm_struct *mm, bool merged, char *err,
		    size_t errlen)
{
	struct check c = { .mm = mm, .m = mm->m, .err = err, .errlen = errlen };
	int ret;

	if (err && errlen)
		err[0] = '\0';
	ret = check_vmas(&c, merged);
	if (!ret)
		ret = check_ids(&c);
	if (!ret)
		ret = check_i_mmap(&c);
	if (!ret)
		ret = check_tables(&c);
	free(c.live);
	free(c.seen);
	return ret;
}

int pw_mm_check(const struct mm_struct *mm, char *err, size_t errlen)
{
	return mm_check(mm, false, err, errlen);
}

int pw_mm_check_merged(const struct mm_struct *mm, char *err, size_t errlen)
{
	return mm_check(mm, true, err, errlen);
}
