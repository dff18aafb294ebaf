/*
 * internal.h - the machine's private structures and the page-table
 * primitives the walker is written with (the kernel's pXd_none,
 * pXd_offset, pXd_addr_end, ...), for a geometry chosen at run time.
 */
#ifndef PW_INTERNAL_H
#define PW_INTERNAL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mmap flags, pthread rwlocks under -std=c11 */
#endif

#include "pagewalk.h"
#include "pagewalk_machine.h"

#include <pthread.h>
#include <stdatomic.h>

#include <errno.h>

/*
 * The memory helpers the walker's hot paths call: their flat fast path is
 * a compare and an add, their sparse slow path a call.  Clang otherwise
 * outlines some of them in large functions (folio_walk_start called
 * pw_offset, pw_page_inline and pw_table_lock_inline out of line: 393
 * instructions a lookup instead of 251; docs/BENCHMARKS.md).
 */
#if defined(__GNUC__)
#define PW_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define PW_ALWAYS_INLINE inline
#endif

/* A page-table lock: a test-and-set spinlock. */
struct pw_spinlock {
	atomic_uint v;
};

/* Page flags kept in struct page.flags. */
#define PW_PG_TABLE 0x1u /* the frame is an allocated page table */

/* One per frame.  Zero-filled memory is a valid order-0 page. */
struct page {
	uint64_t head1;         /* head PFN + 1 for a tail page, else 0 */
	uint32_t order;         /* folio order, on a head page */
	uint32_t flags;         /* PW_PG_* */
	struct pw_spinlock ptl; /* split page-table lock, when a table */
	uint32_t reserved;
};

struct address_space {
	/* First: the mapping itself.  A VMA's vm_file seen as the compat
	 * layer's struct file (vm_kfile) reads its f_mapping here. */
	struct address_space *f_mapping;
	struct pw_machine *m;
	unsigned id;
	atomic_int i_mmap_held;
	struct vm_area_struct **vmas; /* i_mmap order: pgoff, then insertion */
	size_t nr, cap;
};

struct mm_struct {
	struct pw_machine *m;
	pgd_t *pgd;
	uint64_t pgd_pfn;
	bool kernel;
	pthread_rwlock_t mmap_lock;
	atomic_int readers;           /* read holds, as assertions see them */
	atomic_int writer;            /* write hold, as assertions see it */
	struct vm_area_struct **vmas; /* sorted by vm_start */
	size_t nr_vmas, cap_vmas;
	struct vm_area_struct **by_id; /* index id - 1 */
	size_t nr_ids, cap_ids;
	struct pw_spinlock page_table_lock;
	bool dead; /* destroyed: poisoned until machine teardown */
	struct mm_struct *next_dead; /* the machine's list of destroyed mms */
};

/* One physical range of a machine (memory.c). */
struct pw_mem_range {
	uint64_t first_pfn, end_pfn; /* frames [first_pfn, end_pfn) */
	uint64_t *base;              /* their entries */
	struct page *pages;          /* their struct pages */
	uint64_t dense;              /* frames in the ranges before this one */
	bool owned;                  /* base mapped by the machine: allocatable,
	                                and a frame is a table iff PW_PG_TABLE */
};

struct pw_machine {
	struct pw_machine_config cfg;
	/* geometry and trivial levels live in the layout only */
	struct pw_machine_layout layout;
	/* ---- memory (memory.c) ---- */
	uint64_t *mem;      /* the flat part: layout.frames frames at PFN 0 */
	struct page *pages; /* their struct pages */
	struct pw_mem_range *ranges; /* sorted by PFN */
	size_t nr_ranges;
	struct pw_phys_range *pub_ranges; /* layout.ranges */
	size_t *by_base,
		*by_pages;  /* range indices sorted by base / pages address */
	uint64_t nr_frames; /* frames in all ranges */
	const struct pw_entry_ops *eops;
	atomic_size_t last_range; /* last range a slow lookup hit */
	pthread_mutex_t alloc_lock;
	size_t alloc_range;    /* range the bump pointer is in */
	uint64_t next_table;   /* bump pointer */
	uint64_t *free_tables; /* stack of freed table frames */
	size_t nr_free, cap_free;
	int64_t alloc_budget; /* walker allocations left; < 0: no limit */
	/* ---- the rest ---- */
	pw_event_fn hook;
	void *hook_ctx;
	atomic_bool strict; /* failed lock assertions fail the walk */
	struct pw_machine_stats stats; /* table counters: under alloc_lock */
	/* event counters: any thread, any lock */
	atomic_uint_least64_t nr_assert_failures, nr_warnings, nr_bad_entries;
	struct mm_struct *init_mm;
	struct mm_struct *dead_mms; /* destroyed, poisoned (mm->next_dead) */
	struct mm_struct **mms;
	size_t nr_mms;
	struct address_space **maps;
	size_t nr_maps;
	struct pw_page_extra *page_extra; /* pageinfo.c: page facts, caches */
};

