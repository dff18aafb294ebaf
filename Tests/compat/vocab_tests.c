/*
 * vocab_tests.c - a kernel-style client file that includes every header
 * name of shared/kernel-clients/VOCABULARY.md and uses a broad sample of
 * the vocabulary, run over the simulated machine of sim_machine.h.  Built
 * as kernel files are: `cc -std=gnu11 -I compat -I include`.
 */
#include "internal.h"
#include "swap.h"
#include <asm/elf.h>
#include <asm/tlb.h>
#include <asm/tlbflush.h>
#include <linux/backing-dev.h>
#include <linux/blkdev.h>
#include <linux/buildid.h>
#include <linux/capability.h>
#include <linux/compat.h>
#include <linux/cpuset.h>
#include <linux/ctype.h>
#include <linux/debugfs.h>
#include <linux/export.h>
#include <linux/fadvise.h>
#include <linux/falloc.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/gcd.h>
#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/huge_mm.h>
#include <linux/hugetlb.h>
#include <linux/init.h>
#include <linux/interrupt.h>
#include <linux/kasan.h>
#include <linux/kernel.h>
#include <linux/ksm.h>
#include <linux/memcontrol.h>
#include <linux/memory.h>
#include <linux/mempolicy.h>
#include <linux/migrate.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/mm_inline.h>
#include <linux/mman.h>
#include <linux/mmu_context.h>
#include <linux/mmu_notifier.h>
#include <linux/mmzone.h>
#include <linux/mount.h>
#include <linux/nodemask.h>
#include <linux/nsproxy.h>
#include <linux/overflow.h>
#include <linux/page-isolation.h>
#include <linux/page_idle.h>
#include <linux/pagemap.h>
#include <linux/pagevec.h>
#include <linux/pagewalk.h>
#include <linux/pgtable.h>
#include <linux/pkeys.h>
#include <linux/printk.h>
#include <linux/proc_fs.h>
#include <linux/ptdump.h>
#include <linux/ptrace.h>
#include <linux/rmap.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/numa_balancing.h>
#include <linux/sched/task.h>
#include <linux/sched/user.h>
#include <linux/secretmem.h>
#include <linux/security.h>
#include <linux/seq_file.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/swap.h>
#include <linux/swapops.h>
#include <linux/syscalls.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/userfaultfd_k.h>
#include <linux/leafops.h>

#include "sim_machine.h"
#include "../c/test_cases.h"

#define K PAGE_SIZE

/* ---- entries, swap entries, generic macros -------------------------------- */

