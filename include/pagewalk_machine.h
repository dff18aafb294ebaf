/*
 * pagewalk_machine.h - the simulated machine under the walker: its types
 * (entries, geometry, VMAs, events) and every function that builds,
 * changes or inspects it, all prefixed pw_.
 *
 * This is the layer the kernel's walker stands on (what include/linux/mm.h
 * and the architecture headers are to mm/pagewalk.c): physical memory made
 * of 4 KiB frames, x86-64-format page tables of 2 to 5 levels that live in
 * those frames, address spaces, VMAs, folios and locks.  Its first part
 * builds a machine and maps VMAs; its last part holds the primitives a
 * walker is written with -- offsets into table frames, the bad-entry
 * checks, table allocation, THP splits, hugetlb_walk, vm_normal_page,
 * page-table locks and lock assertions -- for walkers other than the C
 * core (PageWalk's pure-Swift engine is one) and for callbacks that walk
 * tables themselves, as fs/proc/task_mmu.c does.  Each reports its events
 * to the machine's hook exactly as the C core does.
 *
 * The walk API itself, with the kernel's names, is in pagewalk.h, which
 * includes this header.  Every function declared here is linked under a
 * pw_ name, so PageWalk can sit beside code that defines the kernel's
 * names itself.  Plain C11; compiles as C++ too.
 */
#ifndef PAGEWALK_MACHINE_H
#define PAGEWALK_MACHINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Entries and geometry                                                      */
/* ------------------------------------------------------------------------ */

/** A top-level (PGD) entry: 64 bits in the x86-64 layout. */
typedef uint64_t pgd_t;
/** A P4D entry (the level under the PGD; folded below 5 levels). */
typedef uint64_t p4d_t;
/** A PUD entry (1 GiB per entry with 4 KiB pages). */
typedef uint64_t pud_t;
/** A PMD entry (2 MiB per entry). */
typedef uint64_t pmd_t;
/** A PTE: one 4 KiB page. */
typedef uint64_t pte_t;

/** Size of a page and of a page-table frame, in bytes. */
#define PW_PAGE_SIZE 4096UL
/** log2 of PW_PAGE_SIZE. */
#define PW_PAGE_SHIFT 12
/** Entries in every real page table. */
#define PW_PTRS_PER_TABLE 512

/** Entry bit: the entry is present (valid for the MMU). */
#define PW_PAGE_PRESENT (1ULL << 0)
/** Entry bit: writable. */
#define PW_PAGE_RW (1ULL << 1)
/** Entry bit: user-accessible. */
#define PW_PAGE_USER (1ULL << 2)
/** Entry bit: accessed. */
#define PW_PAGE_ACCESSED (1ULL << 5)
/** Entry bit: dirty. */
#define PW_PAGE_DIRTY (1ULL << 6)
/** Entry bit: a leaf above the PTE level (PSE). */
#define PW_PAGE_HUGE (1ULL << 7)
/** Entry bit: global. */
#define PW_PAGE_GLOBAL (1ULL << 8)
/** Entry bit: special mapping (no struct page to account). */
#define PW_PAGE_SPECIAL (1ULL << 9)
/** Entry bit: soft-dirty. */
#define PW_PAGE_SOFT_DIRTY (1ULL << 11)
/** Entry bit: no-execute. */
#define PW_PAGE_NX (1ULL << 63)
/** Mask of the PFN field (bits 12..51) of a present entry. */
#define PW_PFN_MASK 0x000ffffffffff000ULL
/** What table allocation writes into a parent entry, less the PFN:
 *  PRESENT|RW|USER|ACCESSED|DIRTY. */
#define PW_PAGE_TABLE 0x67ULL

/** Swap type of a hardware-poison entry. */
#define PW_SWP_HWPOISON 24
/** Swap type of a read migration entry. */
#define PW_SWP_MIGRATION_READ 25
/** Swap type of a read-exclusive migration entry. */
#define PW_SWP_MIGRATION_READ_EXCLUSIVE 26
/** Swap type of a write migration entry. */
#define PW_SWP_MIGRATION_WRITE 27
/** First of the three device-private/exclusive swap types (28..30). */
#define PW_SWP_DEVICE_FIRST 28
/** Swap type of a PTE marker; its offset holds PW_PTE_MARKER_* bits. */
#define PW_SWP_PTE_MARKER 31
/** PTE marker bit: userfaultfd write-protect. */
#define PW_PTE_MARKER_UFFD_WP 1ULL
/** PTE marker bit: poisoned. */
#define PW_PTE_MARKER_POISONED 2ULL
/** PTE marker bit: guard region (MADV_GUARD_INSTALL). */
#define PW_PTE_MARKER_GUARD 4ULL

/**
 * The walker's levels, top first.  Levels that a geometry does not have
 * are folded into their parent, as in the kernel's pgtable-nop4d.h,
 * -nopud.h and -nopmd.h.
 */
enum pw_level {
	PW_LEVEL_PGD = 0, /**< top level; always real */
	PW_LEVEL_P4D = 1, /**< real with 5 levels only */
	PW_LEVEL_PUD = 2, /**< real with 4 or 5 levels */
	PW_LEVEL_PMD = 3, /**< real with 3, 4 or 5 levels */
	PW_LEVEL_PTE = 4, /**< always real */
};

/** Number of enum pw_level values. */
#define PW_NR_LEVELS 5

/**
 * The geometry of a machine, derived from its number of levels.
 * Returned by pw_machine_geometry(); read-only.
 */