/* pageinfo.c: frees the page facts and caches of @m. */
void pw_page_extra_free(struct pw_machine *m);

/* ---- events ---------------------------------------------------------- */

void pw_emit(struct pw_machine *m, const struct pw_event *ev);
/* Reports a failed assertion made by @where (an entry point's name, or
 * NULL); 0, or -ENOLCK on a strict machine. */
int pw_assert_fail(struct pw_machine *m, struct mm_struct *mm,
		   enum pw_assert what, const char *where);
/* Reports a use of destroyed @mm by @where (PW_EVENT_MM_DESTROYED);
 * -ESRCH. */
int pw_report_destroyed_mm(struct mm_struct *mm, const char *where);

/* 0 for a live mm; for one pw_mm_destroy() poisoned, reports its use by
 * @where and returns -ESRCH. */
static inline int pw_mm_alive(const struct mm_struct *mm, const char *where)
{
	return mm->dead ?
		       pw_report_destroyed_mm((struct mm_struct *)mm, where) :
		       0;
}

/* The lock assertions of locks.c, naming the entry point that makes them
 * (@where) in the event; the public pw_*_assert_* pass NULL. */
int pw_mmap_assert_locked_at(struct mm_struct *mm, const char *where);
int pw_mmap_assert_write_locked_at(struct mm_struct *mm, const char *where);
int pw_vma_start_write_at(struct vm_area_struct *vma, const char *where);
int pw_vma_assert_locked_at(struct vm_area_struct *vma, const char *where);
int pw_vma_assert_write_locked_at(struct vm_area_struct *vma,
				  const char *where);
int pw_i_mmap_assert_held_at(struct address_space *mapping, const char *where);

/* ---- entries shared between threads ------------------------------------- */

/*
 * Upper-level entries (pgd .. pmd) are read without a lock by walkers that
 * hold only the mmap read lock, while another walker may split a THP or
 * install a table there under a page-table lock: the kernel's READ_ONCE /
 * WRITE_ONCE.  Acquire / release so that a table is seen zeroed or filled
 * by whoever reads the entry that publishes it.  (An entry is a naturally
 * aligned uint64_t, which has the size and alignment of its _Atomic twin.)
 */
static inline uint64_t pw_load(const uint64_t *p)
{
	return atomic_load_explicit((_Atomic uint64_t *)p,
				    memory_order_acquire);
}

static inline void pw_store(uint64_t *p, uint64_t v)
{
	atomic_store_explicit((_Atomic uint64_t *)p, v, memory_order_release);
}

/* ---- geometry --------------------------------------------------------- */

static inline unsigned long pw_index(const struct pw_machine *m,
				     enum pw_level l, unsigned long addr)
{
	return (addr >> m->layout.geo.shift[l]) & (PW_PTRS_PER_TABLE - 1);
}

/* The kernel's pXd_addr_end: the next boundary of level @l, or @end. */
static inline unsigned long pw_addr_end(const struct pw_machine *m,
					enum pw_level l, unsigned long addr,
					unsigned long end)
{
	unsigned long size = 1UL << m->layout.geo.shift[l];
	unsigned long boundary = (addr + size) & ~(size - 1);

	return (boundary - 1 < end - 1) ? boundary : end;
}

/* ---- physical memory (memory.c) ------------------------------------------ */

/*
 * Every PFN and frame lookup goes through these.  The flat part (frames
 * [0, layout.frames) at m->mem, which is all of a machine made by
 * pw_machine_create()) is plain pointer arithmetic; anything else is a
 * search over the ranges, out of line, only on a sparse machine.
 */

