/*
 * fuzz_walk.c - libFuzzer target: every walk entry point and folio_walk
 * over page tables nobody vouches for.
 *
 * The input is decoded, byte by byte, into a random machine (2-5 levels,
 * small memory), random entries at every level (table pointers into the
 * table region, into data frames, beyond memory, at the top table or at
 * the table holding the entry itself; huge leaves; swap and migration
 * entries; plain garbage), raw garbage written anywhere in memory, random
 * folios and VMAs (anonymous, file, pfnmap, mixedmap, hugetlb 21/30,
 * shared), lock states and allocation budgets.  Then a few calls, each
 * with a random ops set whose callbacks return random values, set random
 * actions and rewrite the entry they are given.
 *
 * Checked: the sanitizers (address, undefined), that every entry pointer
 * a callback gets lies inside the machine's memory, that [addr, next) is
 * sane, that no page-table lock is left held after a call, that
 * folio_walk_start returns its lock held and pages inside memory.  Work is
 * bounded: after a budget of callback calls every callback returns 1 (stop
 * the walk); a walk that still does not end is a hang libFuzzer reports.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined \
 *         -fno-sanitize-recover=all -I include CWalkCore/[all .c] fuzz/fuzz_walk.c
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pagewalk.h"
#include "pagewalk_machine.h"

/* ---- input ---------------------------------------------------------------- */

struct rd {
	const uint8_t *p;
	size_t n;
};

static uint8_t g8(struct rd *r)
{
	if (!r->n)
		return 0;
	r->n--;
	return *r->p++;
}

static uint16_t g16(struct rd *r)
{
	return (uint16_t)(g8(r) | (unsigned)g8(r) << 8);
}

static uint64_t g64(struct rd *r)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v |= (uint64_t)g8(r) << (8 * i);
	return v;
}

/* ---- the world of one input ------------------------------------------------- */

#define MAX_VMAS 8

struct world {
	struct rd in;
	struct pw_machine *m;
	const struct pw_machine_layout *lay;
	const struct pw_geometry *geo;
	struct mm_struct *mm, *kmm;
	struct vm_area_struct *vmas[MAX_VMAS];
	int nr_vmas;
	struct address_space *maps[2];
	long calls_left;      /* callback budget of the current call */
	unsigned long lo, hi; /* range of the current call, for checks */
	bool check_range;
	uint64_t events;
};

static struct world *W;

