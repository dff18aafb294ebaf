/* machine.c - a machine's creation, destruction and configuration; for now also its memory (frames, pages, folios, table allocator). */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PW_MAX_FRAMES (1ULL << 28)

/* ---- the machine ----------------------------------------------------------- */

static void *map_zeroed(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void set_geometry(struct pw_machine *m, int levels)
{
	static const unsigned real_shift[PW_NR_LEVELS] = { 48, 39, 30, 21, 12 };
	struct pw_geometry *g = &m->layout.geo;
	int l;

	g->levels = levels;
	g->folded[PW_LEVEL_PGD] = false;
	g->folded[PW_LEVEL_P4D] = levels < 5;
	g->folded[PW_LEVEL_PUD] = levels < 4;
	g->folded[PW_LEVEL_PMD] = levels < 3;
	g->folded[PW_LEVEL_PTE] = false;
	/* A folded level takes its parent's shift, so the top level's shift is
	 * that of the highest real level below it. */
	for (l = PW_LEVEL_PTE; l >= PW_LEVEL_PGD; l--)
		g->shift[l] = (l < PW_LEVEL_PTE && g->folded[l + 1]) ?
				      g->shift[l + 1] :
				      real_shift[l];
	for (l = PW_LEVEL_PTE; l > PW_LEVEL_PGD; l--)
		if (g->folded[l])
			g->shift[l] = g->shift[l - 1];
	g->va_bits = g->shift[PW_LEVEL_PGD] + 9;
	g->task_size = 1UL << (g->va_bits - 1);
	for (l = PW_LEVEL_PGD; l < PW_LEVEL_PTE; l++)
		m->layout.trivial[l] = g->folded[l + 1];
	m->layout.trivial[PW_LEVEL_PTE] = false;
}
int pw_machine_create(const struct pw_machine_config *config,
		      struct pw_machine **out)
{
	struct pw_machine *m;

	*out = NULL;
	if (config->levels < 2 || config->levels > 5 || config->frames == 0 ||
	    config->frames > PW_MAX_FRAMES ||
	    config->table_base >= config->frames)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->cfg = *config;
	m->mem_bytes = config->frames * PW_PAGE_SIZE;
	m->pages_bytes = config->frames * sizeof(struct page);
	m->mem = map_zeroed(m->mem_bytes);
	m->pages = map_zeroed(m->pages_bytes);
	pthread_mutex_init(&m->alloc_lock, NULL);
	/* Frame 0 is never handed out as a table: PFN 0 means "none" to the
	 * allocator's callers. */
	m->next_table = config->table_base ? config->table_base : 1;
	m->alloc_budget = -1;
	m->layout = (struct pw_machine_layout){
		.mem = m->mem,
		.frames = config->frames,
		.table_base = config->table_base,
		.zero_pfn = config->zero_pfn,
		.huge_zero_pfn = config->huge_zero_pfn,
	};
	set_geometry(m, config->levels);
	m->stats.frames = config->frames;
	m->stats.table_frames = config->frames - config->table_base;
	if (!m->mem || !m->pages) {
		pw_machine_destroy(m);
		return -ENOMEM;
	}
	m->init_mm = pw_mm_new(m, true);
	if (!m->init_mm) {
		pw_machine_destroy(m);
		return -ENOMEM;
	}
	*out = m;
	return 0;
}

void pw_machine_destroy(struct pw_machine *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->nr_mms; i++)
		pw_mm_free(m->mms[i]);
	free(m->mms);
	for (i = 0; i < m->nr_maps; i++) {
		free(m->maps[i]->vmas);
		free(m->maps[i]);
	}
	free(m->maps);
	free(m->free_tables);
	if (m->mem)
		munmap(m->mem, m->mem_bytes);
	if (m->pages)
		munmap(m->pages, m->pages_bytes);
	pthread_mutex_destroy(&m->alloc_lock);
	free(m);
}

const struct pw_geometry *pw_machine_geometry(const struct pw_machine *m)
{
	return &m->layout.geo;
}

const struct pw_machine_config *pw_machine_config(const struct pw_machine *m)
{
	return &m->cfg;
}

void pw_machine_set_event_hook(struct pw_machine *m, pw_event_fn fn, void *ctx)
{
	m->hook = fn;
	m->hook_ctx = ctx;
}

void pw_machine_set_alloc_budget(struct pw_machine *m, int64_t n)
{
	pthread_mutex_lock(&m->alloc_lock);
	m->alloc_budget = n < 0 ? -1 : n;
	pthread_mutex_unlock(&m->alloc_lock);
}

void pw_machine_get_stats(const struct pw_machine *m,
			  struct pw_machine_stats *stats)
{
	struct pw_machine *mm = (struct pw_machine *)m;

	pthread_mutex_lock(&mm->alloc_lock);
	*stats = m->stats;
	pthread_mutex_unlock(&mm->alloc_lock);
	stats->assert_failures = atomic_load(&mm->nr_assert_failures);
	stats->warnings = atomic_load(&mm->nr_warnings);
	stats->bad_entries = atomic_load(&mm->nr_bad_entries);
}

/* ---- pages and folios ------------------------------------------------------ */

int pw_folio_declare(struct pw_machine *m, uint64_t head, unsigned order)
{
	uint64_t i, nr;

	if (order > 18)
		return -EINVAL;
	nr = 1ULL << order;
	if (head >= m->cfg.frames || nr > m->cfg.frames - head)
		return -EINVAL;
	m->pages[head].head1 = 0;
	m->pages[head].order = order;
	for (i = 1; i < nr; i++) {
		m->pages[head + i].head1 = head + 1;
		m->pages[head + i].order = 0;
	}
	return 0;
}

struct page *pw_pfn_to_page(struct pw_machine *m, uint64_t pfn)
{
	return pw_pfn_valid(m, pfn) ? &m->pages[pfn] : NULL;
}

uint64_t pw_page_to_pfn(const struct pw_machine *m, const struct page *page)
{
	return (uint64_t)(page - m->pages);
}

struct folio *pw_page_folio(struct pw_machine *m, struct page *page)
{
	uint64_t head1 = page->head1;

	return (struct folio *)(head1 ? &m->pages[head1 - 1] : page);
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

uint64_t pw_table_alloc(struct pw_machine *m)
{
	uint64_t pfn = 0;

	pthread_mutex_lock(&m->alloc_lock);
	if (m->nr_free)
		pfn = m->free_tables[--m->nr_free];
	else if (m->next_table < m->cfg.frames)
		pfn = m->next_table++;
	if (pfn) {
		memset(m->mem + pfn * PW_PTRS_PER_TABLE, 0, PW_PAGE_SIZE);
		m->pages[pfn].flags |= PW_PG_TABLE;
		if (++m->stats.tables_in_use > m->stats.tables_peak)
			m->stats.tables_peak = m->stats.tables_in_use;
	}
	pthread_mutex_unlock(&m->alloc_lock);
	return pfn;
}

void pw_table_free(struct pw_machine *m, uint64_t pfn)
{
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
	m->pages[pfn].flags &= ~PW_PG_TABLE;
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

bool pw_entry_is_table(const struct pw_machine *m, uint64_t v)
{
	uint64_t pfn = pw_entry_pfn(v);

	return (v & (PW_PAGE_PRESENT | PW_PAGE_HUGE)) == PW_PAGE_PRESENT &&
	       pfn >= m->cfg.table_base && pfn < m->cfg.frames;
}
const struct pw_machine_layout *pw_machine_layout(const struct pw_machine *m)
{
	return &m->layout;
}
