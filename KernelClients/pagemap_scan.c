/*
 * pagemap_scan.c - the PAGEMAP_SCAN ioctl as a kernel walk client
 * (PageWalk's own code, in the shape of fs/proc/task_mmu.c's
 * pagemap_scan_ops; semantics from Documentation/admin-guide/mm/pagemap.rst):
 * ranges of pages whose categories match the masks, merged while their
 * reported categories agree, at most max_pages pages and vec_len ranges,
 * and optionally write-protected (userfaultfd) as they are found.
 */
#include <linux/mm.h>
#include <linux/fs.h>
#include <linux/hugetlb.h>
#include <linux/huge_mm.h>
#include <linux/pagemap.h>
#include <linux/swapops.h>
#include <linux/userfaultfd_k.h>
#include <linux/pagewalk.h>
#include <asm/tlbflush.h>
#include "internal.h"

#include "kernel_clients.h"

#define KC_SCAN_CATEGORIES                                                    \
	(PAGE_IS_WPALLOWED | PAGE_IS_WRITTEN | PAGE_IS_FILE |                 \
	 PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_PFNZERO | PAGE_IS_HUGE | \
	 PAGE_IS_SOFT_DIRTY | PAGE_IS_GUARD)
#define KC_SCAN_FLAGS (PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC)
/* The kernel gathers ranges in a bounce buffer of this many entries and
 * copies them out when it fills (ranges do not merge across a copy). */
#define KC_SCAN_BOUNCE (PMD_SIZE >> PAGE_SHIFT)

struct kc_scan {
	struct pm_scan_arg arg;
	unsigned long interest, vma_category;
	struct page_region *buf;
	unsigned long buf_len, buf_index, found;
	struct page_region *out;
};

static bool kc_scan_wants_page(unsigned long categories,
			       const struct kc_scan *p)
{
	categories ^= p->arg.category_inverted;
	if ((categories & p->arg.category_mask) != p->arg.category_mask)
		return false;
	return !p->arg.category_anyof_mask ||
	       (categories & p->arg.category_anyof_mask);
}

static bool kc_scan_wants_vma(unsigned long categories, const struct kc_scan *p)
{
	unsigned long needed = p->arg.category_mask & PAGE_IS_WPALLOWED;

	categories ^= p->arg.category_inverted;
	return (categories & needed) == needed;
}

static unsigned long kc_pte_categories(struct kc_scan *p,
				       struct vm_area_struct *vma,
				       unsigned long addr, pte_t pte)
{
	unsigned long c = 0;

	if (pte_present(pte)) {
		c = PAGE_IS_PRESENT;
		if (!pte_uffd_wp(pte))
			c |= PAGE_IS_WRITTEN;
		if (p->interest & PAGE_IS_FILE) {
			struct page *page = vm_normal_page(vma, addr, pte);

			if (page && !PageAnon(page))
				c |= PAGE_IS_FILE;
		}
		if (is_zero_pfn(pte_pfn(pte)))
			c |= PAGE_IS_PFNZERO;
		if (pte_soft_dirty(pte))
			c |= PAGE_IS_SOFT_DIRTY;
	} else if (is_swap_pte(pte)) {
		swp_entry_t entry = pte_to_swp_entry(pte);

		c = PAGE_IS_SWAPPED;
		if (!pte_swp_uffd_wp_any(pte))
			c |= PAGE_IS_WRITTEN;
		if (is_guard_swp_entry(entry))
			c |= PAGE_IS_GUARD;
		else if ((p->interest & PAGE_IS_FILE) &&
			 is_pfn_swap_entry(entry) &&
			 !folio_test_anon(pfn_swap_entry_folio(entry)))
			c |= PAGE_IS_FILE;
		if (pte_swp_soft_dirty(pte))
			c |= PAGE_IS_SOFT_DIRTY;
	} else {
		/* An empty PTE has not been write-protected: written (what
		 * userfaultfd's WP_UNPOPULATED arms).  A hole with no table
		 * reaches kc_scan_hole instead and is not. */
		c = PAGE_IS_WRITTEN;
	}
	return c;
}

