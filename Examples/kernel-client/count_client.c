/*
 * count_client.c - a kernel-style walk client as a shared object: per VMA,
 * the pages mapped by PTEs and by PMD leaves, swap entries and guard
 * markers, anonymous pages and the highest map count, in the kernel's
 * vocabulary.  Build and run:
 *
 *   cc -std=gnu11 -shared -fPIC -I compat -I include \
 *      Examples/kernel-client/count_client.c -o count_client.so
 *   pagewalk client ./count_client.so --pid PID [OUTPUT]
 *
 * One line per VMA with pages: "START-END pte N thp N swap N guard N anon N
 * maxmap N", then "total N"; to OUTPUT if given, else stdout.
 */
#include <linux/mm.h>
#include <linux/pagewalk.h>
#include <linux/swapops.h>
#include <linux/huge_mm.h>
#include "pagewalk_client.h"

struct counts {
	unsigned long pte, thp, swap, guard, anon;
	int maxmap;
};

static int count_pmd(pmd_t *pmd, unsigned long addr, unsigned long end,
		     struct mm_walk *walk)
{
	struct counts *c = walk->private;
	spinlock_t *ptl;
	pte_t *start_pte, *pte;

	ptl = pmd_trans_huge_lock(pmd, walk->vma);
	if (ptl) {
		if (pmd_present(*pmd)) {
			struct folio *folio = pmd_folio(*pmd);

			c->thp += (end - addr) >> PAGE_SHIFT;
			if (folio_test_anon(folio))
				c->anon += (end - addr) >> PAGE_SHIFT;
		}
		spin_unlock(ptl);
		return 0;
	}
	start_pte = pte = pte_offset_map_lock(walk->mm, pmd, addr, &ptl);
	if (!pte) {
		walk->action = ACTION_AGAIN;
		return 0;
	}
	for (; addr != end; pte++, addr += PAGE_SIZE) {
		pte_t v = ptep_get(pte);

		if (pte_present(v)) {
			struct page *page = vm_normal_page(walk->vma, addr, v);

			c->pte++;
			if (page) {
				struct folio *folio = page_folio(page);

				c->anon += folio_test_anon(folio);
				c->maxmap = max(c->maxmap,
						folio_precise_page_mapcount(
							folio, page));
			}
		} else if (is_swap_pte(v)) {
			swp_entry_t e = pte_to_swp_entry(v);

			if (is_guard_swp_entry(e))
				c->guard++;
			else if (!non_swap_entry(e))
				c->swap++;
		}
	}
	pte_unmap_unlock(start_pte, ptl);
	return 0;
}

static const struct mm_walk_ops count_ops = {
	.pmd_entry = count_pmd,
	.walk_lock = PGWALK_RDLOCK,
};

int pagewalk_client_main(struct mm_struct *mm, int argc, char **argv)
{
	FILE *out = argc > 1 ? fopen(argv[1], "w") : stdout;
	unsigned long total = 0;
	size_t i, n;

	if (!out) {
		fprintf(stderr, "count_client: cannot write %s\n", argv[1]);
		return 2;
	}
	mmap_read_lock(mm);
	n = pw_mm_vma_count(mm);
	for (i = 0; i < n; i++) {
		struct vm_area_struct *vma = pw_mm_vma_at(mm, i);
		struct counts c = { 0 };

		walk_page_vma(vma, &count_ops, &c);
		if (!(c.pte | c.thp | c.swap | c.guard))
			continue;
		fprintf(out,
			"%lx-%lx pte %lu thp %lu swap %lu guard %lu anon %lu maxmap %d\n",
			vma->vm_start, vma->vm_end, c.pte, c.thp, c.swap,
			c.guard, c.anon, c.maxmap);
		total += c.pte + c.thp;
	}
	mmap_read_unlock(mm);
	fprintf(out, "total %lu\n", total);
	if (out != stdout)
		fclose(out);
	return 0;
}