#define CHECK(cond)                                                      \
	do {                                                             \
		if (!(cond)) {                                           \
			fprintf(stderr,                                  \
				"fuzz_walk: check failed: %s (%s:%d)\n", \
				#cond, __FILE__, __LINE__);              \
			abort();                                         \
		}                                                        \
	} while (0)

static void check_entry_ptr(const void *p)
{
	const uint64_t *e = p;

	CHECK(e >= W->lay->mem &&
	      e < W->lay->mem + W->lay->frames * PW_PTRS_PER_TABLE);
}

/* An interesting PFN: valid, data, table, zero pages, just beyond, far beyond. */
static uint64_t gen_pfn(struct world *w)
{
	uint64_t frames = w->lay->frames, tb = w->lay->table_base;

	switch (g8(&w->in) % 12) {
	case 0: return 0;
	case 1: return w->lay->zero_pfn;
	case 2: return w->lay->huge_zero_pfn;
	case 3: return tb + g8(&w->in) % (frames - tb);
	case 4: return tb ? g16(&w->in) % tb : 0;
	case 5: return frames - 1 - g8(&w->in) % frames;
	case 6: return frames + g8(&w->in) % 4;
	case 7:
		return (frames & ~511ULL) - 512 +
		       g16(&w->in) % 1024; /* THP near the end */
	case 8: return g64(&w->in) & (PW_PFN_MASK >> PW_PAGE_SHIFT);
	case 9:
		return (uint64_t)(pw_mm_pgd(w->mm) - w->lay->mem) /
		       PW_PTRS_PER_TABLE;
	case 10:
		return (uint64_t)(pw_mm_pgd(w->kmm) - w->lay->mem) /
		       PW_PTRS_PER_TABLE;
	default: return g16(&w->in) % frames;
	}
}

/* An entry of any kind; @self is the frame holding it (for self pointers). */
static uint64_t gen_entry(struct world *w, uint64_t self)
{
	uint64_t flags;

	switch (g8(&w->in) % 11) {
	case 0: return 0;
	case 1: return PW_PAGE_TABLE | gen_pfn(w) << PW_PAGE_SHIFT;
	case 2: return PW_PAGE_TABLE | self << PW_PAGE_SHIFT;
	case 3: /* a huge leaf */
		flags = PW_PAGE_PRESENT | PW_PAGE_HUGE | PW_PAGE_USER |
			(g8(&w->in) & (PW_PAGE_RW | PW_PAGE_DIRTY |
				       PW_PAGE_ACCESSED | PW_PAGE_SPECIAL));
		return flags | ((gen_pfn(w) << PW_PAGE_SHIFT) & PW_PFN_MASK);
	case 4: /* a swap entry of any type, migration ones often */
		return pw_swp_entry(g8(&w->in) & 1 ? 25 + g8(&w->in) % 3 :
						     g8(&w->in) % 32,
				    gen_pfn(w));
	case 5: /* a present PTE-like entry */
		flags = 0x67 | (g8(&w->in) & 1 ? PW_PAGE_SPECIAL : 0) |
			(g8(&w->in) & 1 ? PW_PAGE_NX : 0) |
			(g8(&w->in) & 1 ? PW_PAGE_GLOBAL : 0);
		return flags | ((gen_pfn(w) << PW_PAGE_SHIFT) & PW_PFN_MASK);
	case 6: return g64(&w->in);
	case 7: return g64(&w->in) & ~PW_PAGE_PRESENT;
	case 8:
		return (PW_PAGE_TABLE | PW_PAGE_HUGE) |
		       gen_pfn(w) << PW_PAGE_SHIFT;
	case 9:
		return PW_PAGE_PRESENT |
		       ((gen_pfn(w) << PW_PAGE_SHIFT) & PW_PFN_MASK);
	default:
		return PW_PAGE_TABLE |
		       ((gen_pfn(w) << PW_PAGE_SHIFT) & PW_PFN_MASK);
	}
}

/* An address whose index at each real level is one of a few interesting ones. */
static unsigned long gen_addr(struct world *w, bool kernel)
{
	static const unsigned idx[] = { 0, 1, 2, 255, 256, 510, 511 };
	unsigned long a = 0;
	int l;

	for (l = PW_LEVEL_PGD; l <= PW_LEVEL_PTE; l++) {
		uint8_t b;
		unsigned i;

		if (w->geo->folded[l])
			continue;
		b = g8(&w->in);
		i = b < 224 ? idx[b % 7] : (unsigned)(b % 512);
		if (l == PW_LEVEL_PGD)
			i &= kernel ? 511 : 255;
		a |= (unsigned long)i << w->geo->shift[l];
	}
	if (kernel)
		a |= ~0UL << (w->geo->va_bits - 1);
	return a;
}

static unsigned long gen_any_addr(struct world *w)
{
	switch (g8(&w->in) % 8) {
	case 0: return g64(&w->in);
	case 1: return w->geo->task_size;
	case 2: return 0;
	case 3: return ~0UL;
	case 4: return gen_addr(w, true);
	default: return gen_addr(w, false);
	}
}

/* The slot of real level @level covering @addr under @top, following
 * present non-huge entries into any frame in memory; NULL when it cannot. */
static uint64_t *slot_for(struct world *w, uint64_t *top, int level,
			  unsigned long addr)
{
	uint64_t *p = top + ((addr >> w->geo->shift[PW_LEVEL_PGD]) & 511);
	int l;

	for (l = PW_LEVEL_PGD; l < level; l++) {
		uint64_t pfn;

		if (w->geo->folded[l + 1])
			continue;
		if ((*p & (PW_PAGE_PRESENT | PW_PAGE_HUGE)) != PW_PAGE_PRESENT)
			return NULL;
		pfn = pw_entry_pfn(*p);
		if (pfn >= w->lay->frames)
			return NULL;
		p = w->lay->mem + pfn * PW_PTRS_PER_TABLE +
		    ((addr >> w->geo->shift[l + 1]) & 511);
	}
	return p;
}

static int gen_level(struct world *w)
{
	int l;

	do
		l = g8(&w->in) % PW_NR_LEVELS;
	while (w->geo->folded[l] && w->in.n);
	return w->geo->folded[l] ? PW_LEVEL_PTE : l;
}

/* ---- callbacks -------------------------------------------------------------- */

static int gen_ret(struct world *w)
{
	uint8_t b = g8(&w->in);

	if (b < 200)
		return 0;
	switch (b % 6) {
	case 0: return 1;
	case 1: return -12;
	case 2: return -22;
	case 3: return (int)g16(&w->in);
	case 4: return -(int)(g8(&w->in) % 200);
	default: return 2;
	}
}

/* The common part of every callback: budget, checks, rewrites, action. */
static int cb_common(uint64_t *entry, unsigned long addr, unsigned long next,
		     struct mm_walk *walk, bool may_act)
{
	struct world *w = walk->private;
	uint8_t b;

	CHECK(w == W);
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr,
			"  cb addr=%#lx next=%#lx vma=%p range=[%#lx,%#lx)\n",
			addr, next, (void *)walk->vma, w->lo, w->hi);
	if (w->check_range) {
		/*
		 * A PTE callback covers the whole page of an unaligned end,
		 * and an unaligned start shifts every PTE callback by its
		 * offset in the page (the kernel steps addr by PAGE_SIZE from
		 * start), so the last one may end that far past end's page.
		 */
		unsigned long up =
			(w->hi + PW_PAGE_SIZE - 1) & ~(PW_PAGE_SIZE - 1);
		unsigned long hi = up + (w->lo & (PW_PAGE_SIZE - 1));

		CHECK(addr < next || next == 0);
		CHECK(addr >= (w->lo & ~(PW_PAGE_SIZE - 1)));
		CHECK(next <= hi || up == 0 || hi < up);
	}
	/* Inside a VMA, every callback stays inside it. */
	if (walk->vma) {
		/* page-granular: an unaligned start keeps its offset */
		CHECK((addr & ~(PW_PAGE_SIZE - 1)) >= walk->vma->vm_start &&
		      addr < walk->vma->vm_end);
		CHECK(next > addr && (next <= walk->vma->vm_end ||
				      next - (addr & (PW_PAGE_SIZE - 1)) <=
					      walk->vma->vm_end));
	}
	if (entry)
		check_entry_ptr(entry);
	if (--w->calls_left < 0)
		return 1; /* bound the work: stop the walk */
	b = g8(&w->in);
	if (entry && (b & 3) == 3) {
		uint64_t self =
			(uint64_t)(entry - w->lay->mem) / PW_PTRS_PER_TABLE;

		*entry = gen_entry(w, self);
	}
	if (may_act && (b & 0x1c)) {
		/* subtree / continue mostly; again now and then */
		uint8_t a = (b >> 2) & 7;

		walk->action = a == 7 ? ACTION_AGAIN :
			       a & 1  ? ACTION_CONTINUE :
					ACTION_SUBTREE;
	}
	return gen_ret(w);
}