struct pw_geometry {
	int levels;                   /**< 2, 3, 4 or 5 */
	unsigned shift[PW_NR_LEVELS]; /**< address shift of each level; a folded
	                                   level has its parent's shift */
	bool folded[PW_NR_LEVELS];    /**< PTRS_PER_x == 1 */
	unsigned va_bits;             /**< 30, 39, 48 or 57 */
	uint64_t task_size; /**< 1 << (va_bits - 1): first kernel address */
};

/** Builds a swap entry (bit 0 clear, type in bits 1..5, offset in bits 12..62). */
static inline uint64_t pw_swp_entry(unsigned type, uint64_t offset)
{
	return ((uint64_t)(type & 31) << 1) |
	       ((offset & ((1ULL << 51) - 1)) << 12);
}

/** The swap type of a non-present, non-zero entry. */
static inline unsigned pw_swp_type(uint64_t entry)
{
	return (unsigned)((entry >> 1) & 31);
}

/** The swap offset of a non-present, non-zero entry (a PFN for migration). */
static inline uint64_t pw_swp_offset(uint64_t entry)
{
	return (entry >> 12) & ((1ULL << 51) - 1);
}

/** The PFN of a present entry. */
static inline uint64_t pw_entry_pfn(uint64_t entry)
{
	return (entry & PW_PFN_MASK) >> PW_PAGE_SHIFT;
}

/** True if @entry is a migration entry (non-present, type 25..27). */
static inline bool pw_is_migration_entry(uint64_t entry)
{
	unsigned t = pw_swp_type(entry);
	return entry != 0 && !(entry & PW_PAGE_PRESENT) &&
	       t >= PW_SWP_MIGRATION_READ && t <= PW_SWP_MIGRATION_WRITE;
}

/* ------------------------------------------------------------------------ */
/* The machine, address spaces, VMAs and mappings                            */
/* ------------------------------------------------------------------------ */

/** A simulated machine: physical memory, struct pages, folios, hooks. */
struct pw_machine;
/** An address space (the kernel's mm_struct): a top-level table, VMAs, locks. */
struct mm_struct;
/** A file's address_space: the VMAs mapping it, in i_mmap order. */
struct address_space;
/** The kernel's struct page: one per frame of the machine. */
struct page;
/** A folio is named by its head page. */
struct folio;
/** The kernel's struct file: defined by the compat layer only. */
struct file;
/** A page-table lock (spinlock_t in the kernel). */
typedef struct pw_spinlock spinlock_t;

/** VMA flag: readable. */
#define VM_READ 0x00000001UL
/** VMA flag: writable. */
#define VM_WRITE 0x00000002UL
/** VMA flag: executable. */
#define VM_EXEC 0x00000004UL
/** VMA flag: shared mapping. */
#define VM_SHARED 0x00000008UL
/** VMA flag: raw PFN mapping without struct pages; skipped by walks
 *  unless test_walk decides otherwise. */
#define VM_PFNMAP 0x00000400UL
/** VMA flag: hugetlb mapping (set by pw_vma_add for hugetlb_shift != 0). */
#define VM_HUGETLB 0x00400000UL
/** VMA flag: mixed PFN / page mapping. */
#define VM_MIXEDMAP 0x10000000UL

/** State of a simulated lock (mmap_lock, a VMA lock, an i_mmap_rwsem). */
enum pw_lock_state {
	PW_LOCK_NONE = 0,  /**< not held */
	PW_LOCK_READ = 1,  /**< held for read (or simply "held") */
	PW_LOCK_WRITE = 2, /**< held for write */
};

/**
 * A virtual memory area.  The walker and callbacks read these fields;
 * change a VMA only through the pw_vma_* functions.
 */
struct vm_area_struct {
	unsigned long vm_start;  /**< first address */
	unsigned long vm_end;    /**< first address after the VMA */
	unsigned long vm_flags;  /**< VM_* flags */
	unsigned long vm_pgoff;  /**< file offset of vm_start, in pages */
	struct mm_struct *vm_mm; /**< the address space it belongs to */
	union {
		struct address_space *vm_file; /**< the mapping, or NULL */
		/** The same pointer typed as the kernel's struct file, for the
		 *  compat layer (compat/), whose struct file's only member,
		 *  f_mapping, is the mapping's first field: itself. */
		struct file *vm_kfile;
	};
	unsigned hugetlb_shift; /**< 21 or 30 for hugetlb, else 0 */
	unsigned id;            /**< number: 1, 2, ... in order of creation */
	int lock_state;         /**< enum pw_lock_state of the per-VMA lock */
	void *user;             /**< free for the embedder */
};

/** True if @vma is anonymous: no file, neither VM_PFNMAP nor VM_MIXEDMAP. */
static inline bool pw_vma_is_anonymous(const struct vm_area_struct *vma)
{
	return !vma->vm_file && !(vma->vm_flags & (VM_PFNMAP | VM_MIXEDMAP));
}

/** Parameters of pw_machine_create(). */
struct pw_machine_config {
	int levels;             /**< 2, 3, 4 or 5 */
	uint64_t frames;        /**< physical frames (at most 1 << 28) */
	uint64_t table_base;    /**< first frame of the page-table region;
	                             frames below it are data */
	uint64_t zero_pfn;      /**< the shared zero page */
	uint64_t huge_zero_pfn; /**< the huge zero page, 0 for none */
};

