/*
 * pw_compat.h - the kernel-compatibility layer's one implementation header.
 *
 * Kernel walk clients (a struct mm_walk_ops and its callbacks, written in
 * the kernel's vocabulary) build unchanged against this layer with
 *
 *     cc -std=gnu11 -I compat -I include client.c CWalkCore/\*.c
 *
 * Every <linux/...>, <asm/...>, "internal.h" and "swap.h" header under
 * compat/ is a thin name that includes this file.  The meaning of each
 * name is the kernel's on x86-64, over PageWalk's machine: entries are the
 * machine's (pagewalk.h: x86 bit positions, the model's swap encoding),
 * locks are the machine's real page-table locks, struct page and folios
 * are the machine's frames with the facts of pagewalk_pages.h.  What lies
 * outside page tables (TLB flushes, mmu notifiers, LRU moves, counters,
 * BUG/WARN) is recorded as an event (pw_compat_events()).
 * docs/KERNEL-CLIENTS.md lists the vocabulary.
 *
 * GNU C (statement expressions, typeof, weak symbols).  Header only: the
 * layer's state lives in weak symbols, so any number of translation units
 * may include it and share one copy.  Not thread-safe: one walking thread
 * at a time per process (the events log and the current machine are
 * global).
 *
 * Written from the kernel's documented meaning of each name; no kernel
 * code is copied here.
 */
#ifndef PW_COMPAT_H
#define PW_COMPAT_H

/* System headers first: the generic macros below (min, max, ...) must not
 * reach them. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pagewalk.h"
#include "pagewalk_machine.h"
#include "pagewalk_pages.h"
#include "pw_config.h"

/* ======================================================================== */
/* Generic kernel: types, compiler words, macros                            */
/* ======================================================================== */

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef unsigned long long u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef long long s64;
typedef uint8_t __u8;
typedef uint16_t __u16;
typedef uint32_t __u32;
typedef unsigned long long __u64;
typedef int32_t __s32;
typedef long long __s64;
typedef unsigned long pgoff_t;
typedef unsigned long vm_flags_t;
typedef unsigned int gfp_t;
typedef unsigned long pteval_t;
typedef unsigned long pmdval_t;
typedef unsigned long pudval_t;
typedef unsigned long p4dval_t;
typedef unsigned long pgdval_t;
typedef struct {
	int counter;
} atomic_t;
typedef struct {
	long counter;
} atomic_long_t;
/** Page protection bits (the kernel's pgprot_t). */
typedef struct {
	unsigned long pgprot;
} pgprot_t;

#ifndef __user
#define __user
#endif
#define __kernel
#define __iomem
#define __rcu
#define __percpu
#define __must_check __attribute__((warn_unused_result))
#define __always_unused __attribute__((unused))
#define __maybe_unused __attribute__((unused))
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#define noinline __attribute__((noinline))
#define __init
#define __exit
#define __initdata
#define __read_mostly
#define __ro_after_init
#define __cold __attribute__((cold))
#define __weak __attribute__((weak))
#define __packed __attribute__((packed))
#define __aligned(x) __attribute__((aligned(x)))
#define fallthrough __attribute__((fallthrough))
#define notrace
#define asmlinkage
#define EXPORT_SYMBOL(sym)
#define EXPORT_SYMBOL_GPL(sym)
#define __randomize_layout
#define __counted_by(x)

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v)                               \
	do {                                           \
		*(volatile __typeof__(x) *)&(x) = (v); \
	} while (0)
#define barrier() __asm__ __volatile__("" ::: "memory")
#define smp_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define smp_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define smp_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)

#define BITS_PER_LONG 64
#define BITS_PER_LONG_LONG 64
#define BIT(n) (1UL << (n))
#define BIT_ULL(n) (1ULL << (n))
#define GENMASK(h, l) ((~0UL >> (BITS_PER_LONG - 1 - (h))) & (~0UL << (l)))
#define GENMASK_ULL(h, l) ((~0ULL >> (63 - (h))) & (~0ULL << (l)))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define DIV_ROUND_UP(n, d) (((n) + (d)-1) / (d))
#define ALIGN(x, a) (((x) + ((__typeof__(x))(a)-1)) & ~((__typeof__(x))(a)-1))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a)-1))
#define IS_ALIGNED(x, a) (((x) & ((__typeof__(x))(a)-1)) == 0)
#define round_up(x, y) ((((x)-1) | ((__typeof__(x))((y)-1))) + 1)
#define round_down(x, y) ((x) & ~((__typeof__(x))((y)-1)))
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr)-offsetof(type, member)))
#define BUILD_BUG_ON(c) _Static_assert(!(c), "BUILD_BUG_ON(" #c ")")

/* min/max: evaluate each argument once; min_t/max_t convert first. */
#define min(a, b)                              \
	({                                     \
		__auto_type _pw_a = (a);       \
		__auto_type _pw_b = (b);       \
		_pw_a < _pw_b ? _pw_a : _pw_b; \
	})
#define max(a, b)                              \
	({                                     \
		__auto_type _pw_a = (a);       \
		__auto_type _pw_b = (b);       \
		_pw_a > _pw_b ? _pw_a : _pw_b; \
	})
#define min_t(t, a, b)                         \
	({                                     \
		t _pw_a = (a);                 \
		t _pw_b = (b);                 \
		_pw_a < _pw_b ? _pw_a : _pw_b; \
	})
#define max_t(t, a, b)                         \
	({                                     \
		t _pw_a = (a);                 \
		t _pw_b = (b);                 \
		_pw_a > _pw_b ? _pw_a : _pw_b; \
	})
#define clamp(v, lo, hi) min(max(v, lo), hi)
#define umin(a, b) min((unsigned long long)(a), (unsigned long long)(b))
#define swap(a, b)                       \
	do {                             \
		__auto_type _pw_t = (a); \
		(a) = (b);               \
		(b) = _pw_t;             \
	} while (0)

/* do_div: divides the 64-bit lvalue n in place, yields the remainder. */
#define do_div(n, base)                                   \
	({                                                \
		uint32_t _pw_b = (base);                  \
		uint32_t _pw_r = (uint32_t)((n) % _pw_b); \
		(n) = (n) / _pw_b;                        \
		_pw_r;                                    \
	})
#define check_add_overflow(a, b, d) __builtin_add_overflow(a, b, d)
#define check_sub_overflow(a, b, d) __builtin_sub_overflow(a, b, d)
#define check_mul_overflow(a, b, d) __builtin_mul_overflow(a, b, d)

/* IS_ENABLED(CONFIG_X): 1 when CONFIG_X is defined to 1 (pw_config.h). */
#define PW_ON_1 ~, 1
#define PW_SECOND_(a, b, ...) b
#define PW_SECOND(...) PW_SECOND_(__VA_ARGS__)
#define PW_IS_ON__(x) PW_SECOND(x, 0)
#define PW_IS_ON_(v) PW_IS_ON__(PW_ON_##v)
#define IS_ENABLED(option) PW_IS_ON_(option)
#define IS_BUILTIN(option) PW_IS_ON_(option)
#define IS_MODULE(option) 0
#define IS_REACHABLE(option) PW_IS_ON_(option)

/* Error pointers. */
#define MAX_ERRNO 4095
#define IS_ERR_VALUE(x) \
	unlikely((unsigned long)(void *)(x) >= (unsigned long)-MAX_ERRNO)
static inline void *ERR_PTR(long error)
{
	return (void *)error;
}
static inline long PTR_ERR(const void *ptr)
{
	return (long)ptr;
}
static inline bool IS_ERR(const void *ptr)
{
	return IS_ERR_VALUE((unsigned long)ptr);
}
static inline bool IS_ERR_OR_NULL(const void *ptr)
{
	return !ptr || IS_ERR_VALUE((unsigned long)ptr);
}

/* Doubly linked lists, as <linux/list.h> defines their meaning. */
struct list_head {
	struct list_head *next, *prev;
};
#define LIST_HEAD_INIT(name)     \
	{                        \
		&(name), &(name) \
	}
#define LIST_HEAD(name) struct list_head name = LIST_HEAD_INIT(name)
static inline void INIT_LIST_HEAD(struct list_head *l)
{
	l->next = l->prev = l;
}
static inline void pw_list_link(struct list_head *n, struct list_head *prev,
				struct list_head *next)
{
	next->prev = n;
	n->next = next;
	n->prev = prev;
	prev->next = n;
}
static inline void list_add(struct list_head *n, struct list_head *head)
{
	pw_list_link(n, head, head->next);
}
static inline void list_add_tail(struct list_head *n, struct list_head *head)
{
	pw_list_link(n, head->prev, head);
}
static inline void list_del(struct list_head *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	e->next = e->prev = NULL;
}
static inline bool list_empty(const struct list_head *h)
{
	return h->next == h;
}
#define list_entry(ptr, type, member) container_of(ptr, type, member)
#define list_first_entry(ptr, type, member) \
	list_entry((ptr)->next, type, member)
#define list_for_each_entry(pos, head, member)                         \
	for (pos = list_entry((head)->next, __typeof__(*pos), member); \
	     &pos->member != (head);                                   \
	     pos = list_entry(pos->member.next, __typeof__(*pos), member))

/* Per-CPU data and local locks: one CPU. */
#define DEFINE_PER_CPU(type, name) __typeof__(type) name
#define DECLARE_PER_CPU(type, name) extern __typeof__(type) name
#define this_cpu_ptr(p) (p)
#define per_cpu_ptr(p, cpu) (p)
#define raw_cpu_ptr(p) (p)
#define get_cpu() 0
#define put_cpu() \
	do {      \
	} while (0)
#define smp_processor_id() 0
typedef struct {
	int owner_pw;
} local_lock_t;
#define INIT_LOCAL_LOCK(l) \
	{                  \
		0          \
	}
#define local_lock(l) ((void)(l))
#define local_unlock(l) ((void)(l))
#define local_lock_irq(l) ((void)(l))
#define local_unlock_irq(l) ((void)(l))
#define local_irq_disable() \
	do {                \
	} while (0)
#define local_irq_enable() \
	do {               \
	} while (0)
#define preempt_disable() \
	do {              \
	} while (0)
#define preempt_enable() \
	do {             \
	} while (0)
#define rcu_read_lock() \
	do {            \
	} while (0)
#define rcu_read_unlock() \
	do {              \
	} while (0)
#define might_sleep() \
	do {          \
	} while (0)
#define lockdep_assert_held(l) \
	do {                   \
		(void)(l);     \
	} while (0)

/* printk: to stderr, only when PW_COMPAT_VERBOSE is set in the environment. */
#define KERN_EMERG ""
#define KERN_ALERT ""
#define KERN_CRIT ""
#define KERN_ERR ""
#define KERN_WARNING ""
#define KERN_NOTICE ""
#define KERN_INFO ""
#define KERN_DEBUG ""
#define KERN_CONT ""
#define printk(...) pw_compat_printk(__VA_ARGS__)
#define pr_err(...) pw_compat_printk(__VA_ARGS__)
#define pr_warn(...) pw_compat_printk(__VA_ARGS__)
#define pr_info(...) pw_compat_printk(__VA_ARGS__)
#define pr_debug(...) pw_compat_printk(__VA_ARGS__)
#define pr_cont(...) pw_compat_printk(__VA_ARGS__)
#define pr_warn_once(...) pw_compat_printk(__VA_ARGS__)

/* ======================================================================== */
/* The layer's state: current machine, events, checked walks               */
/* ======================================================================== */

/**
 * One thing a kernel client did that lies outside the page tables (a TLB
 * flush, an mmu notifier, an LRU move, a counter), or a misuse the layer
 * caught (WARN_ON, VM_BUG_ON, BUG, a page-table lock left held or
 * released twice, a table unmapped that was never mapped).
 */
struct pw_compat_event {
	const char *
		what; /**< the kernel's name: "flush_tlb_range", "WARN_ON" ... */
	const char *
		callback; /**< the walk callback running ("pmd_entry" ...), or "" */
	unsigned long addr; /**< the address concerned (or the callback's) */
	unsigned long end;  /**< the end of a range, or a value */
	const char *file;   /**< source file of a WARN/BUG, else NULL */
	int line;           /**< its line */
};

/** The layer's global state (one per process; weak, so shared by all TUs). */
struct pw_compat_state {
	struct pw_machine *machine; /* the machine kernel names refer to */
	struct page *pages;         /* its page facts, as struct page */
	uint64_t frames;
	struct pw_compat_event *events; /* the log */
	size_t nr_events, cap_events;
	unsigned long cond_resched_calls;
	const char *callback; /* the checked walk's running callback */
	unsigned long callback_addr;
	int walk_depth;
	const struct mm_walk_ops
		*ops[8]; /* the checked walks' own ops, nested */
	int verbose;     /* 1: print events to stderr */
};

__attribute__((weak)) struct pw_compat_state pw_compat_state;

/** Makes @m the machine that kernel names (pte_page, pfn_to_page ...) refer
 *  to.  Walks through the layer and calls given an mm or VMA set it too. */
__attribute__((weak)) void pw_compat_use_machine(struct pw_machine *m)
{
	struct pw_compat_state *s = &pw_compat_state;

	/* Looked up anew each time: a machine destroyed and another created
	 * at the same address must not inherit the old one's pages.  The
	 * environment is read once per change of machine only. */
	if (s->machine != m && getenv("PW_COMPAT_VERBOSE"))
		s->verbose = 1;
	s->machine = m;
	s->pages = m ? (struct page *)(void *)pw_machine_page_info(m) : NULL;
	s->frames = m ? pw_machine_config(m)->frames : 0;
}

static inline void pw_compat_use_mm(struct mm_struct *mm)
{
	if (mm)
		pw_compat_use_machine(pw_mm_machine(mm));
}