/* The entry a level callback gets is the one of @a in its table: a walk
 * that ran off a table would hand out a neighbour's entry. */
static void check_index(const uint64_t *p, int level, unsigned long a)
{
	check_entry_ptr(p);
	CHECK((unsigned long)((p - W->lay->mem) & 511) ==
	      ((a >> W->geo->shift[level]) & 511));
}

static int cb_pgd(pgd_t *p, unsigned long a, unsigned long n,
		  struct mm_walk *wk)
{
	check_index(p, PW_LEVEL_PGD, a);
	return cb_common(p, a, n, wk, false);
}

static int cb_p4d(p4d_t *p, unsigned long a, unsigned long n,
		  struct mm_walk *wk)
{
	check_index(p, PW_LEVEL_P4D, a);
	return cb_common(p, a, n, wk, false);
}

static int cb_pud(pud_t *p, unsigned long a, unsigned long n,
		  struct mm_walk *wk)
{
	check_index(p, PW_LEVEL_PUD, a);
	return cb_common(p, a, n, wk, true);
}

static int cb_pmd(pmd_t *p, unsigned long a, unsigned long n,
		  struct mm_walk *wk)
{
	check_index(p, PW_LEVEL_PMD, a);
	return cb_common(p, a, n, wk, true);
}

static int cb_pte(pte_t *p, unsigned long a, unsigned long n,
		  struct mm_walk *wk)
{
	CHECK(n == a + PW_PAGE_SIZE);
	check_index(p, PW_LEVEL_PTE, a);
	return cb_common(p, a, n, wk, false);
}

