/*
 * machine.c - the simulated machine under the walker: physical memory,
 * struct pages and folios, the table allocator, address spaces, VMAs,
 * mappings, locks and the events the walker reports.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PW_MAX_FRAMES (1ULL << 28)

/* ---- events -------------------------------------------------------------- */

static const char *const assert_names[] = {
	[PW_ASSERT_MMAP_LOCKED] = "mmap_locked",
	[PW_ASSERT_MMAP_WRITE_LOCKED] = "mmap_write_locked",
	[PW_ASSERT_VMA_LOCKED] = "vma_locked",
	[PW_ASSERT_VMA_WRITE_LOCKED] = "vma_write_locked",
	[PW_ASSERT_I_MMAP_HELD] = "i_mmap_held",
};

void pw_emit(struct pw_machine *m, const struct pw_event *ev)
{
	if (m->hook) {
		m->hook(m->hook_ctx, ev);
		return;
	}
	/* Without a hook, what a WARN would print goes to stderr. */
	if (ev->kind == PW_EVENT_ASSERT_FAIL)
		fprintf(stderr, "pagewalk: lock assertion failed: %s\n",
			assert_names[ev->assertion]);
	else if (ev->kind == PW_EVENT_WARN)
		fprintf(stderr, "pagewalk: WARN_ON_ONCE\n");
}

void pw_assert_fail(struct pw_machine *m, struct mm_struct *mm,
		    enum pw_assert what)
{
	struct pw_event ev = { .kind = PW_EVENT_ASSERT_FAIL, .assertion = what,
			       .mm = mm };

	atomic_fetch_add_explicit(&m->nr_assert_failures, 1, memory_order_relaxed);
	pw_emit(m, &ev);
}

void pw_warn(struct pw_machine *m)
{
	struct pw_event ev = { .kind = PW_EVENT_WARN };

	atomic_fetch_add_explicit(&m->nr_warnings, 1, memory_order_relaxed);
	pw_emit(m, &ev);
}

void pw_report_bad(struct pw_machine *m, enum pw_level level, uint64_t value)
{
	struct pw_event ev = { .kind = PW_EVENT_BAD, .level = level,
			       .value = value };

	atomic_fetch_add_explicit(&m->nr_bad_entries, 1, memory_order_relaxed);
	pw_emit(m, &ev);
}

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
	struct pw_geometry *g = &m->geo;
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
				      g->shift[l + 1] : real_shift[l];
	for (l = PW_LEVEL_PTE; l > PW_LEVEL_PGD; l--)
		if (g->folded[l])
			g->shift[l] = g->shift[l - 1];
	g->va_bits = g->shift[PW_LEVEL_PGD] + 9;
	g->task_size = 1UL << (g->va_bits - 1);
	for (l = PW_LEVEL_PGD; l < PW_LEVEL_PTE; l++)
		m->trivial[l] = g->folded[l + 1];
	m->trivial[PW_LEVEL_PTE] = false;
}

/*
 * The kernel's rwsem queues new readers behind a waiting writer; glibc's
 * default rwlock lets a stream of readers starve writers for ever.  Ask
 * for the kernel's behaviour where the C library offers it.
 */