/** Records an event (see struct pw_compat_event). */
__attribute__((weak)) void pw_compat_event_at(const char *what,
					      unsigned long addr,
					      unsigned long end,
					      const char *file, int line)
{
	struct pw_compat_state *s = &pw_compat_state;
	struct pw_compat_event *e;

	if (s->nr_events == s->cap_events) {
		size_t cap = s->cap_events ? s->cap_events * 2 : 64;
		void *p = realloc(s->events, cap * sizeof(*s->events));

		if (!p)
			return;
		s->events = p;
		s->cap_events = cap;
	}
	e = &s->events[s->nr_events++];
	*e = (struct pw_compat_event){ .what = what,
				       .callback =
					       s->callback ? s->callback : "",
				       .addr = addr,
				       .end = end,
				       .file = file,
				       .line = line };
	if (s->verbose)
		fprintf(stderr, "pagewalk compat: %s [%#lx, %#lx)%s%s\n", what,
			addr, end, e->callback[0] ? " in " : "", e->callback);
}

static inline void pw_compat_event(const char *what, unsigned long addr,
				   unsigned long end)
{
	pw_compat_event_at(what, addr, end, NULL, 0);
}

/** Number of events recorded since the last pw_compat_events_clear(). */
static inline size_t pw_compat_event_count(void)
{
	return pw_compat_state.nr_events;
}

/** The events recorded, oldest first (valid until the next event). */
static inline const struct pw_compat_event *pw_compat_events(void)
{
	return pw_compat_state.events;
}

/** How many recorded events are named @what. */
static inline size_t pw_compat_events_named(const char *what)
{
	size_t i, n = 0;

	for (i = 0; i < pw_compat_state.nr_events; i++)
		n += strcmp(pw_compat_state.events[i].what, what) == 0;
	return n;
}

/** Forgets the recorded events. */
static inline void pw_compat_events_clear(void)
{
	pw_compat_state.nr_events = 0;
}

__attribute__((weak)) int pw_compat_printk(const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (pw_compat_state.verbose || getenv("PW_COMPAT_VERBOSE")) {
		va_start(ap, fmt);
		n = vfprintf(stderr, fmt, ap);
		va_end(ap);
	}
	return n;
}

/* WARN/BUG: events with file and line.  BUG() also stops the process, as
 * the kernel's does the task: an event is printed first. */
#define WARN_ON(c)                                                           \
	({                                                                   \
		bool _pw_c = !!(c);                                          \
		if (unlikely(_pw_c))                                         \
			pw_compat_event_at("WARN_ON",                        \
					   pw_compat_state.callback_addr, 0, \
					   __FILE__, __LINE__);              \
		_pw_c;                                                       \
	})
#define WARN_ON_ONCE(c) WARN_ON(c)
#define WARN(c, ...) WARN_ON(c)
#define WARN_ONCE(c, ...) WARN_ON(c)
#define VM_WARN_ON(c) ((void)WARN_ON(c))
#define VM_WARN_ON_ONCE(c) WARN_ON(c)
#define VM_WARN_ON_FOLIO(c, f) ((void)WARN_ON(c))
#define VM_WARN_ON_ONCE_FOLIO(c, f) WARN_ON(c)
#define VM_WARN_ON_ONCE_PAGE(c, p) WARN_ON(c)
#define PW_VM_BUG(c, name)                                                   \
	do {                                                                 \
		if (unlikely(c))                                             \
			pw_compat_event_at(name,                             \
					   pw_compat_state.callback_addr, 0, \
					   __FILE__, __LINE__);              \
	} while (0)
#define VM_BUG_ON(c) PW_VM_BUG(c, "VM_BUG_ON")
#define VM_BUG_ON_FOLIO(c, f) PW_VM_BUG(c, "VM_BUG_ON_FOLIO")
#define VM_BUG_ON_PAGE(c, p) PW_VM_BUG(c, "VM_BUG_ON_PAGE")
#define VM_BUG_ON_VMA(c, v) PW_VM_BUG(c, "VM_BUG_ON_VMA")
#define VM_BUG_ON_MM(c, m) PW_VM_BUG(c, "VM_BUG_ON_MM")
#define BUG()                                                                  \
	do {                                                                   \
		pw_compat_event_at("BUG", pw_compat_state.callback_addr, 0,    \
				   __FILE__, __LINE__);                        \
		fprintf(stderr, "pagewalk compat: BUG() at %s:%d\n", __FILE__, \
			__LINE__);                                             \
		abort();                                                       \
	} while (0)
#define BUG_ON(c)                \
	do {                     \
		if (unlikely(c)) \
			BUG();   \
	} while (0)

/** cond_resched: counted (pw_compat_state.cond_resched_calls), no event. */
#define cond_resched()                                \
	({                                            \
		pw_compat_state.cond_resched_calls++; \
		0;                                    \
	})

/* ======================================================================== */
/* Geometry                                                                 */
/* ======================================================================== */

#define PAGE_SHIFT 12
#define PAGE_SIZE (1UL << PAGE_SHIFT)
#define PAGE_MASK (~(PAGE_SIZE - 1))
#define PAGE_ALIGN(a) ALIGN(a, PAGE_SIZE)
#define offset_in_page(p) ((unsigned long)(p) & ~PAGE_MASK)
#define PMD_SHIFT 21
#define PMD_SIZE (1UL << PMD_SHIFT)
#define PMD_MASK (~(PMD_SIZE - 1))
#define PUD_SHIFT 30
#define PUD_SIZE (1UL << PUD_SHIFT)
#define PUD_MASK (~(PUD_SIZE - 1))
#define P4D_SHIFT 39
#define P4D_SIZE (1UL << P4D_SHIFT)
#define P4D_MASK (~(P4D_SIZE - 1))
#define PGDIR_SHIFT 39
#define PGDIR_SIZE (1UL << PGDIR_SHIFT)
#define PGDIR_MASK (~(PGDIR_SIZE - 1))
#define PTRS_PER_PTE 512
#define PTRS_PER_PMD 512
#define PTRS_PER_PUD 512
#define PTRS_PER_P4D 512
#define PTRS_PER_PGD 512
#define HPAGE_SHIFT PMD_SHIFT
#define HPAGE_SIZE (1UL << HPAGE_SHIFT)
#define HPAGE_MASK (~(HPAGE_SIZE - 1))
#define HPAGE_PMD_SHIFT PMD_SHIFT
#define HPAGE_PMD_ORDER (HPAGE_PMD_SHIFT - PAGE_SHIFT)
#define HPAGE_PMD_NR (1 << HPAGE_PMD_ORDER)
#define HPAGE_PMD_SIZE (1UL << HPAGE_PMD_SHIFT)
#define HPAGE_PMD_MASK (~(HPAGE_PMD_SIZE - 1))
#define HPAGE_PUD_SHIFT PUD_SHIFT
#define HPAGE_PUD_SIZE (1UL << HPAGE_PUD_SHIFT)
#define HPAGE_PUD_MASK (~(HPAGE_PUD_SIZE - 1))
#define MAX_NUMNODES (1 << CONFIG_NODES_SHIFT)

/* pXd_addr_end: the next boundary of the level's size, or end. */
#define PW_ADDR_END(addr, end, size)                                   \
	({                                                             \
		unsigned long _pw_b = ((addr) + (size)) & ~((size)-1); \
		(_pw_b - 1 < (end)-1) ? _pw_b : (end);                 \
	})
#define pmd_addr_end(addr, end) PW_ADDR_END(addr, end, PMD_SIZE)
#define pud_addr_end(addr, end) PW_ADDR_END(addr, end, PUD_SIZE)
#define p4d_addr_end(addr, end) PW_ADDR_END(addr, end, P4D_SIZE)
#define pgd_addr_end(addr, end) PW_ADDR_END(addr, end, PGDIR_SIZE)

/* ======================================================================== */
/* Entries (x86-64 bit positions; the machine's swap encoding)              */
/* ======================================================================== */

#define _PAGE_PRESENT PW_PAGE_PRESENT
#define _PAGE_RW PW_PAGE_RW
#define _PAGE_USER PW_PAGE_USER
#define _PAGE_PWT (1ULL << 3)
#define _PAGE_PCD (1ULL << 4)
#define _PAGE_ACCESSED PW_PAGE_ACCESSED
#define _PAGE_DIRTY PW_PAGE_DIRTY
#define _PAGE_PSE PW_PAGE_HUGE
#define _PAGE_GLOBAL PW_PAGE_GLOBAL
#define _PAGE_SPECIAL PW_PAGE_SPECIAL
#define _PAGE_UFFD_WP (1ULL << 10)
#define _PAGE_SOFT_DIRTY PW_PAGE_SOFT_DIRTY
#define _PAGE_NX PW_PAGE_NX
/* PROT_NONE: GLOBAL without PRESENT, as x86 encodes it. */
#define _PAGE_PROTNONE _PAGE_GLOBAL
/* In a swap (non-present) entry: soft-dirty and uffd-wp where the
 * machine's import and clients keep them (bits 11 and 10). */
#define _PAGE_SWP_SOFT_DIRTY _PAGE_SOFT_DIRTY
#define _PAGE_SWP_UFFD_WP _PAGE_UFFD_WP
#define PTE_PFN_MASK PW_PFN_MASK

#define pte_val(x) ((pteval_t)(x))
#define pmd_val(x) ((pmdval_t)(x))
#define pud_val(x) ((pudval_t)(x))
#define p4d_val(x) ((p4dval_t)(x))
#define pgd_val(x) ((pgdval_t)(x))
#define __pte(x) ((pte_t)(x))
#define __pmd(x) ((pmd_t)(x))
#define __pud(x) ((pud_t)(x))
#define __p4d(x) ((p4d_t)(x))
#define __pgd(x) ((pgd_t)(x))
#define pgprot_val(x) ((x).pgprot)
#define __pgprot(x) ((pgprot_t){ (x) })

/* Reading entries once (no lock needed to read). */
static inline pte_t ptep_get(pte_t *ptep)
{
	return READ_ONCE(*ptep);
}
static inline pte_t ptep_get_lockless(pte_t *ptep)
{
	return READ_ONCE(*ptep);
}
static inline pmd_t pmdp_get(pmd_t *pmdp)
{
	return READ_ONCE(*pmdp);
}
static inline pmd_t pmdp_get_lockless(pmd_t *pmdp)
{
	return READ_ONCE(*pmdp);
}
static inline pud_t pudp_get(pud_t *pudp)
{
	return READ_ONCE(*pudp);
}
static inline p4d_t p4dp_get(p4d_t *p4dp)
{
	return READ_ONCE(*p4dp);
}
static inline pgd_t pgdp_get(pgd_t *pgdp)
{
	return READ_ONCE(*pgdp);
}

/* One macro family per level for the bit predicates and modifiers. */
#define PW_ENTRY_BITS(l, T)                                \
	static inline int l##_young(T e)                   \
	{                                                  \
		return !!(e & _PAGE_ACCESSED);             \
	}                                                  \
	static inline int l##_dirty(T e)                   \
	{                                                  \
		return !!(e & _PAGE_DIRTY);                \
	}                                                  \
	static inline int l##_write(T e)                   \
	{                                                  \
		return !!(e & _PAGE_RW);                   \
	}                                                  \
	static inline int l##_soft_dirty(T e)              \
	{                                                  \
		return !!(e & _PAGE_SOFT_DIRTY);           \
	}                                                  \
	static inline int l##_uffd_wp(T e)                 \
	{                                                  \
		return !!(e & _PAGE_UFFD_WP);              \
	}                                                  \
	static inline int l##_special(T e)                 \
	{                                                  \
		return !!(e & _PAGE_SPECIAL);              \
	}                                                  \
	static inline int l##_exec(T e)                    \
	{                                                  \
		return !(e & _PAGE_NX);                    \
	}                                                  \
	static inline T l##_mkyoung(T e)                   \
	{                                                  \
		return e | _PAGE_ACCESSED;                 \
	}                                                  \
	static inline T l##_mkold(T e)                     \
	{                                                  \
		return e & ~_PAGE_ACCESSED;                \
	}                                                  \
	static inline T l##_mkdirty(T e)                   \
	{                                                  \
		return e | _PAGE_DIRTY | _PAGE_SOFT_DIRTY; \
	}                                                  \
	static inline T l##_mkclean(T e)                   \
	{                                                  \
		return e & ~_PAGE_DIRTY;                   \
	}                                                  \
	static inline T l##_wrprotect(T e)                 \
	{                                                  \
		return e & ~_PAGE_RW;                      \
	}                                                  \
	static inline T l##_mkwrite_novma(T e)             \
	{                                                  \
		return e | _PAGE_RW;                       \
	}                                                  \
	static inline T l##_mksoft_dirty(T e)              \
	{                                                  \
		return e | _PAGE_SOFT_DIRTY;               \
	}                                                  \
	static inline T l##_clear_soft_dirty(T e)          \
	{                                                  \
		return e & ~_PAGE_SOFT_DIRTY;              \
	}                                                  \
	static inline T l##_mkuffd_wp(T e)                 \
	{                                                  \
		return (e | _PAGE_UFFD_WP) & ~_PAGE_RW;    \
	}                                                  \
	static inline T l##_clear_uffd_wp(T e)             \
	{                                                  \
		return e & ~_PAGE_UFFD_WP;                 \
	}                                                  \
	static inline T l##_mkspecial(T e)                 \
	{                                                  \
		return e | _PAGE_SPECIAL;                  \
	}                                                  \
	static inline int l##_swp_soft_dirty(T e)          \
	{                                                  \
		return !!(e & _PAGE_SWP_SOFT_DIRTY);       \
	}                                                  \
	static inline T l##_swp_mksoft_dirty(T e)          \
	{                                                  \
		return e | _PAGE_SWP_SOFT_DIRTY;           \
	}                                                  \
	static inline T l##_swp_clear_soft_dirty(T e)      \
	{                                                  \
		return e & ~_PAGE_SWP_SOFT_DIRTY;          \
	}                                                  \
	static inline int l##_swp_uffd_wp(T e)             \
	{                                                  \
		return !!(e & _PAGE_SWP_UFFD_WP);          \
	}                                                  \
	static inline T l##_swp_mkuffd_wp(T e)             \
	{                                                  \
		return e | _PAGE_SWP_UFFD_WP;              \
	}                                                  \
	static inline T l##_swp_clear_uffd_wp(T e)         \
	{                                                  \
		return e & ~_PAGE_SWP_UFFD_WP;             \
	}

