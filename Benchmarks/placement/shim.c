/*
 * shim.c - compiled into every copy of the core (see placement.h): the
 * dense workload through the public API only.
 */
#include "placement.h"

#include <stdlib.h>

#include "pagewalk.h"
#include "pagewalk_machine.h"

struct dense {
	struct pw_machine *m;
	struct mm_struct *mm;
	unsigned long start, end;
};

struct counts {
	uint64_t ptes, present;
};

static int count_pte(pte_t *pte, unsigned long addr, unsigned long next,
		     struct mm_walk *walk)
{
	struct counts *c = walk->private;

	(void)addr;
	(void)next;
	c->ptes++;
	if (*pte & PW_PAGE_PRESENT)
		c->present++;
	return 0;
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static void *setup(unsigned long pages, uint64_t seed)
{
	const uint64_t data = 1024;
	uint64_t tables = pages / 512 + 16;
	uint64_t table_base = (data + pages + 511) & ~511ULL;
	struct pw_machine_config cfg = { .levels = 4,
					 .frames = table_base + tables + 64,
					 .table_base = table_base,
					 .zero_pfn = 1 };
	struct dense *d = calloc(1, sizeof(*d));
	unsigned long i;
	int err = 0;

	if (!d || pw_machine_create(&cfg, &d->m))
		return NULL;
	d->mm = pw_mm_create(d->m);
	d->start = 1UL << 32;
	d->end = d->start + (pages << PW_PAGE_SHIFT);
	if (!d->mm || !pw_vma_add(d->mm, d->start, d->end, VM_READ | VM_WRITE,
				  NULL, 0, 0, &err))
		return NULL;
	for (i = 0; i < pages; i++) {
		uint64_t v =
			splitmix(&seed) % 16 == 0 ?
				pw_swp_entry(1, i) :
				PW_PAGE_TABLE | ((data + i) << PW_PAGE_SHIFT);

		if (pw_mm_set_entry(d->mm, PW_LEVEL_PTE,
				    d->start + (i << PW_PAGE_SHIFT), v))
			return NULL;
	}
	return d;
}

static uint64_t walk(void *state, uint64_t *present)
{
	static const struct mm_walk_ops ops = { .pte_entry = count_pte,
						.walk_lock = PGWALK_RDLOCK };
	struct dense *d = state;
	struct counts c = { 0, 0 };

	mmap_read_lock(d->mm);
	if (walk_page_range(d->mm, d->start, d->end, &ops, &c))
		c.ptes = 0;
	mmap_read_unlock(d->mm);
	*present = c.present;
	return c.ptes;
}

static void teardown(void *state)
{
	struct dense *d = state;

	pw_machine_destroy(d->m);
	free(d);
}

#ifndef PL_COMPILER
#define PL_COMPILER "?"
#endif

const struct pl_core pl_core = {
	.setup = setup,
	.walk = walk,
	.teardown = teardown,
	.walker = (const void *)walk_page_range,
	.callback = (const void *)count_pte,
	.compiler = PL_COMPILER,
};
