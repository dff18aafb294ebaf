/* memory.c - physical memory: the PFN map over ranges with holes, frames, struct pages and folios, the table allocator, entry encodings. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* The PFN field of an entry is 40 bits wide (PW_PFN_MASK). */
#define PW_PFN_LIMIT (1ULL << 40)

/* ---- entry encodings --------------------------------------------------------- */

static bool model_present(uint64_t v)
{
	return v & PW_PAGE_PRESENT;
}

static uint64_t model_pfn(uint64_t v)
{
	return pw_entry_pfn(v);
}

static bool model_is_swap(uint64_t v)
{
	return v != 0 && !(v & PW_PAGE_PRESENT);
}

static unsigned model_swp_type(uint64_t v)
{
	return pw_swp_type(v);
}

static uint64_t model_swp_offset(uint64_t v)
{
	return pw_swp_offset(v);
}

static uint64_t model_swp_entry(unsigned type, uint64_t offset)
{
	return pw_swp_entry(type, offset);
}

static bool model_is_migration(uint64_t v)
{
	return pw_is_migration_entry(v);
}

static const struct pw_entry_ops model_ops = {
	.encoding = PW_ENCODING_MODEL,
	.name = "model",
	.present = model_present,
	.pfn = model_pfn,
	.is_swap = model_is_swap,
	.swp_type = model_swp_type,
	.swp_offset = model_swp_offset,
	.swp_entry = model_swp_entry,
	.is_migration = model_is_migration,
};

const struct pw_entry_ops *pw_entry_ops_get(enum pw_entry_encoding encoding)
{
	switch (encoding) {
	case PW_ENCODING_MODEL: return &model_ops;
	case PW_ENCODING_X86_64: return &pw_x86_64_entry_ops;
	default: return NULL;
	}
}

const struct pw_entry_ops *pw_machine_entry_ops(const struct pw_machine *m)
{
	return m->eops;
}

/* ---- the PFN map --------------------------------------------------------------- */

static void *map_zeroed(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Where range @r's frames (or, with @pages, its struct pages) start. */
static uintptr_t range_addr(const struct pw_mem_range *r, bool pages)
{
	return pages ? (uintptr_t)r->pages : (uintptr_t)r->base;
}

/* Fills @idx with the range indices in the order of range_addr(@pages):
 * insertion sort, as machines have few ranges. */
static void sort_indices(struct pw_machine *m, size_t *idx, bool pages)
{
	size_t i, j;

	for (i = 0; i < m->nr_ranges; i++) {
		size_t v = i;

		for (j = i; j > 0 && range_addr(&m->ranges[idx[j - 1]], pages) >
					     range_addr(&m->ranges[v], pages);
		     j--)
			idx[j] = idx[j - 1];
		idx[j] = v;
	}
}

static int check_ranges(const struct pw_phys_range *ranges, size_t n)
{
	size_t i;

	if (!ranges || n == 0)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		const struct pw_phys_range *r = &ranges[i];

		if (r->nr_frames == 0 || r->first_pfn >= PW_PFN_LIMIT ||
		    r->nr_frames > PW_PFN_LIMIT - r->first_pfn ||
		    ((uintptr_t)r->base & 7) ||
		    (r->nr_frames > SIZE_MAX / PW_PAGE_SIZE))
			return -EINVAL;
		if (i > 0 && ranges[i - 1].first_pfn + ranges[i - 1].nr_frames >
				     r->first_pfn)
			return -EINVAL;
	}
	return 0;
}

int pw_mem_init(struct pw_machine *m, const struct pw_phys_range *ranges,
		size_t n, enum pw_entry_encoding encoding)
{
	uint64_t dense = 0;
	size_t i;
	int err = check_ranges(ranges, n);

	if (err)
		return err;
	m->eops = pw_entry_ops_get(encoding);
	if (!m->eops)
		return -EOPNOTSUPP;
	m->ranges = calloc(n, sizeof(*m->ranges));
	m->pub_ranges = calloc(n, sizeof(*m->pub_ranges));
	m->by_base = calloc(n, sizeof(*m->by_base));
	m->by_pages = calloc(n, sizeof(*m->by_pages));
	if (!m->ranges || !m->pub_ranges || !m->by_base || !m->by_pages)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct pw_mem_range *r = &m->ranges[i];
		uint64_t nr = ranges[i].nr_frames;

		r->first_pfn = ranges[i].first_pfn;
		r->end_pfn = r->first_pfn + nr;
		r->dense = dense;
		r->owned = !ranges[i].base;
		r->base = ranges[i].base ? ranges[i].base :
					   map_zeroed(nr * PW_PAGE_SIZE);
		r->pages = map_zeroed(nr * sizeof(struct page));
		m->nr_ranges++;
		if (!r->base || !r->pages)
			return -ENOMEM;
		m->pub_ranges[i] =
			(struct pw_phys_range){ .first_pfn = r->first_pfn,
						.nr_frames = nr,
						.base = r->base };
		dense += nr;
	}
	sort_indices(m, m->by_base, false);
	sort_indices(m, m->by_pages, true);
	m->nr_frames = dense;
	/* The flat part: the first range if it starts at PFN 0. */
	if (m->ranges[0].first_pfn == 0) {
		m->mem = m->ranges[0].base;
		m->pages = m->ranges[0].pages;
		m->layout.mem = m->mem;
		m->layout.frames = m->ranges[0].end_pfn;
	}
	m->layout.sparse = n > 1 || m->ranges[0].first_pfn != 0;
	m->layout.encoding = encoding;
	m->layout.end_pfn = m->ranges[n - 1].end_pfn;
	m->layout.nr_ranges = n;
	m->layout.ranges = m->pub_ranges;
	/* Frame 0 is never handed out as a table: PFN 0 means "none" to the
	 * allocator's callers. */
	m->next_table = m->cfg.table_base ? m->cfg.table_base : 1;
	m->alloc_range = 0;
	m->stats.frames = dense;
	for (i = 0; i < n; i++) {
		const struct pw_mem_range *r = &m->ranges[i];
		uint64_t from = r->first_pfn > m->cfg.table_base ?
					r->first_pfn :
					m->cfg.table_base;

		if (r->owned && from < r->end_pfn)
			m->stats.table_frames += r->end_pfn - from;
	}
	return 0;
}

