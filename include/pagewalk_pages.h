/*
 * pagewalk_pages.h - what the kernel knows about a page beyond the page
 * tables: flags, map and reference counts, NUMA node, page cache and swap
 * cache.
 *
 * Page tables say where a page is mapped; walk clients such as smaps,
 * pagemap, numa_maps and mincore also ask the page itself (is it
 * anonymous, dirty, mapped by more than one process, on which node, is a
 * file page cached).  These facts live beside the machine's frames, one
 * struct pw_page_info per frame, in an array the machine allocates on
 * first use and frees with the machine.  Nothing in the walker reads
 * them: they are filled by whoever builds the machine (a test, the
 * live-process import from /proc/kpageflags and /proc/kpagecount, or
 * pw_page_info_from_mappings()) and read by walk clients, typically
 * through the kernel-compatibility layer in compat/.
 *
 * Plain C11.
 */
#ifndef PAGEWALK_PAGES_H
#define PAGEWALK_PAGES_H

#include "pagewalk.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Page flags (struct pw_page_info.flags).  Bits 0..41 are numbered as the
 * kernel's /proc/kpageflags (KPF_*, include/uapi/linux/kernel-page-flags.h
 * and fs/proc/page.c), so an import copies kpageflags unchanged; bits 48
 * and up are PageWalk's.
 */
#define PW_PGF_LOCKED (1ULL << 0)         /**< KPF_LOCKED */
#define PW_PGF_ERROR (1ULL << 1)          /**< KPF_ERROR */
#define PW_PGF_REFERENCED (1ULL << 2)     /**< KPF_REFERENCED */
#define PW_PGF_UPTODATE (1ULL << 3)       /**< KPF_UPTODATE */
#define PW_PGF_DIRTY (1ULL << 4)          /**< KPF_DIRTY */
#define PW_PGF_LRU (1ULL << 5)            /**< KPF_LRU */
#define PW_PGF_ACTIVE (1ULL << 6)         /**< KPF_ACTIVE */
#define PW_PGF_SLAB (1ULL << 7)           /**< KPF_SLAB */
#define PW_PGF_WRITEBACK (1ULL << 8)      /**< KPF_WRITEBACK */
#define PW_PGF_RECLAIM (1ULL << 9)        /**< KPF_RECLAIM */
#define PW_PGF_BUDDY (1ULL << 10)         /**< KPF_BUDDY */
#define PW_PGF_MMAP (1ULL << 11)          /**< KPF_MMAP: mapped somewhere */
#define PW_PGF_ANON (1ULL << 12)          /**< KPF_ANON */
#define PW_PGF_SWAPCACHE (1ULL << 13)     /**< KPF_SWAPCACHE */
#define PW_PGF_SWAPBACKED (1ULL << 14)    /**< KPF_SWAPBACKED */
#define PW_PGF_COMPOUND_HEAD (1ULL << 15) /**< KPF_COMPOUND_HEAD */
#define PW_PGF_COMPOUND_TAIL (1ULL << 16) /**< KPF_COMPOUND_TAIL */
#define PW_PGF_HUGE (1ULL << 17)          /**< KPF_HUGE: hugetlb */
#define PW_PGF_UNEVICTABLE (1ULL << 18)   /**< KPF_UNEVICTABLE */
#define PW_PGF_HWPOISON (1ULL << 19)      /**< KPF_HWPOISON */
#define PW_PGF_NOPAGE (1ULL << 20)        /**< KPF_NOPAGE */
#define PW_PGF_KSM (1ULL << 21)           /**< KPF_KSM */
#define PW_PGF_THP (1ULL << 22)           /**< KPF_THP */
#define PW_PGF_OFFLINE (1ULL << 23)       /**< KPF_OFFLINE */
#define PW_PGF_ZERO_PAGE (1ULL << 24)     /**< KPF_ZERO_PAGE */
#define PW_PGF_IDLE (1ULL << 25)          /**< KPF_IDLE */
#define PW_PGF_PGTABLE (1ULL << 26)       /**< KPF_PGTABLE */
#define PW_PGF_RESERVED (1ULL << 32)      /**< KPF_RESERVED */
#define PW_PGF_MLOCKED (1ULL << 33)       /**< KPF_MLOCKED */
#define PW_PGF_MAPPEDTODISK (1ULL << 34)  /**< KPF_MAPPEDTODISK */
#define PW_PGF_PRIVATE (1ULL << 35)       /**< KPF_PRIVATE */
#define PW_PGF_SOFTDIRTY (1ULL << 40)     /**< KPF_SOFTDIRTY */
#define PW_PGF_YOUNG (1ULL << 48)         /**< PageWalk: PG_young (page_idle) */
#define PW_PGF_ZONE_DEVICE (1ULL << 49)   /**< PageWalk: a ZONE_DEVICE page */
#define PW_PGF_MAYBE_SHARED \
	(1ULL << 50)                 /**< PageWalk: a large folio mapped
                                              by more than one mm */
