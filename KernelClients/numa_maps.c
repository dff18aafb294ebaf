/*
 * numa_maps.c - /proc/PID/numa_maps as a kernel walk client (PageWalk's
 * own code, in the shape of fs/proc/task_mmu.c's show_numa_ops): pages per
 * node, anonymous, dirty, active, writeback, swap cache, the highest map
 * count.
 */
#include <linux/mm.h>
#include <linux/hugetlb.h>
#include <linux/huge_mm.h>
#include <linux/mempolicy.h>
#include <linux/nodemask.h>
#include <linux/pagewalk.h>
#include "internal.h"

#include "kernel_clients.h"

static void kc_numa_gather(struct page *page, struct kc_numa_maps *md,
			   bool dirty, unsigned long nr)
{
	struct folio *folio = page_folio(page);
	int count;

	if (IS_ENABLED(CONFIG_PAGE_MAPCOUNT))
		count = folio_precise_page_mapcount(folio, page);
	else
		count = folio_average_page_mapcount(folio);
	md->pages += nr;
	if (dirty || folio_test_dirty(folio))
		md->dirty += nr;
	if (folio_test_swapcache(folio))
		md->swapcache += nr;
	if (folio_test_active(folio) || folio_test_unevictable(folio))
		md->active += nr;
	if (folio_test_writeback(folio))
		md->writeback += nr;
	if (folio_test_anon(folio))
		md->anon += nr;
	if ((unsigned long)count > md->mapcount_max)
		md->mapcount_max = count;
	md->node[folio_nid(folio) & 63] += nr;
}

/* The page worth counting behind a PTE: normal, not reserved, on a node
 * with memory. */
static struct page *kc_numa_page(pte_t pte, struct vm_area_struct *vma,
				 unsigned long addr)
{
	struct page *page;

	if (!pte_present(pte))
		return NULL;
	page = vm_normal_page(vma, addr, pte);
	if (!page || is_zone_device_page(page) || PageReserved(page))
		return NULL;
	if (!node_isset(page_to_nid(page), node_states[N_MEMORY]))
		return NULL;
	return page;
}

static struct page *kc_numa_page_pmd(pmd_t pmd, struct vm_area_struct *vma,
				     unsigned long addr)
{
	struct page *page;

	if (!pmd_present(pmd))
		return NULL;
	page = vm_normal_page_pmd(vma, addr, pmd);
	if (!page || PageReserved(page))
		return NULL;
	if (!node_isset(page_to_nid(page), node_states[N_MEMORY]))
		return NULL;
	return page;
}

static int kc_numa_pmd(pmd_t *pmd, unsigned long addr, unsigned long end,
		       struct mm_walk *walk)
{
	struct kc_numa_maps *md = walk->private;
	struct vm_area_struct *vma = walk->vma;
	spinlock_t *ptl;
	pte_t *start_pte, *pte;

	ptl = pmd_trans_huge_lock(pmd, vma);
	if (ptl) {
		struct page *page = kc_numa_page_pmd(pmdp_get(pmd), vma, addr);

		if (page)
			kc_numa_gather(page, md, pmd_dirty(pmdp_get(pmd)),
				       HPAGE_PMD_SIZE / PAGE_SIZE);
		spin_unlock(ptl);
		return 0;
	}
	start_pte = pte = pte_offset_map_lock(walk->mm, pmd, addr, &ptl);
	if (!pte) {
		walk->action = ACTION_AGAIN;
		return 0;
	}
	for (; addr != end; pte++, addr += PAGE_SIZE) {
		pte_t v = ptep_get(pte);
		struct page *page = kc_numa_page(v, vma, addr);

		if (page)
			kc_numa_gather(page, md, pte_dirty(v), 1);
	}
	pte_unmap_unlock(start_pte, ptl);
	cond_resched();
	return 0;
}

static int kc_numa_hugetlb(pte_t *pte, unsigned long hmask, unsigned long addr,
			   unsigned long end, struct mm_walk *walk)
{
	spinlock_t *ptl;
	pte_t v;

	(void)hmask;
	(void)end;
	ptl = huge_pte_lock(hstate_vma(walk->vma), walk->mm, pte);
	v = huge_ptep_get(walk->mm, addr, pte);
	if (pte_present(v))
		kc_numa_gather(pte_page(v), walk->private, pte_dirty(v), 1);
	spin_unlock(ptl);
	return 0;
}

static const struct mm_walk_ops kc_numa_ops = {
	.hugetlb_entry = kc_numa_hugetlb,
	.pmd_entry = kc_numa_pmd,
	.walk_lock = PGWALK_RDLOCK,
};

int kc_numa_maps_vma(struct vm_area_struct *vma, struct kc_numa_maps *out)
{
	int err;

	memset(out, 0, sizeof(*out));
	mmap_read_lock(vma->vm_mm);
	err = walk_page_vma(vma, &kc_numa_ops, out);
	mmap_read_unlock(vma->vm_mm);
	return err;
}