/** Kinds of pw_event. */
enum pw_event_kind {
	/** A lock assertion failed: the walk goes on, or on a strict machine
	 *  fails with -ENOLCK (pw_machine_set_strict()). */
	PW_EVENT_ASSERT_FAIL,
	PW_EVENT_WARN,            /**< WARN_ON_ONCE fired */
	PW_EVENT_BAD,             /**< a bad entry was found (pXd_clear_bad,
	                               print_bad_pte) */
	PW_EVENT_SPLIT_PMD,       /**< split_huge_pmd acted */
	PW_EVENT_SPLIT_PUD,       /**< split_huge_pud acted */
	PW_EVENT_VMA_START_WRITE, /**< vma_start_write write-locked a VMA */
	/** An address space was used after pw_mm_destroy(): walked, mapped,
	 *  written or destroyed again.  The call fails with -ESRCH. */
	PW_EVENT_MM_DESTROYED,
};

/** Which lock assertion failed (PW_EVENT_ASSERT_FAIL). */
enum pw_assert {
	PW_ASSERT_MMAP_LOCKED,       /**< mmap_assert_locked */
	PW_ASSERT_MMAP_WRITE_LOCKED, /**< mmap_assert_write_locked */
	PW_ASSERT_VMA_LOCKED,        /**< vma_assert_locked */
	PW_ASSERT_VMA_WRITE_LOCKED,  /**< vma_assert_write_locked */
	PW_ASSERT_I_MMAP_HELD,       /**< lockdep_assert_held(i_mmap_rwsem) */
};

/** Something the machine did or found during a walk. */
struct pw_event {
	enum pw_event_kind kind;  /**< what happened */
	enum pw_assert assertion; /**< PW_EVENT_ASSERT_FAIL: which */
	enum pw_level level;      /**< PW_EVENT_BAD: the level checked */
	uint64_t value;           /**< PW_EVENT_BAD: the entry */
	unsigned long addr;       /**< PW_EVENT_SPLIT_*: the aligned address */
	/** PW_EVENT_SPLIT_*, PW_EVENT_VMA_START_WRITE: the VMA */
	const struct vm_area_struct *vma;
	/** The address space concerned, if any (PW_EVENT_MM_DESTROYED: the
	 *  destroyed one, which may only be compared, not used). */
	struct mm_struct *mm;
	/** The walk entry point whose call made the event ("walk_page_range",
	 *  "pw_mmap", ...) for failed assertions, VMA_START_WRITE and
	 *  MM_DESTROYED; NULL when a primitive was called directly. */
	const char *where;
};

/**
 * Receives machine events.  Set with pw_machine_set_event_hook(); without
 * a hook, failed assertions, warnings and uses of destroyed address spaces
 * are written to stderr, one line each naming the entry point when known
 * ("pagewalk: walk_page_range: lock assertion failed: mmap_locked"), and
 * counted.
 */
typedef void (*pw_event_fn)(void *ctx, const struct pw_event *event);

/** Counters of a machine, filled by pw_machine_get_stats(). */
struct pw_machine_stats {
	uint64_t frames;       /**< physical frames */
	uint64_t table_frames; /**< frames in the table region */
	/** Page tables currently allocated: every mm's top-level table
	 *  included, the kernel address space's (init_mm, which every
	 *  machine has) too, so a new machine counts 1. */
	uint64_t tables_in_use;
	uint64_t tables_peak;  /**< most tables ever in use at once */
	uint64_t table_allocs; /**< walker allocations (__pXd_alloc) made */
	uint64_t table_alloc_fails; /**< walker allocations refused */
	uint64_t assert_failures;   /**< failed lock assertions */
	uint64_t warnings;    /**< WARN_ON_ONCE hits, uses of destroyed mms */
	uint64_t bad_entries; /**< bad entries reported */
};

/**
 * Creates a machine.  Returns 0 and sets *out, or -EINVAL for a bad
 * config (levels not 2..5, table_base >= frames, frames over 1 << 28), or
 * -ENOMEM.  The kernel address space (init_mm) exists from the start.
 */
int pw_machine_create(const struct pw_machine_config *config,
		      struct pw_machine **out);

/**
 * How a machine encodes the entries that are not present (swap, migration,
 * markers).  Present entries and their PFN follow the x86-64 hardware
 * layout (PW_PAGE_*, PW_PFN_MASK) in every encoding.
 */
enum pw_entry_encoding {
	PW_ENCODING_MODEL =
		0, /**< the conformance model's (MODEL.md): swap type
	                             in bits 1..5, offset in bits 12..62; what
	                             pw_swp_entry() and friends build */
	PW_ENCODING_X86_64 =
		1, /**< x86-64 Linux's, for memory images (CWalkCore/entry_x86.c):
	                             PRESENT or PROTNONE = present, a PROT_NONE
	                             entry's PFN inverted, swap type in bits
	                             59..63 and offset inverted from bit 9 */
};

/**
 * The decoders of one encoding.  Types are reported in the model's
 * numbering (PW_SWP_*), whatever the encoding stores, so that callers
 * never depend on the encoding.
 */
struct pw_entry_ops {
	enum pw_entry_encoding encoding; /**< which encoding */
	const char *name;                /**< "model", "x86-64" */
	bool (*present)(uint64_t entry); /**< maps a frame or table */
	uint64_t (*pfn)(uint64_t entry); /**< PFN of a present entry */
	bool (*is_swap)(uint64_t entry); /**< not none, not present */
	unsigned (*swp_type)(
		uint64_t entry); /**< PW_SWP_* type of a swap entry */
	uint64_t (*swp_offset)(
		uint64_t entry); /**< offset (a PFN for migration) */
	uint64_t (*swp_entry)(unsigned type,
			      uint64_t offset); /**< builds one */
	bool (*is_migration)(uint64_t entry);   /**< a migration entry */
};

