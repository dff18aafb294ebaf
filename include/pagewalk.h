/*
 * pagewalk.h - the Linux kernel's page-table walker, in user space.
 *
 * PageWalk reproduces mm/pagewalk.c and include/linux/pagewalk.h over a
 * simulated machine (pagewalk_machine.h, included here).  This header is
 * the walk API with the kernel's names and signatures: struct mm_walk_ops,
 * struct mm_walk, the walk_page_*() entry points and folio_walk, plus the
 * few kernel-named helpers a walk's caller or callbacks need (find_vma,
 * the mmap_lock, page-table locks, pte_offset_map_lock), which are static
 * inlines over the machine's pw_ functions.  The only symbols the library
 * links under kernel names are the walk entry points declared here.
 *
 * The semantics, including the few departures from the kernel, are those of
 * the conformance model (shared/conformance/MODEL.md in the project, copied
 * to Tests/Conformance/MODEL.md).  Plain C11; no compiler extensions.
 */
#ifndef PAGEWALK_H
#define PAGEWALK_H

#include "pagewalk_machine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Kernel-named helpers (static inlines over the pw_ functions)              */
/* ------------------------------------------------------------------------ */

/** The first VMA, by start, whose end is above @addr; NULL if none. */
static inline struct vm_area_struct *find_vma(struct mm_struct *mm,
					      unsigned long addr)
{
	return pw_find_vma(mm, addr);
}

/** Takes @mm's mmap_lock for read (a real rwlock; the state follows). */
static inline void mmap_read_lock(struct mm_struct *mm)
{
	pw_mmap_read_lock(mm);
}

/** Releases a read hold of @mm's mmap_lock. */
static inline void mmap_read_unlock(struct mm_struct *mm)
{
	pw_mmap_read_unlock(mm);
}

/** Takes @mm's mmap_lock for write. */
static inline void mmap_write_lock(struct mm_struct *mm)
{
	pw_mmap_write_lock(mm);
}

/** Releases the write hold of @mm's mmap_lock. */
static inline void mmap_write_unlock(struct mm_struct *mm)
{
	pw_mmap_write_unlock(mm);
}

/** Takes a page-table lock. */
static inline void spin_lock(spinlock_t *ptl)
{
	pw_spin_lock(ptl);
}

/** Releases a page-table lock. */
static inline void spin_unlock(spinlock_t *ptl)
{
	pw_spin_unlock(ptl);
}

/**
 * The PTE covering @addr under the PMD entry @pmdp, with the PTE table's
 * lock taken into *ptlp; NULL (no lock taken) where the PMD does not
 * point to a PTE table.  Release with pte_unmap_unlock().
 */
static inline pte_t *pte_offset_map_lock(struct mm_struct *mm, pmd_t *pmdp,
					 unsigned long addr, spinlock_t **ptlp)
{
	return pw_pte_offset_map_lock(mm, pmdp, addr, ptlp);
}

/** Releases the lock taken by pte_offset_map_lock(). */
static inline void pte_unmap_unlock(pte_t *pte, spinlock_t *ptl)
{
	pw_pte_unmap_unlock(pte, ptl);
}

/* ------------------------------------------------------------------------ */
/* The walk API (include/linux/pagewalk.h)                                   */
/* ------------------------------------------------------------------------ */

/*
 * Locks.  Each entry point asserts the locks its kernel twin asserts (per
 * ops->walk_lock, or the kernel mm's mmap_lock, or the i_mmap_rwsem).  A
 * failed assertion reports PW_EVENT_ASSERT_FAIL and, as after the
 * kernel's WARN, the walk goes on -- unless the machine is strict
 * (pw_machine_set_strict()): then the entry point returns -ENOLCK at once
 * (folio_walk_start() returns NULL), before calling back about the VMA or
 * range whose lock is missing.
 *
 * Address spaces.  An mm destroyed by pw_mm_destroy() stays poisoned
 * until its machine is destroyed: walk_page_range(), walk_page_range_mm()
 * and walk_page_range_debug() report PW_EVENT_MM_DESTROYED for it and
 * return -ESRCH.
 */

struct mm_walk;