static void test_entries(void)
{
	TEST("pte/pmd accessors, predicates and modifiers (x86 bits)")
	{
		pte_t pte = __pte((100UL << PAGE_SHIFT) | _PAGE_PRESENT |
				  _PAGE_RW | _PAGE_USER);

		CHECK(pte_present(pte) && !pte_none(pte) && pte_write(pte));
		CHECK(pte_pfn(pte) == 100 && !pte_young(pte) &&
		      !pte_dirty(pte));
		CHECK(pte_young(pte_mkyoung(pte)) &&
		      pte_dirty(pte_mkdirty(pte)));
		CHECK(pte_soft_dirty(pte_mkdirty(pte)) &&
		      !pte_soft_dirty(pte_clear_soft_dirty(pte_mkdirty(pte))));
		CHECK(!pte_write(pte_wrprotect(pte)));
		CHECK(pte_uffd_wp(pte_mkuffd_wp(pte)) &&
		      !pte_write(pte_mkuffd_wp(pte)));
		CHECK(pte_none(__pte(0)) &&
		      pte_none(__pte(_PAGE_ACCESSED | _PAGE_DIRTY)));
		CHECK(pte_none_mostly(make_pte_marker(PTE_MARKER_GUARD)) &&
		      !pte_none(make_pte_marker(PTE_MARKER_GUARD)));
		pmd_t pmd = __pmd((512UL << PAGE_SHIFT) | _PAGE_PRESENT |
				  _PAGE_PSE | _PAGE_RW);
		CHECK(pmd_leaf(pmd) && pmd_trans_huge(pmd) &&
		      pmd_present(pmd) && pmd_pfn(pmd) == 512);
		CHECK(!pmd_dirty(pmd) && pmd_dirty(pmd_mkdirty(pmd)) &&
		      pmd_young(pmd_mkyoung(pmd)));
		CHECK(!pmd_write(pmd_wrprotect(pmd)) &&
		      pmd_uffd_wp(pmd_mkuffd_wp(pmd)));
		CHECK(pmd_soft_dirty(pmd_mkdirty(pmd)) &&
		      !pmd_soft_dirty(pmd_clear_soft_dirty(pmd_mkdirty(pmd))));
		CHECK(!pmd_present(__pmd(0)) &&
		      !pmd_leaf(__pmd(_PAGE_PRESENT | _PAGE_RW)));
		pud_t pud = __pud(_PAGE_PRESENT | _PAGE_PSE);
		CHECK(pud_leaf(pud) && pud_trans_huge(pud) && !p4d_leaf(0) &&
		      !pgd_leaf(0));
		CHECK(pte_batch_hint(NULL, pte) == 1);
		CHECK(PAGE_SIZE == 4096 && PAGE_SHIFT == 12 &&
		      HPAGE_PMD_SIZE == 2UL << 20);
		CHECK(HPAGE_SIZE == HPAGE_PMD_SIZE &&
		      PMD_MASK == ~((2UL << 20) - 1));
	}
	TEST("swap, migration and marker entries")
	{
		swp_entry_t e = swp_entry(3, 77);
		pte_t pte = swp_entry_to_pte(e);

		CHECK(is_swap_pte(pte) && !pte_present(pte));
		CHECK(swp_type(pte_to_swp_entry(pte)) == 3 &&
		      swp_offset(pte_to_swp_entry(pte)) == 77);
		CHECK(!non_swap_entry(e) && !is_migration_entry(e) &&
		      !is_pfn_swap_entry(e));
		swp_entry_t mig = make_writable_migration_entry(123);
		CHECK(is_migration_entry(mig) && non_swap_entry(mig) &&
		      is_pfn_swap_entry(mig));
		CHECK(swp_offset_pfn(mig) == 123);
		CHECK(is_pmd_migration_entry(swp_entry_to_pmd(mig)) &&
		      is_swap_pmd(swp_entry_to_pmd(mig)));
		CHECK(swp_type(pmd_to_swp_entry(swp_entry_to_pmd(mig))) ==
		      SWP_MIGRATION_WRITE);
		pte_t guard = make_pte_marker(PTE_MARKER_GUARD);
		CHECK(is_pte_marker(guard) &&
		      is_guard_swp_entry(pte_to_swp_entry(guard)));
		CHECK(!pte_marker_entry_uffd_wp(pte_to_swp_entry(guard)));
		pte_t wp = make_pte_marker(PTE_MARKER_UFFD_WP);
		CHECK(pte_marker_entry_uffd_wp(pte_to_swp_entry(wp)) &&
		      pte_swp_uffd_wp_any(wp));
		CHECK(pte_swp_uffd_wp(pte_swp_mkuffd_wp(pte)) &&
		      pte_swp_uffd_wp_any(pte_swp_mkuffd_wp(pte)));
		CHECK(pte_swp_soft_dirty(pte_swp_mksoft_dirty(pte)) &&
		      !pte_swp_soft_dirty(pte_swp_clear_soft_dirty(
			      pte_swp_mksoft_dirty(pte))));
		CHECK(pmd_swp_uffd_wp(
			pmd_swp_mkuffd_wp(swp_entry_to_pmd(mig))));
		CHECK(!pmd_swp_soft_dirty(pmd_swp_clear_soft_dirty(
			swp_entry_to_pmd(mig) | _PAGE_SWP_SOFT_DIRTY)));
		CHECK(is_device_private_entry(swp_entry(SWP_DEVICE_WRITE, 5)));
		void *v = xa_mk_value(e.val);
		CHECK(xa_is_value(v) && radix_to_swp_entry(v).val == e.val);
		CHECK(MAX_SWAPFILES_SHIFT == 5);
		/* 6.19's softleaf names beside them. */
		softleaf_t sl = softleaf_from_pte(guard);
		CHECK(softleaf_is_marker(sl) && !softleaf_is_swap(sl) &&
		      softleaf_is_swap(e));
	}
	TEST("generic kernel macros")
	{
		u64 n = 1000;
		unsigned long sum;
		LIST_HEAD(list);
		struct {
			struct list_head node;
			int v;
		} a = { .v = 1 }, b = { .v = 2 };

		CHECK(min_t(unsigned int, 7, 3) == 3 && min(5UL, 9UL) == 5);
		CHECK(BIT_ULL(55) == 1ULL << 55 &&
		      GENMASK_ULL(54, 0) == (1ULL << 55) - 1);
		CHECK(IS_ENABLED(CONFIG_SWAP) &&
		      IS_ENABLED(CONFIG_PAGE_MAPCOUNT));
		CHECK(!IS_ENABLED(CONFIG_NO_PAGE_MAPCOUNT) &&
		      !IS_ENABLED(CONFIG_NOT_A_THING));
		CHECK(do_div(n, 7) == 6 && n == 142);
		CHECK(check_add_overflow(~0UL, 1UL, &sum) &&
		      !check_add_overflow(1UL, 2UL, &sum) && sum == 3);
		CHECK(IS_ERR_OR_NULL(NULL) &&
		      IS_ERR_OR_NULL(ERR_PTR(-EFAULT)) && !IS_ERR_OR_NULL(&n));
		CHECK(READ_ONCE(n) == 142 && likely(1) && !unlikely(0));
		list_add_tail(&a.node, &list);
		list_add_tail(&b.node, &list);
		CHECK(list_first_entry(&list, __typeof__(a), node)->v == 1 &&
		      list.prev == &b.node);
		size_t sz = 0;
		memset(&sz, 0, sizeof(sz));
		CHECK(sz == 0 && EFAULT && EIO && ENOENT && ENOSPC && EPERM);
	}
}