/** The decoders of @encoding, or NULL when PageWalk has none for it yet. */
const struct pw_entry_ops *pw_entry_ops_get(enum pw_entry_encoding encoding);

/** The decoders of @m's encoding. */
const struct pw_entry_ops *pw_machine_entry_ops(const struct pw_machine *m);

/**
 * One range of physical memory: frames @first_pfn .. @first_pfn +
 * @nr_frames - 1, each PW_PTRS_PER_TABLE entries (4 KiB) at @base + (pfn -
 * @first_pfn) * PW_PTRS_PER_TABLE.
 */
struct pw_phys_range {
	uint64_t first_pfn; /**< first frame */
	uint64_t nr_frames; /**< frames in the range (> 0) */
	uint64_t *base; /**< the frames' memory, 8-byte aligned, owned by the
	                         creator and left alone by pw_machine_destroy()
	                         (e.g. an mmap(MAP_PRIVATE) of an image file: the
	                         machine's writes go to a private copy); NULL: the
	                         machine maps zeroed memory, which its table
	                         allocator may hand out */
};

/**
 * Creates a machine whose physical memory is @ranges (@nr_ranges of them,
 * sorted by first_pfn, not overlapping; frames between them are holes:
 * pw_pfn_valid() is false there, entries pointing into them are bad and
 * never dereferenced).  @config gives the levels, zero_pfn and
 * huge_zero_pfn; its frames is ignored (pw_machine_config() then reports
 * one past the highest frame) and its table_base is the first frame the
 * table allocator may hand out, from the machine-mapped ranges only (base
 * NULL).  Page tables may lie anywhere: in machine-mapped ranges a frame is
 * a table when the allocator handed it out, in creator-supplied ranges any
 * frame may be one.  Every frame has a struct page (an order-0 folio until
 * pw_folio_declare()).  The top tables of init_mm and of later mms come
 * from the allocator, so it needs at least one free frame.
 *
 * Returns 0 and sets *out; -EINVAL for bad ranges (none, empty, unsorted,
 * overlapping, beyond the 40-bit PFN field, misaligned base) or levels;
 * -EOPNOTSUPP for an encoding without decoders; -ENOMEM.
 * pw_machine_create() is this with one machine-mapped range [0, frames).
 */
int pw_machine_create_ranges(const struct pw_machine_config *config,
			     const struct pw_phys_range *ranges,
			     size_t nr_ranges, enum pw_entry_encoding encoding,
			     struct pw_machine **out);

/** Destroys a machine and every mm, VMA and mapping it owns. */
void pw_machine_destroy(struct pw_machine *m);

/** The machine's geometry. */
const struct pw_geometry *pw_machine_geometry(const struct pw_machine *m);

/** The configuration the machine was created with. */
const struct pw_machine_config *pw_machine_config(const struct pw_machine *m);

/** Sets the event hook (NULL restores the default: stderr and counters). */
void pw_machine_set_event_hook(struct pw_machine *m, pw_event_fn fn, void *ctx);

/**
 * Limits the walker's table allocations: @n more succeed, then each fails
 * with -ENOMEM.  A negative @n removes the limit (the default).
 */
void pw_machine_set_alloc_budget(struct pw_machine *m, int64_t n);

/**
 * Makes lock assertions fatal to the walk (@strict true) or not (false,
 * the default).  Either way a failed assertion reports
 * PW_EVENT_ASSERT_FAIL and counts in stats.assert_failures; on a strict
 * machine the walk entry point that made it also returns -ENOLCK at once,
 * before any callback for the VMA (or range) it asserted about, and
 * folio_walk_start() returns NULL.  The pw_*_assert_* functions and
 * pw_vma_start_write() return -ENOLCK then, so other walkers can do the
 * same.  A misuse that a non-strict walk would shrug off (walking without
 * the mmap_lock) then cannot pass unnoticed.
 */
void pw_machine_set_strict(struct pw_machine *m, bool strict);

/** True if @m is strict (pw_machine_set_strict()). */
bool pw_machine_strict(const struct pw_machine *m);

/** Fills @stats with the machine's counters. */
void pw_machine_get_stats(const struct pw_machine *m,
			  struct pw_machine_stats *stats);

/**
 * Declares frames @head .. @head + 2^@order - 1 one folio.  Returns 0, or
 * -EINVAL if the frames are not all in one physical range or @order is
 * over 18.
 */
int pw_folio_declare(struct pw_machine *m, uint64_t head, unsigned order);

/** The struct page of frame @pfn, or NULL for a hole or beyond memory. */
struct page *pw_pfn_to_page(struct pw_machine *m, uint64_t pfn);

/** The frame number of @page. */
uint64_t pw_page_to_pfn(const struct pw_machine *m, const struct page *page);

/** The folio that @page belongs to (its head page). */
struct folio *pw_page_folio(struct pw_machine *m, struct page *page);

/** The frame number of the head page of @folio. */
uint64_t pw_folio_pfn(const struct pw_machine *m, const struct folio *folio);

/** The order of @folio (0 for a single page). */
unsigned pw_folio_order(const struct pw_machine *m, const struct folio *folio);

