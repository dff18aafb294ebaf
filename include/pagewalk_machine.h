/*
 * pagewalk_machine.h - the machine's primitives, for walkers other than
 * the C core (PageWalk's pure-Swift engine is one) and for callbacks that
 * walk tables themselves, as fs/proc/task_mmu.c does.
 *
 * Everything here is what the kernel's walker calls underneath: offsets
 * into table frames, the bad-entry checks, table allocation, THP splits,
 * hugetlb_walk, vm_normal_page, page-table locks and lock assertions.
 * Each reports its events to the machine's hook exactly as the C core does.
 */
#ifndef PAGEWALK_MACHINE_H
#define PAGEWALK_MACHINE_H

#include "pagewalk.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The raw layout of a machine, for reading tables directly.  Table frame
 * PFN p holds PW_PTRS_PER_TABLE entries at mem + p * PW_PTRS_PER_TABLE.
 */
struct pw_machine_layout {
	uint64_t *mem;                /**< frames * 512 entries */
	uint64_t frames;              /**< physical frames */
	uint64_t table_base;          /**< first frame of the table region */
	uint64_t zero_pfn;            /**< the shared zero page */
	uint64_t huge_zero_pfn;       /**< the huge zero page, 0 for none */
	struct pw_geometry geo;       /**< the geometry */
	bool trivial[PW_NR_LEVELS];   /**< level never none/bad, always present
	                                   (the level below it is folded) */
};

/** The layout of @m; valid for the machine's lifetime. */
const struct pw_machine_layout *pw_machine_layout(const struct pw_machine *m);

/**
 * pgd_none_or_clear_bad / p4d_none_or_clear_bad for entry @p of level
 * @level: true for none; a bad entry (not present, huge, PFN beyond
 * memory) is reported, cleared, and counts as none.
 */
bool pw_pxd_none_or_clear_bad(struct pw_machine *m, enum pw_level level,
			      uint64_t *p);

/**
 * pte_offset_map: the PTE covering @addr under the PMD entry @pmdp, or
 * NULL for a none, migration or trans-huge PMD, and for a bad one
 * (reported as "bad pmd" and cleared).
 */
pte_t *pw_pte_offset_map(struct pw_machine *m, pmd_t *pmdp, unsigned long addr);

/**
 * pte_offset_map_lock: as pw_pte_offset_map() and takes the PTE table's
 * lock into *ptlp.  Release with pte_unmap_unlock().
 */
pte_t *pte_offset_map_lock(struct mm_struct *mm, pmd_t *pmdp,
			   unsigned long addr, spinlock_t **ptlp);

/** Releases the lock taken by pte_offset_map_lock(). */
void pte_unmap_unlock(pte_t *pte, spinlock_t *ptl);

/**
 * The walker's table allocation (__p4d_alloc .. __pte_alloc): one call
 * against the allocation budget; installs a zeroed table into @slot if it
 * is still none.  0, or -ENOMEM.
 */
int pw_table_alloc_into(struct mm_struct *mm, uint64_t *slot);

/** split_huge_pmd(@vma, @pmd, @addr) as MODEL.md describes it. */
void pw_split_huge_pmd(struct vm_area_struct *vma, pmd_t *pmd,
		       unsigned long addr);

/** split_huge_pud(@vma, @pud, @addr): a trans-huge PUD is cleared. */
void pw_split_huge_pud(struct vm_area_struct *vma, pud_t *pud,
		       unsigned long addr);

/** hugetlb_walk (generic huge_pte_offset) for a huge page of @sz bytes. */
pte_t *pw_hugetlb_walk(struct vm_area_struct *vma, unsigned long addr,
		       unsigned long sz);

/** vm_normal_page: the page a present PTE maps, or NULL (may report
 *  "bad pte"). */
struct page *pw_vm_normal_page(struct vm_area_struct *vma, unsigned long addr,
			       pte_t pte);

/** vm_normal_page_pmd: the page a PMD leaf maps, or NULL. */
struct page *pw_vm_normal_page_pmd(struct vm_area_struct *vma,
				   unsigned long addr, pmd_t pmd);

/** The split lock of the table frame holding entry @p (PTE and PMD locks). */
spinlock_t *pw_table_lock(struct pw_machine *m, uint64_t *p);

/** @mm's page_table_lock (the PUD lock). */
spinlock_t *pw_mm_page_table_lock(struct mm_struct *mm);

/** Takes a page-table lock. */
void spin_lock(spinlock_t *ptl);

/** Releases a page-table lock. */
void spin_unlock(spinlock_t *ptl);

/** Number of page-table locks the calling thread holds. */
long pw_ptl_held_by_thread(void);

/** Reports a WARN_ON_ONCE (PW_EVENT_WARN). */
void pw_warn(struct pw_machine *m);

/** Reports a bad entry of level @level (PW_EVENT_BAD). */
void pw_report_bad(struct pw_machine *m, enum pw_level level, uint64_t value);

/** Asserts that @mm's mmap_lock is held (reports PW_EVENT_ASSERT_FAIL). */
void mmap_assert_locked(struct mm_struct *mm);

/** Asserts that @mm's mmap_lock is held for write. */
void mmap_assert_write_locked(struct mm_struct *mm);

/** Write-locks @vma (asserting the mmap write lock) and reports it. */
void vma_start_write(struct vm_area_struct *vma);

/** Asserts that @vma's lock is held. */
void vma_assert_locked(struct vm_area_struct *vma);

/** Asserts that @vma's lock is held for write. */
void vma_assert_write_locked(struct vm_area_struct *vma);

/** Asserts that @mapping's i_mmap_rwsem is held. */
void i_mmap_assert_held(struct address_space *mapping);

/**
 * Reads the entry at @p once, as the kernel's READ_ONCE / pXdp_get_lockless:
 * for an entry other threads may change under you -- a PMD or PUD read
 * under the mmap read lock only, which another walker may split or
 * populate.  Pairs with pw_entry_set(); what a table entry read this way
 * points to is fully initialised.
 */
uint64_t pw_entry_get(const uint64_t *p);

/** Writes @v into the entry at @p for pw_entry_get() readers (WRITE_ONCE,
 *  with release order: a table is filled before it is published). */
void pw_entry_set(uint64_t *p, uint64_t v);

/** The machine @mapping belongs to. */
struct pw_machine *pw_mapping_machine(const struct address_space *mapping);

/** The number of VMAs in @mapping's i_mmap. */
size_t pw_mapping_vma_count(const struct address_space *mapping);

/** The @i-th VMA of @mapping in i_mmap order (pgoff, then insertion). */
struct vm_area_struct *pw_mapping_vma_at(const struct address_space *mapping,
					 size_t i);

#ifdef __cplusplus
}
#endif

#endif /* PAGEWALK_MACHINE_H */