PW_ENTRY_BITS(pte, pte_t)
PW_ENTRY_BITS(pmd, pmd_t)
PW_ENTRY_BITS(pud, pud_t)
#undef PW_ENTRY_BITS

static inline pte_t pte_mkwrite(pte_t e, struct vm_area_struct *vma)
{
	(void)vma;
	return e | _PAGE_RW;
}

/* none: x86 ignores ACCESSED and DIRTY (the Knights Landing erratum). */
static inline int pte_none(pte_t e)
{
	return !(e & ~(_PAGE_ACCESSED | _PAGE_DIRTY));
}
static inline int pmd_none(pmd_t e)
{
	return !(e & ~(_PAGE_ACCESSED | _PAGE_DIRTY));
}
static inline int pud_none(pud_t e)
{
	return !(e & ~(_PAGE_ACCESSED | _PAGE_DIRTY));
}
static inline int p4d_none(p4d_t e)
{
	return e == 0;
}
static inline int pgd_none(pgd_t e)
{
	return e == 0;
}
/* present: x86 counts PROT_NONE entries (GLOBAL without PRESENT) and, for
 * PMDs, an invalidated leaf (PSE without PRESENT) as present. */
static inline int pte_present(pte_t e)
{
	return !!(e & (_PAGE_PRESENT | _PAGE_PROTNONE));
}
static inline int pmd_present(pmd_t e)
{
	return !!(e & (_PAGE_PRESENT | _PAGE_PROTNONE | _PAGE_PSE));
}
static inline int pud_present(pud_t e)
{
	return !!(e & _PAGE_PRESENT);
}
static inline int p4d_present(p4d_t e)
{
	return !!(e & _PAGE_PRESENT);
}
static inline int pgd_present(pgd_t e)
{
	return !!(e & _PAGE_PRESENT);
}
static inline int pte_protnone(pte_t e)
{
	return (e & (_PAGE_PRESENT | _PAGE_PROTNONE)) == _PAGE_PROTNONE;
}
static inline int pmd_protnone(pmd_t e)
{
	return (e & (_PAGE_PRESENT | _PAGE_PROTNONE)) == _PAGE_PROTNONE;
}
static inline int pte_same(pte_t a, pte_t b)
{
	return a == b;
}
static inline int pmd_same(pmd_t a, pmd_t b)
{
	return a == b;
}

/* Leaves: present and PSE, as the machine's walker decides (pagewalk.h). */
static inline int pmd_leaf(pmd_t e)
{
	return (e & (_PAGE_PRESENT | _PAGE_PSE)) == (_PAGE_PRESENT | _PAGE_PSE);
}
static inline int pud_leaf(pud_t e)
{
	return (e & (_PAGE_PRESENT | _PAGE_PSE)) == (_PAGE_PRESENT | _PAGE_PSE);
}
static inline int p4d_leaf(p4d_t e)
{
	(void)e;
	return 0;
} /* x86: never */
static inline int pgd_leaf(pgd_t e)
{
	(void)e;
	return 0;
} /* x86: never */
static inline int pmd_trans_huge(pmd_t e)
{
	return pmd_leaf(e);
}
static inline int pud_trans_huge(pud_t e)
{
	return pud_leaf(e);
}
static inline int pmd_huge(pmd_t e)
{
	return pmd_leaf(e);
}
static inline int pud_huge(pud_t e)
{
	return pud_leaf(e);
}
static inline int pmd_bad(pmd_t e)
{
	return !pmd_none(e) && (!(e & _PAGE_PRESENT) || (e & _PAGE_PSE));
}
static inline int pud_bad(pud_t e)
{
	return !pud_none(e) && (!(e & _PAGE_PRESENT) || (e & _PAGE_PSE));
}
static inline pmd_t pmd_mkinvalid(pmd_t e)
{
	return e & ~(_PAGE_PRESENT | _PAGE_PROTNONE);
}
static inline pmd_t pmd_mkhuge(pmd_t e)
{
	return e | _PAGE_PSE;
}

static inline unsigned long pte_pfn(pte_t e)
{
	return (unsigned long)pw_entry_pfn(e);
}
static inline unsigned long pmd_pfn(pmd_t e)
{
	return (unsigned long)pw_entry_pfn(e);
}
static inline unsigned long pud_pfn(pud_t e)
{
	return (unsigned long)pw_entry_pfn(e);
}
static inline unsigned long p4d_pfn(p4d_t e)
{
	return (unsigned long)pw_entry_pfn(e);
}
static inline unsigned long pgd_pfn(pgd_t e)
{
	return (unsigned long)pw_entry_pfn(e);
}
static inline pte_t pfn_pte(unsigned long pfn, pgprot_t prot)
{
	return ((pte_t)pfn << PAGE_SHIFT) | (prot.pgprot & ~PW_PFN_MASK);
}
static inline pmd_t pfn_pmd(unsigned long pfn, pgprot_t prot)
{
	return ((pmd_t)pfn << PAGE_SHIFT) | (prot.pgprot & ~PW_PFN_MASK);
}
static inline pgprot_t pte_pgprot(pte_t e)
{
	return __pgprot(e & ~PW_PFN_MASK);
}

/* Batching: x86 has no contiguous-PTE hint. */
static inline unsigned int pte_batch_hint(pte_t *ptep, pte_t pte)
{
	(void)ptep;
	(void)pte;
	return 1;
}

/* Lazy MMU mode: a bracket, recorded. */
static inline void arch_enter_lazy_mmu_mode(void)
{
	pw_compat_event("arch_enter_lazy_mmu_mode", 0, 0);
}
static inline void arch_leave_lazy_mmu_mode(void)
{
	pw_compat_event("arch_leave_lazy_mmu_mode", 0, 0);
}
static inline void arch_flush_lazy_mmu_mode(void)
{
}

/* ======================================================================== */
/* Swap, migration and marker entries                                       */
/* ======================================================================== */

/** An arch-independent swap entry: type in the top 5 bits of 63, offset below. */
typedef struct {
	unsigned long val;
} swp_entry_t;
#define MAX_SWAPFILES_SHIFT 5
#define SWP_TYPE_SHIFT (BITS_PER_LONG - 1 - MAX_SWAPFILES_SHIFT)
#define SWP_OFFSET_MASK ((1UL << SWP_TYPE_SHIFT) - 1)
#define SWP_HWPOISON PW_SWP_HWPOISON
#define SWP_MIGRATION_READ PW_SWP_MIGRATION_READ
#define SWP_MIGRATION_READ_EXCLUSIVE PW_SWP_MIGRATION_READ_EXCLUSIVE
#define SWP_MIGRATION_WRITE PW_SWP_MIGRATION_WRITE
#define SWP_DEVICE_READ PW_SWP_DEVICE_FIRST
#define SWP_DEVICE_WRITE (PW_SWP_DEVICE_FIRST + 1)
#define SWP_DEVICE_EXCLUSIVE (PW_SWP_DEVICE_FIRST + 2)
#define SWP_PTE_MARKER PW_SWP_PTE_MARKER
#define MAX_SWAPFILES PW_SWP_HWPOISON
#define SWP_PFN_BITS 40
#define SWP_PFN_MASK ((1UL << SWP_PFN_BITS) - 1)

typedef unsigned long pte_marker;
#define PTE_MARKER_UFFD_WP ((pte_marker)PW_PTE_MARKER_UFFD_WP)
#define PTE_MARKER_POISONED ((pte_marker)PW_PTE_MARKER_POISONED)
#define PTE_MARKER_GUARD ((pte_marker)PW_PTE_MARKER_GUARD)
#define PTE_MARKER_MASK \
	(PTE_MARKER_UFFD_WP | PTE_MARKER_POISONED | PTE_MARKER_GUARD)

static inline swp_entry_t swp_entry(unsigned long type, pgoff_t offset)
{
	return (swp_entry_t){ (type << SWP_TYPE_SHIFT) |
			      (offset & SWP_OFFSET_MASK) };
}
static inline unsigned swp_type(swp_entry_t e)
{
	return (unsigned)(e.val >> SWP_TYPE_SHIFT);
}
static inline pgoff_t swp_offset(swp_entry_t e)
{
	return e.val & SWP_OFFSET_MASK;
}
static inline unsigned long swp_offset_pfn(swp_entry_t e)
{
	return swp_offset(e) & SWP_PFN_MASK;
}
static inline int non_swap_entry(swp_entry_t e)
{
	return swp_type(e) >= MAX_SWAPFILES;
}

/* Arch entries <-> swp_entry_t: the machine's encoding (pw_swp_entry). */
static inline int is_swap_pte(pte_t e)
{
	return !pte_none(e) && !pte_present(e);
}
static inline swp_entry_t pte_to_swp_entry(pte_t e)
{
	return swp_entry(pw_swp_type(e), pw_swp_offset(e));
}
static inline pte_t swp_entry_to_pte(swp_entry_t e)
{
	return pw_swp_entry(swp_type(e), swp_offset(e));
}
static inline int is_swap_pmd(pmd_t e)
{
	return !pmd_none(e) && !pmd_present(e);
}
static inline swp_entry_t pmd_to_swp_entry(pmd_t e)
{
	return swp_entry(pw_swp_type(e), pw_swp_offset(e));
}
static inline pmd_t swp_entry_to_pmd(swp_entry_t e)
{
	return pw_swp_entry(swp_type(e), swp_offset(e));
}
static inline swp_entry_t pud_to_swp_entry(pud_t e)
{
	return pmd_to_swp_entry(e);
}

static inline int is_migration_entry(swp_entry_t e)
{
	unsigned t = swp_type(e);
	return t >= SWP_MIGRATION_READ && t <= SWP_MIGRATION_WRITE;
}
static inline int is_writable_migration_entry(swp_entry_t e)
{
	return swp_type(e) == SWP_MIGRATION_WRITE;
}
static inline int is_readable_migration_entry(swp_entry_t e)
{
	return swp_type(e) == SWP_MIGRATION_READ;
}
static inline int is_readable_exclusive_migration_entry(swp_entry_t e)
{
	return swp_type(e) == SWP_MIGRATION_READ_EXCLUSIVE;
}
static inline int is_device_private_entry(swp_entry_t e)
{
	return swp_type(e) == SWP_DEVICE_READ ||
	       swp_type(e) == SWP_DEVICE_WRITE;
}
static inline int is_writable_device_private_entry(swp_entry_t e)
{
	return swp_type(e) == SWP_DEVICE_WRITE;
}
static inline int is_device_exclusive_entry(swp_entry_t e)
{
	return swp_type(e) == SWP_DEVICE_EXCLUSIVE;
}
static inline int is_hwpoison_entry(swp_entry_t e)
{
	return swp_type(e) == SWP_HWPOISON;
}
static inline int is_pfn_swap_entry(swp_entry_t e)
{
	return is_migration_entry(e) || is_device_private_entry(e) ||
	       is_device_exclusive_entry(e) || is_hwpoison_entry(e);
}
static inline int is_pmd_migration_entry(pmd_t e)
{
	return is_swap_pmd(e) && is_migration_entry(pmd_to_swp_entry(e));
}
static inline int is_pmd_device_private_entry(pmd_t e)
{
	return is_swap_pmd(e) && is_device_private_entry(pmd_to_swp_entry(e));
}
static inline swp_entry_t make_readable_migration_entry(unsigned long pfn)
{
	return swp_entry(SWP_MIGRATION_READ, pfn);
}
static inline swp_entry_t make_writable_migration_entry(unsigned long pfn)
{
	return swp_entry(SWP_MIGRATION_WRITE, pfn);
}

/* PTE markers. */
static inline swp_entry_t make_pte_marker_entry(pte_marker m)
{
	return swp_entry(SWP_PTE_MARKER, m);
}
static inline int is_pte_marker_entry(swp_entry_t e)
{
	return swp_type(e) == SWP_PTE_MARKER;
}
static inline pte_marker pte_marker_get(swp_entry_t e)
{
	return swp_offset(e) & PTE_MARKER_MASK;
}
static inline int is_pte_marker(pte_t e)
{
	return is_swap_pte(e) && is_pte_marker_entry(pte_to_swp_entry(e));
}
static inline pte_t make_pte_marker(pte_marker m)
{
	return swp_entry_to_pte(make_pte_marker_entry(m));
}
static inline int is_guard_swp_entry(swp_entry_t e)
{
	return is_pte_marker_entry(e) && (pte_marker_get(e) & PTE_MARKER_GUARD);
}
static inline int is_poisoned_swp_entry(swp_entry_t e)
{
	return is_pte_marker_entry(e) &&
	       (pte_marker_get(e) & PTE_MARKER_POISONED);
}
static inline int pte_marker_entry_uffd_wp(swp_entry_t e)
{
	return is_pte_marker_entry(e) &&
	       (pte_marker_get(e) & PTE_MARKER_UFFD_WP);
}
static inline int pte_marker_uffd_wp(pte_t e)
{
	return is_pte_marker(e) &&
	       pte_marker_entry_uffd_wp(pte_to_swp_entry(e));
}
/* none or a marker: what a fault would treat as empty. */
static inline int pte_none_mostly(pte_t e)
{
	return pte_none(e) || is_pte_marker(e);
}
static inline int pte_swp_uffd_wp_any(pte_t e)
{
	return is_swap_pte(e) && (pte_swp_uffd_wp(e) || pte_marker_uffd_wp(e));
}