/** The kernel address space (init_mm) of @m. */
struct mm_struct *pw_init_mm(struct pw_machine *m);

/**
 * Creates a user address space with an empty top-level table.  Returns
 * NULL if no table frame is left.
 */
struct mm_struct *pw_mm_create(struct pw_machine *m);

/** The machine @mm belongs to. */
struct pw_machine *pw_mm_machine(const struct mm_struct *mm);

/** The top-level table of @mm (what the kernel calls mm->pgd). */
pgd_t *pw_mm_pgd(const struct mm_struct *mm);

/** True if @mm is the kernel address space. */
bool pw_mm_is_kernel(const struct mm_struct *mm);

/**
 * Sets the state of @mm's mmap_lock as the lock assertions see it, without
 * taking it (what a scenario's `lock mmap` does).
 */
void pw_mm_set_lock_state(struct mm_struct *mm, enum pw_lock_state state);

/** The state of @mm's mmap_lock. */
enum pw_lock_state pw_mm_lock_state(const struct mm_struct *mm);

/** Takes @mm's mmap_lock for read (a real rwlock; the state follows). */
void pw_mmap_read_lock(struct mm_struct *mm);
/** Releases a read hold of @mm's mmap_lock. */
void pw_mmap_read_unlock(struct mm_struct *mm);
/** Takes @mm's mmap_lock for write. */
void pw_mmap_write_lock(struct mm_struct *mm);
/** Releases the write hold of @mm's mmap_lock. */
void pw_mmap_write_unlock(struct mm_struct *mm);

/** True if the page-table lock @ptl is held. */
bool pw_spin_is_locked(const spinlock_t *ptl);

/**
 * Reads the entry at real level @level covering @addr.  Returns 0 and sets
 * *value (0 where a table above is missing), or -EINVAL if @level is folded
 * in this geometry, or -EFAULT if a table above is not a table.
 */
int pw_mm_get_entry(const struct mm_struct *mm, enum pw_level level,
		    unsigned long addr, uint64_t *value);

/**
 * Writes @value into the entry at real level @level covering @addr,
 * allocating the missing tables above it (not counted against the
 * allocation budget).  Returns 0, -EINVAL if @level is folded, -EFAULT if
 * an entry above is neither none nor a pointer into memory, -ENOMEM if the
 * table region is exhausted.
 */
int pw_mm_set_entry(struct mm_struct *mm, enum pw_level level,
		    unsigned long addr, uint64_t value);

/**
 * Called by pw_mm_dump() for every non-zero entry, depth first, with the
 * entry's sign-extended address.  @is_table says it points to a table
 * that the dump descends into.
 */
typedef void (*pw_dump_fn)(void *ctx, enum pw_level level, unsigned long addr,
			   uint64_t value, bool is_table);

/**
 * Visits every non-zero entry of @mm's tables, depth first.  Descends into
 * the entries pw_entry_is_table() accepts.
 */
void pw_mm_dump(const struct mm_struct *mm, pw_dump_fn fn, void *ctx);

/** True if @value points to a page table: present, not huge, and its PFN
 *  a table frame of @m (pw_pfn_is_table()). */
bool pw_entry_is_table(const struct pw_machine *m, uint64_t value);

/**
 * Returns the address_space numbered @id, creating it (empty, i_mmap not
 * held) if it does not exist.  NULL only if memory is exhausted.
 */
struct address_space *pw_mapping_get(struct pw_machine *m, unsigned id);

/** The number of @mapping. */
unsigned pw_mapping_id(const struct address_space *mapping);

/** Sets whether @mapping's i_mmap_rwsem counts as held. */
void pw_mapping_set_i_mmap_held(struct address_space *mapping, bool held);

/**
 * Adds a VMA [@start, @end) to @mm.  @hugetlb_shift is 0, 21 or 30 (then
 * VM_HUGETLB is set).  @mapping may be NULL.  Returns the VMA, or NULL and
 * sets *err: -EINVAL (unaligned, empty, kernel address, bad shift),
 * -EOVERFLOW (@pgoff + pages past 2^64, as mmap), -EEXIST (overlaps another
 * VMA), -ENOMEM.
 */
struct vm_area_struct *pw_vma_add(struct mm_struct *mm, unsigned long start,
				  unsigned long end, unsigned long flags,
				  struct address_space *mapping,
				  unsigned long pgoff, unsigned hugetlb_shift,
				  int *err);

/** The first VMA, by start, whose end is above @addr; NULL if none. */
struct vm_area_struct *pw_find_vma(struct mm_struct *mm, unsigned long addr);

/** The number of VMAs of @mm. */
size_t pw_mm_vma_count(const struct mm_struct *mm);

/** The @i-th VMA of @mm in address order, or NULL. */
struct vm_area_struct *pw_mm_vma_at(const struct mm_struct *mm, size_t i);

/** The VMA numbered @id (as in vm_area_struct.id), or NULL. */
struct vm_area_struct *pw_mm_vma_by_id(const struct mm_struct *mm, unsigned id);

/** Sets the state of @vma's per-VMA lock. */
void pw_vma_set_lock_state(struct vm_area_struct *vma,
			   enum pw_lock_state state);

/* ------------------------------------------------------------------------ */
/* VMA management: mmap, munmap, mprotect                                   */
/* ------------------------------------------------------------------------ */

