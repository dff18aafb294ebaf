/*
 * memory_tests.c - the physical-memory layer (CWalkCore/memory.c): machines
 * made of ranges with holes, tables anywhere, caller-supplied memory.
 *
 * A flat machine keeps its layout (one range at PFN 0, all of it the flat
 * part).  A sparse one answers pfn_valid, frames, struct pages and tables
 * through its ranges; walks, folio_walk, pw_mm_dump and pw_mm_check work
 * over tables spread across ranges and in caller-supplied memory; entries
 * that point into holes are reported as bad and never read (scripts/
 * c-tests.sh runs this under ASan: a hole has no memory behind it).
 *
 * Last line: "N passed, M failed"; exit status 1 on any failure.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pagewalk.h"
#include "test_cases.h"

#define MB(x) ((unsigned long)(x) << 20)
#define PG(x) ((unsigned long)(x) << 12)

/* ---- a sparse machine -------------------------------------------------- */

/* Three ranges: two machine-mapped ones (the allocator's), a caller's. */
#define R0_FIRST \
	0x100ULL /* frames 0x100 .. 0x10f: the zero page, then tables */
#define R0_NR 16ULL
#define R1_FIRST 0x1000ULL /* frames 0x1000 .. 0x10ff */
#define R1_NR 256ULL
#define R2_FIRST 0x40000ULL /* frames 0x40000 .. 0x4001f: caller-supplied */
#define R2_NR 32ULL
#define HOLE_PFN 0x800ULL /* between R0 and R1 */

struct sparse {
	struct pw_machine *m;
	struct mm_struct *mm;
	struct vm_area_struct *vma;
	uint64_t *caller; /* R2's frames */
	unsigned long bad[PW_NR_LEVELS];
	unsigned long warns;
};

static void on_event(void *ctx, const struct pw_event *ev)
{
	struct sparse *s = ctx;

	if (ev->kind == PW_EVENT_BAD)
		s->bad[ev->level]++;
	else if (ev->kind == PW_EVENT_WARN)
		s->warns++;
}

static int sparse_make(struct sparse *s, int levels)
{
	struct pw_machine_config cfg = { .levels = levels,
					 .table_base = R0_FIRST + 1,
					 .zero_pfn = R0_FIRST,
					 .huge_zero_pfn = 0 };
	struct pw_phys_range r[3] = {
		{ .first_pfn = R0_FIRST, .nr_frames = R0_NR },
		{ .first_pfn = R1_FIRST, .nr_frames = R1_NR },
		{ .first_pfn = R2_FIRST, .nr_frames = R2_NR },
	};
	int err;

	memset(s, 0, sizeof(*s));
	s->caller = aligned_alloc(4096, R2_NR * PW_PAGE_SIZE);
	if (!s->caller)
		return -1;
	memset(s->caller, 0, R2_NR * PW_PAGE_SIZE);
	r[2].base = s->caller;
	err = pw_machine_create_ranges(&cfg, r, 3, PW_ENCODING_MODEL, &s->m);
	if (err)
		return err;
	pw_machine_set_event_hook(s->m, on_event, s);
	s->mm = pw_mm_create(s->m);
	if (!s->mm)
		return -1;
	return pw_mmap(s->mm, 0, MB(64), VM_READ | VM_WRITE, NULL, 0, 0,
		       &s->vma);
}

static void sparse_free(struct sparse *s)
{
	pw_machine_destroy(s->m);
	free(s->caller);
}

/* ---- walks ----------------------------------------------------------------- */

struct tally {
	unsigned long ptes, present, holes;
	uint64_t sum; /* of every PTE value seen */
};

static int count_pte(pte_t *pte, unsigned long addr, unsigned long next,
		     struct mm_walk *walk)
{
	struct tally *t = walk->private;

	(void)addr;
	(void)next;
	t->ptes++;
	t->present += (*pte & PW_PAGE_PRESENT) != 0;
	t->sum += *pte;
	return 0;
}

static int count_hole(unsigned long addr, unsigned long next, int depth,
		      struct mm_walk *walk)
{
	struct tally *t = walk->private;

	(void)addr;
	(void)next;
	(void)depth;
	t->holes++;
	return 0;
}