static void mmap_lock_init(pthread_rwlock_t *lock)
{
#if defined(__GLIBC__)
	pthread_rwlockattr_t attr;

	if (pthread_rwlockattr_init(&attr) == 0) {
		pthread_rwlockattr_setkind_np(&attr,
			PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(lock, &attr);
		pthread_rwlockattr_destroy(&attr);
		return;
	}
#endif
	pthread_rwlock_init(lock, NULL);
}

static struct mm_struct *mm_new(struct pw_machine *m, bool kernel)
{
	struct mm_struct *mm = calloc(1, sizeof(*mm));
	struct mm_struct **mms;

	if (!mm)
		return NULL;
	mms = realloc(m->mms, (m->nr_mms + 1) * sizeof(*mms));
	if (!mms) {
		free(mm);
		return NULL;
	}
	m->mms = mms;
	mm->pgd_pfn = pw_table_alloc(m);
	if (!mm->pgd_pfn) {
		free(mm);
		return NULL;
	}
	mm->m = m;
	mm->kernel = kernel;
	mm->pgd = m->mem + mm->pgd_pfn * PW_PTRS_PER_TABLE;
	mmap_lock_init(&mm->mmap_lock);
	m->mms[m->nr_mms++] = mm;
	return mm;
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
	set_geometry(m, config->levels);
	m->mem_bytes = config->frames * PW_PAGE_SIZE;
	m->pages_bytes = config->frames * sizeof(struct page);
	m->mem = map_zeroed(m->mem_bytes);
	m->pages = map_zeroed(m->pages_bytes);
	pthread_mutex_init(&m->alloc_lock, NULL);
	/* Frame 0 is never handed out as a table: PFN 0 means "none" to the
	 * allocator's callers. */
	m->next_table = config->table_base ? config->table_base : 1;
	m->alloc_budget = -1;
	m->layout = (struct pw_machine_layout){ .mem = m->mem,
		.frames = config->frames, .table_base = config->table_base,
		.zero_pfn = config->zero_pfn, .huge_zero_pfn = config->huge_zero_pfn,
		.geo = m->geo };
	memcpy(m->layout.trivial, m->trivial, sizeof(m->trivial));
	m->stats.frames = config->frames;
	m->stats.table_frames = config->frames - config->table_base;
	if (!m->mem || !m->pages) {
		pw_machine_destroy(m);
		return -ENOMEM;
	}
	m->init_mm = mm_new(m, true);
	if (!m->init_mm) {
		pw_machine_destroy(m);
		return -ENOMEM;
	}
	*out = m;
	return 0;
}

static void mm_free(struct mm_struct *mm)
{
	size_t i;

	for (i = 0; i < mm->nr_ids; i++)
		free(mm->by_id[i]);
	free(mm->by_id);
	free(mm->vmas);
	pthread_rwlock_destroy(&mm->mmap_lock);
	free(mm);
}

void pw_machine_destroy(struct pw_machine *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->nr_mms; i++)
		mm_free(m->mms[i]);
	free(m->mms);
	for (i = 0; i < m->nr_maps; i++) {
		free(m->maps[i]->vmas);
		free(m->maps[i]);
	}
	free(m->maps);
	free(m->free_tables);
	pw_page_extra_free(m);
	if (m->mem)
		munmap(m->mem, m->mem_bytes);
	if (m->pages)
		munmap(m->pages, m->pages_bytes);
	pthread_mutex_destroy(&m->alloc_lock);
	free(m);
}