/* Sets up @m's memory from @ranges: 0, -EINVAL or -ENOMEM (memory.c). */
int pw_mem_init(struct pw_machine *m, const struct pw_phys_range *ranges,
		size_t nr_ranges, enum pw_entry_encoding encoding);
/* Unmaps what pw_mem_init() mapped. */
void pw_mem_destroy(struct pw_machine *m);

/* The range holding @pfn, or NULL (the slow path of the lookups below). */
const struct pw_mem_range *pw_mem_range_of(const struct pw_machine *m,
					   uint64_t pfn);
/* The range whose frames hold @p, or NULL. */
const struct pw_mem_range *pw_mem_range_of_ptr(const struct pw_machine *m,
					       const void *p);
/* The range whose struct pages hold @page, or NULL. */
const struct pw_mem_range *pw_mem_range_of_page(const struct pw_machine *m,
						const struct page *page);

static PW_ALWAYS_INLINE bool pw_pfn_valid_inline(const struct pw_machine *m,
						 uint64_t pfn)
{
	if (pfn < m->layout.frames)
		return true;
	return m->layout.sparse && pw_mem_range_of(m, pfn);
}

/* The entries of frame @pfn, or NULL for a hole or beyond memory. */
static PW_ALWAYS_INLINE uint64_t *pw_frame_inline(const struct pw_machine *m,
						  uint64_t pfn)
{
	const struct pw_mem_range *r;

	if (pfn < m->layout.frames)
		return m->mem + pfn * PW_PTRS_PER_TABLE;
	if (!m->layout.sparse || !(r = pw_mem_range_of(m, pfn)))
		return NULL;
	return r->base + (pfn - r->first_pfn) * PW_PTRS_PER_TABLE;
}

/* The struct page of frame @pfn, or NULL for a hole or beyond memory. */
static PW_ALWAYS_INLINE struct page *pw_page_inline(const struct pw_machine *m,
						    uint64_t pfn)
{
	const struct pw_mem_range *r;

	if (pfn < m->layout.frames)
		return &m->pages[pfn];
	if (!m->layout.sparse || !(r = pw_mem_range_of(m, pfn)))
		return NULL;
	return &r->pages[pfn - r->first_pfn];
}

/* pfn_valid and PageTable in one: a frame the machine counts as a table. */
static inline bool pw_pfn_is_table_inline(const struct pw_machine *m,
					  uint64_t pfn)
{
	const struct pw_mem_range *r;

	if (pfn < m->layout.frames) /* the flat part is range 0 */
		r = &m->ranges[0];
	else if (!m->layout.sparse || !(r = pw_mem_range_of(m, pfn)))
		return false;
	return !r->owned || (r->pages[pfn - r->first_pfn].flags & PW_PG_TABLE);
}

/* Whether frame @pfn could hold a table the allocator handed out: not a
 * hole, and either creator-supplied or at or above table_base. */
static inline bool pw_pfn_may_be_table(const struct pw_machine *m, uint64_t pfn)
{
	const struct pw_mem_range *r = pw_mem_range_of(m, pfn);

	return r && (!r->owned || pfn >= m->cfg.table_base);
}

/* ---- entry encoding ------------------------------------------------------ */

/*
 * The machine's decoding of non-present entries.  The model's encoding
 * is inline; another one goes through the machine's pw_entry_ops.
 */
/* x86-64 Linux's encoding (entry_x86.c), for machines over memory images. */
extern const struct pw_entry_ops pw_x86_64_entry_ops;

static inline bool pw_mem_is_migration(const struct pw_machine *m, uint64_t v)
{
	if (m->layout.encoding == PW_ENCODING_MODEL)
		return pw_is_migration_entry(v);
	return m->eops->is_migration(v);
}

static inline unsigned pw_mem_swp_type(const struct pw_machine *m, uint64_t v)
{
	if (m->layout.encoding == PW_ENCODING_MODEL)
		return pw_swp_type(v);
	return m->eops->swp_type(v);
}

static inline uint64_t pw_mem_swp_offset(const struct pw_machine *m, uint64_t v)
{
	if (m->layout.encoding == PW_ENCODING_MODEL)
		return pw_swp_offset(v);
	return m->eops->swp_offset(v);
}

