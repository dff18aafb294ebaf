/*
 * scenario.c - replays a conformance scenario (.scn) on a walk engine and
 * renders the trace, as FORMAT.md specifies.  The callbacks a scenario
 * sets are the ones below; their behaviour comes from its `rule` lines.
 */
#define _POSIX_C_SOURCE 200809L /* strtok_r under -std=c11 */
#include "pagewalk_scenario.h"
#include "pagewalk_machine.h"

#include <errno.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct pw_walk_engine pw_c_engine = {
	.name = "c",
	.walk_page_range = walk_page_range,
	.walk_page_range_mm = walk_page_range_mm,
	.walk_page_range_vma = walk_page_range_vma,
	.walk_page_vma = walk_page_vma,
	.walk_page_mapping = walk_page_mapping,
	.walk_kernel_page_table_range = walk_kernel_page_table_range,
	.walk_page_range_debug = walk_page_range_debug,
	.folio_walk_start = folio_walk_start,
	.folio_walk_end = folio_walk_end,
};

/* ---- output buffer -------------------------------------------------------- */

struct sbuf {
	char *p;
	size_t len, cap;
	size_t limit; /* the trace may not reach this many bytes */
	bool oom;     /* out of memory, or over the limit: stop */
	bool too_big; /* over the limit */
};

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if (b->len + (size_t)n >= b->limit) {
			b->oom = b->too_big = true;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap * 2 : 4096;
		while (cap - b->len <= (size_t)n)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

/* ---- callbacks and rules ----------------------------------------------------- */

enum cb {
	CB_PGD,
	CB_P4D,
	CB_PUD,
	CB_PMD,
	CB_PTE,
	CB_HOLE,
	CB_HUGETLB,
	CB_TEST,
	CB_PRE,
	CB_POST,
	CB_INSTALL,
	NR_CB
};

static const char *const cb_names[NR_CB] = {
	"pgd_entry", "p4d_entry", "pud_entry",     "pmd_entry",
	"pte_entry", "pte_hole",  "hugetlb_entry", "test_walk",
	"pre_vma",   "post_vma",  "install_pte",
};

#define VMA_ANY (-2L)
#define VMA_NONE (-1L)

struct rule {
	enum cb cb;
	bool has_addr;
	uint64_t addr;
	long vma;   /* VMA_ANY, VMA_NONE or a number */
	long times; /* -1: unlimited */
	long ret;
	int action; /* -1: leave walk->action alone */
	bool has_set;
	uint64_t set;
};

struct runner {
	const char *name;
	int line;
	const struct pw_walk_engine *eng;
	int levels;
	struct pw_machine *m;
	struct mm_struct *mm;
	struct mm_walk_ops ops;
	struct rule *rules;
	size_t nr_rules, cap_rules;
	uint64_t install;
	struct sbuf out;
	char *err;
	size_t errlen;
	int status;
};

static struct runner *R(struct mm_walk *walk)
{
	return walk->private;
}

static void put_vma(struct runner *r, const struct vm_area_struct *vma)
{
	if (vma)
		sb_printf(&r->out, " vma=%u", vma->id);
	else
		sb_printf(&r->out, " vma=-");
}

static void put_entry(struct runner *r, uint64_t v)
{
	if (pw_entry_is_table(r->m, v))
		sb_printf(&r->out, " T\n");
	else
		sb_printf(&r->out, " 0x%" PRIx64 "\n", v);
}

/* The first rule for @cb that matches, with its count taken. */
static struct rule *match(struct runner *r, enum cb cb, bool has_addr,
			  uint64_t addr, const struct vm_area_struct *vma)
{
	size_t i;

	for (i = 0; i < r->nr_rules; i++) {
		struct rule *rl = &r->rules[i];

		if (rl->cb != cb || rl->times == 0)
			continue;
		if (rl->has_addr && (!has_addr || rl->addr != addr))
			continue;
		if (rl->vma == VMA_NONE && vma)
			continue;
		if (rl->vma >= 0 && (!vma || vma->id != (unsigned long)rl->vma))
			continue;
		if (rl->times > 0)
			rl->times--;
		return rl;
	}
	return NULL;
}

/*
 * Once the trace cannot grow (out of memory, or over its limit) the replay
 * has failed: every callback returns 1 so that the walk ends now, instead
 * of running on -- forever, under a rule with action=again.
 */
static int apply(struct rule *rl, struct mm_walk *walk, uint64_t *entry)
{
	if (R(walk)->out.oom)
		return 1;
	if (!rl)
		return 0;
	if (rl->action >= 0)
		walk->action = (enum page_walk_action)rl->action;
	if (rl->has_set && entry)
		*entry = rl->set;
	return (int)rl->ret;
}

static int level_entry(enum cb cb, uint64_t *p, unsigned long addr,
		       unsigned long next, struct mm_walk *walk)
{
	struct runner *r = R(walk);

	sb_printf(&r->out, "%s 0x%lx 0x%lx", cb_names[cb], addr, next);
	put_vma(r, walk->vma);
	if (cb == CB_PTE)
		sb_printf(&r->out, " 0x%" PRIx64 "\n", *p);
	else
		put_entry(r, *p);
	return apply(match(r, cb, true, addr, walk->vma), walk, p);
}

static int cb_pgd(pgd_t *p, unsigned long a, unsigned long n, struct mm_walk *w)
{
	return level_entry(CB_PGD, p, a, n, w);
}

static int cb_p4d(p4d_t *p, unsigned long a, unsigned long n, struct mm_walk *w)
{
	return level_entry(CB_P4D, p, a, n, w);
}

static int cb_pud(pud_t *p, unsigned long a, unsigned long n, struct mm_walk *w)
{
	return level_entry(CB_PUD, p, a, n, w);
}

static int cb_pmd(pmd_t *p, unsigned long a, unsigned long n, struct mm_walk *w)
{
	return level_entry(CB_PMD, p, a, n, w);
}

static int cb_pte(pte_t *p, unsigned long a, unsigned long n, struct mm_walk *w)
{
	return level_entry(CB_PTE, p, a, n, w);
}

static int cb_hole(unsigned long a, unsigned long n, int depth,
		   struct mm_walk *w)
{
	struct runner *r = R(w);

	sb_printf(&r->out, "pte_hole 0x%lx 0x%lx %d", a, n, depth);
	put_vma(r, w->vma);
	sb_printf(&r->out, "\n");
	return apply(match(r, CB_HOLE, true, a, w->vma), w, NULL);
}

static int cb_hugetlb(pte_t *p, unsigned long hmask, unsigned long a,
		      unsigned long n, struct mm_walk *w)
{
	struct runner *r = R(w);

	sb_printf(&r->out, "hugetlb_entry 0x%lx 0x%lx 0x%lx", a, n, hmask);
	put_vma(r, w->vma);
	put_entry(r, *p);
	return apply(match(r, CB_HUGETLB, true, a, w->vma), w, p);
}

static int range_cb(enum cb cb, unsigned long a, unsigned long n,
		    struct mm_walk *w)
{
	struct runner *r = R(w);

	sb_printf(&r->out, "%s 0x%lx 0x%lx", cb_names[cb], a, n);
	put_vma(r, w->vma);
	sb_printf(&r->out, "\n");
	return apply(match(r, cb, true, a, w->vma), w, NULL);
}

static int cb_test(unsigned long a, unsigned long n, struct mm_walk *w)
{
	return range_cb(CB_TEST, a, n, w);
}

static int cb_pre(unsigned long a, unsigned long n, struct mm_walk *w)
{
	return range_cb(CB_PRE, a, n, w);
}

static void cb_post(struct mm_walk *w)
{
	struct runner *r = R(w);

	sb_printf(&r->out, "post_vma");
	put_vma(r, w->vma);
	sb_printf(&r->out, "\n");
	apply(match(r, CB_POST, false, 0, w->vma), w, NULL);
}

static int cb_install(unsigned long a, unsigned long n, pte_t *ptep,
		      struct mm_walk *w)
{
	struct runner *r = R(w);
	struct rule *rl;

	sb_printf(&r->out, "install_pte 0x%lx 0x%lx", a, n);
	put_vma(r, w->vma);
	sb_printf(&r->out, "\n");
	rl = match(r, CB_INSTALL, true, a, w->vma);
	*ptep = r->install;
	return apply(rl, w, ptep);
}

static void set_op(struct mm_walk_ops *ops, enum cb cb)
{
	switch (cb) {
	case CB_PGD: ops->pgd_entry = cb_pgd; break;
	case CB_P4D: ops->p4d_entry = cb_p4d; break;
	case CB_PUD: ops->pud_entry = cb_pud; break;
	case CB_PMD: ops->pmd_entry = cb_pmd; break;
	case CB_PTE: ops->pte_entry = cb_pte; break;
	case CB_HOLE: ops->pte_hole = cb_hole; break;
	case CB_HUGETLB: ops->hugetlb_entry = cb_hugetlb; break;
	case CB_TEST: ops->test_walk = cb_test; break;
	case CB_PRE: ops->pre_vma = cb_pre; break;
	case CB_POST: ops->post_vma = cb_post; break;
	case CB_INSTALL: ops->install_pte = cb_install; break;
	case NR_CB: break;
	}
}

/* ---- machine events ------------------------------------------------------------ */

static const char *const level_names[PW_NR_LEVELS] = { "pgd", "p4d", "pud",
						       "pmd", "pte" };

static const char *const assert_trace[] = {
	[PW_ASSERT_MMAP_LOCKED] = "mmap_locked",
	[PW_ASSERT_MMAP_WRITE_LOCKED] = "mmap_write_locked",
	[PW_ASSERT_VMA_LOCKED] = "vma_locked",
	[PW_ASSERT_VMA_WRITE_LOCKED] = "vma_write_locked",
	[PW_ASSERT_I_MMAP_HELD] = "i_mmap_held",
};

static void on_event(void *ctx, const struct pw_event *ev)
{
	struct runner *r = ctx;

	switch (ev->kind) {
	case PW_EVENT_ASSERT_FAIL:
		sb_printf(&r->out, "assert-fail %s\n",
			  assert_trace[ev->assertion]);
		break;
	case PW_EVENT_WARN: sb_printf(&r->out, "warn\n"); break;
	case PW_EVENT_BAD:
		sb_printf(&r->out, "bad %s 0x%" PRIx64 "\n",
			  level_names[ev->level], ev->value);
		break;
	case PW_EVENT_SPLIT_PMD:
	case PW_EVENT_SPLIT_PUD:
		sb_printf(&r->out, "%s 0x%lx vma=%u\n",
			  ev->kind == PW_EVENT_SPLIT_PMD ? "split_huge_pmd" :
							   "split_huge_pud",
			  ev->addr, ev->vma->id);
		break;
	case PW_EVENT_VMA_START_WRITE:
		sb_printf(&r->out, "vma_start_write vma=%u\n", ev->vma->id);
		break;
	case PW_EVENT_MM_DESTROYED:
		/* A scenario cannot destroy an address space. */
		break;
	}
}

/* ---- parsing helpers -------------------------------------------------------------- */

static int fail(struct runner *r, int status, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(r->err, r->errlen, "%s:%d: ", r->name, r->line);

	if (n >= 0 && (size_t)n < r->errlen) {
		va_start(ap, fmt);
		vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	r->status = status;
	return -1;
}

static bool parse_u64(const char *s, uint64_t *out)
{
	/* At most 32 digits: a longer number is a typo, not an address. */
	if (strlen(s) > 34)
		return false;
	uint64_t v = 0;
	unsigned base = 10, d;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			return false;
		/* Wider values saturate at 2^64 - 1, as the reference's
		 * strtoul does (an END of start + size past the top). */
		if (v > (UINT64_MAX - d) / base)
			v = UINT64_MAX;
		else
			v = v * base + d;
	}
	*out = v;
	return true;
}

static bool parse_long(const char *s, long lo, long hi, long *out)
{
	uint64_t v;
	bool neg = *s == '-';

	if (!parse_u64(neg ? s + 1 : s, &v) || v > (uint64_t)INT64_MAX)
		return false;
	if ((neg ? -(long)v : (long)v) < lo || (neg ? -(long)v : (long)v) > hi)
		return false;
	*out = neg ? -(long)v : (long)v;
	return true;
}

static int num(struct runner *r, const char *tok, const char *what,
	       uint64_t *out)
{
	if (!parse_u64(tok, out))
		return fail(r, PW_SCENARIO_BAD_INPUT,
			    "%s: '%s' is not a number (decimal or 0x hex)",
			    what, tok);
	return 0;
}

static int small(struct runner *r, const char *tok, const char *what, long lo,
		 long hi, long *out)
{
	if (!parse_long(tok, lo, hi, out))
		return fail(r, PW_SCENARIO_BAD_INPUT,
			    "%s: '%s' is not a number from %ld to %ld", what,
			    tok, lo, hi);
	return 0;
}

static int nargs(struct runner *r, int ntok, int lo, int hi, const char *usage)
{
	if (ntok < lo || ntok > hi)
		return fail(r, PW_SCENARIO_BAD_INPUT, "expected: %s", usage);
	return 0;
}

static int need_machine(struct runner *r, const char *what)
{
	if (!r->m)
		return fail(r, PW_SCENARIO_BAD_INPUT,
			    "'%s' before 'memory': there is no machine yet",
			    what);
	return 0;
}

static int find_cb(const char *s)
{
	int i;

	for (i = 0; i < NR_CB; i++)
		if (!strcmp(s, cb_names[i]))
			return i;
	return -1;
}

static int lock_state(struct runner *r, const char *s, enum pw_lock_state *st)
{
	if (!strcmp(s, "none"))
		*st = PW_LOCK_NONE;
	else if (!strcmp(s, "read"))
		*st = PW_LOCK_READ;
	else if (!strcmp(s, "write"))
		*st = PW_LOCK_WRITE;
	else
		return fail(r, PW_SCENARIO_BAD_INPUT,
			    "lock state '%s': expected none, read or write", s);
	return 0;
}

static struct vm_area_struct *vma_arg(struct runner *r, const char *tok)
{
	long id;
	struct vm_area_struct *vma;

	if (small(r, tok, "vma number", 1, 1L << 30, &id))
		return NULL;
	vma = pw_mm_vma_by_id(r->mm, (unsigned)id);
	if (!vma)
		fail(r, PW_SCENARIO_BAD_INPUT, "there is no vma %ld", id);
	return vma;
}

/* ---- directives ---------------------------------------------------------------------- */

static int do_memory(struct runner *r, char **t, int n)
{
	uint64_t v[4];
	int i, e;
	struct pw_machine_config cfg;

	if (nargs(r, n, 5, 5, "memory FRAMES TABLES ZERO HUGEZERO"))
		return -1;
	if (r->m)
		return fail(r, PW_SCENARIO_BAD_INPUT, "a second 'memory' line");
	for (i = 0; i < 4; i++)
		if (num(r, t[i + 1], "memory", &v[i]))
			return -1;
	cfg = (struct pw_machine_config){ .levels = r->levels,
					  .frames = v[0],
					  .table_base = v[1],
					  .zero_pfn = v[2],
					  .huge_zero_pfn = v[3] };
	if (v[1] >= v[0] || v[0] > (1ULL << 28))
		return fail(r, PW_SCENARIO_BAD_INPUT,
			    "memory: need TABLES < FRAMES <= 268435456");
	e = pw_machine_create(&cfg, &r->m);
	if (e)
		return fail(r, PW_SCENARIO_INTERNAL,
			    "memory: cannot create the machine (%s)",
			    e == -ENOMEM ? "out of memory" : "bad parameters");
	pw_machine_set_event_hook(r->m, on_event, r);
	r->mm = pw_mm_create(r->m);
	if (!r->mm)
		return fail(r, PW_SCENARIO_BAD_INPUT,
			    "memory: no table frame left for the user mm");
	return 0;
}

static int do_vma(struct runner *r, char **t, int n)
{
	uint64_t start, end, pgoff = 0, id;
	unsigned long flags = 0;
	unsigned shift = 0;
	struct address_space *mapping = NULL;
	char *f, *save = NULL;
	int i, e;

	if (nargs(r, n, 4, 7,
		  "vma START END FLAGS [file=ID] [pgoff=N] [hugetlb=SHIFT]") ||
	    need_machine(r, "vma") || num(r, t[1], "vma start", &start) ||
	    num(r, t[2], "vma end", &end))
		return -1;
	for (f = strtok_r(t[3], ",", &save); f;
	     f = strtok_r(NULL, ",", &save)) {
		if (!strcmp(f, "read"))
			flags |= VM_READ;
		else if (!strcmp(f, "write"))
			flags |= VM_WRITE;
		else if (!strcmp(f, "exec"))
			flags |= VM_EXEC;
		else if (!strcmp(f, "shared"))
			flags |= VM_SHARED;
		else if (!strcmp(f, "pfnmap"))
			flags |= VM_PFNMAP;
		else if (!strcmp(f, "mixedmap"))
			flags |= VM_MIXEDMAP;
		else if (strcmp(f, "anon"))
			return fail(
				r, PW_SCENARIO_BAD_INPUT,
				"vma flag '%s': expected read, write, exec, shared, pfnmap, mixedmap or anon",
				f);
	}
	for (i = 4; i < n; i++) {
		if (!strncmp(t[i], "file=", 5)) {
			if (num(r, t[i] + 5, "file", &id))
				return -1;
			if (id > UINT32_MAX)
				return fail(r, PW_SCENARIO_BAD_INPUT,
					    "file id too large");
			mapping = pw_mapping_get(r->m, (unsigned)id);
			if (!mapping)
				return fail(r, PW_SCENARIO_INTERNAL,
					    "out of memory");
		} else if (!strncmp(t[i], "pgoff=", 6)) {
			if (num(r, t[i] + 6, "pgoff", &pgoff))
				return -1;
		} else if (!strncmp(t[i], "hugetlb=", 8)) {
			uint64_t s;

			if (num(r, t[i] + 8, "hugetlb", &s))
				return -1;
			if (s != 21 && s != 30)
				return fail(
					r, PW_SCENARIO_BAD_INPUT,
					"hugetlb=%s: the shift must be 21 or 30",
					t[i] + 8);
			shift = (unsigned)s;
		} else {
			return fail(
				r, PW_SCENARIO_BAD_INPUT,
				"vma option '%s': expected file=, pgoff= or hugetlb=",
				t[i]);
		}
	}
	if (!pw_vma_add(r->mm, start, end, flags, mapping, pgoff, shift, &e))
		return fail(
			r, PW_SCENARIO_BAD_INPUT,
			"vma 0x%" PRIx64 "-0x%" PRIx64 ": %s", start, end,
			e == -EEXIST ?
				"overlaps an earlier vma" :
			e == -EOVERFLOW ?
				"pgoff + pages wraps past 2^64" :
			e == -ENOMEM ?
				"out of memory" :
				"must be page aligned (hugetlb: aligned to its page), non-empty, below TASK_SIZE");
	return 0;
}

static int do_entry(struct runner *r, char **t, int n)
{
	struct mm_struct *mm;
	uint64_t addr, value;
	int l, e;

	if (nargs(r, n, 5, 5, "entry user|kernel LEVEL ADDR VALUE") ||
	    need_machine(r, "entry"))
		return -1;
	if (!strcmp(t[1], "user"))
		mm = r->mm;
	else if (!strcmp(t[1], "kernel"))
		mm = pw_init_mm(r->m);
	else
		return fail(r, PW_SCENARIO_BAD_INPUT,
			    "entry: '%s' is not user or kernel", t[1]);
	for (l = 0; l < PW_NR_LEVELS; l++)
		if (!strcmp(t[2], level_names[l]))
			break;
	if (l == PW_NR_LEVELS || pw_machine_geometry(r->m)->folded[l])
		return fail(r, PW_SCENARIO_BAD_INPUT,
			    "entry: '%s' is not a real level with %d levels",
			    t[2], r->levels);
	if (num(r, t[3], "entry address", &addr) ||
	    num(r, t[4], "entry value", &value))
		return -1;
	e = pw_mm_set_entry(mm, (enum pw_level)l, addr, value);
	if (e == -ENOMEM)
		return fail(r, PW_SCENARIO_BAD_INPUT,
			    "entry: the table region is full");
	if (e)
		return fail(r, PW_SCENARIO_BAD_INPUT,
			    "entry: an entry above %s 0x%" PRIx64
			    " is not a table",
			    t[2], addr);
	return 0;
}

static int do_ops(struct runner *r, char **t, int n)
{
	int i, c;

	memset(&r->ops, 0, sizeof(r->ops));
	for (i = 1; i < n; i++) {
		c = find_cb(t[i]);
		if (c < 0)
			return fail(r, PW_SCENARIO_BAD_INPUT,
				    "ops: unknown callback '%s'", t[i]);
		set_op(&r->ops, (enum cb)c);
	}
	return 0;
}

static int do_walklock(struct runner *r, char **t, int n)
{
	static const char *const names[] = { "rdlock", "wrlock",
					     "wrlock_verify",
					     "vma_rdlock_verify" };
	int i;

	if (nargs(r, n, 2, 2,
		  "walklock rdlock|wrlock|wrlock_verify|vma_rdlock_verify"))
		return -1;
	for (i = 0; i < 4; i++)
		if (!strcmp(t[1], names[i])) {
			r->ops.walk_lock = (enum page_walk_lock)i;
			return 0;
		}
	return fail(
		r, PW_SCENARIO_BAD_INPUT,
		"walklock '%s': expected rdlock, wrlock, wrlock_verify or vma_rdlock_verify",
		t[1]);
}

static int do_rule(struct runner *r, char **t, int n)
{
	struct rule rl = { .vma = VMA_ANY, .times = -1, .action = -1 };
	int i, c;

	if (n < 2)
		return fail(
			r, PW_SCENARIO_BAD_INPUT,
			"expected: rule CALLBACK [addr=A] [vma=N|-] [times=N] [ret=N] [action=subtree|continue|again] [set=VALUE]");
	c = find_cb(t[1]);
	if (c < 0)
		return fail(r, PW_SCENARIO_BAD_INPUT,
			    "rule: unknown callback '%s'", t[1]);
	rl.cb = (enum cb)c;
	for (i = 2; i < n; i++) {
		char *eq = strchr(t[i], '=');
		const char *k = t[i], *v;

		if (!eq)
			return fail(r, PW_SCENARIO_BAD_INPUT,
				    "rule option '%s': expected KEY=VALUE",
				    t[i]);
		*eq = 0;
		v = eq + 1;
		if (!strcmp(k, "addr")) {
			rl.has_addr = true;
			if (num(r, v, "addr", &rl.addr))
				return -1;
		} else if (!strcmp(k, "vma")) {
			if (!strcmp(v, "-"))
				rl.vma = VMA_NONE;
			else if (small(r, v, "vma", 1, 1L << 30, &rl.vma))
				return -1;
		} else if (!strcmp(k, "times")) {
			if (small(r, v, "times", 0, 1L << 40, &rl.times))
				return -1;
		} else if (!strcmp(k, "ret")) {
			if (small(r, v, "ret", INT32_MIN, INT32_MAX, &rl.ret))
				return -1;
		} else if (!strcmp(k, "action")) {
			if (!strcmp(v, "subtree"))
				rl.action = ACTION_SUBTREE;
			else if (!strcmp(v, "continue"))
				rl.action = ACTION_CONTINUE;
			else if (!strcmp(v, "again"))
				rl.action = ACTION_AGAIN;
			else
				return fail(
					r, PW_SCENARIO_BAD_INPUT,
					"action '%s': expected subtree, continue or again",
					v);
		} else if (!strcmp(k, "set")) {
			rl.has_set = true;
			if (num(r, v, "set", &rl.set))
				return -1;
		} else {
			return fail(
				r, PW_SCENARIO_BAD_INPUT,
				"rule option '%s': expected addr, vma, times, ret, action or set",
				k);
		}
	}
	if (r->nr_rules == r->cap_rules) {
		size_t cap = r->cap_rules ? 2 * r->cap_rules : 16;
		struct rule *p = realloc(r->rules, cap * sizeof(*p));

		if (!p)
			return fail(r, PW_SCENARIO_INTERNAL, "out of memory");
		r->rules = p;
		r->cap_rules = cap;
	}
	r->rules[r->nr_rules++] = rl;
	return 0;
}

static int do_lock(struct runner *r, char **t, int n)
{
	enum pw_lock_state st;

	if (need_machine(r, "lock"))
		return -1;
	if (n == 3 && (!strcmp(t[1], "mmap") || !strcmp(t[1], "kernel"))) {
		if (lock_state(r, t[2], &st))
			return -1;
		pw_mm_set_lock_state(
			!strcmp(t[1], "mmap") ? r->mm : pw_init_mm(r->m), st);
		return 0;
	}
	if (n == 4 && !strcmp(t[1], "vma")) {
		struct vm_area_struct *vma = vma_arg(r, t[2]);

		if (!vma || lock_state(r, t[3], &st))
			return -1;
		pw_vma_set_lock_state(vma, st);
		return 0;
	}
	if (n == 4 && !strcmp(t[1], "i_mmap")) {
		uint64_t id;
		struct address_space *as;

		if (num(r, t[2], "i_mmap id", &id))
			return -1;
		if (strcmp(t[3], "held") && strcmp(t[3], "none"))
			return fail(r, PW_SCENARIO_BAD_INPUT,
				    "lock i_mmap: '%s' is not held or none",
				    t[3]);
		if (id > UINT32_MAX ||
		    !(as = pw_mapping_get(r->m, (unsigned)id)))
			return fail(r, PW_SCENARIO_BAD_INPUT,
				    "lock i_mmap: bad id %s", t[2]);
		pw_mapping_set_i_mmap_held(as, !strcmp(t[3], "held"));
		return 0;
	}
	return fail(
		r, PW_SCENARIO_BAD_INPUT,
		"expected: lock mmap|kernel none|read|write, lock vma N none|read|write, or lock i_mmap ID held|none");
}

static void dump_one(void *ctx, enum pw_level level, unsigned long addr,
		     uint64_t value, bool is_table)
{
	struct runner *r = ctx;

	if (is_table)
		sb_printf(&r->out, "%s 0x%lx T\n", level_names[level], addr);
	else
		sb_printf(&r->out, "%s 0x%lx 0x%" PRIx64 "\n",
			  level_names[level], addr, value);
}

static int do_dump(struct runner *r, int n)
{
	if (nargs(r, n, 1, 1, "dump") || need_machine(r, "dump"))
		return -1;
	sb_printf(&r->out, "dump user\n");
	pw_mm_dump(r->mm, dump_one, r);
	sb_printf(&r->out, "dump kernel\n");
	pw_mm_dump(pw_init_mm(r->m), dump_one, r);
	return 0;
}

static int do_folio_walk(struct runner *r, char **t, int n)
{
	static const char *const lvl[] = { "pte", "pmd", "pud" };
	struct vm_area_struct *vma;
	struct folio_walk fw;
	struct folio *folio;
	uint64_t addr, flags;

	if (nargs(r, n, 4, 4, "call folio_walk N ADDR FLAGS") ||
	    !(vma = vma_arg(r, t[1])) || num(r, t[2], "address", &addr) ||
	    num(r, t[3], "flags", &flags))
		return -1;
	if (flags > 3)
		return fail(r, PW_SCENARIO_BAD_INPUT,
			    "folio_walk flags %s: only bits 0 and 1 exist",
			    t[3]);
	memset(&fw, 0, sizeof(fw));
	folio = r->eng->folio_walk_start(&fw, vma, addr,
					 (folio_walk_flags_t)flags);
	if (!folio) {
		sb_printf(&r->out, "= none\n");
		return 0;
	}
	sb_printf(&r->out, "= found level=%s entry=0x%" PRIx64, lvl[fw.level],
		  fw.pte);
	if (fw.page)
		sb_printf(&r->out, " page=0x%" PRIx64,
			  pw_page_to_pfn(r->m, fw.page));
	else
		sb_printf(&r->out, " page=-");
	sb_printf(&r->out, " folio=0x%" PRIx64 "\n", pw_folio_pfn(r->m, folio));
	r->eng->folio_walk_end(&fw, vma);
	return 0;
}

static int range_args(struct runner *r, char **t, uint64_t *s, uint64_t *e)
{
	return num(r, t[0], "start", s) || num(r, t[1], "end", e) ? -1 : 0;
}

static int pgd_opt(struct runner *r, char **t, int i, int n, pgd_t **pgd)
{
	*pgd = NULL;
	if (i == n)
		return 0;
	if (i + 1 == n && !strcmp(t[i], "pgd=user")) {
		*pgd = pw_mm_pgd(r->mm);
		return 0;
	}
	return fail(r, PW_SCENARIO_BAD_INPUT,
		    "'%s': expected pgd=user or nothing", t[i]);
}

static int do_call(struct runner *r, char **t, int n)
{
	const struct pw_walk_engine *e = r->eng;
	const char *c;
	uint64_t s, en, id, first, nr;
	struct vm_area_struct *vma;
	pgd_t *pgd;
	int i, ret;

	if (n < 2)
		return fail(r, PW_SCENARIO_BAD_INPUT, "call: which function?");
	if (need_machine(r, "call"))
		return -1;
	sb_printf(&r->out, ">");
	for (i = 1; i < n; i++)
		sb_printf(&r->out, " %s", t[i]);
	sb_printf(&r->out, "\n");
	c = t[1];
	t += 2;
	n -= 2;
	if (!strcmp(c, "walk_page_range") || !strcmp(c, "walk_page_range_mm")) {
		if (nargs(r, n, 2, 2, "call walk_page_range[_mm] START END") ||
		    range_args(r, t, &s, &en))
			return -1;
		ret = (c[15] ? e->walk_page_range_mm :
			       e->walk_page_range)(r->mm, s, en, &r->ops, r);
	} else if (!strcmp(c, "walk_page_vma")) {
		if (nargs(r, n, 1, 1, "call walk_page_vma N") ||
		    !(vma = vma_arg(r, t[0])))
			return -1;
		ret = e->walk_page_vma(vma, &r->ops, r);
	} else if (!strcmp(c, "walk_page_range_vma")) {
		if (nargs(r, n, 3, 3, "call walk_page_range_vma N START END") ||
		    !(vma = vma_arg(r, t[0])) || range_args(r, t + 1, &s, &en))
			return -1;
		ret = e->walk_page_range_vma(vma, s, en, &r->ops, r);
	} else if (!strcmp(c, "walk_page_mapping")) {
		struct address_space *as;

		if (nargs(r, n, 3, 3, "call walk_page_mapping ID FIRST NR") ||
		    num(r, t[0], "mapping id", &id) ||
		    num(r, t[1], "first", &first) || num(r, t[2], "nr", &nr))
			return -1;
		if (id > UINT32_MAX ||
		    !(as = pw_mapping_get(r->m, (unsigned)id)))
			return fail(r, PW_SCENARIO_BAD_INPUT,
				    "bad mapping id %s", t[0]);
		ret = e->walk_page_mapping(as, first, nr, &r->ops, r);
	} else if (!strcmp(c, "walk_kernel_page_table_range")) {
		if (nargs(r, n, 2, 3,
			  "call walk_kernel_page_table_range START END [pgd=user]") ||
		    range_args(r, t, &s, &en) || pgd_opt(r, t, 2, n, &pgd))
			return -1;
		ret = e->walk_kernel_page_table_range(r->m, s, en, &r->ops, pgd,
						      r);
	} else if (!strcmp(c, "walk_page_range_debug")) {
		struct mm_struct *mm;

		if (nargs(r, n, 3, 4,
			  "call walk_page_range_debug user|kernel START END [pgd=user]"))
			return -1;
		if (!strcmp(t[0], "user"))
			mm = r->mm;
		else if (!strcmp(t[0], "kernel"))
			mm = pw_init_mm(r->m);
		else
			return fail(
				r, PW_SCENARIO_BAD_INPUT,
				"walk_page_range_debug: '%s' is not user or kernel",
				t[0]);
		if (range_args(r, t + 1, &s, &en) || pgd_opt(r, t, 3, n, &pgd))
			return -1;
		ret = e->walk_page_range_debug(mm, s, en, &r->ops, pgd, r);
	} else if (!strcmp(c, "folio_walk")) {
		if (do_folio_walk(r, t - 1, n + 1))
			return -1;
		goto check;
	} else {
		return fail(r, PW_SCENARIO_BAD_INPUT,
			    "call: unknown function '%s'", c);
	}
	sb_printf(&r->out, "= %d\n", ret);
check:
	if (pw_ptl_held_by_thread() != 0)
		return fail(r, PW_SCENARIO_INTERNAL,
			    "engine %s left a page-table lock held after '%s'",
			    e->name, c);
	return 0;
}

#define MAX_TOKENS 32

static int run_line(struct runner *r, char *line)
{
	char *t[MAX_TOKENS], *hash = strchr(line, '#'), *save = NULL, *tok;
	int n = 0;

	if (hash)
		*hash = 0;
	for (tok = strtok_r(line, " \t\r", &save); tok;
	     tok = strtok_r(NULL, " \t\r", &save)) {
		if (n == MAX_TOKENS)
			return fail(r, PW_SCENARIO_BAD_INPUT,
				    "more than %d tokens", MAX_TOKENS);
		t[n++] = tok;
	}
	if (!n)
		return 0;
	if (!strcmp(t[0], "geometry")) {
		long l;

		if (nargs(r, n, 2, 2, "geometry 2|3|4|5") ||
		    small(r, t[1], "geometry", 2, 5, &l))
			return -1;
		if (r->m)
			return fail(r, PW_SCENARIO_BAD_INPUT,
				    "'geometry' must come before 'memory'");
		r->levels = (int)l;
		return 0;
	}
	if (!strcmp(t[0], "memory"))
		return do_memory(r, t, n);
	if (!strcmp(t[0], "folio")) {
		uint64_t head;
		long order;

		if (nargs(r, n, 3, 3, "folio HEAD ORDER") ||
		    need_machine(r, "folio") ||
		    num(r, t[1], "folio head", &head) ||
		    small(r, t[2], "folio order", 0, 18, &order))
			return -1;
		if (pw_folio_declare(r->m, head, (unsigned)order))
			return fail(r, PW_SCENARIO_BAD_INPUT,
				    "folio %s %s: not inside physical memory",
				    t[1], t[2]);
		return 0;
	}
	if (!strcmp(t[0], "vma"))
		return do_vma(r, t, n);
	if (!strcmp(t[0], "entry"))
		return do_entry(r, t, n);
	if (!strcmp(t[0], "ops"))
		return do_ops(r, t, n);
	if (!strcmp(t[0], "walklock"))
		return do_walklock(r, t, n);
	if (!strcmp(t[0], "rule"))
		return do_rule(r, t, n);
	if (!strcmp(t[0], "install"))
		return nargs(r, n, 2, 2, "install VALUE") ||
				       num(r, t[1], "install", &r->install) ?
			       -1 :
			       0;
	if (!strcmp(t[0], "failalloc")) {
		long v;

		if (nargs(r, n, 2, 2, "failalloc N") ||
		    need_machine(r, "failalloc") ||
		    small(r, t[1], "failalloc", 0, INT64_MAX, &v))
			return -1;
		pw_machine_set_alloc_budget(r->m, v);
		return 0;
	}
	if (!strcmp(t[0], "lock"))
		return do_lock(r, t, n);
	if (!strcmp(t[0], "call"))
		return do_call(r, t, n);
	if (!strcmp(t[0], "dump"))
		return do_dump(r, n);
	return fail(r, PW_SCENARIO_BAD_INPUT, "unknown directive '%s'", t[0]);
}

int pw_scenario_replay(const char *text, size_t len, const char *name,
		       const struct pw_walk_engine *engine, char **trace,
		       size_t *trace_len, char *err, size_t errlen)
{
	return pw_scenario_replay_limit(text, len, name, engine,
					PW_SCENARIO_TRACE_LIMIT, trace,
					trace_len, err, errlen);
}

int pw_scenario_replay_limit(const char *text, size_t len, const char *name,
			     const struct pw_walk_engine *engine,
			     size_t max_trace, char **trace, size_t *trace_len,
			     char *err, size_t errlen)
{
	struct runner r = { .name = name ? name : "scenario",
			    .eng = engine,
			    .levels = 4,
			    .err = err,
			    .errlen = errlen,
			    .out = { .limit = max_trace } };
	size_t pos = 0;
	char *line = NULL;
	size_t cap = 0;

	*trace = NULL;
	*trace_len = 0;
	if (errlen)
		err[0] = 0;
	while (pos < len && r.status == 0) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t l = nl ? (size_t)(nl - (text + pos)) : len - pos;

		r.line++;
		if (memchr(text + pos, 0, l)) {
			fail(&r, PW_SCENARIO_BAD_INPUT,
			     "a NUL byte in the line");
			break;
		}
		if (l + 1 > cap) {
			char *p = realloc(line, l + 1);

			if (!p) {
				fail(&r, PW_SCENARIO_INTERNAL, "out of memory");
				break;
			}
			line = p;
			cap = l + 1;
		}
		memcpy(line, text + pos, l);
		line[l] = 0;
		run_line(&r, line);
		if (r.out.too_big && r.status == 0)
			fail(&r, PW_SCENARIO_INTERNAL,
			     "the trace reaches its limit of %zu bytes",
			     max_trace);
		else if (r.out.oom && r.status == 0)
			fail(&r, PW_SCENARIO_INTERNAL,
			     "out of memory for the trace");
		pos += l + 1;
	}
	free(line);
	free(r.rules);
	pw_machine_destroy(r.m);
	if (r.status) {
		free(r.out.p);
		return r.status;
	}
	if (!r.out.p) {
		r.out.p = malloc(1);
		if (!r.out.p) {
			r.line = 0;
			fail(&r, PW_SCENARIO_INTERNAL, "out of memory");
			return r.status;
		}
	}
	r.out.p[r.out.len] = 0;
	*trace = r.out.p;
	*trace_len = r.out.len;
	return PW_SCENARIO_OK;
}