/* xarray values (what a shmem page cache holds for a swapped page). */
static inline void *xa_mk_value(unsigned long v)
{
	return (void *)((v << 1) | 1);
}
static inline unsigned long xa_to_value(const void *e)
{
	return (unsigned long)e >> 1;
}
static inline bool xa_is_value(const void *e)
{
	return (unsigned long)e & 1;
}
static inline swp_entry_t radix_to_swp_entry(void *arg)
{
	return (swp_entry_t){ xa_to_value(arg) };
}
static inline void *swp_to_radix_entry(swp_entry_t e)
{
	return xa_mk_value(e.val);
}

/* Linux 6.19's names for the same entries (<linux/leafops.h>): a "software
 * leaf" is any non-present, non-none entry; an empty one is softleaf 0. */
typedef swp_entry_t softleaf_t;
static inline softleaf_t softleaf_mk_none(void)
{
	return (softleaf_t){ 0 };
}
static inline softleaf_t softleaf_from_pte(pte_t e)
{
	return is_swap_pte(e) ? pte_to_swp_entry(e) : softleaf_mk_none();
}
static inline softleaf_t softleaf_from_pmd(pmd_t e)
{
	return is_swap_pmd(e) ? pmd_to_swp_entry(e) : softleaf_mk_none();
}
static inline bool softleaf_is_none(softleaf_t e)
{
	return e.val == 0;
}
static inline bool softleaf_is_valid(softleaf_t e)
{
	return e.val != 0;
}
static inline bool softleaf_is_swap(softleaf_t e)
{
	return !softleaf_is_none(e) && !non_swap_entry(e);
}
static inline bool softleaf_is_migration(softleaf_t e)
{
	return is_migration_entry(e);
}
static inline bool softleaf_is_migration_write(softleaf_t e)
{
	return is_writable_migration_entry(e);
}
static inline bool softleaf_is_migration_read(softleaf_t e)
{
	return is_readable_migration_entry(e);
}
static inline bool softleaf_is_device_private(softleaf_t e)
{
	return is_device_private_entry(e);
}
static inline bool softleaf_is_device_exclusive(softleaf_t e)
{
	return is_device_exclusive_entry(e);
}
static inline bool softleaf_is_hwpoison(softleaf_t e)
{
	return is_hwpoison_entry(e);
}
static inline bool softleaf_is_marker(softleaf_t e)
{
	return is_pte_marker_entry(e);
}
static inline pte_marker softleaf_to_marker(softleaf_t e)
{
	return pte_marker_get(e);
}
static inline bool softleaf_is_guard_marker(softleaf_t e)
{
	return is_guard_swp_entry(e);
}
static inline bool softleaf_is_uffd_wp_marker(softleaf_t e)
{
	return pte_marker_entry_uffd_wp(e);
}
static inline bool softleaf_has_pfn(softleaf_t e)
{
	return is_pfn_swap_entry(e);
}
static inline unsigned long softleaf_to_pfn(softleaf_t e)
{
	return swp_offset_pfn(e);
}
static inline bool pte_is_marker(pte_t e)
{
	return is_pte_marker(e);
}
static inline bool pte_is_uffd_wp_marker(pte_t e)
{
	return pte_marker_uffd_wp(e);
}
static inline bool pmd_is_migration_entry(pmd_t e)
{
	return is_pmd_migration_entry(e);
}
static inline bool pud_is_huge(pud_t e)
{
	return pud_leaf(e);
}
static inline bool pmd_is_huge(pmd_t e)
{
	return pmd_leaf(e) || is_swap_pmd(e);
}

/* ======================================================================== */
/* struct page and folios: the machine's frames with their facts            */
/* ======================================================================== */

struct address_space;
struct lruvec {
	int pw_unused;
};

/**
 * The kernel's struct page, laid over struct pw_page_info: one per frame,
 * frame p at pw_compat_state.pages + p, so page + 1 is the next frame.
 */
struct page {
	unsigned long flags;
	union {
		struct list_head lru;
		struct {
			void *__filler;
			unsigned int mlock_count;
		};
	};
	struct address_space *mapping;
	pgoff_t index;
	int _pw_mapcount;
	int _pw_refcount;
	int _pw_entire_mapcount;
	int _pw_nid;
	unsigned long private;
};

/** A folio is its head page, with the kernel's field names. */
struct folio {
	union {
		struct {
			unsigned long flags;
			union {
				struct list_head lru;
				struct {
					void *__filler;
					unsigned int mlock_count;
				};
			};
			struct address_space *mapping;
			pgoff_t index;
			int _pw_mapcount;
			int _pw_refcount;
			int _pw_entire_mapcount;
			int _pw_nid;
			unsigned long private;
		};
		struct page page;
	};
};

_Static_assert(sizeof(struct page) == sizeof(struct pw_page_info),
	       "page layout");
_Static_assert(sizeof(struct folio) == sizeof(struct pw_page_info),
	       "folio layout");
_Static_assert(offsetof(struct page, mapping) ==
		       offsetof(struct pw_page_info, mapping),
	       "page layout");
_Static_assert(offsetof(struct page, _pw_mapcount) ==
		       offsetof(struct pw_page_info, mapcount),
	       "page layout");
_Static_assert(offsetof(struct page, _pw_nid) ==
		       offsetof(struct pw_page_info, nid),
	       "page layout");
_Static_assert(offsetof(struct page, private) ==
		       offsetof(struct pw_page_info, private_),
	       "page layout");

static inline struct pw_machine *pw_compat_machine(void)
{
	return pw_compat_state.machine;
}

/** The frame number of @page (a page of the current machine). */
static inline unsigned long page_to_pfn(const struct page *page)
{
	return (unsigned long)(page - pw_compat_state.pages);
}
/** The struct page of frame @pfn, or NULL beyond memory / without a machine. */
static inline struct page *pfn_to_page(unsigned long pfn)
{
	if (!pw_compat_state.pages || pfn >= pw_compat_state.frames)
		return NULL;
	return pw_compat_state.pages + pfn;
}
static inline bool pfn_valid(unsigned long pfn)
{
	return pfn < pw_compat_state.frames;
}
#define folio_pfn(f) page_to_pfn(&(f)->page)
#define page_to_virt(p) ((void *)(p))

/* The core's own struct page of frame @pfn (its folio structure). */
static inline struct page *pw_core_page(unsigned long pfn)
{
	return pw_pfn_to_page(pw_compat_state.machine, pfn);
}
/* A page the core returned -> the layer's page of the same frame. */
static inline struct page *pw_from_core_page(struct page *core)
{
	return core ? pfn_to_page((unsigned long)pw_page_to_pfn(
			      pw_compat_state.machine, core)) :
		      NULL;
}

/** The folio @page belongs to (its head page, from the machine's folios). */
static inline struct folio *page_folio(const struct page *page)
{
	struct pw_machine *m = pw_compat_state.machine;
	struct page *core;

	if (!page)
		return NULL;
	core = pw_core_page(page_to_pfn(page));
	if (!core)
		return (struct folio *)page;
	return (struct folio *)pfn_to_page(
		(unsigned long)pw_folio_pfn(m, pw_page_folio(m, core)));
}
#define page_folio(p) page_folio((const struct page *)(p))
static inline struct folio *pfn_folio(unsigned long pfn)
{
	return page_folio(pfn_to_page(pfn));
}
static inline unsigned int folio_order(const struct folio *folio)
{
	struct pw_machine *m = pw_compat_state.machine;
	struct page *core = pw_core_page(page_to_pfn(&folio->page));

	return core ? pw_folio_order(m, (const struct folio *)core) : 0;
}
static inline long folio_nr_pages(const struct folio *folio)
{
	return 1L << folio_order(folio);
}
static inline bool folio_test_large(const struct folio *folio)
{
	return folio_order(folio) > 0;
}
static inline struct page *folio_page(struct folio *folio, unsigned long n)
{
	return &folio->page + n;
}
static inline unsigned long compound_nr(const struct page *page)
{
	/* A tail page is not a compound head: 1, as the kernel answers. */
	const struct folio *f = page_folio(page);

	return &f->page == page ? (unsigned long)folio_nr_pages(f) : 1;
}
static inline unsigned int compound_order(const struct page *page)
{
	const struct folio *f = page_folio(page);

	return &f->page == page ? folio_order(f) : 0;
}
static inline size_t folio_size(const struct folio *f)
{
	return PAGE_SIZE << folio_order(f);
}

/* Flags: the kpageflags numbering of pagewalk_pages.h. */
#define PW_FOLIO_FLAG(name, bit)                                    \
	static inline bool folio_test_##name(const struct folio *f) \
	{                                                           \
		return !!(f->flags & (bit));                        \
	}                                                           \
	static inline void folio_set_##name(struct folio *f)        \
	{                                                           \
		f->flags |= (bit);                                  \
	}                                                           \
	static inline void folio_clear_##name(struct folio *f)      \
	{                                                           \
		f->flags &= ~(unsigned long)(bit);                  \
	}                                                           \
	static inline bool folio_test_set_##name(struct folio *f)   \
	{                                                           \
		bool o = folio_test_##name(f);                      \
		f->flags |= (bit);                                  \
		return o;                                           \
	}                                                           \
	static inline bool folio_test_clear_##name(struct folio *f) \
	{                                                           \
		bool o = folio_test_##name(f);                      \
		f->flags &= ~(unsigned long)(bit);                  \
		return o;                                           \
	}

PW_FOLIO_FLAG(locked, PW_PGF_LOCKED)
PW_FOLIO_FLAG(referenced, PW_PGF_REFERENCED)
PW_FOLIO_FLAG(uptodate, PW_PGF_UPTODATE)
PW_FOLIO_FLAG(dirty, PW_PGF_DIRTY)
PW_FOLIO_FLAG(lru, PW_PGF_LRU)
PW_FOLIO_FLAG(active, PW_PGF_ACTIVE)
PW_FOLIO_FLAG(writeback, PW_PGF_WRITEBACK)
PW_FOLIO_FLAG(reclaim, PW_PGF_RECLAIM)
PW_FOLIO_FLAG(swapbacked, PW_PGF_SWAPBACKED)
PW_FOLIO_FLAG(unevictable, PW_PGF_UNEVICTABLE)
PW_FOLIO_FLAG(hwpoison, PW_PGF_HWPOISON)
PW_FOLIO_FLAG(mlocked, PW_PGF_MLOCKED)
PW_FOLIO_FLAG(reserved, PW_PGF_RESERVED)
PW_FOLIO_FLAG(young, PW_PGF_YOUNG)
PW_FOLIO_FLAG(idle, PW_PGF_IDLE)
PW_FOLIO_FLAG(private, PW_PGF_PRIVATE)
PW_FOLIO_FLAG(hugetlb, PW_PGF_HUGE)
#undef PW_FOLIO_FLAG

static inline bool folio_test_anon(const struct folio *f)
{
	return !!(f->flags & PW_PGF_ANON);
}
static inline bool folio_test_ksm(const struct folio *f)
{
	return !!(f->flags & PW_PGF_KSM);
}
static inline bool folio_test_swapcache(const struct folio *f)
{
	return (f->flags & (PW_PGF_SWAPCACHE | PW_PGF_SWAPBACKED)) ==
	       (PW_PGF_SWAPCACHE | PW_PGF_SWAPBACKED);
}
static inline bool folio_is_zone_device(const struct folio *f)
{
	return !!(f->flags & PW_PGF_ZONE_DEVICE);
}
static inline bool is_zone_device_page(const struct page *p)
{
	return folio_is_zone_device(page_folio(p));
}
static inline bool folio_is_file_lru(const struct folio *f)
{
	return !folio_test_swapbacked(f);
}
static inline bool folio_evictable(const struct folio *f)
{
	return !folio_test_mlocked(f) &&
	       !(f->flags & PW_PGF_UNEVICTABLE && !folio_test_lru(f));
}
static inline bool folio_test_pmd_mappable(const struct folio *f)
{
	return folio_order(f) >= HPAGE_PMD_ORDER;
}

/* Page-level tests ask the folio, as the kernel's PageX wrappers do. */
static inline bool PageAnon(const struct page *p)
{
	return folio_test_anon(page_folio(p));
}
static inline bool PageKsm(const struct page *p)
{
	return folio_test_ksm(page_folio(p));
}
static inline bool PageReserved(const struct page *p)
{
	return !!(p->flags & PW_PGF_RESERVED);
}
static inline bool PageDirty(const struct page *p)
{
	return folio_test_dirty(page_folio(p));
}
static inline bool PageSwapBacked(const struct page *p)
{
	return folio_test_swapbacked(page_folio(p));
}
static inline bool PageReferenced(const struct page *p)
{
	return folio_test_referenced(page_folio(p));
}
static inline bool PageLRU(const struct page *p)
{
	return folio_test_lru(page_folio(p));
}
static inline bool PageHuge(const struct page *p)
{
	return folio_test_hugetlb(page_folio(p));
}
static inline bool PageTransCompound(const struct page *p)
{
	return folio_test_large(page_folio(p));
}
static inline bool PageHWPoison(const struct page *p)
{
	return !!(p->flags & PW_PGF_HWPOISON);
}
static inline void ClearPageReferenced(struct page *p)
{
	folio_clear_referenced(page_folio(p));
}