/*
 * These change an address space the way the kernel's mmap(MAP_FIXED_NOREPLACE),
 * munmap() and mprotect() do, merging and splitting VMAs and updating the
 * page tables.  They are set-up operations like pw_vma_add(): they take no
 * lock and assert none, so a caller that walks from other threads must
 * hold the mmap_lock for write around them.  Each either succeeds or
 * changes nothing.
 *
 * VMA identity.  A VMA keeps its id for as long as any part of it remains.
 * When a split makes two VMAs of one, the original keeps the lower piece
 * and the upper piece is a new VMA with the next id.  When VMAs merge, the
 * one the kernel's vma_merge keeps survives (the lower neighbour when it
 * takes part, else the upper one, whose start moves down) and the others
 * are removed: they leave the mm and their mapping's i_mmap, their by_id
 * slot becomes NULL (pw_mm_vma_by_id() returns NULL) and they are freed,
 * so pointers to them must be dropped.  A range merged into an existing
 * VMA gets no id at all.
 *
 * Merging.  Two VMAs that touch merge when they have the same vm_flags
 * (including VM_HUGETLB), neither has VM_PFNMAP or VM_MIXEDMAP (the
 * kernel's VM_SPECIAL never merges), the same mapping or both none, the
 * same hugetlb_shift and the same `user` pointer, and the upper one's
 * vm_pgoff continues the lower one's.  lock_state plays no part; a split
 * copies lock_state and `user` into the new piece.
 *
 * i_mmap order.  A VMA whose vm_pgoff changes (its start moved) and a new
 * piece are inserted after the VMAs with an equal pgoff, as the kernel's
 * interval-tree insertion orders equal keys; a VMA whose pgoff does not
 * change keeps its place.
 */

/**
 * Maps [@start, @start + @len) as mmap(MAP_FIXED_NOREPLACE) would,
 * merging with the VMAs just below and above where the kernel's vma_merge
 * would (see above).  @len is rounded up to the page size, or to the huge
 * page size when @hugetlb_shift is 21 or 30 (VM_HUGETLB is then set).  A
 * VMA without @mapping is anonymous-style: its vm_pgoff is @start's page
 * number, as the kernel gives anonymous memory, and @pgoff is ignored.
 * On success *@out (when @out is not NULL) is the VMA that now covers the
 * range: a new one or the neighbour it merged into.
 *
 * Returns 0; -EINVAL for the kernel mm, an unaligned @start (page or huge
 * page), @len 0, @hugetlb_shift not 0, 21 or 30, VM_HUGETLB in @flags
 * without a shift, or a hugetlb @pgoff that is not a whole number of huge
 * pages; -ENOMEM if the range passes TASK_SIZE or memory runs out;
 * -EOVERFLOW if the file offsets wrap; -EEXIST if the range overlaps a
 * VMA.  On error nothing changed and *@out is NULL.
 */
int pw_mmap(struct mm_struct *mm, unsigned long start, unsigned long len,
	    unsigned long flags, struct address_space *mapping,
	    unsigned long pgoff, unsigned hugetlb_shift,
	    struct vm_area_struct **out);

/**
 * Unmaps [@start, @start + @len) as munmap() does (@len rounded up to the
 * page size).  Every VMA inside is removed; one that sticks out is cut
 * back, and one that spans the whole range is split in two (the new
 * upper piece has the right vm_pgoff and a new id).
 *
 * The page tables are cleared over the whole range, also where no VMA
 * is: entries that pw_mm_set_entry() wrote outside VMAs are cleared too,
 * so that afterwards nothing in the range translates.  PTEs and every
 * entry wholly inside the range are cleared.  A huge entry that is only
 * partly inside is split first, as the kernel's zap does: a PMD leaf or
 * PMD migration entry in a VMA goes through pw_split_huge_pmd() (events
 * and all: an anonymous VMA gets a PTE table whose covered PTEs are then
 * cleared; any other VMA loses the whole PMD, as split_huge_pmd drops a
 * file THP); a PUD leaf goes through pw_split_huge_pud(), which clears
 * it.  Outside VMAs a partly covered PMD leaf is split silently as in an
 * anonymous VMA, and a PUD leaf cleared.  Entries that are none of these
 * (garbage, or a non-migration swap entry at the PMD level) are cleared
 * only when wholly inside.  Then every page table under the range that
 * is entirely zero is freed and its parent entry cleared, bottom-up
 * (never the top-level table), so stats.tables_in_use stays exact.
 *
 * Returns 0 (also when nothing was mapped); -EINVAL for the kernel mm,
 * an unaligned @start, @len 0, a range past TASK_SIZE, or a range that
 * starts or ends inside a hugetlb VMA off a huge page boundary; -ENOMEM
 * if memory for the VMA split runs out.  On error nothing changed.
 */
int pw_munmap(struct mm_struct *mm, unsigned long start, unsigned long len);

/**
 * Changes the protection of [@start, @start + @len) as mprotect() does
 * (@len rounded up to the page size): each VMA's VM_READ, VM_WRITE and
 * VM_EXEC become @prot, its other flags stay.  VMAs are split at the
 * range's ends and merged with neighbours that become compatible, as the
 * kernel's vma_modify_flags does; a VMA whose flags do not change is left
 * alone, entries and all.
 *
 * The entries of each changed VMA are updated as change_protection does
 * with x86's pte_modify: on present PTEs and present PMD/PUD leaves,
 * PW_PAGE_RW is cleared when @prot lacks VM_WRITE (but never set: write
 * faults do that), and PW_PAGE_NX is set when @prot lacks VM_EXEC and
 * cleared when it has it.  A write migration entry becomes a
 * read-exclusive one in an anonymous VMA (the kernel asks the folio; the
 * VMA stands in for it) and a read one otherwise.  A huge entry only
 * partly inside is split first, as pw_munmap() does in a VMA.
 *
 * Returns 0 (also for @len 0); -EINVAL for the kernel mm, an unaligned
 * @start, bits in @prot other than VM_READ|VM_WRITE|VM_EXEC, or a range
 * that starts or ends inside a hugetlb VMA off a huge page boundary;
 * -ENOMEM if part of the range is not mapped or memory runs out.  On
 * error nothing changed (the kernel may have changed the VMAs before a
 * hole it finds; this checks the whole range first).
 */