/* ---- a kernel-style walk over the machine ------------------------------- */

struct seen {
	unsigned long ptes, thp_pages, huge_bytes, shared, batch_max, again,
		none;
	int max_mapcount, avg, nid_sum;
};

static int vt_pmd_entry(pmd_t *pmd, unsigned long addr, unsigned long end,
			struct mm_walk *walk)
{
	struct seen *s = walk->private;
	struct vm_area_struct *vma = walk->vma;
	spinlock_t *ptl;
	pte_t *start_pte, *pte;

	VM_BUG_ON_VMA(!range_in_vma(vma, addr, end), vma);
	ptl = pmd_trans_huge_lock(pmd, vma);
	if (ptl) {
		struct folio *folio = pmd_folio(pmdp_get(pmd));
		struct page *page = vm_normal_page_pmd(vma, addr, *pmd);

		CHECK(pw_spin_is_locked(ptl));
		CHECK(page && page_folio(page) == folio &&
		      folio_test_large(folio));
		CHECK(folio_nr_pages(folio) == HPAGE_PMD_NR &&
		      compound_nr(page) == HPAGE_PMD_NR);
		CHECK(!is_huge_zero_pmd(*pmd) && folio_test_anon(folio) &&
		      !folio_test_ksm(folio));
		s->thp_pages += folio_nr_pages(folio);
		s->avg = folio_average_page_mapcount(folio);
		spin_unlock(ptl);
		return 0;
	}
	if (!s->again++) {
		walk->action = ACTION_AGAIN;
		return 0;
	}
	start_pte = pte = pte_offset_map_lock(walk->mm, pmd, addr, &ptl);
	if (!pte) {
		walk->action = ACTION_AGAIN;
		return 0;
	}
	for (; addr != end; pte++, addr += PAGE_SIZE) {
		pte_t v = ptep_get(pte);
		struct folio *folio;
		struct page *page;

		if (pte_none(v)) {
			s->none++;
			continue;
		}
		if (!pte_present(v))
			continue;
		s->ptes++;
		page = vm_normal_page(vma, addr, v);
		if (!page) {
			CHECK(is_zero_pfn(pte_pfn(v)));
			continue;
		}
		folio = vm_normal_folio(vma, addr, v);
		CHECK(folio == page_folio(page) && page == pte_page(v));
		if (folio_precise_page_mapcount(folio, page) > s->max_mapcount)
			s->max_mapcount =
				folio_precise_page_mapcount(folio, page);
		s->shared += folio_maybe_mapped_shared(folio);
		s->nid_sum += folio_nid(folio) + page_to_nid(page);
		unsigned int nr = folio_pte_batch(folio, pte, v,
						  (end - addr) >> PAGE_SHIFT);
		s->batch_max = max(s->batch_max, (unsigned long)nr);
		CHECK(folio_ref_count(folio) >= 1 && folio_test_lru(folio) &&
		      folio_test_uptodate(folio));
		CHECK(!folio_is_zone_device(folio) && !PageReserved(page));
		CHECK(PageAnon(page) == vma_is_anonymous(vma));
		CHECK(folio_test_swapbacked(folio) ==
		      (vma_is_anonymous(vma) || (vma->vm_flags & VM_SHARED)));
		CHECK(linear_page_index(vma, addr) ==
		      (addr - vma->vm_start) / PAGE_SIZE + vma->vm_pgoff);
	}
	pte_unmap_unlock(start_pte, ptl);
	cond_resched();
	return 0;
}