/** Locking requirement of a walk (ops->walk_lock). */
enum page_walk_lock {
	/** mmap_lock must be held for read to stabilise the VMA tree. */
	PGWALK_RDLOCK = 0,
	/** Each VMA is write-locked during the walk (asserts the mmap write lock). */
	PGWALK_WRLOCK = 1,
	/** Each VMA is expected to be write-locked already. */
	PGWALK_WRLOCK_VERIFY = 2,
	/** Each VMA is expected to be read-locked already; no mmap assertion. */
	PGWALK_VMA_RDLOCK_VERIFY = 3,
};

/**
 * A run of entries of one table handed to mm_walk_ops.entry_run (a PageWalk
 * extension): [addr, end) from *entry on, at one level.
 */
struct mm_walk_run {
	/** In: the first entry of the run.  Out: the first entry not finished. */
	uint64_t *entry;
	/** In: its address (may be unaligned).  Out: the address of *entry, or
	 *  end when the run was finished. */
	unsigned long addr;
	/** The end of the range inside this table. */
	unsigned long end;
	/** PW_LEVEL_P4D, PW_LEVEL_PUD, PW_LEVEL_PMD, or PW_LEVEL_PTE (installing). */
	int level;
	/** The depth pte_hole reports at this level (folded levels skipped). */
	int depth;
	/** log2 of the bytes one entry of this level maps. */
	unsigned shift;
	/** Out: the run stopped after calling pud_entry / pmd_entry on *entry,
	 *  and walk->action (SUBTREE, with a handler below) asks to descend. */
	bool entry_called;
};

/**
 * The callbacks of a walk, as the kernel's struct mm_walk_ops.  A NULL
 * callback is not called, and which ones are set changes the walk: with
 * no handler below a level the walk does not descend; without pte_entry a
 * THP is not split.  Callbacks return 0 to go on, a positive value to stop
 * and return it, a negative errno to stop with an error.
 */
struct mm_walk_ops {
	/** Each PGD entry that is not none (also when the level is folded). */
	int (*pgd_entry)(pgd_t *pgd, unsigned long addr, unsigned long next,
			 struct mm_walk *walk);
	/** Each P4D entry that is not none (also when the level is folded). */
	int (*p4d_entry)(p4d_t *p4d, unsigned long addr, unsigned long next,
			 struct mm_walk *walk);
	/** Each PUD entry that is not none; may set walk->action. */
	int (*pud_entry)(pud_t *pud, unsigned long addr, unsigned long next,
			 struct mm_walk *walk);
	/** Each PMD entry that is not none, including trans-huge ones; may
	 *  set walk->action. */
	int (*pmd_entry)(pmd_t *pmd, unsigned long addr, unsigned long next,
			 struct mm_walk *walk);
	/** Each PTE, including empty ones (with install_pte: populated ones). */
	int (*pte_entry)(pte_t *pte, unsigned long addr, unsigned long next,
			 struct mm_walk *walk);
	/** Each hole: depth 0 PGD .. 3 PMD (folded levels skipped), -1 when not
	 *  known (outside VMAs, hugetlb, skipped PFNMAP). */
	int (*pte_hole)(unsigned long addr, unsigned long next, int depth,
			struct mm_walk *walk);
	/** Each hugetlb entry of a hugetlb VMA, with the huge page mask. */
	int (*hugetlb_entry)(pte_t *pte, unsigned long hmask,
			     unsigned long addr, unsigned long next,
			     struct mm_walk *walk);
	/** Decides per VMA: 0 walk it, 1 skip it, negative abort. */
	int (*test_walk)(unsigned long addr, unsigned long next,
			 struct mm_walk *walk);
	/** Before walking a VMA. */
	int (*pre_vma)(unsigned long start, unsigned long end,
		       struct mm_walk *walk);
	/** After walking a VMA whose pre_vma succeeded (also after an error). */
	void (*post_vma)(struct mm_walk *walk);
	/**
	 * Fills *ptep with the PTE to install over each empty PTE; missing
	 * tables are allocated.  Only walk_page_range_mm() accepts it.  With
	 * install_pte set, populated PTEs go to pte_entry (or pte_range) only;
	 * without pte_entry they are skipped, silently: a walk that installs
	 * never reports what was already there unless it asks for it.
	 */
	int (*install_pte)(unsigned long addr, unsigned long next, pte_t *ptep,
			   struct mm_walk *walk);
	/** Which locks the walk asserts or takes. */
	enum page_walk_lock walk_lock;
	/**
	 * PageWalk extension, not in the kernel: called once per run of
	 * consecutive PTEs inside one PTE table, [addr, end), with a pointer
	 * to the first.  When set it replaces pte_entry for those PTEs and
	 * counts as a PTE handler (THPs are split for it).  With install_pte,
	 * runs hold only populated PTEs.  Leave NULL for kernel semantics.
	 */
	int (*pte_range)(pte_t *pte, unsigned long addr, unsigned long end,
			 struct mm_walk *walk);
	/**
	 * PageWalk extension, not in the kernel, for language bindings: the
	 * walker hands runs of entries to it instead of calling a callback per
	 * entry across the language boundary.  It must do for each entry of
	 * @run, in order, exactly what the walker would:
	 *  - P4D, PUD, PMD: a none entry: pte_hole(addr, next, depth) if set;
	 *    any other: at PUD / PMD with pud_entry / pmd_entry set,
	 *    walk->action = ACTION_SUBTREE, the callback, then ACTION_AGAIN:
	 *    the same entry again; ACTION_CONTINUE, or SUBTREE with no handler
	 *    below (pmd_entry or a PTE handler under a PUD; a PTE handler under
	 *    a PMD): the next entry; SUBTREE otherwise: stop there with
	 *    entry_called set.  An entry it has nothing to call for: stop
	 *    there, entry_called clear.
	 *  - PTE (only with install_pte, in a VMA): a none PTE: install_pte and
	 *    store what it wrote; any other: pte_entry if set; up to and
	 *    including the PTE of the first address at or past end - PAGE_SIZE.
	 * It returns the first non-zero callback result (the walk then ends
	 * with it), else 0 with run->entry and run->addr where it stopped.
	 * The walker calls it only when it has something to do.  Leave NULL for
	 * the plain kernel walk.
	 */
	int (*entry_run)(struct mm_walk_run *run, struct mm_walk *walk);
};