static unsigned long kc_pmd_categories(struct kc_scan *p,
				       struct vm_area_struct *vma,
				       unsigned long addr, pmd_t pmd)
{
	unsigned long c = PAGE_IS_HUGE;

	if (pmd_present(pmd)) {
		c |= PAGE_IS_PRESENT;
		if (!pmd_uffd_wp(pmd))
			c |= PAGE_IS_WRITTEN;
		if (p->interest & PAGE_IS_FILE) {
			struct page *page = vm_normal_page_pmd(vma, addr, pmd);

			if (page && !PageAnon(page))
				c |= PAGE_IS_FILE;
		}
		if (is_huge_zero_pmd(pmd))
			c |= PAGE_IS_PFNZERO;
		if (pmd_soft_dirty(pmd))
			c |= PAGE_IS_SOFT_DIRTY;
	} else if (is_swap_pmd(pmd)) {
		c |= PAGE_IS_SWAPPED;
		if (!pmd_swp_uffd_wp(pmd))
			c |= PAGE_IS_WRITTEN;
		if (pmd_swp_soft_dirty(pmd))
			c |= PAGE_IS_SOFT_DIRTY;
		if (p->interest & PAGE_IS_FILE) {
			swp_entry_t entry = pmd_to_swp_entry(pmd);

			if (is_pfn_swap_entry(entry) &&
			    !folio_test_anon(pfn_swap_entry_folio(entry)))
				c |= PAGE_IS_FILE;
		}
	}
	return c;
}

static unsigned long kc_huge_categories(pte_t pte)
{
	unsigned long c = PAGE_IS_HUGE;

	if (pte_present(pte)) {
		c |= PAGE_IS_PRESENT;
		if (!huge_pte_uffd_wp(pte))
			c |= PAGE_IS_WRITTEN;
		if (!PageAnon(pte_page(pte)))
			c |= PAGE_IS_FILE;
		if (is_zero_pfn(pte_pfn(pte)))
			c |= PAGE_IS_PFNZERO;
		if (pte_soft_dirty(pte))
			c |= PAGE_IS_SOFT_DIRTY;
	} else if (is_swap_pte(pte)) {
		c |= PAGE_IS_SWAPPED;
		if (!pte_swp_uffd_wp_any(pte))
			c |= PAGE_IS_WRITTEN;
		if (pte_swp_soft_dirty(pte))
			c |= PAGE_IS_SOFT_DIRTY;
	}
	return c;
}

/* Write-protects one entry for userfaultfd: a present or swap entry gets
 * the bit, an empty one a uffd-wp marker. */
static void kc_wp_pte(struct vm_area_struct *vma, unsigned long addr,
		      pte_t *pte, pte_t v)
{
	if (pte_present(v)) {
		pte_t old = ptep_modify_prot_start(vma, addr, pte);

		ptep_modify_prot_commit(vma, addr, pte, old,
					pte_mkuffd_wp(old));
	} else if (is_swap_pte(v)) {
		set_pte_at(vma->vm_mm, addr, pte, pte_swp_mkuffd_wp(v));
	} else {
		set_pte_at(vma->vm_mm, addr, pte,
			   make_pte_marker(PTE_MARKER_UFFD_WP));
	}
}

static void kc_wp_pmd(struct vm_area_struct *vma, unsigned long addr,
		      pmd_t *pmdp)
{
	pmd_t v = pmdp_get(pmdp);

	if (pmd_present(v)) {
		pmd_t old = pmdp_invalidate_ad(vma, addr, pmdp);

		set_pmd_at(vma->vm_mm, addr, pmdp, pmd_mkuffd_wp(old));
	} else if (is_migration_entry(pmd_to_swp_entry(v))) {
		set_pmd_at(vma->vm_mm, addr, pmdp, pmd_swp_mkuffd_wp(v));
	}
}