static int vt_hugetlb_entry(pte_t *pte, unsigned long hmask, unsigned long addr,
			    unsigned long end, struct mm_walk *walk)
{
	struct seen *s = walk->private;
	struct hstate *h = hstate_vma(walk->vma);
	spinlock_t *ptl = huge_pte_lock(h, walk->mm, pte);
	pte_t v = huge_ptep_get(walk->mm, addr, pte);

	CHECK(is_vm_hugetlb_page(walk->vma) && huge_page_size(h) == HPAGE_SIZE);
	CHECK(hmask == huge_page_mask(h) && pw_spin_is_locked(ptl) &&
	      end - addr == HPAGE_SIZE);
	if (!huge_pte_none(v) && pte_present(v)) {
		CHECK(!huge_pte_uffd_wp(v) && !hugetlb_pmd_shared(pte) &&
		      !is_hugetlb_entry_migration(v));
		s->huge_bytes += huge_page_size(h);
	}
	spin_unlock(ptl);
	return 0;
}

static const struct mm_walk_ops vt_ops = {
	.pmd_entry = vt_pmd_entry,
	.hugetlb_entry = vt_hugetlb_entry,
	.walk_lock = PGWALK_RDLOCK,
};

static void test_walk(struct mm_struct *mm)
{
	TEST("a kernel-style walk: THP, PTE loop with folio facts, hugetlb, ACTION_AGAIN")
	{
		struct seen s = { 0 };

		mmap_read_lock(mm);
		CHECK(walk_page_range(mm, SIM_A, 0x40400000, &vt_ops, &s) == 0);
		mmap_read_unlock(mm);
		/* A: 100, 101, zero, 103 twice; D: 300; C: 200 (file: no swapbacked) */
		CHECK(s.thp_pages == 512 && s.huge_bytes == 2UL << 20);
		CHECK(s.max_mapcount == 2 && s.shared == 2 && s.avg == 1);
		CHECK(s.batch_max == 1 && s.again >= 2);
		CHECK(pw_compat_events_named("VM_BUG_ON_VMA") == 0);
	}
	TEST("VMA helpers")
	{
		struct vm_area_struct *a = find_vma(mm, SIM_A),
				      *c = find_vma(mm, SIM_C);

		CHECK(vma_is_anonymous(a) && !vma_is_anonymous(c) &&
		      !vma_is_dax(a));
		CHECK(c->vm_file && c->vm_file->f_mapping &&
		      !shmem_mapping(c->vm_file->f_mapping));
		CHECK(shmem_mapping(find_vma(mm, SIM_D)->vm_file->f_mapping));
		CHECK(is_cow_mapping(VM_MAYWRITE) &&
		      !is_cow_mapping(VM_SHARED | VM_MAYWRITE));
		CHECK(!is_vm_hugetlb_page(a) &&
		      range_in_vma(a, SIM_A, SIM_A + K));
		CHECK(!mm_flags_test(MMF_HAS_PINNED, mm) &&
		      !userfaultfd_wp_async(a));
		CHECK(!(a->vm_flags &
			(VM_LOCKED | VM_PFNMAP | VM_IO | VM_SOFTDIRTY)));
	}
}