static int cb_pte_range(pte_t *p, unsigned long a, unsigned long e,
			struct mm_walk *wk)
{
	struct world *w = wk->private;

	/* the PTEs of the pages from a's through (e - 1)'s */
	unsigned long n = ((e - 1) >> PW_PAGE_SHIFT) - (a >> PW_PAGE_SHIFT) + 1;

	CHECK(a < e && n <= PW_PTRS_PER_TABLE);
	/* the whole run lies in one table frame */
	check_index(p, PW_LEVEL_PTE, a);
	check_entry_ptr(p + n - 1);
	CHECK((uint64_t)(p - w->lay->mem) / PW_PTRS_PER_TABLE ==
	      (uint64_t)(p + n - 1 - w->lay->mem) / PW_PTRS_PER_TABLE);
	return cb_common(p + g8(&w->in) % n, a, e, wk, false);
}

static int cb_hole(unsigned long a, unsigned long n, int depth,
		   struct mm_walk *wk)
{
	CHECK(depth >= -1 && depth <= 3);
	return cb_common(NULL, a, n, wk, false);
}

static int cb_hugetlb(pte_t *p, unsigned long hmask, unsigned long a,
		      unsigned long n, struct mm_walk *wk)
{
	(void)hmask;
	return cb_common(p, a, n, wk, false);
}

static int cb_test(unsigned long a, unsigned long n, struct mm_walk *wk)
{
	struct world *w = wk->private;
	int r = cb_common(NULL, a, n, wk, false);

	/* mostly walk the VMA */
	if (r == 0 && (g8(&w->in) & 7) == 0)
		r = 1;
	return r;
}

static int cb_pre(unsigned long a, unsigned long n, struct mm_walk *wk)
{
	return cb_common(NULL, a, n, wk, false);
}

static void cb_post(struct mm_walk *wk)
{
	struct world *w = wk->private;

	w->calls_left--;
}

static int cb_install(unsigned long a, unsigned long n, pte_t *ptep,
		      struct mm_walk *wk)
{
	struct world *w = wk->private;
	int r;

	CHECK(n == a + PW_PAGE_SIZE);
	r = cb_common(NULL, a, n, wk, false);
	*ptep = gen_entry(w, 0);
	return r;
}

static void gen_ops(struct world *w, struct mm_walk_ops *ops, bool install)
{
	uint16_t b = g16(&w->in);

	memset(ops, 0, sizeof(*ops));
	if (b & 1)
		ops->pgd_entry = cb_pgd;
	if (b & 2)
		ops->p4d_entry = cb_p4d;
	if (b & 4)
		ops->pud_entry = cb_pud;
	if (b & 8)
		ops->pmd_entry = cb_pmd;
	if (b & 16)
		ops->pte_entry = cb_pte;
	if (b & 32)
		ops->pte_hole = cb_hole;
	if (b & 64)
		ops->hugetlb_entry = cb_hugetlb;
	if (b & 128)
		ops->test_walk = cb_test;
	if (b & 256)
		ops->pre_vma = cb_pre;
	if (b & 512)
		ops->post_vma = cb_post;
	if ((b & 0x3000) == 0x3000)
		ops->pte_range = cb_pte_range;
	if (install || (b & 0xc000) == 0xc000)
		ops->install_pte = cb_install;
	ops->walk_lock = (enum page_walk_lock)((b >> 10) & 3);
}