const struct pw_geometry *pw_machine_geometry(const struct pw_machine *m)
{
	return &m->geo;
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

/* ---- address spaces ---------------------------------------------------------- */

struct mm_struct *pw_init_mm(struct pw_machine *m)
{
	return m->init_mm;
}

struct mm_struct *pw_mm_create(struct pw_machine *m)
{
	return mm_new(m, false);
}

struct pw_machine *pw_mm_machine(const struct mm_struct *mm)
{
	return mm->m;
}

pgd_t *pw_mm_pgd(const struct mm_struct *mm)
{
	return mm->pgd;
}

bool pw_mm_is_kernel(const struct mm_struct *mm)
{
	return mm->kernel;
}

void pw_mm_set_lock_state(struct mm_struct *mm, enum pw_lock_state state)
{
	atomic_store(&mm->readers, state == PW_LOCK_READ ? 1 : 0);
	atomic_store(&mm->writer, state == PW_LOCK_WRITE ? 1 : 0);
}

enum pw_lock_state pw_mm_lock_state(const struct mm_struct *mm)
{
	if (atomic_load(&((struct mm_struct *)mm)->writer))
		return PW_LOCK_WRITE;
	if (atomic_load(&((struct mm_struct *)mm)->readers))
		return PW_LOCK_READ;
	return PW_LOCK_NONE;
}

void mmap_read_lock(struct mm_struct *mm)
{
	pthread_rwlock_rdlock(&mm->mmap_lock);
	atomic_fetch_add(&mm->readers, 1);
}

void mmap_read_unlock(struct mm_struct *mm)
{
	atomic_fetch_sub(&mm->readers, 1);
	pthread_rwlock_unlock(&mm->mmap_lock);
}

void mmap_write_lock(struct mm_struct *mm)
{
	pthread_rwlock_wrlock(&mm->mmap_lock);
	atomic_store(&mm->writer, 1);
}

void mmap_write_unlock(struct mm_struct *mm)
{
	atomic_store(&mm->writer, 0);
	pthread_rwlock_unlock(&mm->mmap_lock);
}

_Thread_local long pw_ptl_held_count;

long pw_ptl_held_by_thread(void)
{
	return pw_ptl_held_count;
}

bool pw_spin_is_locked(const spinlock_t *ptl)
{
	return atomic_load(&((spinlock_t *)ptl)->v) != 0;
}

void spin_lock(spinlock_t *ptl)
{
	pw_spin_lock_inline(ptl);
}

void spin_unlock(spinlock_t *ptl)
{
	pw_spin_unlock_inline(ptl);
}

spinlock_t *pw_table_lock(struct pw_machine *m, uint64_t *p)
{
	return pw_table_lock_inline(m, p);
}

spinlock_t *pw_mm_page_table_lock(struct mm_struct *mm)
{
	return &mm->page_table_lock;
}

const struct pw_machine_layout *pw_machine_layout(const struct pw_machine *m)
{
	return &m->layout;
}

bool pw_pxd_none_or_clear_bad(struct pw_machine *m, enum pw_level level,
			      uint64_t *p)
{
	return pw_none_or_clear_bad_inline(m, level, p);
}

pte_t *pte_offset_map_lock(struct mm_struct *mm, pmd_t *pmdp,
			   unsigned long addr, spinlock_t **ptlp)
{
	pte_t *pte = pw_pte_offset_map(mm->m, pmdp, addr);

	if (pte) {
		*ptlp = pw_table_lock_inline(mm->m, pte);
		pw_spin_lock_inline(*ptlp);
	}
	return pte;
}

void pte_unmap_unlock(pte_t *pte, spinlock_t *ptl)
{
	(void)pte;
	pw_spin_unlock_inline(ptl);
}

void i_mmap_assert_held(struct address_space *mapping)
{
	if (!atomic_load(&mapping->i_mmap_held))
		pw_assert_fail(mapping->m, NULL, PW_ASSERT_I_MMAP_HELD);
}

struct pw_machine *pw_mapping_machine(const struct address_space *mapping)
{
	return mapping->m;
}

size_t pw_mapping_vma_count(const struct address_space *mapping)
{
	return mapping->nr;
}

struct vm_area_struct *pw_mapping_vma_at(const struct address_space *mapping,
					 size_t i)
{
	return i < mapping->nr ? mapping->vmas[i] : NULL;
}

void mmap_assert_locked(struct mm_struct *mm)
{
	if (pw_mm_lock_state(mm) == PW_LOCK_NONE)
		pw_assert_fail(mm->m, mm, PW_ASSERT_MMAP_LOCKED);
}

void mmap_assert_write_locked(struct mm_struct *mm)
{
	if (pw_mm_lock_state(mm) != PW_LOCK_WRITE)
		pw_assert_fail(mm->m, mm, PW_ASSERT_MMAP_WRITE_LOCKED);
}

void vma_start_write(struct vm_area_struct *vma)
{
	struct pw_event ev = { .kind = PW_EVENT_VMA_START_WRITE, .vma = vma,
			       .mm = vma->vm_mm };

	mmap_assert_write_locked(vma->vm_mm);
	pw_emit(vma->vm_mm->m, &ev);
	vma->lock_state = PW_LOCK_WRITE;
}

void vma_assert_locked(struct vm_area_struct *vma)
{
	if (vma->lock_state == PW_LOCK_NONE)
		pw_assert_fail(vma->vm_mm->m, vma->vm_mm, PW_ASSERT_VMA_LOCKED);
}

void vma_assert_write_locked(struct vm_area_struct *vma)
{
	if (vma->lock_state != PW_LOCK_WRITE)
		pw_assert_fail(vma->vm_mm->m, vma->vm_mm, PW_ASSERT_VMA_WRITE_LOCKED);
}

uint64_t pw_entry_get(const uint64_t *p)
{
	return pw_load(p);
}

void pw_entry_set(uint64_t *p, uint64_t v)
{
	pw_store(p, v);
}

/* ---- entries by level -------------------------------------------------------- */

/* The entry of real level @level covering @addr; creates missing tables
 * when @create.  Sets *err on failure. */
static uint64_t *entry_slot(const struct mm_struct *mm, enum pw_level level,
			    unsigned long addr, bool create, int *err)
{
	struct pw_machine *m = mm->m;
	uint64_t *p = mm->pgd + pw_index(m, PW_LEVEL_PGD, addr);
	int l;

	*err = 0;
	if (level < PW_LEVEL_PGD || level > PW_LEVEL_PTE || m->geo.folded[level]) {
		*err = -EINVAL;
		return NULL;
	}
	for (l = PW_LEVEL_PGD; l < (int)level; l++) {
		uint64_t *table, v;

		if (m->geo.folded[l + 1])
			continue;
		if (pw_load(p) == 0) {
			uint64_t pfn;

			if (!create)
				return NULL;
			pfn = pw_table_alloc(m);
			if (!pfn) {
				*err = -ENOMEM;
				return NULL;
			}
			pw_store(p, PW_PAGE_TABLE | (pfn << PW_PAGE_SHIFT));
		}
		v = pw_load(p);
		table = pw_table_of(m, v);
		if (!table || (v & PW_PAGE_HUGE) || !(v & PW_PAGE_PRESENT)) {
			*err = -EFAULT;
			return NULL;
		}
		p = table + pw_index(m, l + 1, addr);
	}
	return p;
}

int pw_mm_get_entry(const struct mm_struct *mm, enum pw_level level,
		    unsigned long addr, uint64_t *value)
{
	int err;
	uint64_t *p = entry_slot(mm, level, addr, false, &err);

	*value = p ? pw_load(p) : 0;
	return err;
}

int pw_mm_set_entry(struct mm_struct *mm, enum pw_level level,
		    unsigned long addr, uint64_t value)
{
	int err;
	uint64_t *p = entry_slot(mm, level, addr, true, &err);

	if (p)
		pw_store(p, value);
	return err;
}

static unsigned long sign_extend(const struct pw_machine *m, unsigned long a)
{
	unsigned sh = 64 - m->geo.va_bits;

	return (unsigned long)((long)(a << sh) >> sh);
}

static void dump_table(const struct mm_struct *mm, const uint64_t *table,
		       int level, unsigned long base, pw_dump_fn fn, void *ctx)
{
	const struct pw_machine *m = mm->m;
	int next = level + 1;
	unsigned i;

	while (next < PW_LEVEL_PTE && m->geo.folded[next])
		next++;
	for (i = 0; i < PW_PTRS_PER_TABLE; i++) {
		uint64_t v = table[i];
		unsigned long addr = base | ((unsigned long)i << m->geo.shift[level]);
		bool descend;

		if (!v)
			continue;
		descend = level < PW_LEVEL_PTE && pw_entry_is_table(m, v);
		fn(ctx, (enum pw_level)level, sign_extend(m, addr), v, descend);
		if (descend)
			dump_table(mm, pw_table_of(m, v), next, addr, fn, ctx);
	}
}

void pw_mm_dump(const struct mm_struct *mm, pw_dump_fn fn, void *ctx)
{
	dump_table(mm, mm->pgd, PW_LEVEL_PGD, 0, fn, ctx);
}

/* ---- mappings ------------------------------------------------------------------ */

struct address_space *pw_mapping_get(struct pw_machine *m, unsigned id)
{
	struct address_space *as, **maps;
	size_t i;

	for (i = 0; i < m->nr_maps; i++)
		if (m->maps[i]->id == id)
			return m->maps[i];
	as = calloc(1, sizeof(*as));
	maps = realloc(m->maps, (m->nr_maps + 1) * sizeof(*maps));
	if (!as || !maps) {
		free(as);
		if (maps)
			m->maps = maps;
		return NULL;
	}
	as->f_mapping = as;
	as->m = m;
	as->id = id;
	m->maps = maps;
	m->maps[m->nr_maps++] = as;
	return as;
}

unsigned pw_mapping_id(const struct address_space *mapping)
{
	return mapping->id;
}

void pw_mapping_set_i_mmap_held(struct address_space *mapping, bool held)
{
	atomic_store(&mapping->i_mmap_held, held ? 1 : 0);
}

/* ---- VMAs ------------------------------------------------------------------------- */

bool pw_array_reserve(void **arr, size_t *cap, size_t need, size_t elem)
{
	void *p;
	size_t n;

	if (need <= *cap)
		return true;
	n = *cap ? *cap * 2 : 16;
	while (n < need)
		n *= 2;
	p = realloc(*arr, n * elem);
	if (!p)
		return false;
	*arr = p;
	*cap = n;
	return true;
}

/* Index of the first VMA whose end is above @addr (nr_vmas if none). */
size_t pw_vma_index(const struct mm_struct *mm, unsigned long addr)
{
	size_t lo = 0, hi = mm->nr_vmas;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (mm->vmas[mid]->vm_end > addr)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

struct vm_area_struct *find_vma(struct mm_struct *mm, unsigned long addr)
{
	size_t i = pw_vma_index(mm, addr);

	return i < mm->nr_vmas ? mm->vmas[i] : NULL;
}

size_t pw_mm_vma_count(const struct mm_struct *mm)
{
	return mm->nr_vmas;
}

struct vm_area_struct *pw_mm_vma_at(const struct mm_struct *mm, size_t i)
{
	return i < mm->nr_vmas ? mm->vmas[i] : NULL;
}

struct vm_area_struct *pw_mm_vma_by_id(const struct mm_struct *mm, unsigned id)
{
	return id >= 1 && id <= mm->nr_ids ? mm->by_id[id - 1] : NULL;
}

void pw_vma_set_lock_state(struct vm_area_struct *vma, enum pw_lock_state state)
{
	vma->lock_state = state;
}

struct vm_area_struct *pw_vma_add(struct mm_struct *mm, unsigned long start,
				  unsigned long end, unsigned long flags,
				  struct address_space *mapping,
				  unsigned long pgoff, unsigned hugetlb_shift,
				  int *err)
{
	struct vm_area_struct *vma;
	size_t at, i;

	*err = -EINVAL;
	if (start >= end || (start | end) & (PW_PAGE_SIZE - 1) ||
	    end > mm->m->geo.task_size || mm->kernel)
		return NULL;
	if (hugetlb_shift) {
		unsigned long mask = (1UL << hugetlb_shift) - 1;

		if ((hugetlb_shift != 21 && hugetlb_shift != 30) ||
		    (start | end) & mask)
			return NULL;
	}
	/* As mmap: the file offsets of the VMA's pages may not wrap. */
	if (pgoff + ((end - start) >> PW_PAGE_SHIFT) < pgoff) {
		*err = -EOVERFLOW;
		return NULL;
	}
	at = pw_vma_index(mm, start);
	if (at < mm->nr_vmas && mm->vmas[at]->vm_start < end) {
		*err = -EEXIST;
		return NULL;
	}
	*err = -ENOMEM;
	if (!pw_array_reserve((void **)&mm->vmas, &mm->cap_vmas, mm->nr_vmas + 1,
		  sizeof(*mm->vmas)) ||
	    !pw_array_reserve((void **)&mm->by_id, &mm->cap_ids, mm->nr_ids + 1,
		  sizeof(*mm->by_id)) ||
	    (mapping && !pw_array_reserve((void **)&mapping->vmas, &mapping->cap,
			      mapping->nr + 1, sizeof(*mapping->vmas))))
		return NULL;
	vma = calloc(1, sizeof(*vma));
	if (!vma)
		return NULL;
	vma->vm_start = start;
	vma->vm_end = end;
	vma->vm_flags = flags | (hugetlb_shift ? VM_HUGETLB : 0);
	vma->vm_pgoff = pgoff;
	vma->vm_mm = mm;
	vma->vm_file = mapping;
	vma->hugetlb_shift = hugetlb_shift;
	mm->by_id[mm->nr_ids++] = vma;
	vma->id = (unsigned)mm->nr_ids;
	memmove(&mm->vmas[at + 1], &mm->vmas[at],
		(mm->nr_vmas - at) * sizeof(*mm->vmas));
	mm->vmas[at] = vma;
	mm->nr_vmas++;
	if (mapping) {
		/* i_mmap order: by pgoff, equal pgoffs in insertion order. */
		for (i = mapping->nr; i > 0 && mapping->vmas[i - 1]->vm_pgoff > pgoff; i--)
			mapping->vmas[i] = mapping->vmas[i - 1];
		mapping->vmas[i] = vma;
		mapping->nr++;
	}
	*err = 0;
	return vma;
}

/* ---- operations the walker needs ----------------------------------------------- */

pte_t *pw_pte_offset_map(struct pw_machine *m, pmd_t *pmdp, unsigned long addr)
{
	pmd_t v = pw_load(pmdp);

	if (v == 0 || pw_is_migration_entry(v) ||
	    lvl_leaf(m, PW_LEVEL_PMD, v))
		return NULL;
	if (!(v & PW_PAGE_PRESENT) || !pw_pfn_valid(m, pw_entry_pfn(v))) {
		pw_report_bad(m, PW_LEVEL_PMD, v);
		pw_store(pmdp, 0);
		return NULL;
	}
	return pw_table_of(m, v) + pw_index(m, PW_LEVEL_PTE, addr);
}

static void emit_split(struct vm_area_struct *vma, enum pw_event_kind kind,
		       unsigned long haddr)
{
	struct pw_event ev = { .kind = kind, .addr = haddr, .vma = vma,
			       .mm = vma->vm_mm };

	pw_emit(vma->vm_mm->m, &ev);
}

static bool is_huge_zero(const struct pw_machine *m, uint64_t v)
{
	return m->cfg.huge_zero_pfn && (v & PW_PAGE_PRESENT) &&
	       pw_entry_pfn(v) == m->cfg.huge_zero_pfn;
}

void pw_fill_split_pmd(const struct pw_machine *m, pte_t *pte, pmd_t v)
{
	unsigned i;

	if (pw_is_migration_entry(v)) {
		unsigned type = pw_swp_type(v);
		uint64_t off = pw_swp_offset(v);

		for (i = 0; i < PW_PTRS_PER_TABLE; i++)
			pte[i] = pw_swp_entry(type, off + i);
	} else if (is_huge_zero(m, v)) {
		uint64_t flags = (v & ~PW_PFN_MASK & ~PW_PAGE_HUGE) | PW_PAGE_SPECIAL;

		for (i = 0; i < PW_PTRS_PER_TABLE; i++)
			pte[i] = flags | (m->cfg.zero_pfn << PW_PAGE_SHIFT);
	} else {
		uint64_t flags = v & ~PW_PFN_MASK & ~PW_PAGE_HUGE;
		uint64_t base = pw_entry_pfn(v);

		for (i = 0; i < PW_PTRS_PER_TABLE; i++)
			pte[i] = flags | (((base + i) << PW_PAGE_SHIFT) & PW_PFN_MASK);
	}
}

void pw_split_huge_pmd(struct vm_area_struct *vma, pmd_t *pmd,
		       unsigned long addr)
{
	struct mm_struct *mm = vma->vm_mm;
	struct pw_machine *m = mm->m;
	unsigned long haddr = addr & ~((1UL << m->geo.shift[PW_LEVEL_PMD]) - 1);
	spinlock_t *ptl = pw_table_lock_inline(m, pmd);
	uint64_t v, pfn;

	/* As the kernel's split_huge_pmd(): nothing to do, and no lock taken,
	 * unless the entry looks like a leaf or a migration entry. */
	v = pw_load(pmd);
	if (!lvl_leaf(m, PW_LEVEL_PMD, v) && !pw_is_migration_entry(v))
		return;
	pw_spin_lock_inline(ptl);
	v = pw_load(pmd);
	if (!lvl_leaf(m, PW_LEVEL_PMD, v) && !pw_is_migration_entry(v)) {
		pw_spin_unlock_inline(ptl);
		return;
	}
	emit_split(vma, PW_EVENT_SPLIT_PMD, haddr);
	if (!pw_vma_is_anonymous(vma)) {
		pw_store(pmd, 0);
		pw_spin_unlock_inline(ptl);
		return;
	}
	/* The kernel deposits this table in advance; it is no allocation. */
	pfn = pw_table_alloc(m);
	if (!pfn) {
		/* No frame left to deposit: drop the mapping rather than loop. */
		pw_warn(m);
		pw_store(pmd, 0);
		pw_spin_unlock_inline(ptl);
		return;
	}
	pw_fill_split_pmd(m, m->mem + pfn * PW_PTRS_PER_TABLE, v);
	/* release: the filled table before the entry naming it */
	pw_store(pmd, PW_PAGE_TABLE | (pfn << PW_PAGE_SHIFT));
	pw_spin_unlock_inline(ptl);
}

void pw_split_huge_pud(struct vm_area_struct *vma, pud_t *pud,
		       unsigned long addr)
{
	struct mm_struct *mm = vma->vm_mm;
	struct pw_machine *m = mm->m;
	unsigned long haddr = addr & ~((1UL << m->geo.shift[PW_LEVEL_PUD]) - 1);

	/* As split_huge_pud(): no lock unless it looks like a leaf. */
	if (!lvl_leaf(m, PW_LEVEL_PUD, pw_load(pud)))
		return;
	pw_spin_lock_inline(&mm->page_table_lock);
	if (lvl_leaf(m, PW_LEVEL_PUD, pw_load(pud))) {
		emit_split(vma, PW_EVENT_SPLIT_PUD, haddr);
		pw_store(pud, 0);
	}
	pw_spin_unlock_inline(&mm->page_table_lock);
}

pte_t *pw_hugetlb_walk(struct vm_area_struct *vma, unsigned long addr,
		       unsigned long sz)
{
	struct pw_machine *m = vma->vm_mm->m;
	uint64_t *pgd = pw_pgd_offset(m, vma->vm_mm->pgd, addr), *p4d, *pud;

	if (!lvl_present(m, PW_LEVEL_PGD, pw_load(pgd)))
		return NULL;
	p4d = pw_offset(m, PW_LEVEL_P4D, pgd, addr);
	if (!p4d || !lvl_present(m, PW_LEVEL_P4D, pw_load(p4d)))
		return NULL;
	pud = pw_offset(m, PW_LEVEL_PUD, p4d, addr);
	if (!pud)
		return NULL;
	if (sz == (1UL << m->geo.shift[PW_LEVEL_PUD]))
		return pud; /* huge, non-present or none */
	if (!lvl_present(m, PW_LEVEL_PUD, pw_load(pud)))
		return NULL;
	return pw_offset(m, PW_LEVEL_PMD, pud, addr);
}

struct page *pw_vm_normal_page(struct vm_area_struct *vma, unsigned long addr,
			       pte_t pte)
{
	struct pw_machine *m = vma->vm_mm->m;
	uint64_t pfn = pw_entry_pfn(pte);

	(void)addr;
	if (pte & PW_PAGE_SPECIAL) {
		if (!(vma->vm_flags & (VM_PFNMAP | VM_MIXEDMAP)) &&
		    pfn != m->cfg.zero_pfn)
			pw_report_bad(m, PW_LEVEL_PTE, pte);
		return NULL;
	}
	if (!pw_pfn_valid(m, pfn)) {
		pw_report_bad(m, PW_LEVEL_PTE, pte);
		return NULL;
	}
	return &m->pages[pfn];
}

struct page *pw_vm_normal_page_pmd(struct vm_area_struct *vma,
				   unsigned long addr, pmd_t pmd)
{
	struct pw_machine *m = vma->vm_mm->m;
	uint64_t pfn = pw_entry_pfn(pmd);

	(void)addr;
	if ((pmd & PW_PAGE_SPECIAL) || (vma->vm_flags & (VM_PFNMAP | VM_MIXEDMAP)) ||
	    is_huge_zero(m, pmd) || !pw_pfn_valid(m, pfn))
		return NULL;
	return &m->pages[pfn];
}