/* ---- outside page tables: events ---------------------------------------- */

static void test_events(struct mm_struct *mm)
{
	TEST("outside page tables: events a test can read")
	{
		struct vm_area_struct *a = find_vma(mm, SIM_A);
		struct mmu_notifier_range r;
		struct folio *f = pfn_folio(100);
		LIST_HEAD(isolated);
		struct folio_batch fb;

		pw_compat_events_clear();
		flush_tlb_range(a, SIM_A, SIM_A + 2 * K);
		update_mmu_cache(a, SIM_A, NULL);
		mmu_notifier_range_init(&r, MMU_NOTIFY_CLEAR, 0, mm, SIM_A,
					SIM_A + K);
		mmu_notifier_invalidate_range_start(&r);
		mmu_notifier_invalidate_range_end(&r);
		CHECK(pw_compat_event_count() == 4);
		CHECK(!strcmp(pw_compat_events()[0].what, "flush_tlb_range"));
		CHECK(pw_compat_events()[0].addr == SIM_A &&
		      pw_compat_events()[0].end == SIM_A + 2 * K);
		CHECK(folio_isolate_lru(f) && !folio_test_lru(f) &&
		      !folio_isolate_lru(f));
		list_add_tail(&f->lru, &isolated);
		CHECK(!list_empty(&isolated));
		node_stat_mod_folio(f, NR_ISOLATED_ANON + folio_is_file_lru(f),
				    folio_nr_pages(f));
		__count_vm_events(UNEVICTABLE_PGMLOCKED, 1);
		CHECK(pw_compat_events_named("folio_isolate_lru") == 1);
		CHECK(pw_compat_events_named("node_stat_mod_folio") == 1);
		CHECK(pw_compat_events_named("count_vm_events") == 1);
		folio_batch_init(&fb);
		CHECK(folio_batch_add(&fb, f) == PAGEVEC_SIZE - 1 &&
		      folio_batch_count(&fb) == 1);
		folio_get(f);
		folios_put(&fb);
		CHECK(folio_batch_count(&fb) == 0);
		CHECK(!folio_test_set_mlocked(f) && folio_test_mlocked(f) &&
		      folio_test_clear_mlocked(f));
		CHECK(node_isset(0, node_states[N_MEMORY]) &&
		      gfp_zone(GFP_HIGHUSER_MOVABLE) == ZONE_MOVABLE);
		CHECK(thp_migration_supported() &&
		      hugepage_migration_supported(
			      hstate_vma(find_vma(mm, SIM_E))));
	}
	TEST("WARN_ON and VM_BUG_ON are events with file and line")
	{
		pw_compat_events_clear();
		CHECK(WARN_ON(1 + 1 == 2));
		CHECK(!WARN_ON(0));
		VM_BUG_ON(1);
		VM_BUG_ON_FOLIO(0, NULL);
		CHECK(pw_compat_event_count() == 2);
		CHECK(!strcmp(pw_compat_events()[0].what, "WARN_ON") &&
		      pw_compat_events()[0].line > 0);
		CHECK(!strcmp(pw_compat_events()[1].what, "VM_BUG_ON"));
	}
}

/* ---- misuse: locks left held, unlocked twice, tables never mapped -------- */

static int leak_pmd(pmd_t *pmd, unsigned long addr, unsigned long end,
		    struct mm_walk *walk)
{
	spinlock_t *ptl;