/* ---- events ----------------------------------------------------------------- */

static void on_event(void *ctx, const struct pw_event *ev)
{
	struct world *w = ctx;

	CHECK(w == W);
	CHECK(ev->kind >= PW_EVENT_ASSERT_FAIL &&
	      ev->kind <= PW_EVENT_VMA_START_WRITE);
	if (ev->kind == PW_EVENT_ASSERT_FAIL)
		CHECK(ev->assertion <= PW_ASSERT_I_MMAP_HELD);
	if (ev->kind == PW_EVENT_BAD)
		CHECK(ev->level <= PW_LEVEL_PTE);
	w->events++;
}

/* ---- set-up ------------------------------------------------------------------- */

static bool build(struct world *w)
{
	struct pw_machine_config cfg;
	uint8_t b = g8(&w->in);
	int i, n;

	cfg.levels = 2 + b % 4;
	cfg.frames = 64 + g16(&w->in) % 1536;
	cfg.table_base = 1 + g16(&w->in) % (cfg.frames - 1);
	if (g8(&w->in) & 1) /* mostly a roomy table region */
		cfg.table_base = cfg.frames / 4;
	cfg.zero_pfn = g8(&w->in) % 4 == 0 ? g16(&w->in) : 1;
	cfg.huge_zero_pfn =
		g8(&w->in) % 3 == 0 ? 0 : g16(&w->in) % (cfg.frames + 8);
	if (pw_machine_create(&cfg, &w->m))
		return false;
	pw_machine_set_event_hook(w->m, on_event, w);
	w->lay = pw_machine_layout(w->m);
	w->geo = pw_machine_geometry(w->m);
	w->kmm = pw_init_mm(w->m);
	w->mm = pw_mm_create(w->m);
	if (!w->mm)
		return false;
	w->maps[0] = pw_mapping_get(w->m, 1);
	w->maps[1] = pw_mapping_get(w->m, 2);

	/* folios, some near the end of memory */
	n = g8(&w->in) % 5;
	for (i = 0; i < n; i++) {
		unsigned order = g8(&w->in) % 19;
		uint64_t head =
			g8(&w->in) & 1 ?
				gen_pfn(w) :
				(w->lay->frames - (1ULL << (order % 11))) &
					~((1ULL << (order % 11)) - 1);

		pw_folio_declare(w->m, head, order);
	}

	/* VMAs */
	n = g8(&w->in) % (MAX_VMAS + 1);
	for (i = 0; i < n; i++) {
		unsigned long start = gen_addr(w, false), end, flags = 0;
		unsigned shift = 0;
		uint8_t k = g8(&w->in), len = g8(&w->in);
		struct address_space *as = NULL;
		struct vm_area_struct *vma;
		int err;

		start &= ~(PW_PAGE_SIZE - 1);
		end = start +
		      ((unsigned long)(len % 64 + 1) << (len & 0x40 ? 21 : 12));
		if (k & 1)
			flags |= VM_READ;
		if (k & 2)
			flags |= VM_WRITE;
		if (k & 4)
			flags |= VM_SHARED;
		switch ((k >> 3) % 6) {
		case 1: flags |= VM_PFNMAP; break;
		case 2: flags |= VM_MIXEDMAP; break;
		case 3: as = w->maps[k >> 7]; break;
		case 4: shift = 21; break;
		case 5: shift = 30; break;
		}
		if (shift) {
			unsigned long mask = (1UL << shift) - 1;

			start &= ~mask;
			end = (end + mask) & ~mask;
			if (k & 0x40)
				as = w->maps[k >> 7];
		}
		vma = pw_vma_add(w->mm, start, end, flags, as,
				 g8(&w->in) & 1 ? g64(&w->in) : g16(&w->in),
				 shift, &err);
		if (vma) {
			w->vmas[w->nr_vmas++] = vma;
			pw_vma_set_lock_state(
				vma, (enum pw_lock_state)(g8(&w->in) % 3));
		}
	}

	/* entries through the API: a sane skeleton */
	n = g8(&w->in) % 24;
	for (i = 0; i < n; i++) {
		bool kernel = (g8(&w->in) & 3) == 0;
		int level = gen_level(w);
		unsigned long addr = gen_addr(w, kernel);

		pw_mm_set_entry(kernel ? w->kmm : w->mm, (enum pw_level)level,
				addr, gen_entry(w, 0));
	}
	/* garbage written through the tables as they now are */
	n = g8(&w->in) % 16;
	for (i = 0; i < n; i++) {
		bool kernel = (g8(&w->in) & 3) == 0;
		int level = gen_level(w);
		unsigned long addr = gen_addr(w, kernel);
		uint64_t *p = slot_for(w, pw_mm_pgd(kernel ? w->kmm : w->mm),
				       level, addr);

		if (p)
			*p = gen_entry(w, (uint64_t)(p - w->lay->mem) /
						  PW_PTRS_PER_TABLE);
	}
	/* raw garbage anywhere in memory */
	n = g8(&w->in) % 8;
	for (i = 0; i < n; i++) {
		uint64_t pfn = g16(&w->in) % w->lay->frames;

		w->lay->mem[pfn * PW_PTRS_PER_TABLE + g16(&w->in) % 512] =
			gen_entry(w, pfn);
	}
	return true;
}

