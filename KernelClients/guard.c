/*
 * guard.c - madvise(MADV_GUARD_INSTALL / MADV_GUARD_REMOVE) as kernel walk
 * clients (PageWalk's own code, in the shape of mm/madvise.c's guard walk
 * ops): guard markers are installed over empty PTEs through install_pte;
 * populated entries make the install zap the range and retry.
 */
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/pagewalk.h>
#include <linux/swapops.h>
#include <linux/hugetlb.h>
#include "internal.h"

#include "kernel_clients.h"

#define KC_GUARD_RETRIES 3

static bool kc_is_guard(pte_t pte)
{
	return is_swap_pte(pte) && is_guard_swp_entry(pte_to_swp_entry(pte));
}

/* Install: a huge entry or a populated PTE is in the way (return 1). */
static int kc_gi_pud(pud_t *pud, unsigned long addr, unsigned long next,
		     struct mm_walk *walk)
{
	(void)addr;
	(void)next;
	(void)walk;
	return pud_trans_huge(pudp_get(pud)) ? 1 : 0;
}

static int kc_gi_pmd(pmd_t *pmd, unsigned long addr, unsigned long next,
		     struct mm_walk *walk)
{
	(void)addr;
	(void)next;
	(void)walk;
	return pmd_trans_huge(pmdp_get(pmd)) ? 1 : 0;
}

static int kc_gi_pte(pte_t *pte, unsigned long addr, unsigned long next,
		     struct mm_walk *walk)
{
	unsigned long *done = walk->private;

	(void)addr;
	(void)next;
	if (kc_is_guard(ptep_get(pte))) {
		(*done)++;
		return 0;
	}
	return 1;
}

static int kc_gi_install(unsigned long addr, unsigned long next, pte_t *ptep,
			 struct mm_walk *walk)
{
	unsigned long *done = walk->private;

	(void)addr;
	(void)next;
	*ptep = make_pte_marker(PTE_MARKER_GUARD);
	(*done)++;
	return 0;
}

static const struct mm_walk_ops kc_guard_install_ops = {
	.pud_entry = kc_gi_pud,
	.pmd_entry = kc_gi_pmd,
	.pte_entry = kc_gi_pte,
	.install_pte = kc_gi_install,
	.walk_lock = PGWALK_RDLOCK,
};

/* Zap: what zap_page_range_single does to what stands in the way here --
 * present pages and swap entries go, markers stay; THPs are split. */
static int kc_zap_pmd(pmd_t *pmd, unsigned long addr, unsigned long end,
		      struct mm_walk *walk)
{
	spinlock_t *ptl;
	pte_t *start_pte, *pte;

	if (pmd_trans_huge(pmdp_get(pmd)))
		split_huge_pmd(walk->vma, pmd, addr);
	start_pte = pte = pte_offset_map_lock(walk->mm, pmd, addr, &ptl);
	if (!pte) {
		walk->action = ACTION_CONTINUE;
		return 0;
	}
	for (; addr != end; pte++, addr += PAGE_SIZE) {
		pte_t v = ptep_get(pte);

		if (!pte_none(v) && !is_pte_marker(v))
			pte_clear(walk->mm, addr, pte);
	}
	pte_unmap_unlock(start_pte, ptl);
	walk->action = ACTION_CONTINUE;
	return 0;
}

static const struct mm_walk_ops kc_zap_ops = {
	.pmd_entry = kc_zap_pmd,
	.walk_lock = PGWALK_RDLOCK,
};

/* Remove: only guard markers are cleared; huge entries are skipped. */
static int kc_gr_pud(pud_t *pud, unsigned long addr, unsigned long next,
		     struct mm_walk *walk)
{
	(void)addr;
	(void)next;
	if (pud_trans_huge(pudp_get(pud)))
		walk->action = ACTION_CONTINUE;
	return 0;
}

static int kc_gr_pmd(pmd_t *pmd, unsigned long addr, unsigned long next,
		     struct mm_walk *walk)
{
	(void)addr;
	(void)next;
	if (pmd_trans_huge(pmdp_get(pmd)))
		walk->action = ACTION_CONTINUE;
	return 0;
}

static int kc_gr_pte(pte_t *pte, unsigned long addr, unsigned long next,
		     struct mm_walk *walk)
{
	(void)next;
	if (kc_is_guard(ptep_get(pte))) {
		pte_clear_not_present_full(walk->mm, addr, pte, false);
		update_mmu_cache(walk->vma, addr, pte);
	}
	return 0;
}

static const struct mm_walk_ops kc_guard_remove_ops = {
	.pud_entry = kc_gr_pud,
	.pmd_entry = kc_gr_pmd,
	.pte_entry = kc_gr_pte,
	.walk_lock = PGWALK_RDLOCK,
};

static bool kc_guard_vma_ok(struct vm_area_struct *vma)
{
	return !(vma->vm_flags & (VM_SPECIAL | VM_HUGETLB | VM_LOCKED_MASK));
}

static long kc_guard_install_vma(struct vm_area_struct *vma,
				 unsigned long start, unsigned long end)
{
	int tries;

	if (!kc_guard_vma_ok(vma))
		return -EINVAL;
	for (tries = 0; tries < KC_GUARD_RETRIES; tries++) {
		unsigned long done = 0;
		int err = walk_page_range_mm(vma->vm_mm, start, end,
					     &kc_guard_install_ops, &done);

		if (err < 0)
			return err;
		if (err == 0) {
			VM_WARN_ON(done != (end - start) >> PAGE_SHIFT);
			return 0;
		}
		pw_compat_event("zap_page_range_single", start, end);
		walk_page_range_vma(vma, start, end, &kc_zap_ops, NULL);
	}
	return -EAGAIN;
}

/* madvise's loop over the VMAs of [start, end): a hole gives -ENOMEM after
 * the rest is done. */
static long kc_guard_each(struct mm_struct *mm, unsigned long start,
			  unsigned long end, bool install)
{
	long err = 0, hole = 0;

	if ((start | end) & ~PAGE_MASK || end < start)
		return -EINVAL;
	mmap_read_lock(mm);
	while (start < end) {
		struct vm_area_struct *vma = find_vma(mm, start);
		unsigned long stop;

		if (!vma || vma->vm_start >= end) {
			hole = -ENOMEM;
			break;
		}
		if (vma->vm_start > start) {
			hole = -ENOMEM;
			start = vma->vm_start;
		}
		stop = min(vma->vm_end, end);
		if (install)
			err = kc_guard_install_vma(vma, start, stop);
		else if (!kc_guard_vma_ok(vma))
			err = -EINVAL;
		else
			err = walk_page_range_vma(vma, start, stop,
						  &kc_guard_remove_ops, NULL);
		if (err)
			break;
		start = stop;
	}
	mmap_read_unlock(mm);
	return err ? err : hole;
}

long kc_guard_install(struct mm_struct *mm, unsigned long start,
		      unsigned long end)
{
	return kc_guard_each(mm, start, end, true);
}

long kc_guard_remove(struct mm_struct *mm, unsigned long start,
		     unsigned long end)
{
	return kc_guard_each(mm, start, end, false);
}
