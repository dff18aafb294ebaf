/*
 * image_machine.c - PageWalk machines over memory images: the image's
 * segments are the machine's physical ranges, in place (zero-copy), with
 * x86-64 Linux's entry encoding; the page tables the MMU reaches from a
 * top table are walked where the kernel left them.
 *
 * A segment whose bytes sit at an unaligned file offset (QEMU's) is seen
 * through its aligned shadow (image.c), which fills frame by frame on first
 * lookup; the walker reads frames directly, so when an address space is
 * created every page-table frame reachable from its top table is looked up
 * once (the cost is in tables, never in memory size).  Top tables are
 * copied into frames the machine allocates (above the image's memory, with
 * the tables later walks allocate): the machine's allocator owns every
 * mm's top table.
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

/* One load: which (level, frame) pairs were already looked up. */
struct loaded {
	struct pw_image *img;
	uint64_t frames;
	uint8_t *seen[PW_NR_LEVELS]; /* bitmaps over PFNs */
	uint64_t nr_loaded;
	uint64_t digest; /* FNV-1a over the frames, when asked */
	bool hash;
};

static void hash_frame(struct loaded *ld, const uint64_t *f)
{
	for (int i = 0; i < PW_PTRS_PER_TABLE; i++) {
		ld->digest ^= f[i];
		ld->digest *= 0x100000001b3ULL;
	}
}

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
 * Looks up the table frame @pfn, walked as real level @level, and every
 * table below it, so that realigned frames are in place before a walk
 * reads them.  Each (level, PFN) is visited once, so cyclic and
 * self-referencing tables end.
 */
static void load_tables(struct loaded *ld, uint64_t pfn, int level,
			int last_level)
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
		return; /* a hole: the walker finds no frame there either */
	ld->nr_loaded++;
	if (ld->hash)
		hash_frame(ld, src);
	if (level == last_level)
		return;
	for (int i = 0; i < PW_PTRS_PER_TABLE; i++) {
		uint64_t e = src[i];
		if (!(e & PW_X86_PRESENT))
			continue;
		/* PSE: a leaf at PUD and PMD (ignored above, as bad). */
		if (e & PW_X86_PSE)
			continue;
		load_tables(ld, (e & PW_X86_PFN_MASK) >> 12, level + 1,
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
				load_tables(&ld, (e & PW_X86_PFN_MASK) >> 12,
					    below, PW_LEVEL_PTE);
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
	struct pw_phys_range *ranges;
	size_t n = pw_image_segment_count(img);
	uint64_t max = pw_image_max_pfn(img);
	int rc;

	*out = NULL;
	if (levels != 4 && levels != 5)
		return fail(err, errlen, "%d levels: x86-64 has 4 or 5",
			    levels);
	ranges = calloc(n + 1, sizeof(*ranges));
	if (!ranges)
		return fail(err, errlen, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const struct pw_image_segment *s = pw_image_segment_at(img, i);
		ranges[i].first_pfn = s->paddr / PAGE;
		ranges[i].nr_frames = s->size / PAGE;
		ranges[i].base = pw_image_segment_frames(img, i);
	}
	/* Machine memory above the image: top tables, and tables walks allocate. */
	ranges[n].first_pfn = max;
	ranges[n].nr_frames = SPARE_FRAMES;
	ranges[n].base = NULL;
	memset(&cfg, 0, sizeof cfg);
	cfg.levels = levels;
	cfg.table_base = max;
	/* The model's zero page must be some frame; x86's PFN 0 (real-mode
	 * vectors) is never mapped into a process. */
	cfg.zero_pfn = 0;
	rc = pw_machine_create_ranges(&cfg, ranges, n + 1, PW_ENCODING_X86_64,
				      &m);
	free(ranges);
	if (rc)
		return fail(
			err, errlen,
			"the image's %zu segments up to physical 0x%llx cannot be a machine's memory (error %d)",
			n, (unsigned long long)(max * PAGE), rc);
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

uint64_t pw_image_tables_digest(struct pw_image *img, uint64_t pgd, int levels,
				uint64_t *nr_tables)
{
	struct loaded ld = { .img = img,
			     .frames = pw_image_max_pfn(img),
			     .digest = 0xcbf29ce484222325ULL,
			     .hash = true };
	uint64_t *top = pw_image_frame(img, pgd / PAGE);
	int below = levels == 5 ? PW_LEVEL_P4D : PW_LEVEL_PUD;
	bool ok = top != NULL;

	for (int l = 0; l < PW_NR_LEVELS; l++)
		ok &= (ld.seen[l] = calloc((size_t)(ld.frames / 8 + 1), 1)) !=
		      NULL;
	if (ok) {
		hash_frame(&ld, top);
		for (int i = 0; i < PW_PTRS_PER_TABLE; i++) {
			uint64_t e = top[i];
			if ((e & PW_X86_PRESENT) && !(e & PW_X86_PSE))
				load_tables(&ld, (e & PW_X86_PFN_MASK) >> 12,
					    below, PW_LEVEL_PTE);
		}
	}
	for (int l = 0; l < PW_NR_LEVELS; l++)
		free(ld.seen[l]);
	if (nr_tables)
		*nr_tables = ok ? ld.nr_loaded + 1 : 0;
	return ok ? ld.digest : 0;
}