static void set_locks(struct world *w)
{
	uint8_t b = g8(&w->in);
	int i;

	pw_mm_set_lock_state(w->mm, (enum pw_lock_state)(b % 3));
	pw_mm_set_lock_state(w->kmm, (enum pw_lock_state)((b >> 2) % 3));
	pw_mapping_set_i_mmap_held(w->maps[0], b & 0x10);
	pw_mapping_set_i_mmap_held(w->maps[1], b & 0x20);
	if (b & 0x40)
		for (i = 0; i < w->nr_vmas; i++)
			pw_vma_set_lock_state(
				w->vmas[i],
				(enum pw_lock_state)(g8(&w->in) % 3));
	if (b & 0x80) {
		int8_t budget = (int8_t)g8(&w->in);

		pw_machine_set_alloc_budget(w->m, budget < 0 ? -1 : budget % 8);
	}
}

static struct vm_area_struct *gen_vma(struct world *w)
{
	if (!w->nr_vmas)
		return NULL;
	return w->vmas[g8(&w->in) % w->nr_vmas];
}

static pgd_t *gen_pgd(struct world *w)
{
	switch (g8(&w->in) % 4) {
	case 0: return pw_mm_pgd(w->mm);
	case 1:
		return w->lay->mem +
		       (g16(&w->in) % w->lay->frames) * PW_PTRS_PER_TABLE;
	default: return NULL;
	}
}

static void range(struct world *w, unsigned long *s, unsigned long *e)
{
	*s = gen_any_addr(w);
	switch (g8(&w->in) % 6) {
	case 0: *e = gen_any_addr(w); break;
	case 1: *e = *s + ((unsigned long)(g8(&w->in) + 1) << 12); break;
	case 2: *e = *s + ((unsigned long)(g8(&w->in) + 1) << 21); break;
	case 3: *e = *s + ((unsigned long)(g8(&w->in) + 1) << 30); break;
	case 4: *e = ~0UL; break;
	default: *e = *s + ((unsigned long)(g16(&w->in) + 1) << 12); break;
	}
}