static const struct mm_walk_ops count_ops = {
	.pte_entry = count_pte,
	.pte_hole = count_hole,
};

static struct tally walk_all(struct mm_struct *mm)
{
	struct tally t = { 0 };

	pw_mmap_read_lock(mm);
	walk_page_range(mm, 0, MB(64), &count_ops, &t);
	pw_mmap_read_unlock(mm);
	return t;
}

struct dumped {
	unsigned long entries, tables;
	int tables_in_r1, tables_in_r2;
};

static void dump_count(void *ctx, enum pw_level level, unsigned long addr,
		       uint64_t value, bool is_table)
{
	struct dumped *d = ctx;
	uint64_t pfn = pw_entry_pfn(value);

	(void)level;
	(void)addr;
	d->entries++;
	if (!is_table)
		return;
	d->tables++;
	d->tables_in_r1 |= pfn >= R1_FIRST && pfn < R1_FIRST + R1_NR;
	d->tables_in_r2 |= pfn >= R2_FIRST && pfn < R2_FIRST + R2_NR;
}

static uint64_t pte_val(uint64_t pfn)
{
	return PW_PAGE_PRESENT | PW_PAGE_RW | PW_PAGE_USER |
	       (pfn << PW_PAGE_SHIFT);
}

/* ---- the cases --------------------------------------------------------------- */

static void test_flat_layout(void)
{
	struct pw_machine_config cfg = {
		.levels = 4, .frames = 4096, .table_base = 1024, .zero_pfn = 1
	};
	const struct pw_machine_layout *lay;
	struct pw_machine_stats st;
	struct pw_machine *m;

	case_begin("a flat machine is one range, all of it the flat part");
	{
		CHECK(pw_machine_create(&cfg, &m) == 0);
		if (!m)
			goto out;
		lay = pw_machine_layout(m);
		CHECK(!lay->sparse);
		CHECK(lay->frames == 4096 && lay->end_pfn == 4096);
		CHECK(lay->nr_ranges == 1 && lay->ranges[0].first_pfn == 0 &&
		      lay->ranges[0].nr_frames == 4096 &&
		      lay->ranges[0].base == lay->mem);
		CHECK(lay->encoding == PW_ENCODING_MODEL);
		CHECK(pw_pfn_valid(m, 0) && pw_pfn_valid(m, 4095) &&
		      !pw_pfn_valid(m, 4096));
		CHECK(pw_pfn_to_frame(m, 7) ==
		      lay->mem + 7 * PW_PTRS_PER_TABLE);
		CHECK(pw_pfn_to_frame(m, 4096) == NULL);
		CHECK(pw_frame_to_pfn(m, lay->mem + 7 * PW_PTRS_PER_TABLE +
						 3) == 7);
		CHECK(pw_page_to_pfn(m, pw_pfn_to_page(m, 4000)) == 4000);
		CHECK(pw_pfn_to_page(m, 4096) == NULL);
		/* init_mm's top table is the allocator's first frame. */
		CHECK(pw_pfn_is_table(m, 1024) && !pw_pfn_is_table(m, 1025) &&
		      !pw_pfn_is_table(m, 5));
		pw_machine_get_stats(m, &st);
		CHECK(st.frames == 4096 && st.table_frames == 4096 - 1024);
		CHECK(pw_machine_config(m)->frames == 4096);
		pw_machine_destroy(m);
	}
out:
	case_end();
}

