/* machine.c - a machine's creation, destruction and configuration. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PW_MAX_FRAMES (1ULL << 28)

/* ---- the machine ----------------------------------------------------------- */

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
static int create(const struct pw_machine_config *config,
		  const struct pw_phys_range *ranges, size_t nr_ranges,
		  enum pw_entry_encoding encoding, struct pw_machine **out)
{
	struct pw_machine *m;
	int err;

	*out = NULL;
	if (config->levels < 2 || config->levels > 5)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->cfg = *config;
	pthread_mutex_init(&m->alloc_lock, NULL);
	m->alloc_budget = -1;
	m->layout =
		(struct pw_machine_layout){ .table_base = config->table_base,
					    .zero_pfn = config->zero_pfn,
					    .huge_zero_pfn =
						    config->huge_zero_pfn };
	set_geometry(m, config->levels);
	err = pw_mem_init(m, ranges, nr_ranges, encoding);
	if (err) {
		pw_machine_destroy(m);
		return err;
	}
	m->cfg.frames = m->layout.end_pfn;
	m->init_mm = pw_mm_new(m, true);
	if (!m->init_mm) {
		pw_machine_destroy(m);
		return -ENOMEM;
	}
	*out = m;
	return 0;
}

int pw_machine_create(const struct pw_machine_config *config,
		      struct pw_machine **out)
{
	struct pw_phys_range all = { .first_pfn = 0,
				     .nr_frames = config->frames };

	*out = NULL;
	if (config->frames == 0 || config->frames > PW_MAX_FRAMES ||
	    config->table_base >= config->frames)
		return -EINVAL;
	return create(config, &all, 1, PW_ENCODING_MODEL, out);
}

int pw_machine_create_ranges(const struct pw_machine_config *config,
			     const struct pw_phys_range *ranges,
			     size_t nr_ranges, enum pw_entry_encoding encoding,
			     struct pw_machine **out)
{
	return create(config, ranges, nr_ranges, encoding, out);
}

void pw_machine_destroy(struct pw_machine *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->nr_mms; i++)
		pw_mm_free(m->mms[i]);
	while (m->dead_mms) {
		struct mm_struct *mm = m->dead_mms;

		m->dead_mms = mm->next_dead;
		pw_mm_free(mm);
	}
	free(m->mms);
	for (i = 0; i < m->nr_maps; i++) {
		free(m->maps[i]->vmas);
		free(m->maps[i]);
	}
	free(m->maps);
	pw_page_extra_free(m);
	pw_mem_destroy(m);
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

void pw_machine_set_strict(struct pw_machine *m, bool strict)
{
	atomic_store_explicit(&m->strict, strict, memory_order_relaxed);
}

bool pw_machine_strict(const struct pw_machine *m)
{
	return atomic_load_explicit(&((struct pw_machine *)m)->strict,
				    memory_order_relaxed);
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