/* Counts (zero-based map counts; see pagewalk_pages.h). */
static inline int folio_ref_count(const struct folio *f)
{
	return f->_pw_refcount;
}
static inline int page_count(const struct page *p)
{
	return folio_ref_count(page_folio(p));
}
static inline void folio_get(struct folio *f)
{
	f->_pw_refcount++;
}
static inline void folio_put(struct folio *f)
{
	if (--f->_pw_refcount < 0)
		pw_compat_event("folio_put below zero", folio_pfn(f), 0);
}
static inline void get_page(struct page *p)
{
	folio_get(page_folio(p));
}
static inline void put_page(struct page *p)
{
	folio_put(page_folio(p));
}
static inline int folio_entire_mapcount(const struct folio *f)
{
	return folio_test_large(f) ? f->_pw_entire_mapcount : 0;
}
/** All mappings of the folio: each PTE of a page, each PMD/PUD of the whole. */
static inline int folio_mapcount(const struct folio *f)
{
	long i, n;
	int sum;

	if (!folio_test_large(f))
		return f->_pw_mapcount;
	n = folio_nr_pages(f);
	sum = f->_pw_entire_mapcount;
	for (i = 0; i < n; i++)
		sum += (&f->page)[i]._pw_mapcount;
	return sum;
}
static inline bool folio_mapped(const struct folio *f)
{
	return folio_mapcount(f) > 0;
}
/** How many times @page is mapped: its own PTEs plus the folio's entire maps. */
static inline int folio_precise_page_mapcount(struct folio *f, struct page *p)
{
	return p->_pw_mapcount + folio_entire_mapcount(f);
}
static inline int page_mapcount(struct page *p)
{
	return folio_precise_page_mapcount(page_folio(p), p);
}
/**
 * The average number of times each page of @f is mapped, rounded to the
 * nearest integer; entire (PMD) mappings count for every page.
 */
static inline int folio_average_page_mapcount(struct folio *f)
{
	int total, entire;
	long nr;

	if (!folio_test_large(f))
		return f->_pw_mapcount;
	total = folio_mapcount(f);
	if (total <= 0)
		return 0;
	entire = folio_entire_mapcount(f);
	if (total <= entire)
		return entire;
	nr = folio_nr_pages(f);
	return (int)(((long)(total - entire) + nr / 2) / nr) + entire;
}
/**
 * Might the folio be mapped by more than one mm?  Small folios: mapped
 * more than once.  Large folios: marked PW_PGF_MAYBE_SHARED, or some page
 * mapped more than once (the machine does not track mms per folio).
 */
static inline bool folio_maybe_mapped_shared(struct folio *f)
{
	long i, n;

	if (!folio_test_large(f))
		return f->_pw_mapcount > 1;
	if (f->flags & PW_PGF_MAYBE_SHARED || f->_pw_entire_mapcount > 1)
		return true;
	n = folio_nr_pages(f);
	for (i = 0; i < n; i++)
		if (folio_precise_page_mapcount(f, &f->page + i) > 1)
			return true;
	return false;
}
#define folio_likely_mapped_shared(f) folio_maybe_mapped_shared(f)
/** Pinned for DMA: a reference count at the kernel's pin bias or more. */
#define GUP_PIN_COUNTING_BIAS (1U << 10)
static inline bool folio_maybe_dma_pinned(struct folio *f)
{
	return (unsigned)folio_ref_count(f) >= GUP_PIN_COUNTING_BIAS;
}
static inline int folio_nid(const struct folio *f)
{
	return f->_pw_nid;
}
static inline int page_to_nid(const struct page *p)
{
	return p->_pw_nid;
}
static inline struct address_space *folio_mapping(struct folio *f)
{
	return folio_test_anon(f) ? NULL : f->mapping;
}
static inline pgoff_t folio_index(struct folio *f)
{
	return f->index;
}
#define folio_pgoff(f) ((f)->index)

/* Young/idle (page_idle.h). */
static inline bool page_is_young(struct page *p)
{
	return folio_test_young(page_folio(p));
}
static inline bool test_and_clear_page_young(struct page *p)
{
	return folio_test_clear_young(page_folio(p));
}

/* The zero pages. */
static inline unsigned long my_zero_pfn(unsigned long addr)
{
	(void)addr;
	return pw_compat_state.machine ?
		       (unsigned long)pw_machine_config(pw_compat_state.machine)
			       ->zero_pfn :
		       0;
}
static inline bool is_zero_pfn(unsigned long pfn)
{
	return pw_compat_state.machine && pfn == my_zero_pfn(0);
}
static inline bool is_huge_zero_pfn(unsigned long pfn)
{
	uint64_t hz = pw_compat_state.machine ?
			      pw_machine_config(pw_compat_state.machine)
				      ->huge_zero_pfn :
			      0;

	return hz && pfn == hz;
}
static inline bool is_huge_zero_pmd(pmd_t pmd)
{
	return pmd_present(pmd) && is_huge_zero_pfn(pmd_pfn(pmd));
}
static inline bool is_huge_zero_folio(const struct folio *f)
{
	return is_huge_zero_pfn(folio_pfn(f));
}
static inline bool is_zero_page(const struct page *p)
{
	return is_zero_pfn(page_to_pfn(p));
}
static inline bool is_zero_folio(const struct folio *f)
{
	return is_zero_page(&f->page);
}

/* The page an entry maps (or the table page it points to). */
static inline struct page *pte_page(pte_t e)
{
	return pfn_to_page(pte_pfn(e));
}
static inline struct page *pmd_page(pmd_t e)
{
	return pfn_to_page(pmd_pfn(e));
}
static inline struct page *pud_page(pud_t e)
{
	return pfn_to_page(pud_pfn(e));
}
static inline struct page *p4d_page(p4d_t e)
{
	return pfn_to_page(p4d_pfn(e));
}
static inline struct page *pgd_page(pgd_t e)
{
	return pfn_to_page(pgd_pfn(e));
}
static inline struct folio *pmd_folio(pmd_t e)
{
	return page_folio(pmd_page(e));
}
static inline struct folio *pud_folio(pud_t e)
{
	return page_folio(pud_page(e));
}
static inline struct page *pfn_swap_entry_to_page(swp_entry_t e)
{
	return pfn_to_page(swp_offset_pfn(e));
}
static inline struct folio *pfn_swap_entry_folio(swp_entry_t e)
{
	return page_folio(pfn_swap_entry_to_page(e));
}
#define migration_entry_to_page(e) pfn_swap_entry_to_page(e)
#define softleaf_to_page(e) pfn_swap_entry_to_page(e)
#define softleaf_to_folio(e) pfn_swap_entry_folio(e)
/* Kernel virtual addresses are not the machine's: no page backs them. */
#define virt_to_page(addr) ((struct page *)NULL)
#define lm_alias(x) (x)
#define __pa(x) ((unsigned long)(x))
#define __va(x) ((void *)(unsigned long)(x))

/* ======================================================================== */
/* VMAs and mm                                                              */
/* ======================================================================== */

/** The kernel's struct file: the layer knows only its mapping. */
struct file {
	struct address_space *f_mapping;
};
/* The kernel's vma->vm_file is a struct file (see pagewalk.h). */
#define vm_file vm_kfile

struct vm_operations_struct;
struct inode;
struct task_struct;
struct mempolicy;
struct seq_file;

#define VM_NONE 0x00000000UL
#define VM_MAYREAD 0x00000010UL
#define VM_MAYWRITE 0x00000020UL
#define VM_MAYEXEC 0x00000040UL
#define VM_MAYSHARE 0x00000080UL
#define VM_GROWSDOWN 0x00000100UL
#define VM_UFFD_MISSING 0x00000200UL
#define VM_UFFD_WP 0x00001000UL
#define VM_LOCKED 0x00002000UL
#define VM_IO 0x00004000UL
#define VM_DONTCOPY 0x00020000UL
#define VM_DONTEXPAND 0x00040000UL
#define VM_LOCKONFAULT 0x00080000UL
#define VM_ACCOUNT 0x00100000UL
#define VM_NORESERVE 0x00200000UL
#define VM_DONTDUMP 0x04000000UL
#define VM_SOFTDIRTY 0x08000000UL
#define VM_HUGEPAGE 0x20000000UL
#define VM_NOHUGEPAGE 0x40000000UL
#define VM_MERGEABLE 0x80000000UL
#define VM_LOCKED_MASK (VM_LOCKED | VM_LOCKONFAULT)
#define VM_SPECIAL (VM_IO | VM_DONTEXPAND | VM_PFNMAP | VM_MIXEDMAP)

static inline bool vma_is_anonymous(struct vm_area_struct *vma)
{
	return pw_vma_is_anonymous(vma);
}
static inline bool vma_is_dax(const struct vm_area_struct *vma)
{
	(void)vma;
	return false;
}
static inline bool vma_is_accessible(const struct vm_area_struct *vma)
{
	return vma->vm_flags & (VM_READ | VM_WRITE | VM_EXEC);
}
static inline bool is_vm_hugetlb_page(const struct vm_area_struct *vma)
{
	return vma->vm_flags & VM_HUGETLB;
}
static inline bool is_cow_mapping(vm_flags_t flags)
{
	return (flags & (VM_SHARED | VM_MAYWRITE)) == VM_MAYWRITE;
}
static inline bool range_in_vma(const struct vm_area_struct *vma,
				unsigned long start, unsigned long end)
{
	return vma && vma->vm_start <= start && end <= vma->vm_end;
}
/** The page offset in the mapping that @addr of @vma shows. */
static inline pgoff_t linear_page_index(const struct vm_area_struct *vma,
					unsigned long addr)
{
	return ((addr - vma->vm_start) >> PAGE_SHIFT) + vma->vm_pgoff;
}
static inline unsigned long vma_pages(const struct vm_area_struct *vma)
{
	return (vma->vm_end - vma->vm_start) >> PAGE_SHIFT;
}
/* vma_migratable: defined below, with hugetlb and the zones. */
static inline unsigned long vma_kernel_pagesize(struct vm_area_struct *vma)
{
	return vma->hugetlb_shift ? 1UL << vma->hugetlb_shift : PAGE_SIZE;
}
#define vma_mmu_pagesize(vma) vma_kernel_pagesize(vma)
static inline struct vm_area_struct *vma_lookup(struct mm_struct *mm,
						unsigned long addr)
{
	struct vm_area_struct *vma = find_vma(mm, addr);

	return vma && vma->vm_start <= addr ? vma : NULL;
}

/* mm flags: the machine's mms have none set (no pinned pages, ...). */
#define MMF_HAS_PINNED 27
#define MMF_HAS_MDWE 28
static inline bool mm_flags_test(int flag, const struct mm_struct *mm)
{
	(void)flag;
	(void)mm;
	return false;
}
#define test_bit(nr, addr) (!!((*(const unsigned long *)(addr) >> (nr)) & 1))

/* userfaultfd: the machine's VMAs have no userfaultfd context. */
static inline bool userfaultfd_wp(struct vm_area_struct *vma)
{
	return vma->vm_flags & VM_UFFD_WP;
}
static inline bool userfaultfd_wp_async(struct vm_area_struct *vma)
{
	(void)vma;
	return false;
}
static inline bool userfaultfd_wp_use_markers(struct vm_area_struct *vma)
{
	(void)vma;
	return false;
}
static inline long uffd_wp_range(struct vm_area_struct *vma,
				 unsigned long start, unsigned long len,
				 bool enable_wp)
{
	(void)vma;
	(void)enable_wp;
	pw_compat_event("uffd_wp_range", start, start + len);
	return 0;
}

/* ======================================================================== */
/* Page-table locks and table mapping                                       */
/* ======================================================================== */

static inline struct pw_machine *
pw_vma_machine(const struct vm_area_struct *vma)
{
	struct pw_machine *m = pw_mm_machine(vma->vm_mm);

	pw_compat_use_machine(m);
	return m;
}

/** The PMD's split lock: the lock of the table that holds it. */
static inline spinlock_t *pmd_lockptr(struct mm_struct *mm, pmd_t *pmd)
{
	pw_compat_use_mm(mm);
	return pw_table_lock(pw_mm_machine(mm), pmd);
}
static inline spinlock_t *pmd_lock(struct mm_struct *mm, pmd_t *pmd)
{
	spinlock_t *ptl = pmd_lockptr(mm, pmd);

	spin_lock(ptl);
	return ptl;
}
/** The PUD lock: the mm's page_table_lock. */
static inline spinlock_t *pud_lockptr(struct mm_struct *mm, pud_t *pud)
{
	(void)pud;
	pw_compat_use_mm(mm);
	return pw_mm_page_table_lock(mm);
}
static inline spinlock_t *pud_lock(struct mm_struct *mm, pud_t *pud)
{
	spinlock_t *ptl = pud_lockptr(mm, pud);

	spin_lock(ptl);
	return ptl;
}
/** The lock of the PTE table under a PMD. */
static inline spinlock_t *pte_lockptr(struct mm_struct *mm, pmd_t *pmd)
{
	pw_compat_use_mm(mm);
	return pw_table_lock(
		pw_mm_machine(mm),
		(uint64_t *)pw_machine_layout(pw_mm_machine(mm))->mem +
			pmd_pfn(*pmd) * PW_PTRS_PER_TABLE);
}

/**
 * If *@pmd is a huge PMD (a leaf or a migration/swap entry), takes its
 * lock and returns it (recheck done under the lock); else NULL.
 */
static inline spinlock_t *pmd_trans_huge_lock(pmd_t *pmd,
					      struct vm_area_struct *vma)
{
	spinlock_t *ptl;
	pmd_t v;

	v = pmdp_get(pmd);
	if (!pmd_trans_huge(v) && !is_swap_pmd(v))
		return NULL;
	pw_vma_machine(vma);
	ptl = pmd_lock(vma->vm_mm, pmd);
	v = pmdp_get(pmd);
	if (pmd_trans_huge(v) || is_swap_pmd(v))
		return ptl;
	spin_unlock(ptl);
	return NULL;
}
static inline spinlock_t *pud_trans_huge_lock(pud_t *pud,
					      struct vm_area_struct *vma)
{
	spinlock_t *ptl;

	if (!pud_trans_huge(pudp_get(pud)))
		return NULL;
	pw_vma_machine(vma);
	ptl = pud_lock(vma->vm_mm, pud);
	if (pud_trans_huge(pudp_get(pud)))
		return ptl;
	spin_unlock(ptl);
	return NULL;
}