	(void)end;
	if (pte_offset_map_lock(walk->mm, pmd, addr, &ptl))
		return 0; /* forgets pte_unmap_unlock */
	return 0;
}

static int twice_pmd(pmd_t *pmd, unsigned long addr, unsigned long end,
		     struct mm_walk *walk)
{
	spinlock_t *ptl;
	pte_t *pte = pte_offset_map_lock(walk->mm, pmd, addr, &ptl);

	(void)end;
	if (pte) {
		pte_unmap_unlock(pte, ptl);
		spin_unlock(ptl);
	}
	return 0;
}

static int unmap_pte(pte_t *pte, unsigned long addr, unsigned long end,
		     struct mm_walk *walk)
{
	static pte_t not_a_table[4];

	(void)pte;
	(void)addr;
	(void)end;
	(void)walk;
	pte_unmap(not_a_table);
	return 1;
}

static void test_misuse(struct mm_struct *mm)
{
	TEST("a callback leaving a PTL held: event naming it, lock released, no hang")
	{
		const struct mm_walk_ops ops = { .pmd_entry = leak_pmd };
		const struct pw_compat_event *e;

		pw_compat_events_clear();
		mmap_read_lock(mm);
		CHECK(walk_page_range(mm, SIM_A, SIM_A + K, &ops, NULL) == 0);
		CHECK(walk_page_range(mm, SIM_A, SIM_A + K, &ops, NULL) == 0);
		mmap_read_unlock(mm);
		CHECK(pw_compat_events_named("page-table lock left held") == 2);
		e = pw_compat_events();
		CHECK(!strcmp(e->callback, "pmd_entry") && e->addr == SIM_A);
		CHECK(pw_ptl_held_by_thread() == 0);
	}
	TEST("a callback unlocking twice: event")
	{
		const struct mm_walk_ops ops = { .pmd_entry = twice_pmd };

		pw_compat_events_clear();
		mmap_read_lock(mm);
		CHECK(walk_page_range(mm, SIM_A, SIM_A + K, &ops, NULL) == 0);
		mmap_read_unlock(mm);
		CHECK(pw_compat_events_named(
			      "page-table lock unlocked twice") == 1);
		CHECK(!strcmp(pw_compat_events()->callback, "pmd_entry"));
		CHECK(pw_ptl_held_by_thread() == 0);
	}
	TEST("pte_unmap of a table never mapped: event naming the callback and address")
	{
		const struct mm_walk_ops ops = { .pte_entry = unmap_pte };

		pw_compat_events_clear();
		mmap_read_lock(mm);
		CHECK(walk_page_range(mm, SIM_A + 2 * K, SIM_A + 3 * K, &ops,
				      NULL) == 1);
		mmap_read_unlock(mm);
		CHECK(pw_compat_events_named(
			      "pte_unmap of a table never mapped") == 1);
		CHECK(!strcmp(pw_compat_events()->callback, "pte_entry"));
		CHECK(pw_compat_events()->addr == SIM_A + 2 * K);
	}
}

/* ---- mlock- and mempolicy-shaped callbacks (LRU, batches, per-CPU) ------- */

#define VT_LRU_FOLIO 0x1
struct vt_mlock_batch {
	local_lock_t lock;
	struct folio_batch fbatch;
};
static DEFINE_PER_CPU(struct vt_mlock_batch, vt_mlock_batch) = {
	.lock = INIT_LOCAL_LOCK(lock),
};

/* Moves a folio to the unevictable list once, as mlock's batch drain does. */
static struct lruvec *vt_mlock_one(struct folio *folio, struct lruvec *lruvec)
{
	if (!folio_test_clear_lru(folio))
		return lruvec;
	lruvec = folio_lruvec_relock_irq(folio, lruvec);
	if (!folio_test_unevictable(folio)) {
		lruvec_del_folio(lruvec, folio);
		folio_clear_active(folio);
		folio_set_unevictable(folio);
		folio->mlock_count = !!folio_test_mlocked(folio);
		lruvec_add_folio(lruvec, folio);
		__count_vm_events(UNEVICTABLE_PGCULLED, folio_nr_pages(folio));
	} else if (folio_test_mlocked(folio)) {
		folio->mlock_count++;
	}
	folio_set_lru(folio);
	return lruvec;
}