static void kc_wp_huge(struct vm_area_struct *vma, unsigned long addr,
		       pte_t *ptep, pte_t v)
{
	unsigned long sz = huge_page_size(hstate_vma(vma));

	if (is_hugetlb_entry_hwpoisoned(v) || is_pte_marker(v))
		return;
	if (is_hugetlb_entry_migration(v))
		set_huge_pte_at(vma->vm_mm, addr, ptep, pte_swp_mkuffd_wp(v),
				sz);
	else if (!huge_pte_none(v)) {
		pte_t old = huge_ptep_modify_prot_start(vma, addr, ptep);

		huge_ptep_modify_prot_commit(vma, addr, ptep, old,
					     huge_pte_mkuffd_wp(old));
	} else
		set_huge_pte_at(vma->vm_mm, addr, ptep,
				make_pte_marker(PTE_MARKER_UFFD_WP), sz);
}

/* Adds [addr, end) to the ranges: merged into the last one when it ends at
 * addr with the same reported categories; false when the buffer is full. */
static bool kc_scan_push(unsigned long categories, struct kc_scan *p,
			 unsigned long addr, unsigned long end)
{
	struct page_region *cur = &p->buf[p->buf_index];

	categories &= p->arg.return_mask;
	if (cur->categories == categories && cur->end == addr) {
		cur->end = end;
		return true;
	}
	if (cur->end) {
		if (p->buf_index >= p->buf_len - 1)
			return false;
		cur = &p->buf[++p->buf_index];
	}
	cur->start = addr;
	cur->end = end;
	cur->categories = categories;
	return true;
}

/* Reports [addr, *end): cut to max_pages and to the buffer's room; on a
 * cut, *end is where reporting stopped and -ENOSPC is returned. */
static int kc_scan_output(unsigned long categories, struct kc_scan *p,
			  unsigned long addr, unsigned long *end)
{
	unsigned long n = (*end - addr) / PAGE_SIZE, total;
	int ret = 0;

	if (!p->buf)
		return 0;
	if (check_add_overflow(p->found, n, &total) ||
	    total > p->arg.max_pages) {
		unsigned long over = total - p->arg.max_pages;

		*end -= over * PAGE_SIZE;
		n -= over;
		ret = -ENOSPC;
	}
	if (!kc_scan_push(categories, p, addr, *end)) {
		*end = addr;
		n = 0;
		ret = -ENOSPC;
	}
	p->found += n;
	if (ret)
		p->arg.walk_end = *end;
	return ret;
}

/* Takes back the pages of [addr, end) just reported (a THP split, a
 * hugetlb page that cannot be write-protected in part). */
static void kc_scan_backout(struct kc_scan *p, unsigned long addr,
			    unsigned long end)
{
	struct page_region *cur = &p->buf[p->buf_index];

	if (cur->start != addr)
		cur->end = addr;
	else
		cur->start = cur->end = 0;
	p->found -= (end - addr) / PAGE_SIZE;
}

static int kc_scan_test_walk(unsigned long start, unsigned long end,
			     struct mm_walk *walk)
{
	struct kc_scan *p = walk->private;
	struct vm_area_struct *vma = walk->vma;
	unsigned long category = 0;

	(void)start;
	(void)end;
	if (userfaultfd_wp_async(vma) && userfaultfd_wp_use_markers(vma))
		category |= PAGE_IS_WPALLOWED;
	else if (p->arg.flags & PM_SCAN_CHECK_WPASYNC)
		return -EPERM;
	if (vma->vm_flags & VM_PFNMAP)
		return 1;
	if (!kc_scan_wants_vma(category, p))
		return 1;
	p->vma_category = category;
	return 0;
}

/* A huge PMD: reported whole; -ENOENT when the walk should look at PTEs
 * (no huge PMD, or one split to write-protect part of it). */
static int kc_scan_thp(pmd_t *pmd, unsigned long start, unsigned long end,
		       struct mm_walk *walk)
{
	struct kc_scan *p = walk->private;
	struct vm_area_struct *vma = walk->vma;
	unsigned long categories;
	spinlock_t *ptl;
	int ret = 0;

