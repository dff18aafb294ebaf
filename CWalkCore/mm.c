/* mm.c - address spaces: creating them (init_mm and user mms), their accessors, destroying them. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

struct mm_struct *pw_mm_new(struct pw_machine *m, bool kernel)
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
	mm->pgd = pw_frame_inline(m, mm->pgd_pfn);
	pw_mmap_lock_init(&mm->mmap_lock);
	m->mms[m->nr_mms++] = mm;
	return mm;
}

void pw_mm_free(struct mm_struct *mm)
{
	size_t i;

	for (i = 0; i < mm->nr_ids; i++)
		free(mm->by_id[i]);
	free(mm->by_id);
	free(mm->vmas);
	pthread_rwlock_destroy(&mm->mmap_lock);
	free(mm);
}

struct mm_struct *pw_init_mm(struct pw_machine *m)
{
	return m->init_mm;
}

struct mm_struct *pw_mm_create(struct pw_machine *m)
{
	return pw_mm_new(m, false);
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

/* ---- pw_mm_destroy ---------------------------------------------------------- */

/* Frees the tables under @table, of real level @l, each frame once. */
static void free_tables(struct pw_machine *m, uint64_t *table, int l)
{
	size_t i;

	if (l == PW_LEVEL_PTE)
		return;
	for (i = 0; i < PW_PTRS_PER_TABLE; i++) {
		uint64_t v = table[i];

		if (!pw_is_live_table(m, v))
			continue;
		free_tables(m, pw_table_of(m, v), pw_level_below(m, l));
		/* A frame reachable twice was freed the first time. */
		if (pw_page_inline(m, pw_entry_pfn(v))->flags & PW_PG_TABLE)
			pw_table_free(m, pw_entry_pfn(v));
		table[i] = 0;
	}
}

void pw_mm_destroy(struct mm_struct *mm)
{
	struct pw_machine *m;
	size_t i;

	if (!mm)
		return;
	m = mm->m;
	if (mm->kernel) {
		pw_warn(m);
		return;
	}
	if (pw_mm_alive(mm, __func__))
		return; /* destroyed twice: reported */
	while (mm->nr_vmas)
		pw_vma_remove(mm->vmas[mm->nr_vmas - 1]);
	free_tables(m, mm->pgd, PW_LEVEL_PGD);
	pw_table_free(m, mm->pgd_pfn);
	for (i = 0; i < m->nr_mms; i++) {
		if (m->mms[i] == mm) {
			memmove(&m->mms[i], &m->mms[i + 1],
				(m->nr_mms - i - 1) * sizeof(*m->mms));
			m->nr_mms--;
			break;
		}
	}
	/*
	 * Poison rather than free: the struct (and its lock, which a caller
	 * may still take) lives on with no VMAs and no tables until the
	 * machine goes, so later use is reported instead of reading freed
	 * memory.
	 */
	free(mm->by_id);
	free(mm->vmas);
	mm->by_id = NULL;
	mm->vmas = NULL;
	mm->nr_ids = mm->cap_ids = 0;
	mm->nr_vmas = mm->cap_vmas = 0;
	mm->pgd = NULL;
	mm->pgd_pfn = 0;
	mm->dead = true;
	mm->next_dead = m->dead_mms;
	m->dead_mms = mm;
}
