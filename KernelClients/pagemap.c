/*
 * pagemap.c - /proc/PID/pagemap as a kernel walk client (PageWalk's own
 * code, in the shape of fs/proc/task_mmu.c's pagemap_ops): one 64-bit
 * entry per page with the frame (or swap type and offset) and the
 * PM_* flags.
 */
#include <linux/mm.h>
#include <linux/hugetlb.h>
#include <linux/huge_mm.h>
#include <linux/pagemap.h>
#include <linux/swapops.h>
#include <linux/pagewalk.h>
#include "internal.h"

#include "kernel_clients.h"

struct kc_pagemap {
	u64 *out;
	unsigned long pos, len;
	bool show_pfn;
};

#define KC_PM_FULL 1 /* the buffer is full: stop the walk */

static int kc_pm_add(struct kc_pagemap *pm, u64 pme)
{
	pm->out[pm->pos++] = pme;
	return pm->pos >= pm->len ? KC_PM_FULL : 0;
}

static u64 kc_pm_frame(u64 frame)
{
	return frame & KC_PM_PFRAME_MASK;
}

/* Exclusive: this page mapped exactly once (precise map count), or, with
 * the average count only, a folio mapped by this mm alone. */
static bool kc_page_exclusive(struct folio *folio, struct page *page)
{
	if (IS_ENABLED(CONFIG_PAGE_MAPCOUNT))
		return folio_precise_page_mapcount(folio, page) == 1;
	return !folio_maybe_mapped_shared(folio);
}

static int kc_pagemap_hole(unsigned long start, unsigned long end,
			   __always_unused int depth, struct mm_walk *walk)
{
	struct kc_pagemap *pm = walk->private;
	unsigned long addr = start;
	int err = 0;

	while (addr < end) {
		struct vm_area_struct *vma = find_vma(walk->mm, addr);
		unsigned long stop = vma ? min(end, vma->vm_start) : end;
		u64 flags = 0;

		for (; addr < stop; addr += PAGE_SIZE)
			if ((err = kc_pm_add(pm, 0)))
				return err;
		if (!vma)
			break;
		if (vma->vm_flags & VM_SOFTDIRTY)
			flags = KC_PM_SOFT_DIRTY;
		for (; addr < min(end, vma->vm_end); addr += PAGE_SIZE)
			if ((err = kc_pm_add(pm, flags)))
				return err;
	}
	return err;
}

static u64 kc_pte_to_pme(struct kc_pagemap *pm, struct vm_area_struct *vma,
			 unsigned long addr, pte_t pte)
{
	u64 frame = 0, flags = 0;
	struct page *page = NULL;

	if (pte_present(pte)) {
		if (pm->show_pfn)
			frame = pte_pfn(pte);
		flags |= KC_PM_PRESENT;
		page = vm_normal_page(vma, addr, pte);
		if (pte_soft_dirty(pte))
			flags |= KC_PM_SOFT_DIRTY;
		if (pte_uffd_wp(pte))
			flags |= KC_PM_UFFD_WP;
	} else if (is_swap_pte(pte)) {
		swp_entry_t entry = pte_to_swp_entry(pte);

		if (pte_swp_soft_dirty(pte))
			flags |= KC_PM_SOFT_DIRTY;
		if (pte_swp_uffd_wp(pte))
			flags |= KC_PM_UFFD_WP;
		if (pm->show_pfn)
			frame = swp_type(entry) |
				((is_pfn_swap_entry(entry) ?
					  swp_offset_pfn(entry) :
					  swp_offset(entry))
				 << MAX_SWAPFILES_SHIFT);
		flags |= KC_PM_SWAP;
		if (is_pfn_swap_entry(entry))
			page = pfn_swap_entry_to_page(entry);
		if (pte_marker_entry_uffd_wp(entry))
			flags |= KC_PM_UFFD_WP;
		if (is_guard_swp_entry(entry))
			flags |= KC_PM_GUARD_REGION;
	}
	if (page) {
		struct folio *folio = page_folio(page);

		if (!folio_test_anon(folio))
			flags |= KC_PM_FILE;
		if ((flags & KC_PM_PRESENT) && kc_page_exclusive(folio, page))
			flags |= KC_PM_MMAP_EXCLUSIVE;
	}
	if (vma->vm_flags & VM_SOFTDIRTY)
		flags |= KC_PM_SOFT_DIRTY;
	return kc_pm_frame(frame) | flags;
}