static void test_bad_ranges(void)
{
	struct pw_machine_config cfg = { .levels = 4, .zero_pfn = 1 };
	struct pw_machine *m = NULL;
	uint64_t buf[PW_PTRS_PER_TABLE * 2];

	case_begin(
		"ranges: empty, unsorted, overlapping, too high or misaligned are refused");
	{
		struct pw_phys_range ok = { .first_pfn = 0, .nr_frames = 16 };
		struct pw_phys_range two[2] = { { 0, 16, NULL },
						{ 8, 16, NULL } };
		struct pw_phys_range unsorted[2] = { { 100, 16, NULL },
						     { 0, 16, NULL } };
		struct pw_phys_range zero = { .first_pfn = 0, .nr_frames = 0 };
		struct pw_phys_range high = { .first_pfn = 1ULL << 40,
					      .nr_frames = 1 };
		struct pw_phys_range wrap = { .first_pfn = (1ULL << 40) - 1,
					      .nr_frames = 2 };
		struct pw_phys_range odd = { .first_pfn = 0,
					     .nr_frames = 1,
					     .base = (uint64_t *)((char *)buf +
								  4) };

		CHECK(pw_machine_create_ranges(&cfg, NULL, 0, PW_ENCODING_MODEL,
					       &m) == -EINVAL);
		CHECK(pw_machine_create_ranges(&cfg, &zero, 1,
					       PW_ENCODING_MODEL,
					       &m) == -EINVAL);
		CHECK(pw_machine_create_ranges(&cfg, two, 2, PW_ENCODING_MODEL,
					       &m) == -EINVAL);
		CHECK(pw_machine_create_ranges(&cfg, unsorted, 2,
					       PW_ENCODING_MODEL,
					       &m) == -EINVAL);
		CHECK(pw_machine_create_ranges(&cfg, &high, 1,
					       PW_ENCODING_MODEL,
					       &m) == -EINVAL);
		CHECK(pw_machine_create_ranges(&cfg, &wrap, 1,
					       PW_ENCODING_MODEL,
					       &m) == -EINVAL);
		CHECK(pw_machine_create_ranges(&cfg, &odd, 1, PW_ENCODING_MODEL,
					       &m) == -EINVAL);
		CHECK(m == NULL);
		/* The x86-64 Linux encoding (the images work) makes a machine;
		 * an encoding nobody implements is refused. */
		CHECK(pw_entry_ops_get(PW_ENCODING_X86_64) != NULL);
		CHECK(pw_machine_create_ranges(&cfg, &ok, 1, PW_ENCODING_X86_64,
					       &m) == 0);
		pw_machine_destroy(m);
		m = NULL;
		CHECK(pw_entry_ops_get((enum pw_entry_encoding)99) == NULL);
		CHECK(pw_machine_create_ranges(&cfg, &ok, 1,
					       (enum pw_entry_encoding)99,
					       &m) == -EOPNOTSUPP);
		CHECK(m == NULL);
		cfg.levels = 6;
		CHECK(pw_machine_create_ranges(&cfg, &ok, 1, PW_ENCODING_MODEL,
					       &m) == -EINVAL);
		cfg.levels = 4;
		/* Caller-supplied memory only: no frame for init_mm's top table. */
		ok.base = buf;
		ok.nr_frames = 2;
		CHECK(pw_machine_create_ranges(&cfg, &ok, 1, PW_ENCODING_MODEL,
					       &m) == -ENOMEM);
		CHECK(m == NULL);
	}
	case_end();
}