/** What the walker does after pud_entry / pmd_entry (walk->action). */
enum page_walk_action {
	/** Descend to the next level, splitting huge entries if needed. */
	ACTION_SUBTREE = 0,
	/** Go on with the next entry at this level, skipping the subtree. */
	ACTION_CONTINUE = 1,
	/** Call the callback again for the same entry. */
	ACTION_AGAIN = 2,
};

/** The state of a walk, passed to every callback. */
struct mm_walk {
	const struct mm_walk_ops *ops; /**< the callbacks */
	struct mm_struct *mm;          /**< the address space walked */
	pgd_t *pgd;                    /**< the top table when walking without
	                                    VMAs and it is not mm's; else NULL */
	struct vm_area_struct *vma;    /**< the VMA walked, NULL outside VMAs */
	enum page_walk_action action;  /**< set by pud_entry / pmd_entry */
	bool no_vma;                   /**< walking without VMAs */
#ifdef __cplusplus
	void *private_; /**< the caller's data (C++ spelling) */
#else
	void *private; /**< the caller's data */
#endif
};

/**
 * Walks [start, end) of @mm VMA by VMA: holes between VMAs are reported
 * with depth -1, test_walk / PFNMAP decide per VMA, pre_vma and post_vma
 * bracket each VMA.  Returns 0, a callback's non-zero value, or -EINVAL
 * (start >= end, install_pte set).  Asserts locks per ops->walk_lock; on
 * a strict machine a failed assertion returns -ENOLCK
 * (pw_machine_set_strict()).  An @mm destroyed by pw_mm_destroy() is
 * reported (PW_EVENT_MM_DESTROYED) and returns -ESRCH.
 */
int walk_page_range(struct mm_struct *mm, unsigned long start,
		    unsigned long end, const struct mm_walk_ops *ops,
		    void *private_data);

/**
 * As walk_page_range(), and the only entry point that accepts install_pte:
 * missing tables are allocated (-ENOMEM when allocation fails) and empty
 * PTEs installed.  Hugetlb VMAs are refused with -EINVAL when installing.
 */
int walk_page_range_mm(struct mm_struct *mm, unsigned long start,
		       unsigned long end, const struct mm_walk_ops *ops,
		       void *private_data);

