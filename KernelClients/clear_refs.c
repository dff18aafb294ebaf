/*
 * clear_refs.c - /proc/PID/clear_refs as a kernel walk client (PageWalk's
 * own code, in the shape of fs/proc/task_mmu.c's clear_refs_walk_ops):
 * types 1-3 clear the accessed bits and the folios' young/referenced
 * flags, type 4 clears soft-dirty bits and write-protects.
 */
#include <linux/mm.h>
#include <linux/huge_mm.h>
#include <linux/mmu_notifier.h>
#include <linux/pagewalk.h>
#include <linux/swapops.h>
#include <asm/tlbflush.h>
#include "internal.h"

#include "kernel_clients.h"

struct kc_clear_refs_private {
	enum kc_clear_refs type;
};

/* A COW page pinned for DMA keeps its soft-dirty bit: the pin must keep
 * seeing writes. */
static bool kc_pte_pinned(struct vm_area_struct *vma, unsigned long addr,
			  pte_t pte)
{
	struct folio *folio;

	if (likely(!mm_flags_test(MMF_HAS_PINNED, vma->vm_mm)))
		return false;
	if (!is_cow_mapping(vma->vm_flags))
		return false;
	folio = vm_normal_folio(vma, addr, pte);
	return folio && folio_maybe_dma_pinned(folio);
}

static void kc_clear_soft_dirty(struct vm_area_struct *vma, unsigned long addr,
				pte_t *pte)
{
	pte_t v = ptep_get(pte);

	if (pte_present(v)) {
		pte_t old;

		if (kc_pte_pinned(vma, addr, v))
			return;
		old = ptep_modify_prot_start(vma, addr, pte);
		v = pte_clear_soft_dirty(pte_wrprotect(old));
		ptep_modify_prot_commit(vma, addr, pte, old, v);
	} else if (is_swap_pte(v)) {
		set_pte_at(vma->vm_mm, addr, pte, pte_swp_clear_soft_dirty(v));
	}
}

static void kc_clear_soft_dirty_pmd(struct vm_area_struct *vma,
				    unsigned long addr, pmd_t *pmdp)
{
	pmd_t pmd = pmdp_get(pmdp);

	if (pmd_present(pmd)) {
		pmd_t old = pmdp_invalidate(vma, addr, pmdp);

		if (pmd_dirty(old))
			pmd = pmd_mkdirty(pmd);
		if (pmd_young(old))
			pmd = pmd_mkyoung(pmd);
		pmd = pmd_clear_soft_dirty(pmd_wrprotect(pmd));
		set_pmd_at(vma->vm_mm, addr, pmdp, pmd);
	} else if (is_migration_entry(pmd_to_swp_entry(pmd))) {
		set_pmd_at(vma->vm_mm, addr, pmdp,
			   pmd_swp_clear_soft_dirty(pmd));
	}
}

static int kc_clear_refs_pmd(pmd_t *pmd, unsigned long addr, unsigned long end,
			     struct mm_walk *walk)
{
	struct kc_clear_refs_private *cp = walk->private;
	struct vm_area_struct *vma = walk->vma;
	struct folio *folio;
	spinlock_t *ptl;
	pte_t *start_pte, *pte;

	ptl = pmd_trans_huge_lock(pmd, vma);
	if (ptl) {
		if (cp->type == KC_CLEAR_REFS_SOFT_DIRTY)
			kc_clear_soft_dirty_pmd(vma, addr, pmd);
		else if (pmd_present(pmdp_get(pmd))) {
			folio = pmd_folio(pmdp_get(pmd));
			pmdp_test_and_clear_young(vma, addr, pmd);
			folio_test_clear_young(folio);
			folio_clear_referenced(folio);
		}
		spin_unlock(ptl);
		return 0;
	}
	start_pte = pte = pte_offset_map_lock(vma->vm_mm, pmd, addr, &ptl);
	if (!pte) {
		walk->action = ACTION_AGAIN;
		return 0;
	}
	for (; addr != end; pte++, addr += PAGE_SIZE) {
		pte_t v = ptep_get(pte);

		if (cp->type == KC_CLEAR_REFS_SOFT_DIRTY) {
			kc_clear_soft_dirty(vma, addr, pte);
			continue;
		}
		if (!pte_present(v))
			continue;
		folio = vm_normal_folio(vma, addr, v);
		if (!folio)
			continue;
		ptep_test_and_clear_young(vma, addr, pte);
		folio_test_clear_young(folio);
		folio_clear_referenced(folio);
	}
	pte_unmap_unlock(start_pte, ptl);
	cond_resched();
	return 0;
}

static int kc_clear_refs_test(unsigned long start, unsigned long end,
			      struct mm_walk *walk)
{
	struct kc_clear_refs_private *cp = walk->private;
	struct vm_area_struct *vma = walk->vma;

	(void)start;
	(void)end;
	if (vma->vm_flags & VM_PFNMAP)
		return 1;
	if (cp->type == KC_CLEAR_REFS_ANON && vma->vm_file)
		return 1;
	if (cp->type == KC_CLEAR_REFS_MAPPED && !vma->vm_file)
		return 1;
	return 0;
}

static const struct mm_walk_ops kc_clear_refs_ops = {
	.pmd_entry = kc_clear_refs_pmd,
	.test_walk = kc_clear_refs_test,
	.walk_lock = PGWALK_WRLOCK,
};

int kc_clear_refs(struct mm_struct *mm, int type)
{
	struct kc_clear_refs_private cp = { .type = type };
	unsigned long top = pw_machine_geometry(pw_mm_machine(mm))->task_size;
	struct mmu_notifier_range range;
	int err;

	if (type < KC_CLEAR_REFS_ALL || type > KC_CLEAR_REFS_SOFT_DIRTY)
		return -EINVAL;
	mmap_write_lock(mm);
	if (type == KC_CLEAR_REFS_SOFT_DIRTY) {
		size_t i, n = pw_mm_vma_count(mm);

		for (i = 0; i < n; i++)
			pw_mm_vma_at(mm, i)->vm_flags &= ~VM_SOFTDIRTY;
		mmu_notifier_range_init(&range, MMU_NOTIFY_SOFT_DIRTY, 0, mm, 0,
					top);
		mmu_notifier_invalidate_range_start(&range);
	}
	err = walk_page_range(mm, 0, top, &kc_clear_refs_ops, &cp);
	if (type == KC_CLEAR_REFS_SOFT_DIRTY)
		mmu_notifier_invalidate_range_end(&range);
	flush_tlb_mm(mm);
	mmap_write_unlock(mm);
	return err < 0 ? err : 0;
}