static inline uint64_t pw_mem_swp_entry(const struct pw_machine *m,
					unsigned type, uint64_t offset)
{
	if (m->layout.encoding == PW_ENCODING_MODEL)
		return pw_swp_entry(type, offset);
	return m->eops->swp_entry(type, offset);
}

/* ---- entry predicates -------------------------------------------------- */

static inline bool lvl_none(const struct pw_machine *m, enum pw_level l,
			    uint64_t v)
{
	return !m->layout.trivial[l] && v == 0;
}

static inline bool lvl_present(const struct pw_machine *m, enum pw_level l,
			       uint64_t v)
{
	return m->layout.trivial[l] || (v & PW_PAGE_PRESENT);
}

/* pud_leaf / pmd_leaf / pXd_trans_huge: present and huge. */
static inline bool lvl_leaf(const struct pw_machine *m, enum pw_level l,
			    uint64_t v)
{
	return !m->layout.trivial[l] &&
	       (v & (PW_PAGE_PRESENT | PW_PAGE_HUGE)) ==
		       (PW_PAGE_PRESENT | PW_PAGE_HUGE);
}

/* The table an entry points to, or NULL when its PFN is a hole or beyond
 * memory. */
static PW_ALWAYS_INLINE uint64_t *pw_table_of(const struct pw_machine *m,
					      uint64_t v)
{
	return pw_frame_inline(m, pw_entry_pfn(v));
}

/* The frame that holds entry @p. */
static PW_ALWAYS_INLINE uint64_t pw_frame_of(const struct pw_machine *m,
					     const uint64_t *p)
{
	uintptr_t off = (uintptr_t)p - (uintptr_t)m->mem;
	const struct pw_mem_range *r;

	if (off < m->layout.frames * PW_PAGE_SIZE)
		return off / PW_PAGE_SIZE;
	r = pw_mem_range_of_ptr(m, p);
	return r ? r->first_pfn + ((uintptr_t)p - (uintptr_t)r->base) /
					  PW_PAGE_SIZE :
		   UINT64_MAX;
}

/*
 * pXd_offset: the entry of level @l covering @addr under the entry @parent
 * of the level above.  A folded level shares its parent's entry.  NULL when
 * @parent points beyond memory (garbage the kernel would dereference).
 */
static PW_ALWAYS_INLINE uint64_t *pw_offset(const struct pw_machine *m,
					    enum pw_level l, uint64_t *parent,
					    unsigned long addr)
{
	uint64_t *table;

	if (m->layout.geo.folded[l])
		return parent;
	table = pw_table_of(m, pw_load(parent));
	return table ? table + pw_index(m, l, addr) : NULL;
}

static PW_ALWAYS_INLINE pgd_t *pw_pgd_offset(const struct pw_machine *m,
					     pgd_t *pgd, unsigned long addr)
{
	return pgd + pw_index(m, PW_LEVEL_PGD, addr);
}

/*
 * pgd_none_or_clear_bad / p4d_none_or_clear_bad: a bad entry (not present,
 * huge, or beyond memory) is reported and cleared.
 */
static PW_ALWAYS_INLINE bool
pw_none_or_clear_bad_inline(struct pw_machine *m, enum pw_level l, uint64_t *p)
{
	uint64_t v;

	if (m->layout.trivial[l])
		return false;
	v = pw_load(p);
	if (v == 0)
		return true;
	if (!(v & PW_PAGE_PRESENT) || (v & PW_PAGE_HUGE) ||
	    !pw_pfn_valid_inline(m, pw_entry_pfn(v))) {
		pw_report_bad(m, l, v);
		pw_store(p, 0);
		return true;
	}
	return false;
}

/*
 * pte_offset_map for the walker's hot path: a present, non-huge PMD whose
 * table is in memory maps directly; anything else (none, migration, leaf,
 * bad) goes to pw_pte_offset_map(), which decides and reports.
 */
static PW_ALWAYS_INLINE pte_t *
pw_pte_offset_map_inline(struct pw_machine *m, pmd_t *pmdp, unsigned long addr)
{
	pmd_t v = *pmdp;

	if ((v & (PW_PAGE_PRESENT | PW_PAGE_HUGE)) == PW_PAGE_PRESENT &&
	    pw_entry_pfn(v) < m->layout.frames)
		return m->mem + pw_entry_pfn(v) * PW_PTRS_PER_TABLE +
		       pw_index(m, PW_LEVEL_PTE, addr);
	return pw_pte_offset_map(m, pmdp, addr);
}