/** Maps the PTE table under @pmd (NULL for none, huge, migration or bad). */
static inline pte_t *pte_offset_map(pmd_t *pmd, unsigned long addr)
{
	struct pw_machine *m = pw_compat_state.machine;

	if (!m) {
		pw_compat_event("pte_offset_map without a machine", addr, 0);
		return NULL;
	}
	return pw_pte_offset_map(m, pmd, addr);
}
static inline pte_t *pte_offset_map_nolock(struct mm_struct *mm, pmd_t *pmd,
					   unsigned long addr,
					   spinlock_t **ptlp)
{
	pte_t *pte;

	pw_compat_use_mm(mm);
	pte = pte_offset_map(pmd, addr);
	if (pte)
		*ptlp = pte_lockptr(mm, pmd);
	return pte;
}
static inline pte_t *pte_offset_kernel(pmd_t *pmd, unsigned long addr)
{
	return (pte_t *)pw_machine_layout(pw_compat_state.machine)->mem +
	       pmd_pfn(*pmd) * PW_PTRS_PER_TABLE + ((addr >> PAGE_SHIFT) & 511);
}

/**
 * Ends a pte_offset_map(): nothing to unmap in user space, but a pointer
 * that is not inside one of the machine's page tables was never mapped:
 * recorded as "pte_unmap of a table never mapped".
 */
static inline void pte_unmap(pte_t *pte)
{
	struct pw_machine *m = pw_compat_state.machine;
	const struct pw_machine_layout *l = m ? pw_machine_layout(m) : NULL;
	uintptr_t p = (uintptr_t)pte, lo, hi;

	if (!l)
		return;
	lo = (uintptr_t)(l->mem + l->table_base * PW_PTRS_PER_TABLE);
	hi = (uintptr_t)(l->mem + l->frames * PW_PTRS_PER_TABLE);
	if (!pte || p < lo || p >= hi)
		pw_compat_event("pte_unmap of a table never mapped",
				pw_compat_state.callback_addr, 0);
}

/* hugetlb's lock: the PMD's split lock for PMD-sized pages, else the mm's. */
struct hstate {
	unsigned int order;
};
__attribute__((weak)) struct hstate pw_compat_hstates[2] = { { 9 }, { 18 } };
static inline unsigned long huge_page_size(const struct hstate *h)
{
	return PAGE_SIZE << h->order;
}
static inline unsigned long huge_page_mask(const struct hstate *h)
{
	return ~(huge_page_size(h) - 1);
}
static inline unsigned int huge_page_order(const struct hstate *h)
{
	return h->order;
}
static inline unsigned int huge_page_shift(const struct hstate *h)
{
	return h->order + PAGE_SHIFT;
}
static inline unsigned long pages_per_huge_page(const struct hstate *h)
{
	return 1UL << h->order;
}
/** The hstate of a hugetlb VMA (2 MiB or 1 GiB pages). */
static inline struct hstate *hstate_vma(struct vm_area_struct *vma)
{
	pw_vma_machine(vma);
	return &pw_compat_hstates[vma->hugetlb_shift == 30];
}
static inline spinlock_t *huge_pte_lockptr(struct hstate *h,
					   struct mm_struct *mm, pte_t *pte)
{
	if (huge_page_size(h) == PMD_SIZE)
		return pmd_lockptr(mm, (pmd_t *)pte);
	pw_compat_use_mm(mm);
	return pw_mm_page_table_lock(mm);
}
static inline spinlock_t *huge_pte_lock(struct hstate *h, struct mm_struct *mm,
					pte_t *pte)
{
	spinlock_t *ptl = huge_pte_lockptr(h, mm, pte);

	spin_lock(ptl);
	return ptl;
}

/* Modifying entries.  Writes are the machine's release stores. */
static inline void set_pte_at(struct mm_struct *mm, unsigned long addr,
			      pte_t *ptep, pte_t pte)
{
	(void)mm;
	(void)addr;
	pw_entry_set(ptep, pte);
}
static inline void set_ptes(struct mm_struct *mm, unsigned long addr,
			    pte_t *ptep, pte_t pte, unsigned int nr)
{
	for (; nr; nr--, ptep++, pte += PAGE_SIZE)
		set_pte_at(mm, addr, ptep, pte);
}
static inline void set_pmd_at(struct mm_struct *mm, unsigned long addr,
			      pmd_t *pmdp, pmd_t pmd)
{
	(void)mm;
	(void)addr;
	pw_entry_set(pmdp, pmd);
}
static inline void set_pud_at(struct mm_struct *mm, unsigned long addr,
			      pud_t *pudp, pud_t pud)
{
	(void)mm;
	(void)addr;
	pw_entry_set(pudp, pud);
}
static inline void pte_clear(struct mm_struct *mm, unsigned long addr,
			     pte_t *ptep)
{
	set_pte_at(mm, addr, ptep, 0);
}
static inline void pte_clear_not_present_full(struct mm_struct *mm,
					      unsigned long addr, pte_t *ptep,
					      int full)
{
	(void)full;
	pte_clear(mm, addr, ptep);
}
static inline pte_t ptep_get_and_clear(struct mm_struct *mm, unsigned long addr,
				       pte_t *ptep)
{
	pte_t old = ptep_get(ptep);

	pte_clear(mm, addr, ptep);
	return old;
}
static inline void ptep_set_wrprotect(struct mm_struct *mm, unsigned long addr,
				      pte_t *ptep)
{
	set_pte_at(mm, addr, ptep, pte_wrprotect(ptep_get(ptep)));
}
/** Clears the accessed bit; returns whether it was set. */
static inline int ptep_test_and_clear_young(struct vm_area_struct *vma,
					    unsigned long addr, pte_t *ptep)
{
	pte_t v = ptep_get(ptep);

	if (!pte_young(v))
		return 0;
	set_pte_at(vma->vm_mm, addr, ptep, pte_mkold(v));
	return 1;
}
static inline int pmdp_test_and_clear_young(struct vm_area_struct *vma,
					    unsigned long addr, pmd_t *pmdp)
{
	pmd_t v = pmdp_get(pmdp);

	if (!pmd_young(v))
		return 0;
	set_pmd_at(vma->vm_mm, addr, pmdp, pmd_mkold(v));
	return 1;
}
static inline int ptep_clear_flush_young(struct vm_area_struct *vma,
					 unsigned long addr, pte_t *ptep)
{
	int young = ptep_test_and_clear_young(vma, addr, ptep);

	if (young)
		pw_compat_event("flush_tlb_page", addr, addr + PAGE_SIZE);
	return young;
}
/** Starts a protection change: the PTE is cleared and its old value returned. */
static inline pte_t ptep_modify_prot_start(struct vm_area_struct *vma,
					   unsigned long addr, pte_t *ptep)
{
	return ptep_get_and_clear(vma->vm_mm, addr, ptep);
}
/** Ends it: the new value is written. */
static inline void ptep_modify_prot_commit(struct vm_area_struct *vma,
					   unsigned long addr, pte_t *ptep,
					   pte_t old_pte, pte_t pte)
{
	(void)old_pte;
	set_pte_at(vma->vm_mm, addr, ptep, pte);
}
/** Makes a PMD leaf invalid (not present, bits kept) and flushes: returns the old. */
static inline pmd_t pmdp_invalidate(struct vm_area_struct *vma,
				    unsigned long addr, pmd_t *pmdp)
{
	pmd_t old = pmdp_get(pmdp);

	set_pmd_at(vma->vm_mm, addr, pmdp, pmd_mkinvalid(old));
	pw_compat_event("flush_pmd_tlb_range", addr & PMD_MASK,
			(addr & PMD_MASK) + PMD_SIZE);
	return old;
}
static inline pmd_t pmdp_invalidate_ad(struct vm_area_struct *vma,
				       unsigned long addr, pmd_t *pmdp)
{
	return pmdp_invalidate(vma, addr, pmdp);
}
static inline pmd_t pmdp_huge_get_and_clear(struct mm_struct *mm,
					    unsigned long addr, pmd_t *pmdp)
{
	pmd_t old = pmdp_get(pmdp);

	set_pmd_at(mm, addr, pmdp, 0);
	return old;
}

/* hugetlb entries: held at the PMD or PUD level as PTE-typed pointers. */
static inline pte_t huge_ptep_get(struct mm_struct *mm, unsigned long addr,
				  pte_t *ptep)
{
	(void)mm;
	(void)addr;
	return ptep_get(ptep);
}
static inline int huge_pte_none(pte_t pte)
{
	return pte_none(pte);
}
static inline int huge_pte_none_mostly(pte_t pte)
{
	return pte_none(pte) || is_pte_marker(pte);
}
static inline int huge_pte_uffd_wp(pte_t pte)
{
	return pte_uffd_wp(pte);
}
static inline pte_t huge_pte_mkuffd_wp(pte_t pte)
{
	return pte_mkuffd_wp(pte);
}
static inline pte_t huge_pte_clear_uffd_wp(pte_t pte)
{
	return pte_clear_uffd_wp(pte);
}
static inline int huge_pte_dirty(pte_t pte)
{
	return pte_dirty(pte);
}
static inline int huge_pte_write(pte_t pte)
{
	return pte_write(pte);
}
static inline void set_huge_pte_at(struct mm_struct *mm, unsigned long addr,
				   pte_t *ptep, pte_t pte, unsigned long sz)
{
	(void)sz;
	set_pte_at(mm, addr, ptep, pte);
}
static inline pte_t huge_ptep_modify_prot_start(struct vm_area_struct *vma,
						unsigned long addr, pte_t *ptep)
{
	return ptep_get_and_clear(vma->vm_mm, addr, ptep);
}
static inline void huge_ptep_modify_prot_commit(struct vm_area_struct *vma,
						unsigned long addr, pte_t *ptep,
						pte_t old_pte, pte_t pte)
{
	(void)old_pte;
	set_pte_at(vma->vm_mm, addr, ptep, pte);
}
/* The machine never shares PMD tables between hugetlb mappings. */
static inline bool hugetlb_pmd_shared(pte_t *pte)
{
	(void)pte;
	return false;
}
static inline bool is_hugetlb_entry_migration(pte_t pte)
{
	return is_swap_pte(pte) && is_migration_entry(pte_to_swp_entry(pte));
}
static inline bool is_hugetlb_entry_hwpoisoned(pte_t pte)
{
	return is_swap_pte(pte) && is_hwpoison_entry(pte_to_swp_entry(pte));
}
static inline bool hugepage_migration_supported(struct hstate *h)
{
	(void)h;
	return true;
}
static inline bool thp_migration_supported(void)
{
	return true;
}
static inline bool folio_isolate_hugetlb(struct folio *folio,
					 struct list_head *list)
{
	if (!folio_test_hugetlb(folio) && !folio_test_large(folio))
		return false;
	folio_get(folio);
	list_add_tail(&folio->lru, list);
	pw_compat_event("folio_isolate_hugetlb", folio_pfn(folio), 0);
	return true;
}

/* ======================================================================== */
/* Normal pages                                                             */
/* ======================================================================== */

/** The page a present PTE maps, NULL for special/zero/PFN-map entries. */
static inline struct page *vm_normal_page(struct vm_area_struct *vma,
					  unsigned long addr, pte_t pte)
{
	pw_vma_machine(vma);
	if (is_zero_pfn(pte_pfn(pte)))
		return NULL;
	return pw_from_core_page(pw_vm_normal_page(vma, addr, pte));
}
static inline struct folio *vm_normal_folio(struct vm_area_struct *vma,
					    unsigned long addr, pte_t pte)
{
	struct page *p = vm_normal_page(vma, addr, pte);

	return p ? page_folio(p) : NULL;
}
static inline struct page *vm_normal_page_pmd(struct vm_area_struct *vma,
					      unsigned long addr, pmd_t pmd)
{
	pw_vma_machine(vma);
	return pw_from_core_page(pw_vm_normal_page_pmd(vma, addr, pmd));
}
static inline struct folio *vm_normal_folio_pmd(struct vm_area_struct *vma,
						unsigned long addr, pmd_t pmd)
{
	struct page *p = vm_normal_page_pmd(vma, addr, pmd);

	return p ? page_folio(p) : NULL;
}
/** Does @folio lie, as mapped by @vma, wholly within [start, end)? */
static inline bool folio_within_range(struct folio *folio,
				      struct vm_area_struct *vma,
				      unsigned long start, unsigned long end)
{
	pgoff_t pgoff, first;
	unsigned long addr;

	if (start < vma->vm_start)
		start = vma->vm_start;
	if (end > vma->vm_end)
		end = vma->vm_end;
	pgoff = folio_pgoff(folio);
	first = vma->vm_pgoff;
	if (pgoff < first)
		return false;
	addr = vma->vm_start + ((pgoff - first) << PAGE_SHIFT);
	return addr >= start && addr + folio_size(folio) <= end &&
	       addr + folio_size(folio) > addr;
}
static inline bool folio_within_vma(struct folio *folio,
				    struct vm_area_struct *vma)
{
	return folio_within_range(folio, vma, vma->vm_start, vma->vm_end);
}
/**
 * How many PTEs from @ptep on map consecutive pages of @folio as @pte does,
 * at most @max_nr, ignoring the accessed, dirty, soft-dirty and writable
 * bits (mm/internal.h's folio_pte_batch without flags).
 */
static inline unsigned int folio_pte_batch(struct folio *folio, pte_t *ptep,
					   pte_t pte, unsigned int max_nr)
{
	const pte_t ignore =
		_PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_SOFT_DIRTY | _PAGE_RW;
	unsigned long end_pfn = folio_pfn(folio) + folio_nr_pages(folio);
	unsigned int nr = 1;
	pte_t want = (pte & ~ignore) + PAGE_SIZE;

	if (max_nr > end_pfn - pte_pfn(pte))
		max_nr = (unsigned int)(end_pfn - pte_pfn(pte));
	for (; nr < max_nr; nr++, want += PAGE_SIZE)
		if ((ptep_get(ptep + nr) & ~ignore) != want)
			break;
	return nr;
}

