/* mmap.c - pw_mmap and pw_munmap: mapping with the kernel's merging, unmapping with splits and zaps. */
#include "internal.h"

#include <stdlib.h>

#define PAGE_SIZE PW_PAGE_SIZE
#define PAGE_ALIGN(x) (((x) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1))

/*
 * As mm/mmap.c and mm/vma.c do for mmap(MAP_FIXED_NOREPLACE) and munmap().
 * Each operation validates and reserves memory first, then changes things
 * in steps that cannot fail, so an error changes nothing.
 */

/* ---- pw_mmap ------------------------------------------------------------------- */

/* mmap's argument checks, in the kernel's order of errors; rounds *@len
 * up to the page or huge page size. */
static int mmap_check(struct mm_struct *mm, unsigned long start,
		      unsigned long *len, unsigned long flags,
		      struct address_space *mapping, unsigned long pgoff,
		      unsigned shift)
{
	unsigned long size = pw_huge_size(shift);

	if (mm->kernel || *len == 0 || (shift && shift != 21 && shift != 30) ||
	    ((flags & VM_HUGETLB) && !shift) || (start & (size - 1)))
		return -EINVAL;
	if (shift && mapping && (pgoff & ((size >> PW_PAGE_SHIFT) - 1)))
		return -EINVAL;
	if (*len > mm->m->layout.geo.task_size)
		return -ENOMEM;
	*len = (*len + size - 1) & ~(size - 1);
	if (start > mm->m->layout.geo.task_size - *len)
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
	struct pw_vma_desc new;
	bool left, right;
	size_t i;
	int err;

	if (out)
		*out = NULL;
	err = pw_mm_alive(mm, __func__);
	if (err)
		return err;
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

	new = (struct pw_vma_desc){
		.start = start,
		.end = start + len,
		.flags = flags | (hugetlb_shift ? VM_HUGETLB : 0),
		.pgoff = mapping ? pgoff : start >> PW_PAGE_SHIFT,
		.file = mapping,
		.shift = hugetlb_shift,
		.user = NULL
	};
	left = prev && pw_vma_merges_below(prev, &new);
	right = next && pw_vma_merges_above(&new, next);

	if (left && right) {
		/* prev swallows the range and next (next goes first, so that
		 * mm->vmas never holds overlapping VMAs). */
		unsigned long next_end = next->vm_end;

		pw_vma_remove(next);
		prev->vm_end = next_end;
		vma = prev;
	} else if (left) {
		prev->vm_end = start + len;
		vma = prev;
	} else if (right) {
		pw_vma_set_start(next, start);
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

/* The range [start, end) of a user mm, or -EINVAL as munmap reports it. */
static int user_range(const struct mm_struct *mm, unsigned long start,
		      unsigned long len, unsigned long *end)
{
	unsigned long task_size = mm->m->layout.geo.task_size;

	if (mm->kernel || (start & (PAGE_SIZE - 1)) || start > task_size ||
	    len > task_size - start)
		return -EINVAL;
	*end = start + PAGE_ALIGN(len);
	return 0;
}

/* munmap's zap of one entry that is not a table: it goes. */
static void zap_entry(struct pw_range *r, uint64_t *p, int role)
{
	(void)r;
	(void)role;
	*p = 0;
}

/*
 * Clears [start, end) VMA by VMA and gap by gap, so that each huge entry
 * a piece covers partly is split by the rules of the VMA it lies in.
 */
static void zap_range(struct mm_struct *mm, unsigned long start,
		      unsigned long end)
{
	struct pw_range r = { .mm = mm, .leaf = zap_entry, .free_empty = true };
	unsigned long addr = start;

	while (addr < end) {
		struct vm_area_struct *vma = pw_find_vma(mm, addr);
		unsigned long piece_end;

		if (!vma || vma->vm_start >= end) {
			r.vma = NULL;
			pw_range_apply(&r, addr, end);
			return;
		}
		if (vma->vm_start > addr) {
			r.vma = NULL;
			pw_range_apply(&r, addr, vma->vm_start);
			addr = vma->vm_start;
		}
		piece_end = vma->vm_end < end ? vma->vm_end : end;
		r.vma = vma;
		pw_range_apply(&r, addr, piece_end);
		addr = piece_end;
	}
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
			pw_vma_split(vma, end, spare);
			vma->vm_end = start;
			return;
		}
		if (vma->vm_start < start)
			vma->vm_end = start;
		else if (vma->vm_end > end)
			pw_vma_set_start(vma, end);
		else
			pw_vma_remove(vma);
	}
}

int pw_munmap(struct mm_struct *mm, unsigned long start, unsigned long len)
{
	struct vm_area_struct *spare = NULL, *vma;
	unsigned long end;
	int err;

	err = pw_mm_alive(mm, __func__);
	if (err)
		return err;
	if (len == 0)
		return -EINVAL;
	err = user_range(mm, start, len, &end);
	if (err)
		return err;
	if (pw_hugetlb_misaligned(mm, start) || pw_hugetlb_misaligned(mm, end))
		return -EINVAL;

	/* Only a VMA spanning the whole range needs a new VMA. */
	vma = pw_vma_at(mm, start);
	if (vma && vma->vm_start < start && vma->vm_end > end) {
		spare = malloc(sizeof(*spare));
		if (!spare || pw_vma_reserve(mm, vma->vm_file, NULL, 1)) {
			free(spare);
			return -ENOMEM;
		}
	}

	/* The VMAs still describe the range: the zap needs them to split. */
	zap_range(mm, start, end);
	munmap_vmas(mm, start, end, spare);
	return 0;
}