static void test_sparse_lookups(void)
{
	struct sparse s;
	const struct pw_machine_layout *lay;
	struct pw_machine_stats st;

	case_begin(
		"sparse machine: pfn_valid, frames and struct pages through the ranges");
	{
		CHECK(sparse_make(&s, 4) == 0);
		if (!s.m)
			goto out;
		lay = pw_machine_layout(s.m);
		CHECK(lay->sparse && lay->frames == 0 && lay->mem == NULL);
		CHECK(lay->nr_ranges == 3 && lay->end_pfn == R2_FIRST + R2_NR);
		CHECK(lay->ranges[2].base == s.caller);
		CHECK(!pw_pfn_valid(s.m, 0) &&
		      !pw_pfn_valid(s.m, R0_FIRST - 1));
		CHECK(pw_pfn_valid(s.m, R0_FIRST) &&
		      pw_pfn_valid(s.m, R0_FIRST + R0_NR - 1));
		CHECK(!pw_pfn_valid(s.m, R0_FIRST + R0_NR) &&
		      !pw_pfn_valid(s.m, HOLE_PFN));
		CHECK(pw_pfn_valid(s.m, R1_FIRST + 17) &&
		      pw_pfn_valid(s.m, R2_FIRST + R2_NR - 1));
		CHECK(!pw_pfn_valid(s.m, R2_FIRST + R2_NR) &&
		      !pw_pfn_valid(s.m, UINT64_MAX));
		CHECK(pw_pfn_to_frame(s.m, HOLE_PFN) == NULL);
		CHECK(pw_pfn_to_page(s.m, HOLE_PFN) == NULL);
		CHECK(pw_pfn_to_frame(s.m, R2_FIRST + 3) ==
		      s.caller + 3 * PW_PTRS_PER_TABLE);
		for (uint64_t pfn = R0_FIRST; pfn < R2_FIRST + R2_NR;
		     pfn += 0x3f) {
			uint64_t *f = pw_pfn_to_frame(s.m, pfn);
			struct page *pg = pw_pfn_to_page(s.m, pfn);

			if (!f) {
				CHECK(!pg && !pw_pfn_valid(s.m, pfn));
				continue;
			}
			CHECK(pw_frame_to_pfn(s.m, f + 511) == pfn);
			CHECK(pg && pw_page_to_pfn(s.m, pg) == pfn);
			CHECK(pw_folio_pfn(s.m, pw_page_folio(s.m, pg)) == pfn);
		}
		CHECK(pw_frame_to_pfn(s.m, (const uint64_t *)&s) == UINT64_MAX);
		pw_machine_get_stats(s.m, &st);
		CHECK(st.frames == R0_NR + R1_NR + R2_NR);
		CHECK(st.table_frames ==
		      R0_NR - 1 + R1_NR); /* not the caller's */
		/* Folios live in one range; across a hole or past the end, no. */
		CHECK(pw_folio_declare(s.m, R1_FIRST + 8, 3) == 0);
		CHECK(pw_folio_pfn(s.m,
				   pw_page_folio(
					   s.m, pw_pfn_to_page(
							s.m, R1_FIRST + 13))) ==
		      R1_FIRST + 8);
		CHECK(pw_folio_order(
			      s.m,
			      pw_page_folio(s.m,
					    pw_pfn_to_page(
						    s.m, R1_FIRST + 13))) == 3);
		CHECK(pw_folio_declare(s.m, R0_FIRST + R0_NR - 2, 2) ==
		      -EINVAL);
		CHECK(pw_folio_declare(s.m, HOLE_PFN, 0) == -EINVAL);
		CHECK(pw_machine_entry_ops(s.m)->swp_entry(
			      PW_SWP_MIGRATION_WRITE, 5) ==
		      pw_swp_entry(PW_SWP_MIGRATION_WRITE, 5));
		CHECK(pw_machine_entry_ops(s.m)->is_migration(
			pw_swp_entry(PW_SWP_MIGRATION_READ, 9)));
		CHECK(pw_machine_entry_ops(s.m)->pfn(pte_val(R1_FIRST)) ==
		      R1_FIRST);
	}
out:
	sparse_free(&s);
	case_end();
}

/* Maps PTEs over 40 MiB so the tables fill range 0 and spill into range 1. */
static unsigned long populate(struct sparse *s)
{
	unsigned long n = 0, addr;

	for (addr = 0; addr < MB(40); addr += PG(37)) {
		uint64_t pfn = R2_FIRST + 16 + (addr >> 12) % 16;

		if (pw_mm_set_entry(s->mm, PW_LEVEL_PTE, addr, pte_val(pfn)) ==
		    0)
			n++;
	}
	return n;
}

static void test_sparse_walks(int levels)
{
	struct sparse s;
	char err[200];
	struct tally t;
	struct dumped d = { 0 };
	struct pw_machine_stats st;
	unsigned long n;

	case_begin(
		"sparse machine, %d levels: tables across ranges; walk, dump, check",
		levels);
	if (sparse_make(&s, levels) != 0) {
		CHECK(!"sparse machine");
		goto out;
	}
	n = populate(&s);
	CHECK(n == (MB(40) + PG(37) - 1) / PG(37));
	t = walk_all(s.mm);
	CHECK(t.present == n);
	pw_mm_dump(s.mm, dump_count, &d);
	CHECK(d.tables_in_r1); /* the allocator went on past the hole */
	CHECK(d.entries == n + d.tables);
	pw_machine_get_stats(s.m, &st);
	/* Every table dumped plus the two top tables. */
	CHECK(st.tables_in_use == d.tables + 2);
	CHECK(pw_mm_check(s.mm, err, sizeof(err)) == 0);
	if (err[0])
		printf("  %s\n", err);
	/* munmap frees them again, wherever they are. */
	CHECK(pw_munmap(s.mm, 0, MB(64)) == 0);
	pw_machine_get_stats(s.m, &st);
	CHECK(st.tables_in_use == 2);
	CHECK(pw_mm_check(s.mm, err, sizeof(err)) == 0);
	CHECK(s.bad[0] + s.bad[1] + s.bad[2] + s.bad[3] + s.bad[4] == 0);
out:
	sparse_free(&s);
	case_end();
}