/* ======================================================================== */
/* Outside page tables: recorded as events                                   */
/* ======================================================================== */

static inline void flush_tlb_range(struct vm_area_struct *vma,
				   unsigned long start, unsigned long end)
{
	(void)vma;
	pw_compat_event("flush_tlb_range", start, end);
}
static inline void flush_tlb_page(struct vm_area_struct *vma,
				  unsigned long addr)
{
	(void)vma;
	pw_compat_event("flush_tlb_page", addr, addr + PAGE_SIZE);
}
static inline void flush_tlb_mm(struct mm_struct *mm)
{
	(void)mm;
	pw_compat_event("flush_tlb_mm", 0, 0);
}
static inline void flush_hugetlb_tlb_range(struct vm_area_struct *vma,
					   unsigned long start,
					   unsigned long end)
{
	(void)vma;
	pw_compat_event("flush_hugetlb_tlb_range", start, end);
}
static inline void update_mmu_cache(struct vm_area_struct *vma,
				    unsigned long addr, pte_t *ptep)
{
	(void)vma;
	(void)ptep;
	pw_compat_event("update_mmu_cache", addr, addr + PAGE_SIZE);
}
static inline void update_mmu_cache_pmd(struct vm_area_struct *vma,
					unsigned long addr, pmd_t *pmdp)
{
	(void)vma;
	(void)pmdp;
	pw_compat_event("update_mmu_cache_pmd", addr, addr + PMD_SIZE);
}

/* mmu notifiers. */
enum mmu_notifier_event {
	MMU_NOTIFY_UNMAP = 0,
	MMU_NOTIFY_CLEAR,
	MMU_NOTIFY_PROTECTION_VMA,
	MMU_NOTIFY_PROTECTION_PAGE,
	MMU_NOTIFY_SOFT_DIRTY,
	MMU_NOTIFY_RELEASE,
	MMU_NOTIFY_MIGRATE,
	MMU_NOTIFY_EXCLUSIVE
};
struct mmu_notifier_range {
	struct mm_struct *mm;
	unsigned long start, end;
	unsigned flags;
	enum mmu_notifier_event event;
};
static inline void mmu_notifier_range_init(struct mmu_notifier_range *r,
					   enum mmu_notifier_event ev,
					   unsigned flags, struct mm_struct *mm,
					   unsigned long start,
					   unsigned long end)
{
	*r = (struct mmu_notifier_range){ .mm = mm,
					  .start = start,
					  .end = end,
					  .flags = flags,
					  .event = ev };
}
static inline void
mmu_notifier_invalidate_range_start(struct mmu_notifier_range *r)
{
	pw_compat_event("mmu_notifier_invalidate_range_start", r->start,
			r->end);
}
static inline void
mmu_notifier_invalidate_range_end(struct mmu_notifier_range *r)
{
	pw_compat_event("mmu_notifier_invalidate_range_end", r->start, r->end);
}

/** Splits a PMD leaf through the machine (events and all), and records it. */
#define split_huge_pmd(vma, pmd, addr)                             \
	do {                                                       \
		struct vm_area_struct *_pw_v = (vma);              \
		pmd_t *_pw_p = (pmd);                              \
		unsigned long _pw_a = (addr);                      \
		pw_vma_machine(_pw_v);                             \
		pw_compat_event("split_huge_pmd", _pw_a &PMD_MASK, \
				(_pw_a & PMD_MASK) + PMD_SIZE);    \
		if (pmd_trans_huge(pmdp_get(_pw_p)) ||             \
		    is_pmd_migration_entry(pmdp_get(_pw_p)))       \
			pw_split_huge_pmd(_pw_v, _pw_p, _pw_a);    \
	} while (0)

/* i_mmap_rwsem: the machine's mapping lock state. */
static inline void i_mmap_lock_write(struct address_space *mapping)
{
	pw_mapping_set_i_mmap_held(mapping, true);
}
static inline void i_mmap_unlock_write(struct address_space *mapping)
{
	pw_mapping_set_i_mmap_held(mapping, false);
}
#define i_mmap_lock_read(m) i_mmap_lock_write(m)
#define i_mmap_unlock_read(m) i_mmap_unlock_write(m)

/* LRU, mlock and counters. */
enum node_stat_item {
	NR_LRU_BASE = 0,
	NR_ISOLATED_ANON = 10,
	NR_ISOLATED_FILE = 11,
	NR_FILE_MAPPED = 12,
	NR_ANON_MAPPED = 13
};
enum zone_stat_item {
	NR_FREE_PAGES = 0,
	NR_MLOCK = 8,
	NR_ZONE_UNEVICTABLE = 9
};
enum vm_event_item {
	PGPGIN = 0,
	UNEVICTABLE_PGCULLED = 40,
	UNEVICTABLE_PGSCANNED,
	UNEVICTABLE_PGRESCUED,
	UNEVICTABLE_PGMLOCKED,
	UNEVICTABLE_PGMUNLOCKED,
	UNEVICTABLE_PGCLEARED,
	UNEVICTABLE_PGSTRANDED,
	NR_VM_EVENT_ITEMS
};
static inline void __count_vm_events(enum vm_event_item item, long delta)
{
	pw_compat_event("count_vm_events", (unsigned long)item,
			(unsigned long)delta);
}
#define count_vm_events(i, d) __count_vm_events(i, d)
#define count_vm_event(i) __count_vm_events(i, 1)
#define __count_vm_event(i) __count_vm_events(i, 1)
static inline void __zone_stat_mod_folio(struct folio *f,
					 enum zone_stat_item item, long nr)
{
	(void)item;
	pw_compat_event("zone_stat_mod_folio", folio_pfn(f), (unsigned long)nr);
}
#define zone_stat_mod_folio(f, i, n) __zone_stat_mod_folio(f, i, n)
static inline void node_stat_mod_folio(struct folio *f,
				       enum node_stat_item item, long nr)
{
	(void)item;
	pw_compat_event("node_stat_mod_folio", folio_pfn(f), (unsigned long)nr);
}
#define __node_stat_mod_folio(f, i, n) node_stat_mod_folio(f, i, n)

__attribute__((weak)) struct lruvec pw_compat_lruvec;
static inline struct lruvec *folio_lruvec_relock_irq(struct folio *f,
						     struct lruvec *locked)
{
	(void)f;
	if (!locked)
		pw_compat_event("lruvec_lock", 0, 0);
	return &pw_compat_lruvec;
}
static inline struct lruvec *folio_lruvec_lock_irq(struct folio *f)
{
	return folio_lruvec_relock_irq(f, NULL);
}
static inline void unlock_page_lruvec_irq(struct lruvec *l)
{
	(void)l;
	pw_compat_event("lruvec_unlock", 0, 0);
}
static inline void lruvec_add_folio(struct lruvec *l, struct folio *f)
{
	(void)l;
	pw_compat_event("lruvec_add_folio", folio_pfn(f), 0);
}
static inline void lruvec_del_folio(struct lruvec *l, struct folio *f)
{
	(void)l;
	pw_compat_event("lruvec_del_folio", folio_pfn(f), 0);
}
/** Takes @f off its LRU list (it must be on one): a reference is taken. */
static inline bool folio_isolate_lru(struct folio *f)
{
	if (!folio_test_clear_lru(f))
		return false;
	folio_get(f);
	pw_compat_event("folio_isolate_lru", folio_pfn(f), 0);
	return true;
}
static inline void folio_putback_lru(struct folio *f)
{
	folio_set_lru(f);
	folio_put(f);
	pw_compat_event("folio_putback_lru", folio_pfn(f), 0);
}
static inline bool lru_cache_disabled(void)
{
	return false;
}
static inline bool folio_may_be_lru_cached(struct folio *f)
{
	return !folio_test_large(f);
}
static inline void lru_add_drain(void)
{
	pw_compat_event("lru_add_drain", 0, 0);
}

#define PAGEVEC_SIZE 31
#define FOLIO_BATCH_SIZE PAGEVEC_SIZE
struct folio_batch {
	unsigned char nr;
	unsigned char i;
	bool percpu_pvec_drained;
	struct folio *folios[PAGEVEC_SIZE];
};
static inline void folio_batch_init(struct folio_batch *b)
{
	b->nr = 0;
	b->i = 0;
	b->percpu_pvec_drained = false;
}
static inline void folio_batch_reinit(struct folio_batch *b)
{
	b->nr = 0;
	b->i = 0;
}
static inline unsigned int folio_batch_count(const struct folio_batch *b)
{
	return b->nr;
}
static inline unsigned int folio_batch_space(const struct folio_batch *b)
{
	return PAGEVEC_SIZE - b->nr;
}
/** Adds @f; returns the room left (0: full, flush it). */
static inline unsigned folio_batch_add(struct folio_batch *b, struct folio *f)
{
	b->folios[b->nr++] = f;
	return folio_batch_space(b);
}
static inline void folios_put(struct folio_batch *b)
{
	unsigned i;

	for (i = 0; i < b->nr; i++)
		folio_put(b->folios[i]);
	folio_batch_reinit(b);
}

/* NUMA: nodes 0 .. MAX_NUMNODES-1 all have memory. */
typedef struct {
	unsigned long bits[MAX_NUMNODES / BITS_PER_LONG];
} nodemask_t;
enum node_states {
	N_POSSIBLE,
	N_ONLINE,
	N_NORMAL_MEMORY,
	N_HIGH_MEMORY,
	N_MEMORY,
	N_CPU,
	NR_NODE_STATES
};
__attribute__((weak)) nodemask_t node_states[NR_NODE_STATES] = {
	[N_POSSIBLE] = { { ~0UL } },      [N_ONLINE] = { { ~0UL } },
	[N_NORMAL_MEMORY] = { { ~0UL } }, [N_HIGH_MEMORY] = { { ~0UL } },
	[N_MEMORY] = { { ~0UL } },        [N_CPU] = { { 1UL } },
};
#define node_isset(node, mask)                              \
	(((unsigned)(node) < MAX_NUMNODES) &&               \
	 (((mask).bits[(unsigned)(node) / BITS_PER_LONG] >> \
	   ((unsigned)(node) % BITS_PER_LONG)) &            \
	  1))
#define node_set(node, mask) \
	((mask).bits[(node) / BITS_PER_LONG] |= 1UL << ((node) % BITS_PER_LONG))
#define nodes_clear(mask) memset(&(mask), 0, sizeof(mask))
#define node_state(node, st) node_isset(node, node_states[st])
#define MPOL_MF_STRICT (1 << 0)
#define MPOL_MF_MOVE (1 << 1)
#define MPOL_MF_MOVE_ALL (1 << 2)
#define MPOL_MF_LAZY (1 << 3)
#define MPOL_MF_INTERNAL (1 << 4)
#define MPOL_MF_VALID (MPOL_MF_STRICT | MPOL_MF_MOVE | MPOL_MF_MOVE_ALL)
/* MPOL_MF_INVERT, _WRLOCK, _DISCONTIG_OK: mm/mempolicy.c defines them itself. */
enum zone_type {
	ZONE_DMA,
	ZONE_DMA32,
	ZONE_NORMAL,
	ZONE_MOVABLE,
	ZONE_DEVICE,
	__MAX_NR_ZONES
};
#define GFP_KERNEL 0xcc0U
#define GFP_USER 0x100cc0U
#define GFP_HIGHUSER_MOVABLE 0x140ccaU
#define __GFP_MOVABLE 0x08U
static inline enum zone_type gfp_zone(gfp_t flags)
{
	return (flags & __GFP_MOVABLE) ? ZONE_MOVABLE : ZONE_NORMAL;
}
static inline gfp_t mapping_gfp_mask(struct address_space *mapping)
{
	(void)mapping;
	return GFP_HIGHUSER_MOVABLE;
}

/** The highest zone policies apply to (mm/mempolicy.c's; weak: that file may
 *  define it). */
__attribute__((weak)) enum zone_type policy_zone;

/** Can pages of @vma be migrated: not IO or PFN maps, not DAX, hugetlb only
 *  where its size migrates, file pages only from zones policies apply to. */
static inline bool vma_migratable(struct vm_area_struct *vma)
{
	if (vma->vm_flags & (VM_IO | VM_PFNMAP))
		return false;
	if (vma_is_dax(vma))
		return false;
	if (is_vm_hugetlb_page(vma) &&
	    !hugepage_migration_supported(hstate_vma(vma)))
		return false;
	if (vma->vm_file &&
	    gfp_zone(mapping_gfp_mask(vma->vm_file->f_mapping)) < policy_zone)
		return false;
	return true;
}

/* kasan's early shadow tables (ptdump compares against them). */
__attribute__((weak)) pte_t kasan_early_shadow_pte[PTRS_PER_PTE];
__attribute__((weak)) pmd_t kasan_early_shadow_pmd[PTRS_PER_PMD];
__attribute__((weak)) pud_t kasan_early_shadow_pud[PTRS_PER_PUD];
__attribute__((weak)) p4d_t kasan_early_shadow_p4d[PTRS_PER_P4D];

/* ======================================================================== */
/* Page cache, shmem and swap                                               */
/* ======================================================================== */

struct swap_info_struct {
	unsigned int type;
	unsigned long flags;
};
__attribute__((weak)) struct swap_info_struct
	pw_compat_swap_info[MAX_SWAPFILES_SHIFT > 0 ? 32 : 1];

static inline bool shmem_mapping(struct address_space *mapping)
{
	return mapping && pw_mapping_is_shmem(mapping);
}
/**
 * The page-cache entry of (@mapping, @index): a folio (with a reference
 * taken), an xarray value holding a swap entry (a swapped-out shmem page),
 * or NULL.
 */
