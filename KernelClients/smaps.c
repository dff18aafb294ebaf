/*
 * smaps.c - /proc/PID/smaps and smaps_rollup as kernel walk clients
 * (PageWalk's own code, in the shape of fs/proc/task_mmu.c's
 * smaps_walk_ops and smaps_shmem_walk_ops): resident, proportional,
 * shared/private, clean/dirty, referenced, anonymous, THP, swap and
 * hugetlb figures per VMA.
 */
#include <linux/mm.h>
#include <linux/hugetlb.h>
#include <linux/huge_mm.h>
#include <linux/pagemap.h>
#include <linux/swap.h>
#include <linux/swapops.h>
#include <linux/shmem_fs.h>
#include <linux/pagewalk.h>
#include "internal.h"

#include "kernel_clients.h"

#define KC_PSS_SHIFT 12

/* One page (or a whole compound page) counted at proportional share @pss. */
static void kc_smaps_add(struct kc_smaps *mss, struct folio *folio,
			 unsigned long size, u64 pss, bool dirty, bool locked,
			 bool private)
{
	mss->pss += pss;
	if (folio_test_anon(folio))
		mss->pss_anon += pss;
	else if (folio_test_swapbacked(folio))
		mss->pss_shmem += pss;
	else
		mss->pss_file += pss;
	if (locked)
		mss->pss_locked += pss;
	if (dirty || folio_test_dirty(folio)) {
		mss->pss_dirty += pss;
		if (private)
			mss->private_dirty += size;
		else
			mss->shared_dirty += size;
	} else if (private) {
		mss->private_clean += size;
	} else {
		mss->shared_clean += size;
	}
}

static void kc_smaps_account(struct kc_smaps *mss, struct page *page,
			     bool compound, bool young, bool dirty, bool locked,
			     bool present)
{
	struct folio *folio = page_folio(page);
	unsigned long i, nr = compound ? compound_nr(page) : 1;
	unsigned long size = nr * PAGE_SIZE;
	bool exclusive = false;
	int mapcount = 0;

	if (folio_test_anon(folio)) {
		mss->anonymous += size;
		if (!folio_test_swapbacked(folio) && !dirty &&
		    !folio_test_dirty(folio))
			mss->lazyfree += size;
	}
	if (folio_test_ksm(folio))
		mss->ksm += size;
	mss->resident += size;
	if (young || folio_test_young(folio) || folio_test_referenced(folio))
		mss->referenced += size;

	/* A single reference to a present folio: mapped once, here.  A
	 * non-present entry: shared, by how much unknown. */
	if (folio_ref_count(folio) == 1 || !present) {
		kc_smaps_add(mss, folio, size, (u64)size << KC_PSS_SHIFT, dirty,
			     locked, present);
		return;
	}
	if (IS_ENABLED(CONFIG_NO_PAGE_MAPCOUNT)) {
		mapcount = folio_average_page_mapcount(folio);
		exclusive = !folio_maybe_mapped_shared(folio);
	}
	for (i = 0; i < nr; i++, page++) {
		u64 pss = PAGE_SIZE << KC_PSS_SHIFT;

		if (IS_ENABLED(CONFIG_PAGE_MAPCOUNT)) {
			mapcount = folio_precise_page_mapcount(folio, page);
			exclusive = mapcount < 2;
		}
		if (mapcount >= 2)
			pss /= mapcount;
		kc_smaps_add(mss, folio, PAGE_SIZE, pss, dirty, locked,
			     exclusive);
	}
}

static int kc_smaps_hole(unsigned long addr, unsigned long end,
			 __always_unused int depth, struct mm_walk *walk)
{
	struct kc_smaps *mss = walk->private;
	struct vm_area_struct *vma = walk->vma;

	mss->swap += shmem_partial_swap_usage(vma->vm_file->f_mapping,
					      linear_page_index(vma, addr),
					      linear_page_index(vma, end));
	return 0;
}

static void kc_smaps_pte(pte_t *pte, unsigned long addr, struct mm_walk *walk)
{
	struct kc_smaps *mss = walk->private;
	struct vm_area_struct *vma = walk->vma;
	bool locked = !!(vma->vm_flags & VM_LOCKED);
	bool present = false, young = false, dirty = false;
	struct page *page = NULL;
	pte_t v = ptep_get(pte);

	if (pte_present(v)) {
		page = vm_normal_page(vma, addr, v);
		young = pte_young(v);
		dirty = pte_dirty(v);
		present = true;
	} else if (is_swap_pte(v)) {
		swp_entry_t entry = pte_to_swp_entry(v);

		if (!non_swap_entry(entry)) {
			int refs = swp_swapcount(entry);
			u64 share = (u64)PAGE_SIZE << KC_PSS_SHIFT;

			mss->swap += PAGE_SIZE;
			if (refs >= 2)
				do_div(share, refs);
			mss->swap_pss += share;
		} else if (is_pfn_swap_entry(entry)) {
			if (is_device_private_entry(entry))
				present = true;
			page = pfn_swap_entry_to_page(entry);
		}
	} else {
		if (walk->ops->pte_hole)
			kc_smaps_hole(addr, addr + PAGE_SIZE, 0, walk);
		return;
	}
	if (page)
		kc_smaps_account(mss, page, false, young, dirty, locked,
				 present);
}

