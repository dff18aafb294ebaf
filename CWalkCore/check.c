/* check.c - pw_mm_check: the VMA, by_id, i_mmap and page-table invariants of an mm and its machine. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define PAGE_SIZE PW_PAGE_SIZE

struct check {
	const struct mm_struct *mm;
	struct pw_machine *m;
	char *err;
	size_t errlen;
	const struct vm_area_struct **live; /* every VMA of every mm, sorted */
	size_t nr_live;
	unsigned char *seen; /* table frames reached, a bitmap */
	uint64_t tables;     /* table frames reached */
};

/* Describes the first problem found; returns -EINVAL. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
static int
fail(struct check *c, const char *fmt, ...);

static int fail(struct check *c, const char *fmt, ...)
{
	va_list ap;

	if (c->err && c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err, c->errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int check_vma(struct check *c, const struct vm_area_struct *vma)
{
	unsigned long size = pw_huge_size(vma->hugetlb_shift);
	size_t i;

	if (vma->vm_mm != c->mm)
		return fail(c, "vma %u belongs to another mm", vma->id);
	if (vma->vm_start >= vma->vm_end ||
	    ((vma->vm_start | vma->vm_end) & (PAGE_SIZE - 1)) ||
	    vma->vm_end > c->m->layout.geo.task_size)
		return fail(
			c,
			"vma %u [%#lx, %#lx) is empty, unaligned or past TASK_SIZE",
			vma->id, vma->vm_start, vma->vm_end);
	if (vma->hugetlb_shift != 0 && vma->hugetlb_shift != 21 &&
	    vma->hugetlb_shift != 30)
		return fail(c, "vma %u has hugetlb_shift %u", vma->id,
			    vma->hugetlb_shift);
	if (!(vma->vm_flags & VM_HUGETLB) != !vma->hugetlb_shift)
		return fail(
			c, "vma %u: VM_HUGETLB disagrees with hugetlb_shift %u",
			vma->id, vma->hugetlb_shift);
	if ((vma->vm_start | vma->vm_end) & (size - 1))
		return fail(
			c, "hugetlb vma %u [%#lx, %#lx) is not aligned to %#lx",
			vma->id, vma->vm_start, vma->vm_end, size);
	if (!vma->vm_file)
		return 0;
	for (i = 0; i < c->m->nr_maps; i++)
		if (c->m->maps[i] == vma->vm_file)
			return 0;
	return fail(c,
		    "vma %u has a vm_file that is not a mapping of the machine",
		    vma->id);
}

static int check_vmas(struct check *c, bool merged)
{
	const struct mm_struct *mm = c->mm;
	size_t i;
	int err;

	for (i = 0; i < mm->nr_vmas; i++) {
		const struct vm_area_struct *vma = mm->vmas[i], *prev;
		struct pw_vma_desc lo, hi;

		if (!vma)
			return fail(c, "vmas[%zu] is NULL", i);
		err = check_vma(c, vma);
		if (err)
			return err;
		if (i == 0)
			continue;
		prev = mm->vmas[i - 1];
		if (prev->vm_end > vma->vm_start)
			return fail(
				c,
				"vma %u [%#lx, %#lx) and vma %u [%#lx, %#lx) are out of order or overlap",
				prev->id, prev->vm_start, prev->vm_end, vma->id,
				vma->vm_start, vma->vm_end);
		lo = pw_vma_desc_of(prev);
		hi = pw_vma_desc_of(vma);
		if (merged && pw_vma_mergeable(&lo, &hi))
			return fail(
				c,
				"vma %u [%#lx, %#lx) and vma %u [%#lx, %#lx) should have been merged",
				prev->id, prev->vm_start, prev->vm_end, vma->id,
				vma->vm_start, vma->vm_end);
	}
	return 0;
}

static int check_ids(struct check *c)
{
	const struct mm_struct *mm = c->mm;
	size_t i, slots = 0;

	for (i = 0; i < mm->nr_vmas; i++) {
		const struct vm_area_struct *vma = mm->vmas[i];

		if (vma->id < 1 || vma->id > mm->nr_ids ||
		    mm->by_id[vma->id - 1] != vma)
			return fail(
				c,
				"vma %u [%#lx, %#lx) is not in by_id under its id",
				vma->id, vma->vm_start, vma->vm_end);
	}
	/* Each VMA is in its own slot, so equal counts leave no stray slot. */
	for (i = 0; i < mm->nr_ids; i++)
		slots += mm->by_id[i] != NULL;
	if (slots != mm->nr_vmas)
		return fail(c, "by_id holds %zu VMAs but the mm has %zu", slots,
			    mm->nr_vmas);
	return 0;
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t) * (const void *const *)a;
	uintptr_t y = (uintptr_t) * (const void *const *)b;

	return x < y ? -1 : x > y;
}

