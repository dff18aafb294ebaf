/*
 * kernel_clients.h - PageWalk's own kernel-style walk clients, written in
 * the kernel's vocabulary and built through the compatibility layer
 * (compat/): mincore, pagemap, MADV_GUARD_INSTALL/REMOVE, ptdump,
 * clear_refs, smaps and smaps_rollup, numa_maps and PAGEMAP_SCAN.
 *
 * The clients themselves (the .c files beside this header) are built with
 * `-std=gnu11 -I compat -I include`; this header is plain C11 over
 * pagewalk.h, so a program that calls them need not see the compat layer.
 * Each entry point takes the mmap lock itself, as the system call or
 * procfs file it mirrors does, and gives the answer that call gives.
 */
#ifndef KERNEL_CLIENTS_H
#define KERNEL_CLIENTS_H

#include "pagewalk.h"

#ifdef __cplusplus
extern "C" {
#endif

/** mincore(2) over [@start, @start + @len) of @mm: one byte per page into
 *  @vec (bit 0: resident).  0, -EINVAL (unaligned), -ENOMEM (a hole). */
long kc_mincore(struct mm_struct *mm, unsigned long start, unsigned long len,
		unsigned char *vec);

/** /proc/PID/pagemap over [@start, @end): one 64-bit entry per page into
 *  @out (PFNs shown when @show_pfn).  0 or a negative errno. */
int kc_pagemap(struct mm_struct *mm, unsigned long start, unsigned long end,
	       uint64_t *out, bool show_pfn);

/** Pagemap bits (Documentation/admin-guide/mm/pagemap.rst). */
#define KC_PM_SOFT_DIRTY (1ULL << 55)
#define KC_PM_MMAP_EXCLUSIVE (1ULL << 56)
#define KC_PM_UFFD_WP (1ULL << 57)
#define KC_PM_GUARD_REGION (1ULL << 58)
#define KC_PM_FILE (1ULL << 61)
#define KC_PM_SWAP (1ULL << 62)
#define KC_PM_PRESENT (1ULL << 63)
#define KC_PM_PFRAME_MASK ((1ULL << 55) - 1)

/** madvise(MADV_GUARD_INSTALL) over [@start, @end): 0, -EINVAL (a VMA it
 *  refuses: hugetlb, PFN maps, VM_LOCKED ...), -ENOMEM (a hole), or
 *  -ERESTARTNOINTR-like -EAGAIN when populated pages stay in the way. */
long kc_guard_install(struct mm_struct *mm, unsigned long start,
		      unsigned long end);

/** madvise(MADV_GUARD_REMOVE) over [@start, @end). */
long kc_guard_remove(struct mm_struct *mm, unsigned long start,
		     unsigned long end);

/** What /proc/PID/clear_refs accepts. */
enum kc_clear_refs {
	KC_CLEAR_REFS_ALL = 1,    /**< young and referenced, every VMA */
	KC_CLEAR_REFS_ANON = 2,   /**< anonymous VMAs only */
	KC_CLEAR_REFS_MAPPED = 3, /**< file VMAs only */
	KC_CLEAR_REFS_SOFT_DIRTY =
		4, /**< soft-dirty bits (and write-protect) */
};

/** Writes @type to /proc/PID/clear_refs of @mm.  0 or -EINVAL. */
int kc_clear_refs(struct mm_struct *mm, int type);

/** The figures of one /proc/PID/smaps entry, in bytes (pss: bytes << 12). */
struct kc_smaps {
	unsigned long resident, shared_clean, shared_dirty, private_clean,
		private_dirty, referenced, anonymous, ksm, lazyfree,
		anonymous_thp, shmem_thp, file_thp, swap, shared_hugetlb,
		private_hugetlb;
	uint64_t pss, pss_anon, pss_file, pss_shmem, pss_dirty, pss_locked,
		swap_pss;
};

/** Adds the smaps figures of @vma to @out (zero it first).  Takes the
 *  mmap read lock.  0 or a negative errno. */
int kc_smaps_vma(struct vm_area_struct *vma, struct kc_smaps *out);

/** smaps_rollup: the sum over every VMA of @mm into @out (zeroed here). */
int kc_smaps_rollup(struct mm_struct *mm, struct kc_smaps *out);

/** The counts of one /proc/PID/numa_maps line, in pages. */
struct kc_numa_maps {
	unsigned long pages, anon, active, writeback, mapcount_max, dirty,
		swapcache;
	unsigned long node[64];
};

/** numa_maps of @vma into @out (zeroed here).  0 or a negative errno. */
int kc_numa_maps_vma(struct vm_area_struct *vma, struct kc_numa_maps *out);

#ifndef PAGE_IS_WPALLOWED
#define PAGE_IS_WPALLOWED (1 << 0)
#define PAGE_IS_WRITTEN (1 << 1)
#define PAGE_IS_FILE (1 << 2)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
#define PAGE_IS_PFNZERO (1 << 5)
#define PAGE_IS_HUGE (1 << 6)
#define PAGE_IS_SOFT_DIRTY (1 << 7)
#define PAGE_IS_GUARD (1 << 8)

/** One range of pages with the same categories (PAGEMAP_SCAN's output). */
struct page_region {
	uint64_t start;      /**< first address */
	uint64_t end;        /**< first address after */
	uint64_t categories; /**< PAGE_IS_* masked by return_mask */
};

#define PM_SCAN_WP_MATCHING (1 << 0)
#define PM_SCAN_CHECK_WPASYNC (1 << 1)

/** The PAGEMAP_SCAN ioctl's argument (include/uapi/linux/fs.h). */
struct pm_scan_arg {
	uint64_t size;                /**< sizeof(struct pm_scan_arg) */
	uint64_t flags;               /**< PM_SCAN_* */
	uint64_t start;               /**< range start */
	uint64_t end;                 /**< range end */
	uint64_t walk_end;            /**< out: where the walk stopped */
	uint64_t vec;                 /**< struct page_region array */
	uint64_t vec_len;             /**< its length */
	uint64_t max_pages;           /**< 0, or the most pages to report */
	uint64_t category_inverted;   /**< categories tested as absent */
	uint64_t category_mask;       /**< all of these must match */
	uint64_t category_anyof_mask; /**< one of these must match */
	uint64_t return_mask;         /**< categories reported */
};
#define PAGEMAP_SCAN 0xc0606610UL /* _IOWR('f', 16, struct pm_scan_arg) */
#endif

/** ioctl(PAGEMAP_SCAN) on @mm: the number of regions written, or a
 *  negative errno; @arg->walk_end is set as the kernel sets it. */
long kc_pagemap_scan(struct mm_struct *mm, struct pm_scan_arg *arg);

/** One range of ptdump output: same level, same protection bits. */
struct kc_ptdump_range {
	unsigned long start, end; /**< [start, end) */
	int level;                /**< 0 pgd .. 4 pte; -1 a hole */
	uint64_t prot;            /**< the entry's bits less the PFN */
};

/** Receives ptdump's ranges in address order. */
typedef void (*kc_ptdump_fn)(void *ctx, const struct kc_ptdump_range *r);

/** ptdump of @mm's user half through the kernel's generic ptdump walk:
 *  ranges of equal level and protection merged.  0 or a negative errno. */
int kc_ptdump(struct mm_struct *mm, kc_ptdump_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* KERNEL_CLIENTS_H */
