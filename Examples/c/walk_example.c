/*
 * walk_example.c - PageWalk embedded through its C header alone.
 *
 * Builds a 4-level machine, maps an anonymous VMA, writes a few PTEs and a
 * THP, then walks the VMA with a kernel-style ops struct that counts what
 * it sees, and looks one address up with folio_walk.
 *
 *   cc -std=c11 -Wall -Werror -I include CWalkCore/[all .c] Examples/c/walk_example.c
 */
#include <stdio.h>
#include <stdlib.h>

#include "pagewalk.h"

struct counts {
	unsigned long present, none, pmd_leaves, holes;
};

/* A THP leaf is counted whole and not descended into (no split). */
static int count_pmd(pmd_t *pmd, unsigned long addr, unsigned long next,
		     struct mm_walk *walk)
{
	struct counts *c = walk->private;

	(void)addr;
	(void)next;
	if ((*pmd & (PW_PAGE_PRESENT | PW_PAGE_HUGE)) ==
	    (PW_PAGE_PRESENT | PW_PAGE_HUGE)) {
		c->pmd_leaves++;
		walk->action = ACTION_CONTINUE;
	}
	return 0;
}

static int count_pte(pte_t *pte, unsigned long addr, unsigned long next,
		     struct mm_walk *walk)
{
	struct counts *c = walk->private;

	(void)addr;
	(void)next;
	if (*pte & PW_PAGE_PRESENT)
		c->present++;
	else if (*pte == 0)
		c->none++;
	return 0;
}

static int count_hole(unsigned long addr, unsigned long next, int depth,
		      struct mm_walk *walk)
{
	struct counts *c = walk->private;

	(void)addr;
	(void)next;
	(void)depth;
	c->holes++;
	return 0;
}

static void on_event(void *ctx, const struct pw_event *ev)
{
	(void)ctx;
	if (ev->kind == PW_EVENT_ASSERT_FAIL)
		fprintf(stderr, "lock assertion %d failed\n",
			(int)ev->assertion);
}

int main(void)
{
	struct pw_machine_config cfg = { .levels = 4,
					 .frames = 1 << 16,
					 .table_base = 1 << 15,
					 .zero_pfn = 1 };
	const struct mm_walk_ops ops = { .pmd_entry = count_pmd,
					 .pte_entry = count_pte,
					 .pte_hole = count_hole,
					 .walk_lock = PGWALK_RDLOCK };
	struct pw_machine *m;
	struct mm_struct *mm;
	struct vm_area_struct *vma;
	struct counts c = { 0 };
	struct folio_walk fw;
	struct folio *folio;
	unsigned long addr;
	int err;

	if (pw_machine_create(&cfg, &m)) {
		fprintf(stderr, "cannot create the machine\n");
		return 1;
	}
	pw_machine_set_event_hook(m, on_event, NULL);
	mm = pw_mm_create(m);
	vma = pw_vma_add(mm, 0x400000, 0x800000, VM_READ | VM_WRITE, NULL, 0, 0,
			 &err);
	if (!mm || !vma) {
		fprintf(stderr, "cannot map the VMA: %d\n", err);
		return 1;
	}
	/* Eight 4 KiB pages at 0x400000, and a 2 MiB THP at 0x600000. */
	for (addr = 0x400000; addr < 0x408000; addr += PW_PAGE_SIZE)
		pw_mm_set_entry(
			mm, PW_LEVEL_PTE, addr,
			PW_PAGE_TABLE |
				((0x100 + (addr - 0x400000) / PW_PAGE_SIZE)
				 << PW_PAGE_SHIFT));
	pw_mm_set_entry(mm, PW_LEVEL_PMD, 0x600000,
			PW_PAGE_TABLE | PW_PAGE_HUGE |
				(0x200ULL << PW_PAGE_SHIFT));
	pw_folio_declare(m, 0x200, 9);

	mmap_read_lock(mm);
	err = walk_page_range(mm, 0x0, 0x1000000, &ops, &c);
	folio = folio_walk_start(&fw, vma, 0x601000, 0);
	if (folio) {
		printf("folio_walk 0x601000: level %d, page %#llx, folio %#llx order %u\n",
		       (int)fw.level,
		       (unsigned long long)pw_page_to_pfn(m, fw.page),
		       (unsigned long long)pw_folio_pfn(m, folio),
		       pw_folio_order(m, folio));
		folio_walk_end(&fw, vma);
	}
	mmap_read_unlock(mm);

	printf("walk_page_range returned %d: %lu present PTEs, %lu empty PTEs, "
	       "%lu THP leaves, %lu holes\n",
	       err, c.present, c.none, c.pmd_leaves, c.holes);
	pw_machine_destroy(m);
	/* 8 present, 504 empty in the first PTE table, 1 THP, and two holes:
	 * below the VMA and above it. */
	return (err == 0 && c.present == 8 && c.none == 504 &&
		c.pmd_leaves == 1 && c.holes == 2 && folio) ?
		       0 :
		       1;
}