/**
 * Walks [start, end) inside @vma only, without test_walk.  -EINVAL if the
 * range is empty or not inside the VMA, or install_pte is set.
 */
int walk_page_range_vma(struct vm_area_struct *vma, unsigned long start,
			unsigned long end, const struct mm_walk_ops *ops,
			void *private_data);

/** Walks the whole of @vma, without test_walk. */
int walk_page_vma(struct vm_area_struct *vma, const struct mm_walk_ops *ops,
		  void *private_data);

/**
 * Walks every VMA mapping page offsets [first_index, first_index + nr) of
 * @mapping, in i_mmap order, each clipped to that range.  Asserts the
 * i_mmap_rwsem; a test_walk returning 1 ends the whole walk.
 */
int walk_page_mapping(struct address_space *mapping, unsigned long first_index,
		      unsigned long nr, const struct mm_walk_ops *ops,
		      void *private_data);

/**
 * Walks [start, end) of the kernel tables of @m (or of @pgd when not NULL)
 * without VMAs: leaves and non-present entries are not descended, PTEs
 * are not locked.  Asserts the kernel mm's mmap_lock.
 */
int walk_kernel_page_table_range(struct pw_machine *m, unsigned long start,
				 unsigned long end,
				 const struct mm_walk_ops *ops, pgd_t *pgd,
				 void *private_data);

/**
 * As walk_kernel_page_table_range() but asserts no lock: for a caller with
 * exclusive control of the range.
 */
int walk_kernel_page_table_range_lockless(struct pw_machine *m,
					  unsigned long start,
					  unsigned long end,
					  const struct mm_walk_ops *ops,
					  pgd_t *pgd, void *private_data);

/**
 * Walks [start, end) of @mm's tables (or @pgd's) without VMAs, for
 * debugging.  For the kernel mm it is walk_kernel_page_table_range();
 * otherwise it asserts the mmap write lock.
 */
int walk_page_range_debug(struct mm_struct *mm, unsigned long start,
			  unsigned long end, const struct mm_walk_ops *ops,
			  pgd_t *pgd, void *private_data);

/* ------------------------------------------------------------------------ */
/* folio_walk                                                                */
/* ------------------------------------------------------------------------ */

/** Flags of folio_walk_start(). */
typedef int folio_walk_flags_t;
/** Also return folios behind migration entries (fw->page is then NULL). */
#define FW_MIGRATION 0x1
/** Also return the shared zero pages, small and huge (fw->page NULL). */
#define FW_ZEROPAGE 0x2

/** The level of the entry folio_walk_start() found. */
enum folio_walk_level {
	FW_LEVEL_PTE, /**< a PTE */
	FW_LEVEL_PMD, /**< a PMD leaf or migration entry */
	FW_LEVEL_PUD, /**< a PUD leaf */
};

/** What folio_walk_start() found; valid until folio_walk_end(). */
struct folio_walk {
	struct page *page;           /**< the exact page mapped at the address,
	                                  NULL for migration and zero pages */
	enum folio_walk_level level; /**< the level of the entry */
	union {
		pte_t *ptep; /**< FW_LEVEL_PTE: the entry */
		pud_t *pudp; /**< FW_LEVEL_PUD: the entry */
		pmd_t *pmdp; /**< FW_LEVEL_PMD: the entry */
	};
	union {
		pte_t pte; /**< FW_LEVEL_PTE: its value when read */
		pud_t pud; /**< FW_LEVEL_PUD: its value when read */
		pmd_t pmd; /**< FW_LEVEL_PMD: its value when read */
	};
	struct vm_area_struct *vma; /**< private: the VMA */
	spinlock_t *ptl;            /**< private: the page-table lock held */
};

/**
 * Looks up the folio mapped at @addr in @vma and returns it with the
 * page-table lock held, or NULL ("nothing", or nothing suitable).  Call
 * folio_walk_end() after a non-NULL return.  Asserts the mmap lock.
 */
struct folio *folio_walk_start(struct folio_walk *fw,
			       struct vm_area_struct *vma, unsigned long addr,
			       folio_walk_flags_t flags);

/** Ends a successful folio_walk_start(): releases the page-table lock. */
void folio_walk_end(struct folio_walk *fw, struct vm_area_struct *vma);

#ifdef __cplusplus
}
#endif

#endif /* PAGEWALK_H */