static void test_holes_are_bad(void)
{
	struct sparse s;
	struct folio_walk fw;
	struct tally t;
	uint64_t v;
	char err[200];

	case_begin("entries pointing into holes are bad and never read");
	{
		CHECK(sparse_make(&s, 4) == 0);
		if (!s.m)
			goto out;
		/* A PMD naming a "table" in the hole: reported, cleared. */
		CHECK(pw_mm_set_entry(s.mm, PW_LEVEL_PMD, MB(2),
				      PW_PAGE_TABLE | (HOLE_PFN
						       << PW_PAGE_SHIFT)) == 0);
		CHECK(!pw_entry_is_table(
			s.m, PW_PAGE_TABLE | (HOLE_PFN << PW_PAGE_SHIFT)));
		CHECK(pw_mm_check(s.mm, err, sizeof(err)) ==
		      0); /* garbage, not a table */
		t = walk_all(s.mm);
		CHECK(t.ptes == 0);
		CHECK(s.bad[PW_LEVEL_PMD] == 1);
		CHECK(pw_mm_get_entry(s.mm, PW_LEVEL_PMD, MB(2), &v) == 0 &&
		      v == 0);
		/* A PUD naming a table in the hole: the walk skips it, no read. */
		CHECK(pw_mm_set_entry(s.mm, PW_LEVEL_PUD, 0,
				      PW_PAGE_TABLE | ((HOLE_PFN + 1)
						       << PW_PAGE_SHIFT)) == 0);
		t = walk_all(s.mm);
		CHECK(t.ptes == 0);
		CHECK(pw_mm_set_entry(s.mm, PW_LEVEL_PUD, 0, 0) == 0);
		/* A PTE mapping a hole: vm_normal_page says bad pte, no folio. */
		CHECK(pw_mm_set_entry(s.mm, PW_LEVEL_PTE, MB(4),
				      pte_val(HOLE_PFN)) == 0);
		CHECK(pw_mm_set_entry(s.mm, PW_LEVEL_PTE, MB(4) + PG(1),
				      pte_val(R1_FIRST + 9)) == 0);
		pw_mmap_read_lock(s.mm);
		CHECK(folio_walk_start(&fw, s.vma, MB(4), 0) == NULL);
		CHECK(s.bad[PW_LEVEL_PTE] == 1);
		CHECK(folio_walk_start(&fw, s.vma, MB(4) + PG(1), 0) != NULL);
		if (!case_failed) {
			CHECK(pw_page_to_pfn(s.m, fw.page) == R1_FIRST + 9);
			folio_walk_end(&fw, s.vma);
		}
		/* A migration entry to a hole: not a folio either. */
		CHECK(pw_mm_set_entry(s.mm, PW_LEVEL_PTE, MB(4) + PG(2),
				      pw_swp_entry(PW_SWP_MIGRATION_READ,
						   HOLE_PFN)) == 0);
		CHECK(folio_walk_start(&fw, s.vma, MB(4) + PG(2),
				       FW_MIGRATION) == NULL);
		pw_mmap_read_unlock(s.mm);
		CHECK(pw_ptl_held_by_thread() == 0);
	}
out:
	sparse_free(&s);
	case_end();
}