/* Collects every VMA of the machine, to tell live i_mmap entries from
 * dangling ones without dereferencing them. */
static int collect_live(struct check *c)
{
	struct pw_machine *m = c->m;
	size_t i, n = 0;

	for (i = 0; i < m->nr_mms; i++)
		n += m->mms[i]->nr_vmas;
	c->live = malloc((n ? n : 1) * sizeof(*c->live));
	if (!c->live)
		return -ENOMEM;
	for (i = 0; i < m->nr_mms; i++) {
		const struct mm_struct *mm = m->mms[i];
		size_t j;

		for (j = 0; j < mm->nr_vmas; j++)
			c->live[c->nr_live++] = mm->vmas[j];
	}
	qsort(c->live, c->nr_live, sizeof(*c->live), cmp_ptr);
	return 0;
}

static bool is_live(const struct check *c, const struct vm_area_struct *vma)
{
	return bsearch(&vma, c->live, c->nr_live, sizeof(*c->live), cmp_ptr);
}

static int check_mapping(struct check *c, const struct address_space *as)
{
	size_t i, j;

	for (i = 0; i < as->nr; i++) {
		const struct vm_area_struct *vma = as->vmas[i];

		if (!is_live(c, vma))
			return fail(c, "mapping %u lists a VMA that no mm has",
				    as->id);
		if (vma->vm_file != as)
			return fail(
				c, "mapping %u lists vma %u of another mapping",
				as->id, vma->id);
		if (i > 0 && as->vmas[i - 1]->vm_pgoff > vma->vm_pgoff)
			return fail(
				c,
				"mapping %u: vma %u (pgoff %#lx) comes after vma %u (pgoff %#lx)",
				as->id, vma->id, vma->vm_pgoff,
				as->vmas[i - 1]->id, as->vmas[i - 1]->vm_pgoff);
		for (j = 0; j < i; j++)
			if (as->vmas[j] == vma)
				return fail(c, "mapping %u lists vma %u twice",
					    as->id, vma->id);
	}
	return 0;
}

static int check_i_mmap(struct check *c)
{
	const struct mm_struct *mm = c->mm;
	size_t i, j;
	int err;

	err = collect_live(c);
	if (err) {
		fail(c, "out of memory");
		return err;
	}
	for (i = 0; i < c->m->nr_maps; i++) {
		err = check_mapping(c, c->m->maps[i]);
		if (err)
			return err;
	}
	for (i = 0; i < mm->nr_vmas; i++) {
		const struct vm_area_struct *vma = mm->vmas[i];
		const struct address_space *as = vma->vm_file;

		if (!as)
			continue;
		for (j = 0; j < as->nr && as->vmas[j] != vma; j++)
			;
		if (j == as->nr)
			return fail(
				c, "vma %u is missing from mapping %u's i_mmap",
				vma->id, as->id);
	}
	return 0;
}

static const char *const level_names[PW_NR_LEVELS] = {
	"pgd", "p4d", "pud", "pmd", "pte",
};

/*
 * Marks table frame @pfn reached from the level-@l entry for @addr (l < 0:
 * it is an mm's top level); fails if it was reached before or is not an
 * allocated table.
 */
