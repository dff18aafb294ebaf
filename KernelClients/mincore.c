/*
 * mincore.c - mincore(2) as a kernel walk client (PageWalk's own code, in
 * the shape of mm/mincore.c): one byte per page, 1 when the page is in
 * memory -- mapped, or cached in the file's page cache or the swap cache.
 */
#include <linux/pagemap.h>
#include <linux/pagewalk.h>
#include <linux/swap.h>
#include <linux/swapops.h>
#include <linux/shmem_fs.h>
#include <linux/hugetlb.h>
#include <linux/pgtable.h>
#include "swap.h"
#include "internal.h"

#include "kernel_clients.h"

/* In memory if the swap cache holds it; non-swap entries (migration,
 * hwpoison) count as present for anonymous memory. */
static unsigned char kc_swap_resident(swp_entry_t entry, bool shmem)
{
	struct swap_info_struct *si = NULL;
	struct folio *folio;
	unsigned char in_core = 0;

	if (non_swap_entry(entry))
		return !shmem;
	if (!IS_ENABLED(CONFIG_SWAP)) {
		WARN_ON(1);
		return 0;
	}
	if (shmem) {
		si = get_swap_device(entry);
		if (!si)
			return 0;
	}
	folio = swap_cache_get_folio(entry);
	if (shmem)
		put_swap_device(si);
	if (folio) {
		in_core = folio_test_uptodate(folio);
		folio_put(folio);
	}
	return in_core;
}

/* A file page not mapped here: is it in the page cache? */
static unsigned char kc_cache_resident(struct address_space *mapping,
				       pgoff_t index)
{
	void *slot = filemap_get_entry(mapping, index);
	struct folio *folio;
	unsigned char in_core;

	if (!slot)
		return 0;
	if (xa_is_value(slot))
		return shmem_mapping(mapping) ?
			       kc_swap_resident(radix_to_swp_entry(slot),
						true) :
			       0;
	folio = slot;
	in_core = folio_test_uptodate(folio);
	folio_put(folio);
	return in_core;
}

static void kc_unmapped(unsigned long addr, unsigned long end,
			struct vm_area_struct *vma, unsigned char *vec)
{
	unsigned long i, nr = (end - addr) >> PAGE_SHIFT;
	pgoff_t index;

	if (!vma->vm_file) {
		memset(vec, 0, nr);
		return;
	}
	index = linear_page_index(vma, addr);
	for (i = 0; i < nr; i++)
		vec[i] = kc_cache_resident(vma->vm_file->f_mapping, index + i);
}

static int kc_mincore_hole(unsigned long addr, unsigned long end,
			   __always_unused int depth, struct mm_walk *walk)
{
	unsigned char *vec = walk->private;

	kc_unmapped(addr, end, walk->vma, vec);
	walk->private = vec + ((end - addr) >> PAGE_SHIFT);
	return 0;
}

static int kc_mincore_pmd(pmd_t *pmd, unsigned long addr, unsigned long end,
			  struct mm_walk *walk)
{
	struct vm_area_struct *vma = walk->vma;
	unsigned char *vec = walk->private;
	unsigned long nr = (end - addr) >> PAGE_SHIFT;
	spinlock_t *ptl;
	pte_t *start_pte, *ptep;

	ptl = pmd_trans_huge_lock(pmd, vma);
	if (ptl) {
		memset(vec, 1, nr);
		spin_unlock(ptl);
		goto done;
	}
	start_pte = ptep = pte_offset_map_lock(walk->mm, pmd, addr, &ptl);
	if (!ptep) {
		walk->action = ACTION_AGAIN;
		return 0;
	}
	for (; addr != end; ptep++, addr += PAGE_SIZE, vec++) {
		pte_t pte = ptep_get(ptep);

		if (pte_none_mostly(pte))
			kc_unmapped(addr, addr + PAGE_SIZE, vma, vec);
		else if (pte_present(pte))
			*vec = 1;
		else
			*vec = kc_swap_resident(pte_to_swp_entry(pte), false);
	}
	pte_unmap_unlock(start_pte, ptl);
done:
	walk->private += nr;
	cond_resched();
	return 0;
}

static int kc_mincore_hugetlb(pte_t *pte, unsigned long hmask,
			      unsigned long addr, unsigned long end,
			      struct mm_walk *walk)
{
	unsigned char *vec = walk->private;
	unsigned char present = 0;
	spinlock_t *ptl;

	(void)hmask;
	ptl = huge_pte_lock(hstate_vma(walk->vma), walk->mm, pte);
	if (pte) {
		pte_t v = huge_ptep_get(walk->mm, addr, pte);

		present = !huge_pte_none_mostly(v);
	}
	for (; addr != end; addr += PAGE_SIZE)
		*vec++ = present;
	walk->private = vec;
	spin_unlock(ptl);
	return 0;
}

static const struct mm_walk_ops kc_mincore_ops = {
	.pmd_entry = kc_mincore_pmd,
	.pte_hole = kc_mincore_hole,
	.hugetlb_entry = kc_mincore_hugetlb,
	.walk_lock = PGWALK_RDLOCK,
};

long kc_mincore(struct mm_struct *mm, unsigned long start, unsigned long len,
		unsigned char *vec)
{
	unsigned long end = start + PAGE_ALIGN(len);
	long err = 0;

	if (start & ~PAGE_MASK)
		return -EINVAL;
	mmap_read_lock(mm);
	while (start < end) {
		struct vm_area_struct *vma = vma_lookup(mm, start);
		unsigned long stop;

		if (!vma) {
			err = -ENOMEM;
			break;
		}
		stop = min(vma->vm_end, end);
		err = walk_page_range_vma(vma, start, stop, &kc_mincore_ops,
					  vec);
		if (err < 0)
			break;
		vec += (stop - start) >> PAGE_SHIFT;
		start = stop;
	}
	mmap_read_unlock(mm);
	return err < 0 ? err : 0;
}
