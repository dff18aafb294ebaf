/* mprotect.c - pw_mprotect: new VMA flags with splits and merges, and change_protection on the entries. */
#include "internal.h"

#include <stdlib.h>

/* The flags mprotect() replaces. */
#define PW_VM_PROT (VM_READ | VM_WRITE | VM_EXEC)

#define PAGE_SIZE PW_PAGE_SIZE
#define PAGE_ALIGN(x) (((x) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1))

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
static void protect_entry(struct pw_range *r, uint64_t *p, int role)
{
	const struct pw_machine *m = r->mm->m;
	uint64_t v = *p;

	if (role < PW_LEVEL_PUD)
		return;
	if (pw_mem_is_migration(m, v)) {
		/* "A protection check is difficult so just be safe and
		 * disable write": the kernel does it whatever the new flags. */
		if (pw_mem_swp_type(m, v) == PW_SWP_MIGRATION_WRITE)
			*p = pw_mem_swp_entry(
				m,
				pw_vma_is_anonymous(r->vma) ?
					PW_SWP_MIGRATION_READ_EXCLUSIVE :
					PW_SWP_MIGRATION_READ,
				pw_mem_swp_offset(m, v));
		return;
	}
	if (!(v & PW_PAGE_PRESENT))
		return;
	if (role == PW_LEVEL_PTE || (v & PW_PAGE_HUGE))
		*p = protect_value(v, r->flags);
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
		struct vm_area_struct *vma = pw_vma_at(mm, addr);

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
	struct pw_vma_desc mid = pw_vma_desc_of(vma);
	bool left, right;

	mid.start = start;
	mid.end = end;
	mid.flags = flags;
	mid.pgoff = pw_vma_pgoff_at(vma, start);
	if (start == vma->vm_start)
		prev = pw_vma_prev_touching(vma);
	if (end == vma->vm_end)
		next = pw_vma_next_touching(vma);
	left = prev && pw_vma_merges_below(prev, &mid);
	right = next && pw_vma_merges_above(&mid, next);

	/* Shrink or remove before growing, so that mm->vmas never holds
	 * overlapping VMAs (vma_index relies on it). */
	if (left && right) {
		unsigned long next_end = next->vm_end;

		pw_vma_remove(vma);
		pw_vma_remove(next);
		prev->vm_end = next_end;
	} else if (left) {
		if (end == vma->vm_end)
			pw_vma_remove(vma);
		else
			pw_vma_set_start(vma, end);
		prev->vm_end = end;
	} else if (right) {
		if (start == vma->vm_start)
			pw_vma_remove(vma);
		else
			vma->vm_end = start;
		pw_vma_set_start(next, start);
	} else {
		if (start > vma->vm_start)
			vma = pw_vma_split(vma, start, take_spare(spare));
		if (end < vma->vm_end)
			pw_vma_split(vma, end, take_spare(spare));
		vma->vm_flags = flags;
	}
}

/* Preallocates the (at most two) VMAs that splitting at @start and @end needs. */
static int mprotect_reserve(struct mm_struct *mm, unsigned long start,
			    unsigned long end, struct vm_area_struct *spare[2])
{
	struct vm_area_struct *first = pw_vma_at(mm, start);
	struct vm_area_struct *last = pw_vma_at(mm, end - 1);

	spare[0] = malloc(sizeof(*spare[0]));
	spare[1] = malloc(sizeof(*spare[1]));
	if (!spare[0] || !spare[1] ||
	    pw_vma_reserve(mm, first->vm_file, last->vm_file, 2)) {
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
	int err = pw_mm_alive(mm, __func__);

	if (err)
		return err;
	if (mm->kernel || (start & (PAGE_SIZE - 1)) || (prot & ~PW_VM_PROT))
		return -EINVAL;
	if (len == 0)
		return 0;
	end = start + PAGE_ALIGN(len);
	if (end <= start)
		return -ENOMEM;
	if (!range_mapped(mm, start, end))
		return -ENOMEM;
	if (pw_hugetlb_misaligned(mm, start) || pw_hugetlb_misaligned(mm, end))
		return -EINVAL;
	if (mprotect_reserve(mm, start, end, spare))
		return -ENOMEM;

	/* change_protection first, while each piece's VMA is the original. */
	for (addr = start; addr < end;) {
		struct vm_area_struct *vma = pw_vma_at(mm, addr);
		unsigned long piece_end = vma->vm_end < end ? vma->vm_end : end;
		unsigned long flags = prot_flags(vma, prot);

		if (flags != vma->vm_flags) {
			struct pw_range r = { .mm = mm,
					      .vma = vma,
					      .leaf = protect_entry,
					      .flags = flags };

			pw_range_apply(&r, addr, piece_end);
		}
		addr = piece_end;
	}
	/* Then the VMAs; each step leaves [start, addr) done and merged. */
	for (addr = start; addr < end;) {
		struct vm_area_struct *vma = pw_vma_at(mm, addr);
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