/* pw_page_to_pfn and pw_page_folio for the walker's own use. */
static PW_ALWAYS_INLINE uint64_t
pw_page_to_pfn_inline(const struct pw_machine *m, const struct page *page)
{
	uintptr_t off = (uintptr_t)page - (uintptr_t)m->pages;
	const struct pw_mem_range *r;

	if (off < m->layout.frames * sizeof(struct page))
		return off / sizeof(struct page);
	r = pw_mem_range_of_page(m, page);
	return r ? r->first_pfn + (uint64_t)(page - r->pages) : UINT64_MAX;
}

static PW_ALWAYS_INLINE struct folio *pw_page_folio_inline(struct pw_machine *m,
							   struct page *page)
{
	uint64_t head1 = page->head1;

	return (struct folio *)(head1 ? pw_page_inline(m, head1 - 1) : page);
}

/* ---- locks ------------------------------------------------------------- */

/* Page-table locks held by this thread (every walk leaves it unchanged). */
extern _Thread_local long pw_ptl_held_count;

static inline void pw_spin_lock_inline(spinlock_t *l)
{
	while (atomic_exchange_explicit(&l->v, 1, memory_order_acquire))
		while (atomic_load_explicit(&l->v, memory_order_relaxed))
			;
	pw_ptl_held_count++;
}

static inline void pw_spin_unlock_inline(spinlock_t *l)
{
	pw_ptl_held_count--;
	atomic_store_explicit(&l->v, 0, memory_order_release);
}

/* The split lock of the table that holds entry @p (pte and pmd locks). */
static PW_ALWAYS_INLINE spinlock_t *pw_table_lock_inline(struct pw_machine *m,
							 uint64_t *p)
{
	return &pw_page_inline(m, pw_frame_of(m, p))->ptl;
}

/* Setup allocation (no budget): a zeroed table's PFN, or 0 when none. */
uint64_t pw_table_alloc(struct pw_machine *m);
void pw_table_free(struct pw_machine *m, uint64_t pfn);

/* ---- pgtable.c ----------------------------------------------------------- */

/* The 512 PTEs a trans-huge or migration PMD @v splits into, written to
 * @pte as split_huge_pmd does in an anonymous VMA (MODEL.md). */
void pw_fill_split_pmd(const struct pw_machine *m, pte_t *pte, pmd_t v);

/* The real level below real level @l. */
static inline int pw_level_below(const struct pw_machine *m, int l)
{
	do
		l++;
	while (l < PW_LEVEL_PTE && m->layout.geo.folded[l]);
	return l;
}

/* Points to a page table that the allocator handed out (not to garbage). */
static inline bool pw_is_live_table(const struct pw_machine *m, uint64_t v)
{
	return (v & (PW_PAGE_PRESENT | PW_PAGE_HUGE)) == PW_PAGE_PRESENT &&
	       pw_pfn_is_table_inline(m, pw_entry_pfn(v));
}

struct pw_range;

/* What an operation over a range does to one entry that is not a table
 * (a PTE, a leaf, a swap entry or garbage) of level role @role. */
typedef void (*pw_range_leaf_fn)(struct pw_range *r, uint64_t *p, int role);

/* One operation over a range of an mm's tables: munmap's zap, mprotect's
 * change_protection. */
struct pw_range {
	struct mm_struct *mm;
	struct vm_area_struct *vma; /* the VMA the range lies in; NULL: a gap */
	pw_range_leaf_fn leaf;      /* applied to each entry inside the range */
	bool free_empty;            /* free tables the operation empties */
	unsigned long flags;        /* for @leaf: mprotect's new VMA flags */
};

/*
 * Applies @r over [start, end): every PTE in it, and every other entry
 * that is not a table and lies wholly inside, goes to r->leaf; a huge
 * entry only partly inside is split first (in a VMA as the kernel splits,
 * events and all; in a gap silently as in an anonymous VMA, a PUD
 * cleared).  With r->free_empty, each table left all zero is freed and
 * its parent entry cleared, bottom-up (never the top level).
 */
void pw_range_apply(struct pw_range *r, unsigned long start, unsigned long end);

/* ---- mm.c ------------------------------------------------------------------ */

