/* vma_tree.c - the VMA tree: an mm's VMAs by address and by id, each mapping's i_mmap. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* The kernel's VM_SPECIAL, as far as this machine has its flags: never merged. */
#define PW_VM_SPECIAL (VM_PFNMAP | VM_MIXEDMAP)

/*
 * Every VMA, whether pw_vma_add() or pw_mmap() makes it, enters through
 * pw_vma_link() and leaves through pw_vma_remove(), which keep three
 * structures consistent: mm->vmas sorted by address, mm->by_id indexed by
 * id (NULL for a removed VMA) and each mapping's i_mmap array in pgoff
 * order.
 */

bool pw_array_reserve(void **arr, size_t *cap, size_t need, size_t elem)
{
	void *p;
	size_t n;

	if (need <= *cap)
		return true;
	n = *cap ? *cap * 2 : 16;
	while (n < need)
		n *= 2;
	p = realloc(*arr, n * elem);
	if (!p)
		return false;
	*arr = p;
	*cap = n;
	return true;
}

/* Index of the first VMA whose end is above @addr (nr_vmas if none). */
size_t pw_vma_index(const struct mm_struct *mm, unsigned long addr)
{
	size_t lo = 0, hi = mm->nr_vmas;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (mm->vmas[mid]->vm_end > addr)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

struct vm_area_struct *pw_find_vma(struct mm_struct *mm, unsigned long addr)
{
	size_t i = pw_vma_index(mm, addr);

	return i < mm->nr_vmas ? mm->vmas[i] : NULL;
}

size_t pw_mm_vma_count(const struct mm_struct *mm)
{
	return mm->nr_vmas;
}

struct vm_area_struct *pw_mm_vma_at(const struct mm_struct *mm, size_t i)
{
	return i < mm->nr_vmas ? mm->vmas[i] : NULL;
}

struct vm_area_struct *pw_mm_vma_by_id(const struct mm_struct *mm, unsigned id)
{
	return id >= 1 && id <= mm->nr_ids ? mm->by_id[id - 1] : NULL;
}

/* ---- merging rules ---------------------------------------------------------- */

struct pw_vma_desc pw_vma_desc_of(const struct vm_area_struct *vma)
{
	return (struct pw_vma_desc){ .start = vma->vm_start,
				     .end = vma->vm_end,
				     .flags = vma->vm_flags,
				     .pgoff = vma->vm_pgoff,
				     .file = vma->vm_file,
				     .shift = vma->hugetlb_shift,
				     .user = vma->user };
}

/*
 * Could @lo and @hi, with @lo just below @hi, be one VMA?  The kernel's
 * is_mergeable_vma plus the pgoff continuity of can_vma_merge_before/after
 * (anonymous VMAs have linear pgoffs, so the rule is the same for them).
 */
bool pw_vma_mergeable(const struct pw_vma_desc *lo,
		      const struct pw_vma_desc *hi)
{
	return lo->end == hi->start && lo->flags == hi->flags &&
	       !(lo->flags & PW_VM_SPECIAL) && lo->file == hi->file &&
	       lo->shift == hi->shift && lo->user == hi->user &&
	       lo->pgoff + ((lo->end - lo->start) >> PW_PAGE_SHIFT) ==
		       hi->pgoff;
}

/* Would @vma, just below the range @hi, merge with it? */
bool pw_vma_merges_below(const struct vm_area_struct *vma,
			 const struct pw_vma_desc *hi)
{
	struct pw_vma_desc lo = pw_vma_desc_of(vma);

	return pw_vma_mergeable(&lo, hi);
}

/* Would @vma, just above the range @lo, merge with it? */
bool pw_vma_merges_above(const struct pw_vma_desc *lo,
			 const struct vm_area_struct *vma)
{
	struct pw_vma_desc hi = pw_vma_desc_of(vma);

	return pw_vma_mergeable(lo, &hi);
}

/* ---- the mm's VMA array, by_id and i_mmap ---------------------------------- */

/* The VMA that contains @addr, or NULL. */
struct vm_area_struct *pw_vma_at(struct mm_struct *mm, unsigned long addr)
{
	struct vm_area_struct *vma = pw_find_vma(mm, addr);

	return vma && vma->vm_start <= addr ? vma : NULL;
}

/* The VMA ending exactly where @vma starts, or NULL. */
struct vm_area_struct *pw_vma_prev_touching(struct vm_area_struct *vma)
{
	struct mm_struct *mm = vma->vm_mm;
	size_t i = pw_vma_index(mm, vma->vm_start);

	return i > 0 && mm->vmas[i - 1]->vm_end == vma->vm_start ?
		       mm->vmas[i - 1] :
		       NULL;
}

/* The VMA starting exactly where @vma ends, or NULL. */
struct vm_area_struct *pw_vma_next_touching(struct vm_area_struct *vma)
{
	struct mm_struct *mm = vma->vm_mm;
	size_t i = pw_vma_index(mm, vma->vm_start) + 1;

	return i < mm->nr_vmas && mm->vmas[i]->vm_start == vma->vm_end ?
		       mm->vmas[i] :
		       NULL;
}

/*
 * Makes room for @n more VMAs in @mm, and in mappings @a and @b (either
 * may be NULL), so that linking them later cannot fail.
 */
int pw_vma_reserve(struct mm_struct *mm, struct address_space *a,
		   struct address_space *b, size_t n)
{
	if (!pw_array_reserve((void **)&mm->vmas, &mm->cap_vmas,
			      mm->nr_vmas + n, sizeof(*mm->vmas)) ||
	    !pw_array_reserve((void **)&mm->by_id, &mm->cap_ids, mm->nr_ids + n,
			      sizeof(*mm->by_id)))
		return -ENOMEM;
	if (a && !pw_array_reserve((void **)&a->vmas, &a->cap, a->nr + n,
				   sizeof(*a->vmas)))
		return -ENOMEM;
	if (b && !pw_array_reserve((void **)&b->vmas, &b->cap, b->nr + n,
				   sizeof(*b->vmas)))
		return -ENOMEM;
	return 0;
}

/* Inserts @vma into its mapping's i_mmap after the VMAs of equal pgoff. */
static void i_mmap_insert(struct vm_area_struct *vma)
{
	struct address_space *as = vma->vm_file;
	size_t i;

	for (i = as->nr; i > 0 && as->vmas[i - 1]->vm_pgoff > vma->vm_pgoff;
	     i--)
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
 * its mm and mapping.  Room must have been reserved with pw_vma_reserve().
 */
void pw_vma_link(struct vm_area_struct *vma)
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
void pw_vma_remove(struct vm_area_struct *vma)
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
void pw_vma_set_start(struct vm_area_struct *vma, unsigned long start)
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
struct vm_area_struct *pw_vma_split(struct vm_area_struct *vma,
				    unsigned long addr,
				    struct vm_area_struct *new)
{
	*new = *vma;
	new->vm_start = addr;
	new->vm_pgoff = pw_vma_pgoff_at(vma, addr);
	vma->vm_end = addr;
	pw_vma_link(new);
	return new;
}

/*
 * A range may not start or end inside a hugetlb VMA off its huge page
 * size: the kernel's hugetlb_vm_op_split refuses that split.
 */
bool pw_hugetlb_misaligned(struct mm_struct *mm, unsigned long addr)
{
	struct vm_area_struct *vma = pw_vma_at(mm, addr);

	return vma && vma->hugetlb_shift && vma->vm_start < addr &&
	       (addr & (pw_huge_size(vma->hugetlb_shift) - 1));
}

/* ---- adding a VMA without merging ---------------------------------------- */

struct vm_area_struct *pw_vma_add(struct mm_struct *mm, unsigned long start,
				  unsigned long end, unsigned long flags,
				  struct address_space *mapping,
				  unsigned long pgoff, unsigned hugetlb_shift,
				  int *err)
{
	struct vm_area_struct *vma;
	size_t at;

	*err = pw_mm_alive(mm, __func__);
	if (*err)
		return NULL;
	*err = -EINVAL;
	if (start >= end || (start | end) & (PW_PAGE_SIZE - 1) ||
	    end > mm->m->layout.geo.task_size || mm->kernel)
		return NULL;
	if (hugetlb_shift) {
		/* the shift is checked before it is used (a bad one is UB) */
		if (hugetlb_shift != 21 && hugetlb_shift != 30)
			return NULL;
		if ((start | end) & ((1UL << hugetlb_shift) - 1))
			return NULL;
	}
	/* As mmap: the file offsets of the VMA's pages may not wrap. */
	if (pgoff + ((end - start) >> PW_PAGE_SHIFT) < pgoff) {
		*err = -EOVERFLOW;
		return NULL;
	}
	at = pw_vma_index(mm, start);
	if (at < mm->nr_vmas && mm->vmas[at]->vm_start < end) {
		*err = -EEXIST;
		return NULL;
	}
	*err = -ENOMEM;
	if (pw_vma_reserve(mm, mapping, NULL, 1))
		return NULL;
	vma = calloc(1, sizeof(*vma));
	if (!vma)
		return NULL;
	vma->vm_start = start;
	vma->vm_end = end;
	vma->vm_flags = flags | (hugetlb_shift ? VM_HUGETLB : 0);
	vma->vm_pgoff = pgoff;
	vma->vm_mm = mm;
	vma->vm_file = mapping;
	vma->hugetlb_shift = hugetlb_shift;
	pw_vma_link(vma);
	*err = 0;
	return vma;
}

/* ---- mappings ------------------------------------------------------------------ */

struct address_space *pw_mapping_get(struct pw_machine *m, unsigned id)
{
	struct address_space *as, **maps;
	size_t i;

	for (i = 0; i < m->nr_maps; i++)
		if (m->maps[i]->id == id)
			return m->maps[i];
	as = calloc(1, sizeof(*as));
	maps = realloc(m->maps, (m->nr_maps + 1) * sizeof(*maps));
	if (!as || !maps) {
		free(as);
		if (maps)
			m->maps = maps;
		return NULL;
	}
	as->m = m;
	as->f_mapping = as;
	as->id = id;
	m->maps = maps;
	m->maps[m->nr_maps++] = as;
	return as;
}

unsigned pw_mapping_id(const struct address_space *mapping)
{
	return mapping->id;
}

struct pw_machine *pw_mapping_machine(const struct address_space *mapping)
{
	return mapping->m;
}

size_t pw_mapping_vma_count(const struct address_space *mapping)
{
	return mapping->nr;
}

struct vm_area_struct *pw_mapping_vma_at(const struct address_space *mapping,
					 size_t i)
{
	return i < mapping->nr ? mapping->vmas[i] : NULL;
}