static void vt_mlock_drain(struct folio_batch *fbatch)
{
	struct lruvec *lruvec = NULL;
	unsigned i;

	for (i = 0; i < folio_batch_count(fbatch); i++) {
		unsigned long tag =
			(unsigned long)fbatch->folios[i] & VT_LRU_FOLIO;
		struct folio *folio =
			(struct folio *)((unsigned long)fbatch->folios[i] -
					 tag);

		fbatch->folios[i] = folio;
		if (tag)
			lruvec = vt_mlock_one(folio, lruvec);
	}
	if (lruvec)
		unlock_page_lruvec_irq(lruvec);
	folios_put(fbatch);
}

static void vt_mlock_folio(struct folio *folio)
{
	struct folio_batch *fbatch;

	local_lock(&vt_mlock_batch.lock);
	fbatch = this_cpu_ptr(&vt_mlock_batch.fbatch);
	if (!folio_test_set_mlocked(folio)) {
		zone_stat_mod_folio(folio, NR_MLOCK, folio_nr_pages(folio));
		__count_vm_events(UNEVICTABLE_PGMLOCKED, folio_nr_pages(folio));
	}
	folio_get(folio);
	if (!folio_batch_add(fbatch, (struct folio *)((unsigned long)folio +
						      VT_LRU_FOLIO)) ||
	    !folio_may_be_lru_cached(folio) || lru_cache_disabled())
		vt_mlock_drain(fbatch);
	local_unlock(&vt_mlock_batch.lock);
}

static int vt_mlock_pmd(pmd_t *pmd, unsigned long addr, unsigned long end,
			struct mm_walk *walk)
{
	struct vm_area_struct *vma = walk->vma;
	unsigned long start = addr;
	pte_t *start_pte, *pte;
	spinlock_t *ptl;

	ptl = pmd_trans_huge_lock(pmd, vma);
	if (ptl) {
		if (pmd_present(*pmd) && !is_huge_zero_pmd(*pmd) &&
		    !folio_is_zone_device(pmd_folio(*pmd)))
			vt_mlock_folio(pmd_folio(*pmd));
		goto out;
	}
	start_pte = pte_offset_map_lock(vma->vm_mm, pmd, addr, &ptl);
	if (!start_pte) {
		walk->action = ACTION_AGAIN;
		return 0;
	}
	for (pte = start_pte; addr != end; pte++, addr += PAGE_SIZE) {
		pte_t v = ptep_get(pte);
		struct folio *folio;
		unsigned int step = 1;

		if (!pte_present(v))
			continue;
		folio = vm_normal_folio(vma, addr, v);
		if (!folio || folio_is_zone_device(folio))
			continue;
		if (folio_test_large(folio))
			step = folio_pte_batch(
				folio, pte, v,
				min_t(unsigned int, folio_nr_pages(folio),
				      (end - addr) >> PAGE_SHIFT));
		if (!folio_test_large(folio) ||
		    folio_within_range(folio, vma, start, end))
			vt_mlock_folio(folio);
		pte += step - 1;
		addr += (step - 1) << PAGE_SHIFT;
	}
	pte_unmap(start_pte);
out:
	spin_unlock(ptl);
	cond_resched();
	return 0;
}

struct vt_queue {
	struct list_head *pagelist;
	nodemask_t *nmask;
	long nr_failed;
};

static int vt_queue_pmd(pmd_t *pmd, unsigned long addr, unsigned long end,
			struct mm_walk *walk)
{
	struct vt_queue *qp = walk->private;
	struct vm_area_struct *vma = walk->vma;
	pte_t *start_pte, *pte;
	spinlock_t *ptl;