static int kc_pagemap_pmd_leaf(pmd_t *pmdp, unsigned long addr,
			       unsigned long end, struct mm_walk *walk)
{
	struct kc_pagemap *pm = walk->private;
	struct vm_area_struct *vma = walk->vma;
	pmd_t pmd = *pmdp;
	struct page *page = NULL;
	struct folio *folio = NULL;
	u64 flags = 0, frame = 0;
	int err = 0;
	unsigned long i = (addr & ~PMD_MASK) >> PAGE_SHIFT;

	if (vma->vm_flags & VM_SOFTDIRTY)
		flags |= KC_PM_SOFT_DIRTY;
	if (pmd_present(pmd)) {
		page = pmd_page(pmd);
		flags |= KC_PM_PRESENT;
		if (pmd_soft_dirty(pmd))
			flags |= KC_PM_SOFT_DIRTY;
		if (pmd_uffd_wp(pmd))
			flags |= KC_PM_UFFD_WP;
		if (pm->show_pfn)
			frame = pmd_pfn(pmd) + i;
	} else if (is_swap_pmd(pmd)) {
		swp_entry_t entry = pmd_to_swp_entry(pmd);
		unsigned long offset = swp_offset_pfn(entry) + i;

		if (pm->show_pfn)
			frame = swp_type(entry) |
				(offset << MAX_SWAPFILES_SHIFT);
		flags |= KC_PM_SWAP;
		if (pmd_swp_soft_dirty(pmd))
			flags |= KC_PM_SOFT_DIRTY;
		if (pmd_swp_uffd_wp(pmd))
			flags |= KC_PM_UFFD_WP;
		VM_BUG_ON(!is_pmd_migration_entry(pmd));
		page = pfn_swap_entry_to_page(entry);
	}
	if (page) {
		folio = page_folio(page);
		if (!folio_test_anon(folio))
			flags |= KC_PM_FILE;
	}
	for (; addr != end; addr += PAGE_SIZE, i++) {
		u64 cur = flags;

		if (folio && (flags & KC_PM_PRESENT) &&
		    kc_page_exclusive(folio, page + i))
			cur |= KC_PM_MMAP_EXCLUSIVE;
		if ((err = kc_pm_add(pm, kc_pm_frame(frame) | cur)))
			break;
		if (pm->show_pfn) {
			if (flags & KC_PM_PRESENT)
				frame++;
			else if (flags & KC_PM_SWAP)
				frame += 1ULL << MAX_SWAPFILES_SHIFT;
		}
	}
	return err;
}

static int kc_pagemap_pmd(pmd_t *pmdp, unsigned long addr, unsigned long end,
			  struct mm_walk *walk)
{
	struct kc_pagemap *pm = walk->private;
	struct vm_area_struct *vma = walk->vma;
	spinlock_t *ptl;
	pte_t *start_pte, *pte;
	int err = 0;

	ptl = pmd_trans_huge_lock(pmdp, vma);
	if (ptl) {
		err = kc_pagemap_pmd_leaf(pmdp, addr, end, walk);
		spin_unlock(ptl);
		return err;
	}
	start_pte = pte = pte_offset_map_lock(walk->mm, pmdp, addr, &ptl);
	if (!pte) {
		walk->action = ACTION_AGAIN;
		return 0;
	}
	for (; addr < end; pte++, addr += PAGE_SIZE)
		if ((err = kc_pm_add(
			     pm, kc_pte_to_pme(pm, vma, addr, ptep_get(pte)))))
			break;
	pte_unmap_unlock(start_pte, ptl);
	cond_resched();
	return err;
}

static int kc_pagemap_hugetlb(pte_t *ptep, unsigned long hmask,
			      unsigned long addr, unsigned long end,
			      struct mm_walk *walk)
{
	struct kc_pagemap *pm = walk->private;
	struct vm_area_struct *vma = walk->vma;
	u64 flags = 0, frame = 0;
	spinlock_t *ptl;
	pte_t pte;
	int err = 0;

	if (vma->vm_flags & VM_SOFTDIRTY)
		flags |= KC_PM_SOFT_DIRTY;
	ptl = huge_pte_lock(hstate_vma(vma), walk->mm, ptep);
	pte = huge_ptep_get(walk->mm, addr, ptep);
	if (pte_present(pte)) {
		struct folio *folio = page_folio(pte_page(pte));

		if (!folio_test_anon(folio))
			flags |= KC_PM_FILE;
		if (!folio_maybe_mapped_shared(folio) &&
		    !hugetlb_pmd_shared(ptep))
			flags |= KC_PM_MMAP_EXCLUSIVE;
		if (huge_pte_uffd_wp(pte))
			flags |= KC_PM_UFFD_WP;
		flags |= KC_PM_PRESENT;
		if (pm->show_pfn)
			frame = pte_pfn(pte) + ((addr & ~hmask) >> PAGE_SHIFT);
	} else if (pte_swp_uffd_wp_any(pte)) {
		flags |= KC_PM_UFFD_WP;
	}
	spin_unlock(ptl);
	for (; addr != end; addr += PAGE_SIZE) {
		if ((err = kc_pm_add(pm, kc_pm_frame(frame) | flags)))
			break;
		if (pm->show_pfn && (flags & KC_PM_PRESENT))
			frame++;
	}
	cond_resched();
	return err;
}

static const struct mm_walk_ops kc_pagemap_ops = {
	.pmd_entry = kc_pagemap_pmd,
	.pte_hole = kc_pagemap_hole,
	.hugetlb_entry = kc_pagemap_hugetlb,
	.walk_lock = PGWALK_RDLOCK,
};

int kc_pagemap(struct mm_struct *mm, unsigned long start, unsigned long end,
	       uint64_t *out, bool show_pfn)
{
	struct kc_pagemap pm = { .out = (u64 *)out,
				 .show_pfn = show_pfn,
				 .len = (end - start) >> PAGE_SHIFT };
	int err;

	if ((start | end) & ~PAGE_MASK || end <= start)
		return -EINVAL;
	mmap_read_lock(mm);
	err = walk_page_range(mm, start, end, &kc_pagemap_ops, &pm);
	mmap_read_unlock(mm);
	return err == KC_PM_FULL ? 0 : err;
}