	ptl = pmd_trans_huge_lock(pmd, vma);
	if (!ptl)
		return -ENOENT;
	categories = p->vma_category |
		     kc_pmd_categories(p, vma, start, pmdp_get(pmd));
	if (!kc_scan_wants_page(categories, p))
		goto out;
	ret = kc_scan_output(categories, p, start, &end);
	if (start == end || (~p->arg.flags & PM_SCAN_WP_MATCHING) ||
	    (~categories & PAGE_IS_WRITTEN))
		goto out;
	if (end != start + HPAGE_SIZE) {
		spin_unlock(ptl);
		split_huge_pmd(vma, pmd, start);
		kc_scan_backout(p, start, end);
		return -ENOENT;
	}
	kc_wp_pmd(vma, start, pmd);
	flush_tlb_range(vma, start, end);
out:
	spin_unlock(ptl);
	return ret;
}

static int kc_scan_pmd(pmd_t *pmd, unsigned long start, unsigned long end,
		       struct mm_walk *walk)
{
	struct kc_scan *p = walk->private;
	struct vm_area_struct *vma = walk->vma;
	unsigned long addr, flush_end = 0;
	pte_t *start_pte, *pte;
	spinlock_t *ptl;
	int ret;

	ret = kc_scan_thp(pmd, start, end, walk);
	if (ret != -ENOENT)
		return ret;
	ret = 0;
	start_pte = pte = pte_offset_map_lock(vma->vm_mm, pmd, start, &ptl);
	if (!pte) {
		walk->action = ACTION_AGAIN;
		return 0;
	}
	arch_enter_lazy_mmu_mode();
	for (addr = start; addr != end; pte++, addr += PAGE_SIZE) {
		pte_t v = ptep_get(pte);
		unsigned long categories =
			p->vma_category | kc_pte_categories(p, vma, addr, v);
		unsigned long next = addr + PAGE_SIZE;

		if (!kc_scan_wants_page(categories, p))
			continue;
		ret = kc_scan_output(categories, p, addr, &next);
		if (next == addr)
			break;
		if ((~p->arg.flags & PM_SCAN_WP_MATCHING) ||
		    (~categories & PAGE_IS_WRITTEN))
			continue;
		kc_wp_pte(vma, addr, pte, v);
		if (!flush_end)
			start = addr;
		flush_end = next;
	}
	if (flush_end)
		flush_tlb_range(vma, start, addr);
	arch_leave_lazy_mmu_mode();
	pte_unmap_unlock(start_pte, ptl);
	cond_resched();
	return ret;
}

static int kc_scan_hugetlb(pte_t *ptep, unsigned long hmask,
			   unsigned long start, unsigned long end,
			   struct mm_walk *walk)
{
	struct kc_scan *p = walk->private;
	struct vm_area_struct *vma = walk->vma;
	unsigned long categories;
	spinlock_t *ptl;
	int ret = 0;
	pte_t v;

	(void)hmask;
	if (~p->arg.flags & PM_SCAN_WP_MATCHING) {
		v = huge_ptep_get(walk->mm, start, ptep);
		categories = p->vma_category | kc_huge_categories(v);
		if (!kc_scan_wants_page(categories, p))
			return 0;
		return kc_scan_output(categories, p, start, &end);
	}
	if (vma->vm_file)
		i_mmap_lock_write(vma->vm_file->f_mapping);
	ptl = huge_pte_lock(hstate_vma(vma), vma->vm_mm, ptep);
	v = huge_ptep_get(walk->mm, start, ptep);
	categories = p->vma_category | kc_huge_categories(v);
	if (!kc_scan_wants_page(categories, p))
		goto out;
	ret = kc_scan_output(categories, p, start, &end);
	if (start == end || (~categories & PAGE_IS_WRITTEN))
		goto out;
	if (end != start + huge_page_size(hstate_vma(vma))) {
		kc_scan_backout(p, start, end);
		p->arg.walk_end = start;
		ret = 0;
		goto out;
	}
	kc_wp_huge(vma, start, ptep, v);
	flush_hugetlb_tlb_range(vma, start, end);
out:
	spin_unlock(ptl);
	if (vma->vm_file)
		i_mmap_unlock_write(vma->vm_file->f_mapping);
	return ret;
}

