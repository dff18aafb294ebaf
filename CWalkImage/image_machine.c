/*
 * image_machine.c - PageWalk machines over memory images: the image's
 * page tables, as the MMU reaches them from a top table, become the
 * machine's tables at their own PFNs.
 *
 * Until the machine's memory can be backed by the image's frames in place
 * (a sparse physical-memory layer), the machine is flat: one frame per PFN
 * up to the image's highest, in lazily zeroed private memory, and each
 * page-table frame reachable from a top table is copied to its PFN when an
 * address space is created.  The cost is in the number of tables (a few
 * hundred to a few thousand frames), never in the size of memory; data
 * frames are never read.  New tables a walk allocates come from frames above
 * the image's memory.
 */
#include "pagewalk_image.h"

#include "pagewalk.h"
#include "pagewalk_machine.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE 4096ULL
/* Frames above the image's memory for tables that walks allocate. */
#define SPARE_FRAMES 4096ULL

/* One load: which (level, frame) pairs were already brought in. */
struct loaded {
	struct pw_image *img;
	uint64_t frames;
	uint8_t *seen[PW_NR_LEVELS]; /* bitmaps over PFNs */
	uint64_t nr_loaded;
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/*
 * Copies the table frame @pfn, walked as real level @level, and every table
 * below it, into the machine's memory at the same PFNs.  Each (level, PFN)
 * is visited once, so cyclic and self-referencing tables end.
 */
static void load_tables(struct loaded *ld, uint64_t *mem, uint64_t pfn,
			int level, int last_level)
{
	uint64_t *src;
	uint8_t *bit;

	if (pfn >= ld->frames)
		return;
	bit = &ld->seen[level][pfn / 8];
	if (*bit & (1u << (pfn % 8)))
		return;
	*bit |= (uint8_t)(1u << (pfn % 8));
	src = pw_image_frame(ld->img, pfn);
	if (!src)
		return; /* a hole: the machine's frame stays zero (none) */
	memcpy(mem + pfn * PW_PTRS_PER_TABLE, src, PAGE);
	ld->nr_loaded++;
	if (level == last_level)
		return;
	for (int i = 0; i < PW_PTRS_PER_TABLE; i++) {
		uint64_t e = src[i];
		if (!(e & PW_X86_PRESENT))
			continue;
		/* PSE: a leaf at PUD and PMD (ignored above, as bad). */
		if (e & PW_X86_PSE)
			continue;
		load_tables(ld, mem, (e & PW_X86_PFN_MASK) >> 12, level + 1,
			    last_level);
	}
}

/* The levels of a machine, top to bottom, that are real. */
static void real_levels(const struct pw_machine *m, int *first_below_top)
{
	const struct pw_geometry *g = pw_machine_geometry(m);
	*first_below_top =
		g->folded[PW_LEVEL_P4D] ? PW_LEVEL_PUD : PW_LEVEL_P4D;
}

/* Copies the top table at @pgd into @dst (a machine frame) and loads every
 * table below it. */
static int load_root(struct pw_machine *m, struct pw_image *img, uint64_t pgd,
		     uint64_t *dst, char *err, size_t errlen)
{
	const struct pw_machine_layout *lay = pw_machine_layout(m);
	struct loaded ld = { .img = img, .frames = pw_image_max_pfn(img) };
	uint64_t *src;
	int below, rc = 0;

	if (pgd % PAGE)
		return fail(err, errlen, "top table 0x%llx: not page aligned",
			    (unsigned long long)pgd);
	src = pw_image_frame(img, pgd / PAGE);
	if (!src)
		return fail(
			err, errlen,
			"top table 0x%llx: outside the image's memory (a hole or beyond its last segment at 0x%llx): wrong CR3?",
			(unsigned long long)pgd,
			(unsigned long long)(pw_image_max_pfn(img) * PAGE));
	for (int l = 0; l < PW_NR_LEVELS; l++) {
		ld.seen[l] = calloc((size_t)(ld.frames / 8 + 1), 1);
		if (!ld.seen[l])
			rc = fail(err, errlen,
				  "out of memory loading page tables");
	}
	if (rc == 0) {
		memcpy(dst, src, PAGE);
		real_levels(m, &below);
		for (int i = 0; i < PW_PTRS_PER_TABLE; i++) {
			uint64_t e = src[i];
			if ((e & PW_X86_PRESENT) && !(e & PW_X86_PSE))
				load_tables(&ld, lay->mem,
					    (e & PW_X86_PFN_MASK) >> 12, below,
					    PW_LEVEL_PTE);
		}
	}
	for (int l = 0; l < PW_NR_LEVELS; l++)
		free(ld.seen[l]);
	return rc;
}

int pw_machine_open_image(struct pw_image *img, int levels, uint64_t kernel_pgd,
			  struct pw_machine **out, char *err, size_t errlen)
{
	struct pw_machine_config cfg;
	struct pw_machine *m;
	uint64_t max = pw_image_max_pfn(img);
	int rc;

	*out = NULL;
	if (levels != 4 && levels != 5)
		return fail(err, errlen, "%d levels: x86-64 has 4 or 5",
			    levels);
	if (max + SPARE_FRAMES > (1ULL << 28))
		return fail(
			err, errlen,
			"the image's memory reaches 0x%llx: beyond the 1 TiB a machine may have",
			(unsigned long long)(max * PAGE));
	memset(&cfg, 0, sizeof cfg);
	cfg.levels = levels;
	cfg.frames = max + SPARE_FRAMES;
	cfg.table_base = max;
	/* The model's zero page must be some frame; x86's PFN 0 (real-mode
	 * vectors) is never mapped into a process. */
	cfg.zero_pfn = 0;
	rc = pw_machine_create(&cfg, &m);
	if (rc)
		return fail(err, errlen,
			    "cannot create a machine of %llu frames: error %d",
			    (unsigned long long)cfg.frames, rc);
	if (kernel_pgd != UINT64_MAX &&
	    load_root(m, img, kernel_pgd, pw_mm_pgd(pw_init_mm(m)), err,
		      errlen)) {
		pw_machine_destroy(m);
		return -1;
	}
	*out = m;
	return 0;
}

int pw_image_mm_create(struct pw_machine *m, struct pw_image *img, uint64_t pgd,
		       struct mm_struct **out, char *err, size_t errlen)
{
	struct mm_struct *mm = pw_mm_create(m);

	*out = NULL;
	if (!mm)
		return fail(err, errlen,
			    "out of memory creating an address space");
	if (load_root(m, img, pgd, pw_mm_pgd(mm), err, errlen)) {
		pw_mm_destroy(mm);
		return -1;
	}
	*out = mm;
	return 0;
}