	VM_BUG_ON_VMA(!vma_migratable(vma), vma);
	ptl = pmd_trans_huge_lock(pmd, vma);
	if (ptl) {
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
		struct folio *folio;

		if (pte_none(v))
			continue;
		if (!pte_present(v)) {
			if (is_migration_entry(pte_to_swp_entry(v)))
				qp->nr_failed++;
			continue;
		}
		folio = vm_normal_folio(vma, addr, v);
		if (!folio || folio_is_zone_device(folio) ||
		    folio_test_reserved(folio))
			continue;
		if (node_isset(folio_nid(folio), *qp->nmask) == 0)
			continue;
		if (!folio_maybe_mapped_shared(folio) &&
		    folio_isolate_lru(folio)) {
			list_add_tail(&folio->lru, qp->pagelist);
			node_stat_mod_folio(folio,
					    NR_ISOLATED_ANON +
						    folio_is_file_lru(folio),
					    folio_nr_pages(folio));
		} else {
			qp->nr_failed++;
		}
	}
	pte_unmap_unlock(start_pte, ptl);
	return 0;
}

static void test_lru_clients(void)
{
	TEST("mlock-shaped walk: batches, LRU moves, mlock_count, events")
	{
		struct pw_machine *m;
		struct mm_struct *mm = sim_build(&m);
		const struct mm_walk_ops ops = { .pmd_entry = vt_mlock_pmd,
						 .walk_lock = PGWALK_RDLOCK };

		pw_compat_use_machine(m);
		pw_compat_events_clear();
		mmap_read_lock(mm);
		CHECK(walk_page_range(mm, SIM_A, 0xc00000, &ops, NULL) == 0);
		mmap_read_unlock(mm);
		vt_mlock_drain(this_cpu_ptr(&vt_mlock_batch.fbatch));
		/* 100, 101, 103 (twice: counted once, then its mlock_count grows), the THP */
		CHECK(folio_test_mlocked(pfn_folio(100)) &&
		      folio_test_unevictable(pfn_folio(100)));
		CHECK(folio_test_lru(pfn_folio(100)) &&
		      pfn_folio(103)->mlock_count == 2);
		CHECK(folio_test_mlocked(pfn_folio(1024)) &&
		      folio_test_unevictable(pfn_folio(1024)));
		CHECK(pw_compat_events_named("lruvec_add_folio") == 4);
		CHECK(pw_compat_events_named("zone_stat_mod_folio") == 4);
		CHECK(folio_ref_count(pfn_folio(100)) == 1);
		CHECK(pw_compat_events_named(
			      "pte_unmap of a table never mapped") == 0);
		pw_machine_destroy(m);
	}
	TEST("mempolicy-shaped walk: isolation to a list, failures counted")
	{
		struct pw_machine *m;
		struct mm_struct *mm = sim_build(&m);
		const struct mm_walk_ops ops = { .pmd_entry = vt_queue_pmd,
						 .walk_lock = PGWALK_RDLOCK };
		LIST_HEAD(pagelist);
		nodemask_t nodes = { { 1 } };
		struct vt_queue qp = { .pagelist = &pagelist, .nmask = &nodes };
		struct folio *f;
		int listed = 0;

		pw_compat_use_machine(m);
		mmap_read_lock(mm);
		CHECK(walk_page_range(mm, SIM_A, SIM_A + 8 * K, &ops, &qp) ==
		      0);
		mmap_read_unlock(mm);
		list_for_each_entry(f, &pagelist, lru) listed++;
		/* 100 and 101 isolated; 103 is mapped twice; p3 is a migration entry */
		CHECK(listed == 2 && qp.nr_failed == 3);
		CHECK(!folio_test_lru(pfn_folio(100)) &&
		      folio_ref_count(pfn_folio(100)) == 2);
		pw_machine_destroy(m);
	}
}

int main(void)
{
	struct pw_machine *m;
	struct mm_struct *mm = sim_build(&m);

	pw_compat_use_machine(m);
	test_entries();
	test_walk(mm);
	test_events(mm);
	test_misuse(mm);
	test_lru_clients();
	pw_machine_destroy(m);
	free((void *)pw_compat_state.events);
	return cases_summary();
}