static int kc_scan_hole(unsigned long addr, unsigned long end, int depth,
			struct mm_walk *walk)
{
	struct kc_scan *p = walk->private;
	struct vm_area_struct *vma = walk->vma;
	int ret, err;

	(void)depth;
	if (!vma || !kc_scan_wants_page(p->vma_category, p))
		return 0;
	ret = kc_scan_output(p->vma_category, p, addr, &end);
	if (addr == end || (~p->arg.flags & PM_SCAN_WP_MATCHING))
		return ret;
	err = uffd_wp_range(vma, addr, end - addr, true);
	return err < 0 ? err : ret;
}

static const struct mm_walk_ops kc_scan_ops = {
	.test_walk = kc_scan_test_walk,
	.pmd_entry = kc_scan_pmd,
	.pte_hole = kc_scan_hole,
	.hugetlb_entry = kc_scan_hugetlb,
};

static int kc_scan_check(struct pm_scan_arg *arg)
{
	if (arg->size != sizeof(struct pm_scan_arg))
		return -EINVAL;
	if (arg->flags & ~KC_SCAN_FLAGS)
		return -EINVAL;
	if ((arg->category_inverted | arg->category_mask |
	     arg->category_anyof_mask | arg->return_mask) &
	    ~KC_SCAN_CATEGORIES)
		return -EINVAL;
	if (arg->start & ~PAGE_MASK)
		return -EINVAL;
	arg->end = ALIGN(arg->end, PAGE_SIZE);
	if (arg->end < arg->start)
		return -EINVAL;
	if (!arg->vec && arg->vec_len)
		return -EINVAL;
	if ((arg->flags & PM_SCAN_WP_MATCHING) == 0 && !arg->return_mask)
		return -EINVAL;
	arg->walk_end = 0;
	if (!arg->max_pages)
		arg->max_pages = ULONG_MAX;
	return 0;
}

/* Copies the buffered ranges out: how many. */
static long kc_scan_flush(struct kc_scan *p)
{
	long n = p->buf_index;

	if (!p->buf)
		return 0;
	if (p->buf[n].end != p->buf[n].start)
		n++;
	if (!n)
		return 0;
	memcpy(p->out, p->buf, n * sizeof(*p->buf));
	p->arg.vec_len -= n;
	p->out += n;
	p->buf_index = 0;
	p->buf_len = min_t(unsigned long, p->buf_len, p->arg.vec_len);
	p->buf[0].start = p->buf[0].end = 0;
	return n;
}

long kc_pagemap_scan(struct mm_struct *mm, struct pm_scan_arg *uarg)
{
	struct kc_scan p = { .arg = *uarg };
	long ret, ranges = 0;
	unsigned long walk_start;

	ret = kc_scan_check(&p.arg);
	if (ret)
		return ret;
	p.interest = p.arg.category_mask | p.arg.category_anyof_mask |
		     p.arg.return_mask;
	p.out = (struct page_region *)(uintptr_t)p.arg.vec;
	if (p.arg.vec_len) {
		p.buf_len = min_t(unsigned long, KC_SCAN_BOUNCE, p.arg.vec_len);
		p.buf = kcalloc(p.buf_len, sizeof(*p.buf), GFP_KERNEL);
		if (!p.buf)
			return -ENOMEM;
	}
	for (walk_start = p.arg.start; walk_start < p.arg.end;
	     walk_start = p.arg.walk_end) {
		long n;

		mmap_read_lock(mm);
		ret = walk_page_range(mm, walk_start, p.arg.end, &kc_scan_ops,
				      &p);
		mmap_read_unlock(mm);
		n = kc_scan_flush(&p);
		ranges += n;
		if (ret != -ENOSPC)
			break;
		if (!p.arg.vec_len || p.found == p.arg.max_pages)
			break;
	}
	if (!ret || ret == -ENOSPC)
		ret = ranges;
	if (!p.arg.walk_end)
		p.arg.walk_end = p.arg.end;
	uarg->walk_end = p.arg.walk_end;
	kfree(p.buf);
	return ret;
}