static void one_call(struct world *w)
{
	struct mm_walk_ops ops;
	struct vm_area_struct *vma;
	struct folio_walk fw;
	struct folio *folio;
	unsigned long s, e;
	uint8_t which = g8(&w->in) % 11;
	int ret = 0;

	set_locks(w);
	gen_ops(w, &ops, which == 1 && (g8(&w->in) & 1));
	w->calls_left = 64 + g16(&w->in) % 4096;
	w->check_range = false;
	switch (which) {
	case 0:
	case 1:
		range(w, &s, &e);
		w->lo = s;
		w->hi = e;
		w->check_range = true;
		ret = (which ? walk_page_range_mm :
			       walk_page_range)(w->mm, s, e, &ops, w);
		break;
	case 2:
		if (!(vma = gen_vma(w)))
			break;
		s = vma->vm_start + ((unsigned long)g16(&w->in) << 12);
		e = g8(&w->in) & 1 ? vma->vm_end :
				     s + ((unsigned long)g16(&w->in) << 12);
		w->lo = s;
		w->hi = e;
		w->check_range = true;
		ret = walk_page_range_vma(vma, s, e, &ops, w);
		break;
	case 3:
		if (!(vma = gen_vma(w)))
			break;
		w->lo = vma->vm_start;
		w->hi = vma->vm_end;
		w->check_range = true;
		ret = walk_page_vma(vma, &ops, w);
		break;
	case 4: {
		unsigned long first =
			g8(&w->in) & 1 ? g64(&w->in) : g16(&w->in);
		unsigned long nr = g8(&w->in) & 1 ? g64(&w->in) : g16(&w->in);

		ret = walk_page_mapping(w->maps[g8(&w->in) & 1], first, nr,
					&ops, w);
		break;
	}
	case 5:
	case 6:
		range(w, &s, &e);
		w->lo = s;
		w->hi = e;
		w->check_range = true;
		ret = (which == 5 ? walk_kernel_page_table_range :
				    walk_kernel_page_table_range_lockless)(
			w->m, s, e, &ops, gen_pgd(w), w);
		break;
	case 7:
		range(w, &s, &e);
		w->lo = s;
		w->hi = e;
		w->check_range = true;
		ret = walk_page_range_debug(g8(&w->in) & 1 ? w->kmm : w->mm, s,
					    e, &ops, gen_pgd(w), w);
		break;
	default:
		if (!(vma = gen_vma(w)))
			break;
		s = g8(&w->in) % 8 ?
			    vma->vm_start +
				    ((unsigned long)g16(&w->in) << 12) %
					    (vma->vm_end - vma->vm_start) :
			    gen_any_addr(w);
		s += g16(&w->in) & (PW_PAGE_SIZE - 1);
		memset(&fw, 0xa5, sizeof(fw));
		folio = folio_walk_start(&fw, vma, s, g8(&w->in) & 3);
		if (folio) {
			CHECK(pw_ptl_held_by_thread() == 1);
			CHECK(pw_spin_is_locked(fw.ptl));
			CHECK(pw_folio_pfn(w->m, folio) < w->lay->frames);
			if (fw.page)
				CHECK(pw_page_to_pfn(w->m, fw.page) <
				      w->lay->frames);
			check_entry_ptr(fw.ptep);
			folio_walk_end(&fw, vma);
		}
		break;
	}
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "call %d levels=%d -> %d\n", which,
			w->geo->levels, ret);
	CHECK(pw_ptl_held_by_thread() == 0);
}

static void dump_fn(void *ctx, enum pw_level level, unsigned long addr,
		    uint64_t value, bool is_table)
{
	(void)ctx;
	(void)level;
	(void)addr;
	(void)value;
	(void)is_table;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct world w;
	int i, n;

	memset(&w, 0, sizeof(w));
	w.in.p = data;
	w.in.n = size;
	W = &w;
	if (build(&w)) {
		n = 1 + g8(&w.in) % 8;
		for (i = 0; i < n; i++)
			one_call(&w);
		pw_mm_dump(w.mm, dump_fn, NULL);
		pw_mm_dump(w.kmm, dump_fn, NULL);
	}
	pw_machine_destroy(w.m);
	W = NULL;
	return 0;
}