static int reach_table(struct check *c, uint64_t pfn, int l, unsigned long addr)
{
	const char *from = l < 0 ? "top" : level_names[l];
	const struct pw_mem_range *r = pw_mem_range_of(c->m, pfn);
	uint64_t bit;

	if (!r || !pw_pfn_is_table_inline(c->m, pfn))
		return fail(
			c,
			"%s entry for %#lx points to frame %#llx, which is not an allocated table",
			from, addr, (unsigned long long)pfn);
	/* One bit per frame of memory, holes left out. */
	bit = r->dense + (pfn - r->first_pfn);
	if (c->seen[bit / 8] & (1u << (bit % 8)))
		return fail(
			c,
			"table frame %#llx is reachable twice (again from the %s entry for %#lx)",
			(unsigned long long)pfn, from, addr);
	c->seen[bit / 8] |= (unsigned char)(1u << (bit % 8));
	/* Tables in creator-supplied memory are not the allocator's. */
	if (r->owned)
		c->tables++;
	return 0;
}

static int check_table(struct check *c, const uint64_t *table, int l,
		       unsigned long base)
{
	struct pw_machine *m = c->m;
	size_t i;
	int err;

	if (l == PW_LEVEL_PTE)
		return 0;
	for (i = 0; i < PW_PTRS_PER_TABLE; i++) {
		unsigned long addr =
			base | ((unsigned long)i << m->layout.geo.shift[l]);
		uint64_t v = table[i];

		/* Whatever looks like a table pointer into frames that can
		 * hold tables must point to a table. */
		if ((v & (PW_PAGE_PRESENT | PW_PAGE_HUGE)) != PW_PAGE_PRESENT ||
		    !pw_pfn_may_be_table(m, pw_entry_pfn(v)))
			continue;
		err = reach_table(c, pw_entry_pfn(v), l, addr);
		if (!err)
			err = check_table(c, pw_table_of(m, v),
					  pw_level_below(m, l), addr);
		if (err)
			return err;
	}
	return 0;
}

/* Every table frame reachable from some mm's top level, once, and all of
 * them: the allocator's count must agree. */
static int check_tables(struct check *c)
{
	struct pw_machine *m = c->m;
	size_t i;
	int err;

	c->seen = calloc((size_t)(m->nr_frames + 7) / 8, 1);
	if (!c->seen) {
		fail(c, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < m->nr_mms; i++) {
		const struct mm_struct *mm = m->mms[i];

		err = reach_table(c, mm->pgd_pfn, -1, 0);
		if (!err)
			err = check_table(c, mm->pgd, PW_LEVEL_PGD, 0);
		if (err)
			return err;
	}
	if (c->tables != m->stats.tables_in_use)
		return fail(
			c,
			"%llu table frames are reachable but tables_in_use is %llu",
			(unsigned long long)c->tables,
			(unsigned long long)m->stats.tables_in_use);
	return 0;
}

static int mm_check(const struct mm_struct *mm, bool merged, char *err,
		    size_t errlen)
{
	struct check c = { .mm = mm, .m = mm->m, .err = err, .errlen = errlen };
	int ret;

	if (err && errlen)
		err[0] = '\0';
	ret = pw_mm_alive(mm, merged ? "pw_mm_check_merged" : "pw_mm_check");
	if (ret) {
		fail(&c, "the mm was destroyed by pw_mm_destroy()");
		return ret;
	}
	ret = check_vmas(&c, merged);
	if (!ret)
		ret = check_ids(&c);
	if (!ret)
		ret = check_i_mmap(&c);
	if (!ret)
		ret = check_tables(&c);
	free(c.live);
	free(c.seen);
	return ret;
}

int pw_mm_check(const struct mm_struct *mm, char *err, size_t errlen)
{
	return mm_check(mm, false, err, errlen);
}

int pw_mm_check_merged(const struct mm_struct *mm, char *err, size_t errlen)
{
	return mm_check(mm, true, err, errlen);
}