static void test_caller_tables(void)
{
	struct sparse s;
	struct folio_walk fw;
	struct folio *folio;
	struct dumped d = { 0 };
	struct pw_machine_stats before, after;
	struct tally t;
	uint64_t table_pfn = R2_FIRST + 5, *table;
	char err[200];
	unsigned i;

	case_begin(
		"a table in caller-supplied memory: walked, dumped, checked, left alone");
	{
		CHECK(sparse_make(&s, 4) == 0);
		if (!s.m)
			goto out;
		/* A PTE table written straight into the caller's frame. */
		table = s.caller + (table_pfn - R2_FIRST) * PW_PTRS_PER_TABLE;
		for (i = 0; i < PW_PTRS_PER_TABLE; i += 2)
			table[i] = pte_val(R2_FIRST + 16 + i % 8);
		CHECK(pw_pfn_is_table(s.m, table_pfn));
		CHECK(pw_entry_is_table(
			s.m, PW_PAGE_TABLE | (table_pfn << PW_PAGE_SHIFT)));
		CHECK(pw_mm_set_entry(s.mm, PW_LEVEL_PMD, MB(6),
				      PW_PAGE_TABLE | (table_pfn
						       << PW_PAGE_SHIFT)) == 0);
		pw_machine_get_stats(s.m, &before);
		t = walk_all(s.mm);
		CHECK(t.ptes == 512 && t.present == 256);
		pw_mm_dump(s.mm, dump_count, &d);
		CHECK(d.tables_in_r2 && d.entries == d.tables + 256);
		CHECK(pw_mm_check(s.mm, err, sizeof(err)) == 0);
		if (err[0])
			printf("  %s\n", err);
		/* folio_walk through it, onto a folio in the caller's range. */
		CHECK(pw_folio_declare(s.m, R2_FIRST + 16, 3) == 0);
		pw_mmap_read_lock(s.mm);
		folio = folio_walk_start(&fw, s.vma, MB(6) + PG(4), 0);
		CHECK(folio != NULL);
		if (folio) {
			CHECK(pw_folio_pfn(s.m, folio) == R2_FIRST + 16);
			CHECK(pw_page_to_pfn(s.m, fw.page) == R2_FIRST + 20);
			CHECK(fw.ptep == table + 4);
			folio_walk_end(&fw, s.vma);
		}
		pw_mmap_read_unlock(s.mm);
		/* munmap empties it; the allocator does not take the frame. */
		CHECK(pw_munmap(s.mm, MB(6), MB(2)) == 0);
		pw_machine_get_stats(s.m, &after);
		CHECK(table[0] == 0 && table[2] == 0);
		CHECK(after.tables_in_use <= before.tables_in_use);
		CHECK(pw_pfn_is_table(s.m, table_pfn));
		CHECK(pw_mm_check(s.mm, err, sizeof(err)) == 0);
		for (i = 0; i < 64; i++) {
			uint64_t pfn;
			pmd_t pmd;

			if (pw_mm_set_entry(s.mm, PW_LEVEL_PTE,
					    MB(8) + MB(2) * i,
					    pte_val(R1_FIRST)))
				break;
			pw_mm_get_entry(s.mm, PW_LEVEL_PMD, MB(8) + MB(2) * i,
					&pmd);
			pfn = pw_entry_pfn(pmd);
			CHECK(pfn < R2_FIRST); /* never handed out */
		}
	}
out:
	sparse_free(&s);
	case_end();
}

static void test_engines_agree_on_holes(void)
{
	/* 2-level: the PGD is PMD-like, so its table pointers go through
	 * pte_offset_map's checks. */
	struct sparse s;
	struct tally t;

	case_begin(
		"2 levels: a PGD entry into a hole is a bad pmd, reported once");
	{
		CHECK(sparse_make(&s, 2) == 0);
		if (!s.m)
			goto out;
		CHECK(pw_mm_set_entry(s.mm, PW_LEVEL_PGD, MB(8),
				      PW_PAGE_TABLE | (HOLE_PFN
						       << PW_PAGE_SHIFT)) == 0);
		t = walk_all(s.mm);
		CHECK(t.ptes == 0);
		CHECK(s.bad[PW_LEVEL_PMD] == 1);
	}
out:
	sparse_free(&s);
	case_end();
}

int main(void)
{
	int levels;

	test_flat_layout();
	test_bad_ranges();
	test_sparse_lookups();
	for (levels = 2; levels <= 5; levels++)
		test_sparse_walks(levels);
	test_holes_are_bad();
	test_caller_tables();
	test_engines_agree_on_holes();
	return cases_summary();
}