int pw_mprotect(struct mm_struct *mm, unsigned long start, unsigned long len,
		unsigned long prot);

/**
 * Checks @mm and the machine's table accounting, for tests and
 * debugging.  Returns 0, or -EINVAL and writes a one-line description of
 * the first problem into @err (at most @errlen bytes, NUL-terminated;
 * @err may be NULL), or -ENOMEM if the check itself runs out of memory.
 *
 * VMAs: each page aligned, non-empty, below TASK_SIZE, belonging to @mm,
 * sorted and non-overlapping; VM_HUGETLB exactly when hugetlb_shift is
 * 21 or 30, hugetlb VMAs aligned to their page size; vm_file one of the
 * machine's mappings.  by_id: every VMA's slot holds it, every non-NULL
 * slot holds a VMA of @mm with that id.  i_mmap: every mapping of the
 * machine lists live VMAs only, in pgoff order, each once, and every VMA
 * of @mm with a file is listed in its mapping.  Tables: the table frames
 * reachable from the top-level tables of all the machine's mms (through
 * present, non-huge entries pointing into the table region, above the
 * PTE level) are each reachable once, are allocated tables, and number
 * exactly stats.tables_in_use.
 *
 * It does not require merged VMAs, because pw_vma_add() never merges;
 * pw_mm_check_merged() does.
 */
int pw_mm_check(const struct mm_struct *mm, char *err, size_t errlen);

/**
 * As pw_mm_check(), and also fails if two touching VMAs are ones that
 * pw_mmap() would have merged.  Holds after any sequence of pw_mmap(),
 * pw_munmap() and pw_mprotect() calls on VMAs with the same `user`.
 */
int pw_mm_check_merged(const struct mm_struct *mm, char *err, size_t errlen);

/**
 * Destroys user address space @mm: removes and frees its VMAs (leaving
 * their mappings' i_mmap), frees every page table reachable from its top
 * level and the top level itself through the table allocator.  A table
 * frame reachable twice (only raw entry writes can make one) is freed
 * once.  The kernel mm (init_mm) is never destroyed: for it this reports
 * a WARN and does nothing.  @mm may be NULL.
 *
 * The mm_struct itself stays allocated, poisoned, until the machine is
 * destroyed, so that using it afterwards is reported instead of reading
 * freed memory: a walk entry point (walk_page_range, walk_page_range_mm,
 * walk_page_range_debug), pw_mmap(), pw_munmap(), pw_mprotect(),
 * pw_vma_add(), pw_mm_set_entry(), pw_mm_get_entry(), pw_mm_check(),
 * pw_mm_check_merged(), pw_mm_dump() (which then visits nothing) and a
 * second pw_mm_destroy() each report PW_EVENT_MM_DESTROYED (without a
 * hook: one line on stderr), count it in stats.warnings, and fail with
 * -ESRCH (pw_vma_add() sets *err; pw_mm_destroy() returns nothing).  The
 * mm has no VMAs, and pw_mm_pgd() returns NULL.
 */
void pw_mm_destroy(struct mm_struct *mm);

/* ------------------------------------------------------------------------ */
/* Primitives a walker is written with                                       */
/* ------------------------------------------------------------------------ */

/**
 * The raw layout of a machine, for reading tables directly; what a walker
 * reads once before its loops.  The flat part is frames 0 .. frames - 1
 * at mem: frame PFN p holds PW_PTRS_PER_TABLE entries at mem + p *
 * PW_PTRS_PER_TABLE.  A machine made by pw_machine_create() is all flat
 * part.  When @sparse, memory also lies elsewhere (or has holes, or does
 * not start at PFN 0): a PFN at or above @frames is looked up with
 * pw_pfn_to_frame(), which answers NULL for a hole.  So a walker's test is
 * "pfn < frames ? mem + pfn * 512 : sparse ? pw_pfn_to_frame() : NULL".
 */
struct pw_machine_layout {
	uint64_t *mem;       /**< the flat part: frames * 512 entries
	                                   (NULL when no range starts at PFN 0) */
	uint64_t frames;     /**< frames in the flat part */
	uint64_t table_base; /**< first frame the table allocator hands out */
	uint64_t zero_pfn;   /**< the shared zero page */
	uint64_t huge_zero_pfn;     /**< the huge zero page, 0 for none */
	struct pw_geometry geo;     /**< the geometry */
	bool trivial[PW_NR_LEVELS]; /**< level never none/bad, always present
	                                   (the level below it is folded) */
	bool sparse; /**< memory beyond the flat part, or holes */
	enum pw_entry_encoding
		encoding; /**< how non-present entries are encoded */
	uint64_t end_pfn; /**< one past the highest frame */
	size_t nr_ranges; /**< physical ranges (1 for a flat machine) */
	const struct pw_phys_range *ranges; /**< sorted by first_pfn; base is
	                                   where each range's frames are, whoever
	                                   mapped them */
};