void pw_mem_destroy(struct pw_machine *m)
{
	size_t i;

	for (i = 0; i < m->nr_ranges; i++) {
		struct pw_mem_range *r = &m->ranges[i];
		uint64_t nr = r->end_pfn - r->first_pfn;

		if (r->owned && r->base)
			munmap(r->base, nr * PW_PAGE_SIZE);
		if (r->pages)
			munmap(r->pages, nr * sizeof(struct page));
	}
	free(m->ranges);
	free(m->pub_ranges);
	free(m->by_base);
	free(m->by_pages);
	free(m->free_tables);
}

const struct pw_mem_range *pw_mem_range_of(const struct pw_machine *m,
					   uint64_t pfn)
{
	struct pw_machine *mm = (struct pw_machine *)m;
	size_t last =
		atomic_load_explicit(&mm->last_range, memory_order_relaxed);
	size_t lo = 0, hi = m->nr_ranges;
	const struct pw_mem_range *r = &m->ranges[last];

	if (pfn >= r->first_pfn && pfn < r->end_pfn)
		return r;
	/* The first range that ends above @pfn. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->ranges[mid].end_pfn > pfn)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (lo == m->nr_ranges || pfn < m->ranges[lo].first_pfn)
		return NULL;
	atomic_store_explicit(&mm->last_range, lo, memory_order_relaxed);
	return &m->ranges[lo];
}

/* The range (@idx: indices sorted by range_addr(@pages)) whose frames, or
 * struct pages, hold address @p. */
static const struct pw_mem_range *range_of_addr(const struct pw_machine *m,
						const size_t *idx, bool pages,
						uintptr_t p)
{
	size_t lo = 0, hi = m->nr_ranges;
	const struct pw_mem_range *r;
	uintptr_t bytes;

	/* The last range that starts at or below @p. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (range_addr(&m->ranges[idx[mid]], pages) <= p)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	r = &m->ranges[idx[lo - 1]];
	bytes = (uintptr_t)(r->end_pfn - r->first_pfn) *
		(pages ? sizeof(struct page) : PW_PAGE_SIZE);
	return p - range_addr(r, pages) < bytes ? r : NULL;
}

const struct pw_mem_range *pw_mem_range_of_ptr(const struct pw_machine *m,
					       const void *p)
{
	return range_of_addr(m, m->by_base, false, (uintptr_t)p);
}

const struct pw_mem_range *pw_mem_range_of_page(const struct pw_machine *m,
						const struct page *page)
{
	return range_of_addr(m, m->by_pages, true, (uintptr_t)page);
}

bool pw_pfn_valid(const struct pw_machine *m, uint64_t pfn)
{
	return pw_pfn_valid_inline(m, pfn);
}

uint64_t *pw_pfn_to_frame(const struct pw_machine *m, uint64_t pfn)
{
	return pw_frame_inline(m, pfn);
}

uint64_t pw_frame_to_pfn(const struct pw_machine *m, const uint64_t *p)
{
	return pw_frame_of(m, p);
}

bool pw_pfn_is_table(const struct pw_machine *m, uint64_t pfn)
{
	return pw_pfn_is_table_inline(m, pfn);
}

bool pw_entry_is_table(const struct pw_machine *m, uint64_t v)
{
	return (v & (PW_PAGE_PRESENT | PW_PAGE_HUGE)) == PW_PAGE_PRESENT &&
	       pw_pfn_is_table_inline(m, pw_entry_pfn(v));
}

const struct pw_machine_layout *pw_machine_layout(const struct pw_machine *m)
{
	return &m->layout;
}

/* ---- pages and folios ------------------------------------------------------ */

int pw_folio_declare(struct pw_machine *m, uint64_t head, unsigned order)
{
	const struct pw_mem_range *r;
	struct page *pages;
	uint64_t i, nr;

	if (order > 18)
		return -EINVAL;
	nr = 1ULL << order;
	r = pw_mem_range_of(m, head);
	/* A folio's struct pages are contiguous: one range holds them all. */
	if (!r || nr > r->end_pfn - head)
		return -EINVAL;
	pages = &r->pages[head - r->first_pfn];
	pages[0].head1 = 0;
	pages[0].order = order;
	for (i = 1; i < nr; i++) {
		pages[i].head1 = head + 1;
		pages[i].order = 0;
	}
	return 0;
}

struct page *pw_pfn_to_page(struct pw_machine *m, uint64_t pfn)
{
	return pw_page_inline(m, pfn);
}

uint64_t pw_page_to_pfn(const struct pw_machine *m, const struct page *page)
{
	return pw_page_to_pfn_inline(m, page);
}

struct folio *pw_page_folio(struct pw_machine *m, struct page *page)
{
	return pw_page_folio_inline(m, page);
}

uint64_t pw_folio_pfn(const struct pw_machine *m, const struct folio *folio)
{
	return pw_page_to_pfn(m, (const struct page *)folio);
}

unsigned pw_folio_order(const struct pw_machine *m, const struct folio *folio)
{
	(void)m;
	return ((const struct page *)folio)->order;
}

/* ---- table allocation ------------------------------------------------------ */

/* The next never-used frame the allocator may hand out, or 0.  Under
 * alloc_lock. */
static uint64_t bump(struct pw_machine *m)
{
	while (m->alloc_range < m->nr_ranges) {
		const struct pw_mem_range *r = &m->ranges[m->alloc_range];

		if (r->owned) {
			if (m->next_table < r->first_pfn)
				m->next_table = r->first_pfn;
			if (m->next_table < r->end_pfn)
				return m->next_table++;
		}
		m->alloc_range++;
	}
	return 0;
}

uint64_t pw_table_alloc(struct pw_machine *m)
{
	uint64_t pfn = 0;

	pthread_mutex_lock(&m->alloc_lock);
	if (m->nr_free)
		pfn = m->free_tables[--m->nr_free];
	else
		pfn = bump(m);
	if (pfn) {
		memset(pw_frame_inline(m, pfn), 0, PW_PAGE_SIZE);
		pw_page_inline(m, pfn)->flags |= PW_PG_TABLE;
		if (++m->stats.tables_in_use > m->stats.tables_peak)
			m->stats.tables_peak = m->stats.tables_in_use;
	}
	pthread_mutex_unlock(&m->alloc_lock);
	return pfn;
}

void pw_table_free(struct pw_machine *m, uint64_t pfn)
{
	struct page *page = pw_page_inline(m, pfn);

	/* Only what the allocator handed out goes back to it: a table in
	 * creator-supplied memory stays where it is. */
	if (!page || !(page->flags & PW_PG_TABLE))
		return;
	pthread_mutex_lock(&m->alloc_lock);
	if (m->nr_free == m->cap_free) {
		size_t cap = m->cap_free ? m->cap_free * 2 : 64;
		uint64_t *p = realloc(m->free_tables, cap * sizeof(*p));

		if (!p) {
			/* Leaking one frame beats corrupting the allocator. */
			pthread_mutex_unlock(&m->alloc_lock);
			return;
		}
		m->free_tables = p;
		m->cap_free = cap;
	}
	page->flags &= ~PW_PG_TABLE;
	m->free_tables[m->nr_free++] = pfn;
	m->stats.tables_in_use--;
	pthread_mutex_unlock(&m->alloc_lock);
}

int pw_table_alloc_into(struct mm_struct *mm, uint64_t *slot)
{
	struct pw_machine *m = mm->m;
	uint64_t pfn;
	bool allowed;

	pthread_mutex_lock(&m->alloc_lock);
	allowed = m->alloc_budget != 0;
	if (allowed && m->alloc_budget > 0)
		m->alloc_budget--;
	if (allowed)
		m->stats.table_allocs++;
	else
		m->stats.table_alloc_fails++;
	pthread_mutex_unlock(&m->alloc_lock);
	if (!allowed)
		return -ENOMEM;
	pfn = pw_table_alloc(m);
	if (!pfn)
		return -ENOMEM;
	pw_spin_lock_inline(&mm->page_table_lock);
	if (pw_load(slot) == 0) {
		/* release: the zeroed table before the entry naming it */
		pw_store(slot, PW_PAGE_TABLE | (pfn << PW_PAGE_SHIFT));
		pfn = 0;
	}
	pw_spin_unlock_inline(&mm->page_table_lock);
	if (pfn) /* somebody populated it first */
		pw_table_free(m, pfn);
	return 0;
}