#define PW_PGF_FILE_LRU (1ULL << 51) /**< PageWalk: on a file LRU list */

/**
 * What the kernel's struct page says about one frame.  Counts follow the
 * kernel's CONFIG_PAGE_MAPCOUNT accounting, but zero-based.
 */
struct pw_page_info {
	uint64_t flags; /**< PW_PGF_* */
	void *lru_next; /**< list linkage (the kernel's page->lru),
	                                     owned by whoever lists the page */
	void *lru_prev; /**< list linkage, previous */
	struct address_space *mapping; /**< page-cache mapping, or NULL */
	uint64_t index;                /**< page offset in @mapping */
	int32_t mapcount;              /**< PTE mappings of this page (the
	                                     kernel's _mapcount + 1) */
	int32_t refcount;        /**< references (the kernel's _refcount) */
	int32_t entire_mapcount; /**< head page: PMD/PUD mappings of the
	                                     whole folio */
	int32_t nid;             /**< NUMA node */
	uint64_t private_;       /**< swap-cache page: its swap entry */
};

/**
 * The page facts of @m, one per frame (frame PFN p at index p), all zero
 * at first.  Allocated on first call (NULL if memory is short); valid
 * until the machine is destroyed.
 */
struct pw_page_info *pw_machine_page_info(struct pw_machine *m);

/**
 * Fills the page facts of every frame mapped by a present leaf entry of
 * @mm's VMAs as the kernel would hold them for those mappings: per page
 * mapcount and refcount (+1 per PTE mapping; a PMD or PUD leaf adds to the
 * folio's entire_mapcount and to the head's refcount), PW_PGF_MMAP,
 * PW_PGF_LRU, PW_PGF_UPTODATE, and PW_PGF_ANON | PW_PGF_SWAPBACKED in
 * anonymous VMAs (PW_PGF_SWAPBACKED also in shared ones, as shmem).
 * Folios declared with pw_folio_declare() get PW_PGF_COMPOUND_HEAD/TAIL
 * (and PW_PGF_THP for order 9).  Call once per mm after building it;
 * counts add up over several mms.  The zero pages are left alone.
 * Returns 0, or -ENOMEM.
 */
int pw_page_info_from_mappings(struct mm_struct *mm);

/** Marks @mapping as shmem/tmpfs (shmem_mapping() is then true). */
void pw_mapping_set_shmem(struct address_space *mapping, bool shmem);

/** True if @mapping was marked with pw_mapping_set_shmem(). */
bool pw_mapping_is_shmem(const struct address_space *mapping);

/**
 * The page cache and the swap cache: small maps the machine keeps.
 * A page-cache slot of (@mapping, @index) holds a PFN plus one (a cached
 * folio) or PW_CACHE_VALUE | swap entry (a shmem page swapped out: the
 * kernel's xa_value); 0 removes the slot.  Returns 0 or -ENOMEM.
 */
int pw_page_cache_set(struct address_space *mapping, uint64_t index,
		      uint64_t slot);

/** The page-cache slot of (@mapping, @index), or 0. */
uint64_t pw_page_cache_get(const struct address_space *mapping, uint64_t index);

/** Flag of a page-cache slot that holds a value (swap entry), not a PFN. */
#define PW_CACHE_VALUE (1ULL << 63)

/**
 * The swap cache of @m: swap entry @entry (pw_swp_entry() form) is cached
 * in frame @pfn (@pfn + 1 stored; 0 removes).  @swap_count is the number
 * of references to the swap slot (swp_swapcount), kept even without a
 * cached frame.  Returns 0 or -ENOMEM.
 */
int pw_swap_cache_set(struct pw_machine *m, uint64_t entry, uint64_t pfn1,
		      int swap_count);

/** The frame + 1 caching swap entry @entry, or 0; *@swap_count if not NULL. */
uint64_t pw_swap_cache_get(const struct pw_machine *m, uint64_t entry,
			   int *swap_count);

#ifdef __cplusplus
}
#endif

#endif /* PAGEWALK_PAGES_H */
