/* events.c - what the machine reports: failed lock assertions, warnings, bad entries. */
#include "internal.h"

#include <stdio.h>

static const char *const assert_names[] = {
	[PW_ASSERT_MMAP_LOCKED] = "mmap_locked",
	[PW_ASSERT_MMAP_WRITE_LOCKED] = "mmap_write_locked",
	[PW_ASSERT_VMA_LOCKED] = "vma_locked",
	[PW_ASSERT_VMA_WRITE_LOCKED] = "vma_write_locked",
	[PW_ASSERT_I_MMAP_HELD] = "i_mmap_held",
};

void pw_emit(struct pw_machine *m, const struct pw_event *ev)
{
	if (m->hook) {
		m->hook(m->hook_ctx, ev);
		return;
	}
	/* Without a hook, what a WARN would print goes to stderr. */
	if (ev->kind == PW_EVENT_ASSERT_FAIL)
		fprintf(stderr, "pagewalk: %s%slock assertion failed: %s\n",
			ev->where ? ev->where : "", ev->where ? ": " : "",
			assert_names[ev->assertion]);
	else if (ev->kind == PW_EVENT_WARN)
		fprintf(stderr, "pagewalk: WARN_ON_ONCE\n");
	else if (ev->kind == PW_EVENT_MM_DESTROYED)
		fprintf(stderr,
			"pagewalk: %s%saddress space %p used after "
			"pw_mm_destroy()\n",
			ev->where ? ev->where : "", ev->where ? ": " : "",
			(void *)ev->mm);
}

int pw_assert_fail(struct pw_machine *m, struct mm_struct *mm,
		   enum pw_assert what, const char *where)
{
	struct pw_event ev = { .kind = PW_EVENT_ASSERT_FAIL,
			       .assertion = what,
			       .mm = mm,
			       .where = where };

	atomic_fetch_add_explicit(&m->nr_assert_failures, 1,
				  memory_order_relaxed);
	pw_emit(m, &ev);
	return atomic_load_explicit(&m->strict, memory_order_relaxed) ?
		       -ENOLCK :
		       0;
}

int pw_report_destroyed_mm(struct mm_struct *mm, const char *where)
{
	struct pw_event ev = { .kind = PW_EVENT_MM_DESTROYED,
			       .mm = mm,
			       .where = where };

	atomic_fetch_add_explicit(&mm->m->nr_warnings, 1, memory_order_relaxed);
	pw_emit(mm->m, &ev);
	return -ESRCH;
}

void pw_warn(struct pw_machine *m)
{
	struct pw_event ev = { .kind = PW_EVENT_WARN };

	atomic_fetch_add_explicit(&m->nr_warnings, 1, memory_order_relaxed);
	pw_emit(m, &ev);
}

void pw_report_bad(struct pw_machine *m, enum pw_level level, uint64_t value)
{
	struct pw_event ev = { .kind = PW_EVENT_BAD,
			       .level = level,
			       .value = value };

	atomic_fetch_add_explicit(&m->nr_bad_entries, 1, memory_order_relaxed);
	pw_emit(m, &ev);
}