/* A new address space with an empty top-level table, registered with @m;
 * NULL when memory or table frames run out. */
struct mm_struct *pw_mm_new(struct pw_machine *m, bool kernel);

/* Frees @mm, its VMAs and its lock, leaving its tables (machine teardown). */
void pw_mm_free(struct mm_struct *mm);

/* ---- locks.c ---------------------------------------------------------------- */

/* Initialises an mmap_lock with the kernel's writer preference. */
void pw_mmap_lock_init(pthread_rwlock_t *lock);

/* ---- vma_tree.c -------------------------------------------------------------- */

/* Grows *arr (of *cap elements of @elem bytes) to hold @need; false when
 * memory is short (nothing changed). */
bool pw_array_reserve(void **arr, size_t *cap, size_t need, size_t elem);

/* Index in mm->vmas of the first VMA whose end is above @addr (nr_vmas if
 * none): find_vma's binary search. */
size_t pw_vma_index(const struct mm_struct *mm, unsigned long addr);

/* The file page offset that @addr inside @vma maps. */
static inline unsigned long pw_vma_pgoff_at(const struct vm_area_struct *vma,
					    unsigned long addr)
{
	return vma->vm_pgoff + ((addr - vma->vm_start) >> PW_PAGE_SHIFT);
}

/* The page size of a VMA with hugetlb_shift @shift. */
static inline unsigned long pw_huge_size(unsigned shift)
{
	return shift ? 1UL << shift : PW_PAGE_SIZE;
}

/*
 * What decides whether two touching ranges merge: a VMA, or a range that
 * is about to become (part of) one.
 */
struct pw_vma_desc {
	unsigned long start, end, flags, pgoff;
	const struct address_space *file;
	unsigned shift;
	const void *user;
};

struct pw_vma_desc pw_vma_desc_of(const struct vm_area_struct *vma);
/* Could @lo and @hi, with @lo just below @hi, be one VMA? */
bool pw_vma_mergeable(const struct pw_vma_desc *lo,
		      const struct pw_vma_desc *hi);
/* Would @vma, just below the range @hi, merge with it? */
bool pw_vma_merges_below(const struct vm_area_struct *vma,
			 const struct pw_vma_desc *hi);
/* Would @vma, just above the range @lo, merge with it? */
bool pw_vma_merges_above(const struct pw_vma_desc *lo,
			 const struct vm_area_struct *vma);

/* The VMA that contains @addr, or NULL. */
struct vm_area_struct *pw_vma_at(struct mm_struct *mm, unsigned long addr);
/* The VMA ending exactly where @vma starts, or NULL. */
struct vm_area_struct *pw_vma_prev_touching(struct vm_area_struct *vma);
/* The VMA starting exactly where @vma ends, or NULL. */
struct vm_area_struct *pw_vma_next_touching(struct vm_area_struct *vma);

/* Makes room for @n more VMAs in @mm, and in mappings @a and @b (either
 * may be NULL), so that pw_vma_link() cannot fail; 0 or -ENOMEM. */
int pw_vma_reserve(struct mm_struct *mm, struct address_space *a,
		   struct address_space *b, size_t n);
/* Gives @vma (filled in, not yet linked) the next id and links it into its
 * mm and its mapping's i_mmap (after the VMAs of equal pgoff).  The one
 * way in for every VMA, from pw_vma_add() and pw_mmap() alike. */
void pw_vma_link(struct vm_area_struct *vma);
/* Unlinks @vma from its mm, by_id and mapping, and frees it. */
void pw_vma_remove(struct vm_area_struct *vma);
/* Moves @vma's start to @start, keeping pages at their file offsets, and
 * re-sorts it in i_mmap. */
void pw_vma_set_start(struct vm_area_struct *vma, unsigned long start);
/* Splits @vma at @addr into the preallocated @new, which becomes
 * [addr, vm_end) with the next id; returns @new. */
struct vm_area_struct *pw_vma_split(struct vm_area_struct *vma,
				    unsigned long addr,
				    struct vm_area_struct *new);
/* True if @addr lies inside a hugetlb VMA off its huge page size (the
 * kernel's hugetlb_vm_op_split refuses to split there). */
bool pw_hugetlb_misaligned(struct mm_struct *mm, unsigned long addr);

#endif /* PW_INTERNAL_H */