static inline void *filemap_get_entry(struct address_space *mapping,
				      pgoff_t index)
{
	uint64_t slot = pw_page_cache_get(mapping, index);
	struct folio *f;

	if (!slot)
		return NULL;
	if (slot & PW_CACHE_VALUE) {
		uint64_t e = slot & ~PW_CACHE_VALUE;

		return swp_to_radix_entry(
			swp_entry(pw_swp_type(e), pw_swp_offset(e)));
	}
	pw_compat_use_machine(pw_mapping_machine(mapping));
	f = pfn_folio((unsigned long)slot - 1);
	if (f)
		folio_get(f);
	return f;
}
/** Bytes of [start, end) page offsets of shmem @mapping that are swapped out. */
static inline unsigned long
shmem_partial_swap_usage(struct address_space *mapping, pgoff_t start,
			 pgoff_t end)
{
	unsigned long swapped = 0;

	for (; start < end; start++)
		if (pw_page_cache_get(mapping, start) & PW_CACHE_VALUE)
			swapped += PAGE_SIZE;
	return swapped;
}
static inline struct swap_info_struct *get_swap_device(swp_entry_t e)
{
	if (non_swap_entry(e))
		return NULL;
	pw_compat_swap_info[swp_type(e)].type = swp_type(e);
	return &pw_compat_swap_info[swp_type(e)];
}
static inline void put_swap_device(struct swap_info_struct *si)
{
	(void)si;
}
/** The folio caching swap entry @e (a reference taken), or NULL. */
static inline struct folio *swap_cache_get_folio(swp_entry_t e)
{
	struct pw_machine *m = pw_compat_state.machine;
	uint64_t pfn1;
	struct folio *f;

	if (!m)
		return NULL;
	pfn1 = pw_swap_cache_get(m, swp_entry_to_pte(e), NULL);
	if (!pfn1)
		return NULL;
	f = pfn_folio((unsigned long)pfn1 - 1);
	if (f)
		folio_get(f);
	return f;
}
/** References to swap slot @e (1 when the machine was not told). */
static inline int swp_swapcount(swp_entry_t e)
{
	int count = 0;

	if (pw_compat_state.machine)
		pw_swap_cache_get(pw_compat_state.machine, swp_entry_to_pte(e),
				  &count);
	return count ? count : 1;
}
#define __swap_count(e) swp_swapcount(e)

/* ======================================================================== */
/* Checked walks: each callback is watched for page-table locks             */
/* ======================================================================== */

struct pw_compat_walk {
	const struct mm_walk_ops *ops;
	struct mm_walk_ops wrapped;
	long held; /* page-table locks held by the thread at the callback's start */
	const char *saved_callback;
	unsigned long saved_addr;
};

__attribute__((weak)) struct pw_compat_walk *pw_compat_walks[8];

static inline struct pw_compat_walk *pw_compat_top(void)
{
	int d = pw_compat_state.walk_depth;

	return d > 0 ? pw_compat_walks[d - 1] : NULL;
}

static inline void pw_compat_enter(struct pw_compat_walk *w, const char *cb,
				   unsigned long addr)
{
	w->saved_callback = pw_compat_state.callback;
	w->saved_addr = pw_compat_state.callback_addr;
	pw_compat_state.callback = cb;
	pw_compat_state.callback_addr = addr;
	w->held = pw_ptl_held_by_thread();
}

/*
 * After a callback: a page-table lock it left held is reported and
 * released (one of @cand, the locks it could have taken); one it released
 * that it did not take is reported, and retaken when the walker holds it.
 */
static inline void pw_compat_leave(struct pw_compat_walk *w, spinlock_t **cand,
				   int ncand)
{
	long now = pw_ptl_held_by_thread();
	int i;

	if (now > w->held) {
		pw_compat_event("page-table lock left held",
				pw_compat_state.callback_addr, 0);
		for (i = 0; i < ncand && now > w->held; i++)
			if (cand[i] && pw_spin_is_locked(cand[i])) {
				spin_unlock(cand[i]);
				now--;
			}
	} else if (now < w->held) {
		pw_compat_event("page-table lock unlocked twice",
				pw_compat_state.callback_addr, 0);
		for (i = 0; i < ncand && now < w->held; i++)
			if (cand[i] && !pw_spin_is_locked(cand[i])) {
				spin_lock(cand[i]);
				now++;
			}
	}
	pw_compat_state.callback = w->saved_callback;
	pw_compat_state.callback_addr = w->saved_addr;
}

/* The locks a callback on entry @p could take: the lock of the table
 * holding it, the lock of the PTE table under it (a PMD), the mm's. */
static inline int pw_compat_candidates(struct mm_walk *walk, uint64_t *p,
				       bool pmd, spinlock_t **c)
{
	struct pw_machine *m = pw_compat_state.machine;
	const struct pw_machine_layout *l;
	int n = 0;

	if (!m || !p)
		return 0;
	l = pw_machine_layout(m);
	if (p >= l->mem && p < l->mem + l->frames * PW_PTRS_PER_TABLE)
		c[n++] = pw_table_lock(m, p);
	if (pmd) {
		uint64_t v = pw_entry_get(p);

		if ((v & (_PAGE_PRESENT | _PAGE_PSE)) == _PAGE_PRESENT &&
		    pw_entry_pfn(v) < l->frames)
			c[n++] = pw_table_lock(
				m,
				l->mem + pw_entry_pfn(v) * PW_PTRS_PER_TABLE);
	}
	if (walk->mm)
		c[n++] = pw_mm_page_table_lock(walk->mm);
	return n;
}

#define PW_COMPAT_TRAMPOLINE(name, T, isPmd)                                  \
	static int pw_compat_t_##name(T *p, unsigned long a, unsigned long n, \
				      struct mm_walk *walk)                   \
	{                                                                     \
		struct pw_compat_walk *w = pw_compat_top();                   \
		spinlock_t *c[3];                                             \
		int r, nc;                                                    \
		pw_compat_enter(w, #name, a);                                 \
		r = w->ops->name(p, a, n, walk);                              \
		nc = pw_compat_candidates(walk, (uint64_t *)p, isPmd, c);     \
		pw_compat_leave(w, c, nc);                                    \
		return r;                                                     \
	}
PW_COMPAT_TRAMPOLINE(pgd_entry, pgd_t, false)
PW_COMPAT_TRAMPOLINE(p4d_entry, p4d_t, false)
PW_COMPAT_TRAMPOLINE(pud_entry, pud_t, false)
PW_COMPAT_TRAMPOLINE(pmd_entry, pmd_t, true)
PW_COMPAT_TRAMPOLINE(pte_entry, pte_t, false)
#undef PW_COMPAT_TRAMPOLINE

static int pw_compat_t_pte_hole(unsigned long a, unsigned long n, int depth,
				struct mm_walk *walk)
{
	struct pw_compat_walk *w = pw_compat_top();
	spinlock_t *c[1];
	int r, nc = 0;

	pw_compat_enter(w, "pte_hole", a);
	r = w->ops->pte_hole(a, n, depth, walk);
	if (walk->mm)
		c[nc++] = pw_mm_page_table_lock(walk->mm);
	pw_compat_leave(w, c, nc);
	return r;
}
static int pw_compat_t_hugetlb_entry(pte_t *p, unsigned long hmask,
				     unsigned long a, unsigned long n,
				     struct mm_walk *walk)
{
	struct pw_compat_walk *w = pw_compat_top();
	spinlock_t *c[3];
	int r, nc;

	pw_compat_enter(w, "hugetlb_entry", a);
	r = w->ops->hugetlb_entry(p, hmask, a, n, walk);
	nc = pw_compat_candidates(walk, (uint64_t *)p, false, c);
	pw_compat_leave(w, c, nc);
	return r;
}
static int pw_compat_t_test_walk(unsigned long a, unsigned long n,
				 struct mm_walk *walk)
{
	struct pw_compat_walk *w = pw_compat_top();
	spinlock_t *c[1];
	int r, nc = 0;

	pw_compat_enter(w, "test_walk", a);
	r = w->ops->test_walk(a, n, walk);
	if (walk->mm)
		c[nc++] = pw_mm_page_table_lock(walk->mm);
	pw_compat_leave(w, c, nc);
	return r;
}
static int pw_compat_t_pre_vma(unsigned long a, unsigned long n,
			       struct mm_walk *walk)
{
	struct pw_compat_walk *w = pw_compat_top();
	int r;

	pw_compat_enter(w, "pre_vma", a);
	r = w->ops->pre_vma(a, n, walk);
	pw_compat_leave(w, NULL, 0);
	return r;
}
static void pw_compat_t_post_vma(struct mm_walk *walk)
{
	struct pw_compat_walk *w = pw_compat_top();

	pw_compat_enter(w, "post_vma", walk->vma ? walk->vma->vm_start : 0);
	w->ops->post_vma(walk);
	pw_compat_leave(w, NULL, 0);
}
static int pw_compat_t_install_pte(unsigned long a, unsigned long n,
				   pte_t *ptep, struct mm_walk *walk)
{
	struct pw_compat_walk *w = pw_compat_top();
	int r;

	pw_compat_enter(w, "install_pte", a);
	r = w->ops->install_pte(a, n, ptep, walk);
	pw_compat_leave(w, NULL, 0);
	return r;
}

/* Begins a checked walk of @ops; false when nested too deep (walk unchecked). */
static inline bool pw_compat_push(struct pw_compat_walk *w,
				  const struct mm_walk_ops *ops)
{
	if (pw_compat_state.walk_depth >= 8)
		return false;
	w->ops = ops;
	w->wrapped = *ops;
#define PW_WRAP(f)  \
	if (ops->f) \
	w->wrapped.f = pw_compat_t_##f
	PW_WRAP(pgd_entry);
	PW_WRAP(p4d_entry);
	PW_WRAP(pud_entry);
	PW_WRAP(pmd_entry);
	PW_WRAP(pte_entry);
	PW_WRAP(pte_hole);
	PW_WRAP(hugetlb_entry);
	PW_WRAP(test_walk);
	PW_WRAP(pre_vma);
	PW_WRAP(post_vma);
	PW_WRAP(install_pte);
#undef PW_WRAP
	pw_compat_walks[pw_compat_state.walk_depth++] = w;
	return true;
}
static inline void pw_compat_pop(void)
{
	pw_compat_state.walk_depth--;
}

#define PW_COMPAT_CHECKED(call, mm, ops, ...)                                \
	({                                                                   \
		struct pw_compat_walk _pw_w;                                 \
		int _pw_r;                                                   \
		pw_compat_use_mm(mm);                                        \
		if (pw_compat_push(&_pw_w, (ops))) {                         \
			_pw_r = call(__VA_ARGS__, &_pw_w.wrapped, PW_PRIV_); \
			pw_compat_pop();                                     \
		} else                                                       \
			_pw_r = call(__VA_ARGS__, (ops), PW_PRIV_);          \
		_pw_r;                                                       \
	})

/** walk_page_range etc. through the layer: callbacks are watched. */
static inline int pw_compat_walk_page_range(struct mm_struct *mm,
					    unsigned long start,
					    unsigned long end,
					    const struct mm_walk_ops *ops,
					    void *private_)
{
#define PW_PRIV_ private_
	return PW_COMPAT_CHECKED((walk_page_range), mm, ops, mm, start, end);
}
static inline int pw_compat_walk_page_range_mm(struct mm_struct *mm,
					       unsigned long start,
					       unsigned long end,
					       const struct mm_walk_ops *ops,
					       void *private_)
{
	return PW_COMPAT_CHECKED((walk_page_range_mm), mm, ops, mm, start, end);
}
static inline int pw_compat_walk_page_range_vma(struct vm_area_struct *vma,
						unsigned long start,
						unsigned long end,
						const struct mm_walk_ops *ops,
						void *private_)
{
	return PW_COMPAT_CHECKED((walk_page_range_vma), vma->vm_mm, ops, vma,
				 start, end);
}
static inline int pw_compat_walk_page_vma(struct vm_area_struct *vma,
					  const struct mm_walk_ops *ops,
					  void *private_)
{
	return PW_COMPAT_CHECKED((walk_page_vma), vma->vm_mm, ops, vma);
#undef PW_PRIV_
}
static inline int pw_compat_walk_page_range_debug(struct mm_struct *mm,
						  unsigned long start,
						  unsigned long end,
						  const struct mm_walk_ops *ops,
						  pgd_t *pgd, void *private_)
{
	struct pw_compat_walk w;
	int r;

	pw_compat_use_mm(mm);
	if (!pw_compat_push(&w, ops))
		return (walk_page_range_debug)(mm, start, end, ops, pgd,
					       private_);
	r = (walk_page_range_debug)(mm, start, end, &w.wrapped, pgd, private_);
	pw_compat_pop();
	return r;
}
static inline int pw_compat_walk_page_mapping(struct address_space *mapping,
					      unsigned long first_index,
					      unsigned long nr,
					      const struct mm_walk_ops *ops,
					      void *private_)
{
	struct pw_compat_walk w;
	int r;

	pw_compat_use_machine(pw_mapping_machine(mapping));
	if (!pw_compat_push(&w, ops))
		return (walk_page_mapping)(mapping, first_index, nr, ops,
					   private_);
	r = (walk_page_mapping)(mapping, first_index, nr, &w.wrapped, private_);
	pw_compat_pop();
	return r;
}
#define walk_page_range(...) pw_compat_walk_page_range(__VA_ARGS__)
#define walk_page_range_debug(...) pw_compat_walk_page_range_debug(__VA_ARGS__)
#define walk_page_mapping(...) pw_compat_walk_page_mapping(__VA_ARGS__)
#define walk_page_range_mm(...) pw_compat_walk_page_range_mm(__VA_ARGS__)
#define walk_page_range_vma(...) pw_compat_walk_page_range_vma(__VA_ARGS__)
#define walk_page_vma(...) pw_compat_walk_page_vma(__VA_ARGS__)

/* ======================================================================== */
/* The rest of the kernel's headers these files include                     */
/* ======================================================================== */

#include "pw_compat_misc.h"

#endif /* PW_COMPAT_H */