static void kc_smaps_pmd_leaf(pmd_t *pmd, unsigned long addr,
			      struct mm_walk *walk)
{
	struct kc_smaps *mss = walk->private;
	struct vm_area_struct *vma = walk->vma;
	bool locked = !!(vma->vm_flags & VM_LOCKED);
	struct page *page = NULL;
	bool present = false;
	struct folio *folio;
	pmd_t v = pmdp_get(pmd);

	if (pmd_present(v)) {
		page = vm_normal_page_pmd(vma, addr, v);
		present = true;
	} else if (thp_migration_supported() && is_swap_pmd(v)) {
		swp_entry_t entry = pmd_to_swp_entry(v);

		if (is_pfn_swap_entry(entry))
			page = pfn_swap_entry_to_page(entry);
	}
	if (IS_ERR_OR_NULL(page))
		return;
	folio = page_folio(page);
	if (folio_test_anon(folio))
		mss->anonymous_thp += HPAGE_PMD_SIZE;
	else if (folio_test_swapbacked(folio))
		mss->shmem_thp += HPAGE_PMD_SIZE;
	else if (!folio_is_zone_device(folio))
		mss->file_thp += HPAGE_PMD_SIZE;
	kc_smaps_account(mss, page, true, pmd_young(v), pmd_dirty(v), locked,
			 present);
}

static int kc_smaps_pmd(pmd_t *pmd, unsigned long addr, unsigned long end,
			struct mm_walk *walk)
{
	struct vm_area_struct *vma = walk->vma;
	spinlock_t *ptl;
	pte_t *start_pte, *pte;

	ptl = pmd_trans_huge_lock(pmd, vma);
	if (ptl) {
		kc_smaps_pmd_leaf(pmd, addr, walk);
		spin_unlock(ptl);
		goto out;
	}
	start_pte = pte = pte_offset_map_lock(vma->vm_mm, pmd, addr, &ptl);
	if (!pte) {
		walk->action = ACTION_AGAIN;
		return 0;
	}
	for (; addr != end; pte++, addr += PAGE_SIZE)
		kc_smaps_pte(pte, addr, walk);
	pte_unmap_unlock(start_pte, ptl);
out:
	cond_resched();
	return 0;
}

static int kc_smaps_hugetlb(pte_t *pte, unsigned long hmask, unsigned long addr,
			    unsigned long end, struct mm_walk *walk)
{
	struct kc_smaps *mss = walk->private;
	struct vm_area_struct *vma = walk->vma;
	struct folio *folio = NULL;
	spinlock_t *ptl;
	pte_t v;

	(void)hmask;
	(void)end;
	ptl = huge_pte_lock(hstate_vma(vma), walk->mm, pte);
	v = huge_ptep_get(walk->mm, addr, pte);
	if (pte_present(v)) {
		folio = page_folio(pte_page(v));
	} else if (is_swap_pte(v)) {
		swp_entry_t entry = pte_to_swp_entry(v);

		if (is_pfn_swap_entry(entry))
			folio = pfn_swap_entry_folio(entry);
	}
	if (folio) {
		if (folio_maybe_mapped_shared(folio) || hugetlb_pmd_shared(pte))
			mss->shared_hugetlb += huge_page_size(hstate_vma(vma));
		else
			mss->private_hugetlb += huge_page_size(hstate_vma(vma));
	}
	spin_unlock(ptl);
	return 0;
}

static const struct mm_walk_ops kc_smaps_ops = {
	.pmd_entry = kc_smaps_pmd,
	.hugetlb_entry = kc_smaps_hugetlb,
	.walk_lock = PGWALK_RDLOCK,
};

static const struct mm_walk_ops kc_smaps_shmem_ops = {
	.pmd_entry = kc_smaps_pmd,
	.hugetlb_entry = kc_smaps_hugetlb,
	.pte_hole = kc_smaps_hole,
	.walk_lock = PGWALK_RDLOCK,
};

static int kc_smaps_one(struct vm_area_struct *vma, struct kc_smaps *mss)
{
	bool shmem = vma->vm_file && shmem_mapping(vma->vm_file->f_mapping);

	return walk_page_vma(vma, shmem ? &kc_smaps_shmem_ops : &kc_smaps_ops,
			     mss);
}

int kc_smaps_vma(struct vm_area_struct *vma, struct kc_smaps *out)
{
	int err;

	mmap_read_lock(vma->vm_mm);
	err = kc_smaps_one(vma, out);
	mmap_read_unlock(vma->vm_mm);
	return err;
}

int kc_smaps_rollup(struct mm_struct *mm, struct kc_smaps *out)
{
	size_t i, n;
	int err = 0;

	memset(out, 0, sizeof(*out));
	mmap_read_lock(mm);
	n = pw_mm_vma_count(mm);
	for (i = 0; i < n && !err; i++)
		err = kc_smaps_one(pw_mm_vma_at(mm, i), out);
	mmap_read_unlock(mm);
	return err;
}