/** The layout of @m; valid for the machine's lifetime. */
const struct pw_machine_layout *pw_machine_layout(const struct pw_machine *m);

/** pfn_valid: true if frame @pfn is in one of @m's ranges (not a hole). */
bool pw_pfn_valid(const struct pw_machine *m, uint64_t pfn);

/** The PW_PTRS_PER_TABLE entries of frame @pfn, or NULL for a hole or
 *  beyond memory (the kernel's pfn_to_kaddr, checked). */
uint64_t *pw_pfn_to_frame(const struct pw_machine *m, uint64_t pfn);

/** The frame that holds @p (virt_to_pfn), or UINT64_MAX when @p is not in
 *  @m's memory. */
uint64_t pw_frame_to_pfn(const struct pw_machine *m, const uint64_t *p);

/** True if frame @pfn is a page table: handed out by the table allocator,
 *  or any frame of a creator-supplied range (PageTable()). */
bool pw_pfn_is_table(const struct pw_machine *m, uint64_t pfn);

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
 * lock into *ptlp.  Release with pw_pte_unmap_unlock().
 */
pte_t *pw_pte_offset_map_lock(struct mm_struct *mm, pmd_t *pmdp,
			      unsigned long addr, spinlock_t **ptlp);

/** Releases the lock taken by pw_pte_offset_map_lock(). */
void pw_pte_unmap_unlock(pte_t *pte, spinlock_t *ptl);

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
void pw_spin_lock(spinlock_t *ptl);

/** Releases a page-table lock. */
void pw_spin_unlock(spinlock_t *ptl);

/** Number of page-table locks the calling thread holds. */
long pw_ptl_held_by_thread(void);

/** Reports a WARN_ON_ONCE (PW_EVENT_WARN). */
void pw_warn(struct pw_machine *m);

/** Reports a bad entry of level @level (PW_EVENT_BAD). */
void pw_report_bad(struct pw_machine *m, enum pw_level level, uint64_t value);

/*
 * The lock assertions.  Each reports PW_EVENT_ASSERT_FAIL when the lock is
 * not held as required, and returns 0, or -ENOLCK when it failed on a
 * strict machine (pw_machine_set_strict()).
 */

/** Asserts that @mm's mmap_lock is held.  0 or -ENOLCK. */
int pw_mmap_assert_locked(struct mm_struct *mm);

/** Asserts that @mm's mmap_lock is held for write.  0 or -ENOLCK. */
int pw_mmap_assert_write_locked(struct mm_struct *mm);

/**
 * Write-locks @vma (asserting the mmap write lock) and reports it with
 * PW_EVENT_VMA_START_WRITE.  0, or -ENOLCK when the assertion failed on a
 * strict machine; the VMA is then left as it was.
 */
int pw_vma_start_write(struct vm_area_struct *vma);

/** Asserts that @vma's lock is held.  0 or -ENOLCK. */
int pw_vma_assert_locked(struct vm_area_struct *vma);

/** Asserts that @vma's lock is held for write.  0 or -ENOLCK. */
int pw_vma_assert_write_locked(struct vm_area_struct *vma);

/** Asserts that @mapping's i_mmap_rwsem is held.  0 or -ENOLCK. */
int pw_i_mmap_assert_held(struct address_space *mapping);

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

/* ------------------------------------------------------------------------ */
/* Snapshots                                                                */
/* ------------------------------------------------------------------------ */

/** The snapshot format version this PageWalk writes and reads. */
#define PW_SNAPSHOT_VERSION 1

/** A loaded snapshot (pw_machine_load()). */
struct pw_snapshot {
	struct pw_machine *machine; /**< the machine: the caller destroys it */
	struct mm_struct **mms;     /**< its address spaces, in saved order */
	size_t nr_mms;              /**< how many */
	const void *extra;          /**< the embedder's bytes, or NULL */
	size_t extra_len;           /**< their length */
	bool extra_owned; /**< extra was allocated (freed by pw_snapshot_free) */
};

/**
 * Saves @m to @path (written to a temporary file, then renamed): its
 * geometry, the address spaces @mms (@nr_mms of them; the kernel's, if
 * given, must be first), their VMAs, every page-table entry that is not a
 * table pointer, the folios those entries map, and @extra_len bytes of
 * the embedder's own (e.g. page flags an import read).  Tables are not
 * stored: loading rebuilds them, so PFNs of tables may differ while every
 * walk gives the same answers.  0, or -1 with one line in @err.
 */
int pw_machine_save(struct pw_machine *m, struct mm_struct *const *mms,
		    size_t nr_mms, const void *extra, size_t extra_len,
		    const char *path, char *err, size_t errlen);

/**
 * Loads the snapshot at @path into a new machine.  Every field is checked
 * (magic, version, checksum, record types and sizes, address-space order,
 * VMAs, entries, folios); anything wrong is one line in @err and -1.
 */
int pw_machine_load(const char *path, struct pw_snapshot *out, char *err,
		    size_t errlen);

/** As pw_machine_load() from @len bytes at @data (which must outlive @out->extra). */
int pw_snapshot_parse(const void *data, size_t len, struct pw_snapshot *out,
		      char *err, size_t errlen);

/** Frees @s's address-space array and extra bytes (not the machine). */
void pw_snapshot_free(struct pw_snapshot *s);

#ifdef __cplusplus
}
#endif

#endif /* PAGEWALK_MACHINE_H */
