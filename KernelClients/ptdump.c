/*
 * ptdump.c - the generic page-table dump as a kernel walk client
 * (PageWalk's own code, in the shape of mm/ptdump.c's ptdump_ops with an
 * x86-style note_page): every level's leaves and holes noted in address
 * order, merged while level and protection bits stay the same.
 */
#include <linux/pagewalk.h>
#include <linux/ptdump.h>
#include <linux/mm.h>
#include <linux/kasan.h>

#include "kernel_clients.h"

/* The protection bits x86's ptdump prints. */
#define KC_PT_PROT                                                       \
	(_PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_PWT | _PAGE_PCD | \
	 _PAGE_PSE | _PAGE_GLOBAL | _PAGE_NX)

struct kc_ptdump_state {
	struct ptdump_state st;
	struct kc_ptdump_range cur;
	bool started;
	kc_ptdump_fn fn;
	void *ctx;
};

static void kc_note(struct ptdump_state *st, unsigned long addr, int level,
		    u64 val)
{
	struct kc_ptdump_state *s =
		container_of(st, struct kc_ptdump_state, st);
	u64 prot = val & KC_PT_PROT;

	if (!(val & _PAGE_PRESENT))
		prot = 0, level = -1;
	if (s->started && s->cur.level == level && s->cur.prot == prot)
		return;
	if (s->started && addr > s->cur.start) {
		s->cur.end = addr;
		s->fn(s->ctx, &s->cur);
	}
	s->cur = (struct kc_ptdump_range){ .start = addr,
					   .level = level,
					   .prot = prot };
	s->started = true;
}

static void kc_note_pte(struct ptdump_state *st, unsigned long a, pte_t v)
{
	kc_note(st, a, 4, pte_val(v));
}
static void kc_note_pmd(struct ptdump_state *st, unsigned long a, pmd_t v)
{
	kc_note(st, a, 3, pmd_val(v));
}
static void kc_note_pud(struct ptdump_state *st, unsigned long a, pud_t v)
{
	kc_note(st, a, 2, pud_val(v));
}
static void kc_note_p4d(struct ptdump_state *st, unsigned long a, p4d_t v)
{
	kc_note(st, a, 1, p4d_val(v));
}
static void kc_note_pgd(struct ptdump_state *st, unsigned long a, pgd_t v)
{
	kc_note(st, a, 0, pgd_val(v));
}

/* The callbacks: a leaf at any level is noted and not descended. */
static int kc_pt_pgd(pgd_t *pgd, unsigned long addr, unsigned long next,
		     struct mm_walk *walk)
{
	struct ptdump_state *st = walk->private;
	pgd_t val = READ_ONCE(*pgd);

	(void)next;
	if (st->effective_prot_pgd)
		st->effective_prot_pgd(st, val);
	if (pgd_leaf(val)) {
		st->note_page_pgd(st, addr, val);
		walk->action = ACTION_CONTINUE;
	}
	return 0;
}

static int kc_pt_p4d(p4d_t *p4d, unsigned long addr, unsigned long next,
		     struct mm_walk *walk)
{
	struct ptdump_state *st = walk->private;
	p4d_t val = READ_ONCE(*p4d);

	(void)next;
	if (st->effective_prot_p4d)
		st->effective_prot_p4d(st, val);
	if (p4d_leaf(val)) {
		st->note_page_p4d(st, addr, val);
		walk->action = ACTION_CONTINUE;
	}
	return 0;
}

static int kc_pt_pud(pud_t *pud, unsigned long addr, unsigned long next,
		     struct mm_walk *walk)
{
	struct ptdump_state *st = walk->private;
	pud_t val = READ_ONCE(*pud);

	(void)next;
	if (st->effective_prot_pud)
		st->effective_prot_pud(st, val);
	if (pud_leaf(val)) {
		st->note_page_pud(st, addr, val);
		walk->action = ACTION_CONTINUE;
	}
	return 0;
}

static int kc_pt_pmd(pmd_t *pmd, unsigned long addr, unsigned long next,
		     struct mm_walk *walk)
{
	struct ptdump_state *st = walk->private;
	pmd_t val = READ_ONCE(*pmd);

	(void)next;
	if (st->effective_prot_pmd)
		st->effective_prot_pmd(st, val);
	if (pmd_leaf(val) || !pmd_present(val)) {
		st->note_page_pmd(st, addr, val);
		walk->action = ACTION_CONTINUE;
	}
	return 0;
}

static int kc_pt_pte(pte_t *pte, unsigned long addr, unsigned long next,
		     struct mm_walk *walk)
{
	struct ptdump_state *st = walk->private;
	pte_t val = ptep_get_lockless(pte);

	(void)next;
	if (st->effective_prot_pte)
		st->effective_prot_pte(st, val);
	st->note_page_pte(st, addr, val);
	return 0;
}

static int kc_pt_hole(unsigned long addr, unsigned long next, int depth,
		      struct mm_walk *walk)
{
	struct ptdump_state *st = walk->private;
	pte_t pte_zero = { 0 };
	pmd_t pmd_zero = { 0 };
	pud_t pud_zero = { 0 };
	p4d_t p4d_zero = { 0 };
	pgd_t pgd_zero = { 0 };

	(void)next;
	switch (depth) {
	case 4:
	case -1: st->note_page_pte(st, addr, pte_zero); break;
	case 3: st->note_page_pmd(st, addr, pmd_zero); break;
	case 2: st->note_page_pud(st, addr, pud_zero); break;
	case 1: st->note_page_p4d(st, addr, p4d_zero); break;
	case 0: st->note_page_pgd(st, addr, pgd_zero); break;
	default: BUG();
	}
	return 0;
}

static const struct mm_walk_ops kc_ptdump_ops = {
	.pgd_entry = kc_pt_pgd,
	.p4d_entry = kc_pt_p4d,
	.pud_entry = kc_pt_pud,
	.pmd_entry = kc_pt_pmd,
	.pte_entry = kc_pt_pte,
	.pte_hole = kc_pt_hole,
};

int kc_ptdump(struct mm_struct *mm, kc_ptdump_fn fn, void *ctx)
{
	unsigned long top = pw_machine_geometry(pw_mm_machine(mm))->task_size;
	struct ptdump_range range = { 0, top };
	struct kc_ptdump_state s = {
		.st = { .note_page_pte = kc_note_pte,
			.note_page_pmd = kc_note_pmd,
			.note_page_pud = kc_note_pud,
			.note_page_p4d = kc_note_p4d,
			.note_page_pgd = kc_note_pgd,
			.range = &range },
		.fn = fn,
		.ctx = ctx,
	};
	int err;

	pw_compat_use_mm(mm);
	mmap_write_lock(mm);
	err = walk_page_range_debug(mm, range.start, range.end, &kc_ptdump_ops,
				    NULL, &s.st);
	mmap_write_unlock(mm);
	/* Flush: the last range ends at the top. */
	if (s.started && top > s.cur.start) {
		s.cur.end = top;
		fn(ctx, &s.cur);
	}
	return err;
}
