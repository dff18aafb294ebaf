/*
 * pw_compat_misc.h - the rest of what the kernel files that hold walk
 * clients declare at file scope or use around their callbacks: uapi
 * structures (PAGEMAP_SCAN, madvise), ptdump's state, procfs's private
 * structures, allocation, user copies, seq_file.  Included by pw_compat.h
 * only; see there.
 */
#ifndef PW_COMPAT_MISC_H
#define PW_COMPAT_MISC_H

/* ---- uapi: <linux/fs.h> PAGEMAP_SCAN, <linux/mman.h> madvise ----------- */

#ifndef PAGE_IS_WPALLOWED
#define PAGE_IS_WPALLOWED (1 << 0)
#define PAGE_IS_WRITTEN (1 << 1)
#define PAGE_IS_FILE (1 << 2)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
#define PAGE_IS_PFNZERO (1 << 5)
#define PAGE_IS_HUGE (1 << 6)
#define PAGE_IS_SOFT_DIRTY (1 << 7)
#define PAGE_IS_GUARD (1 << 8)

/** One range of pages with the same categories (PAGEMAP_SCAN's output). */
struct page_region {
	__u64 start;
	__u64 end;
	__u64 categories;
};

#define PM_SCAN_WP_MATCHING (1 << 0)
#define PM_SCAN_CHECK_WPASYNC (1 << 1)

/** The PAGEMAP_SCAN ioctl's argument. */
struct pm_scan_arg {
	__u64 size;
	__u64 flags;
	__u64 start;
	__u64 end;
	__u64 walk_end;
	__u64 vec;
	__u64 vec_len;
	__u64 max_pages;
	__u64 category_inverted;
	__u64 category_mask;
	__u64 category_anyof_mask;
	__u64 return_mask;
};
#define PAGEMAP_SCAN 0xc0606610UL /* _IOWR('f', 16, struct pm_scan_arg) */
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#define MADV_GUARD_REMOVE 103
#endif

/* ---- errors the clients return ----------------------------------------- */

#ifndef EFAULT
#include <errno.h>
#endif
#define ERESTARTSYS 512
#define EPROBE_DEFER 517

/* ---- allocation and user copies: the process's own ----------------------- */

static inline void *kmalloc(size_t n, gfp_t f)
{
	(void)f;
	return malloc(n);
}
static inline void *kzalloc(size_t n, gfp_t f)
{
	(void)f;
	return calloc(1, n);
}
static inline void *kcalloc(size_t k, size_t n, gfp_t f)
{
	(void)f;
	return calloc(k, n);
}
static inline void *kmalloc_array(size_t k, size_t n, gfp_t f)
{
	(void)f;
	return calloc(k, n);
}
static inline void *kvzalloc(size_t n, gfp_t f)
{
	(void)f;
	return calloc(1, n);
}
static inline void kfree(const void *p)
{
	free((void *)p);
}
static inline void kvfree(const void *p)
{
	free((void *)p);
}
/* "User" memory is this process's: copies always succeed (0 bytes left). */
static inline unsigned long copy_to_user(void __user *to, const void *from,
					 unsigned long n)
{
	memcpy((void *)to, from, n);
	return 0;
}
static inline unsigned long copy_from_user(void *to, const void __user *from,
					   unsigned long n)
{
	memcpy(to, (const void *)from, n);
	return 0;
}
#define put_user(x, p)      \
	({                  \
		*(p) = (x); \
		0;          \
	})
#define get_user(x, p)      \
	({                  \
		(x) = *(p); \
		0;          \
	})
#define access_ok(p, n) ((void)(p), (void)(n), 1)
#define untagged_addr(a) (a)
#define u64_to_user_ptr(x) ((void __user *)(uintptr_t)(x))

/* ---- capabilities, tasks, mm (not simulated: the walker's mm only) ----- */

#define CAP_SYS_ADMIN 21
static inline bool capable(int cap)
{
	(void)cap;
	return true;
}
static inline bool fatal_signal_pending(struct task_struct *t)
{
	(void)t;
	return false;
}

/* ---- ptdump ------------------------------------------------------------- */

/** A range ptdump walks. */
struct ptdump_range {
	unsigned long start;
	unsigned long end;
};

/** The kernel's ptdump state: one note and one effective-protection hook per level. */
struct ptdump_state {
	void (*note_page_pte)(struct ptdump_state *st, unsigned long addr,
			      pte_t pte);
	void (*note_page_pmd)(struct ptdump_state *st, unsigned long addr,
			      pmd_t pmd);
	void (*note_page_pud)(struct ptdump_state *st, unsigned long addr,
			      pud_t pud);
	void (*note_page_p4d)(struct ptdump_state *st, unsigned long addr,
			      p4d_t p4d);
	void (*note_page_pgd)(struct ptdump_state *st, unsigned long addr,
			      pgd_t pgd);
	void (*note_page_flush)(struct ptdump_state *st);
	void (*effective_prot_pte)(struct ptdump_state *st, pte_t pte);
	void (*effective_prot_pmd)(struct ptdump_state *st, pmd_t pmd);
	void (*effective_prot_pud)(struct ptdump_state *st, pud_t pud);
	void (*effective_prot_p4d)(struct ptdump_state *st, p4d_t p4d);
	void (*effective_prot_pgd)(struct ptdump_state *st, pgd_t pgd);
	const struct ptdump_range *range;
};

/* ---- procfs's private structures (fs/proc/internal.h) -------------------- */

#include <sys/types.h> /* loff_t */
struct vma_iterator {
	unsigned long index;
	struct mm_struct *mm;
};
struct proc_maps_locking_ctx {
	struct mm_struct *mm;
	struct vm_area_struct *locked_vma;
	bool mmap_locked;
};
/** What /proc/PID/{maps,smaps,numa_maps} keep per open file. */
struct proc_maps_private {
	struct inode *inode;
	struct task_struct *task;
	struct mm_struct *mm;
	struct vma_iterator iter;
	loff_t last_pos;
	struct proc_maps_locking_ctx lock_ctx;
	struct mempolicy *task_mempolicy;
};
#define PROC_NUMBUF 13

/* seq_file: printing goes to a FILE the caller supplies (or stdout). */
struct seq_file {
	FILE *pw_out;
	void *private;
};
static inline FILE *pw_seq_out(struct seq_file *m)
{
	return m && m->pw_out ? m->pw_out : stdout;
}
#define seq_printf(m, ...) fprintf(pw_seq_out(m), __VA_ARGS__)
#define seq_puts(m, s) fputs((s), pw_seq_out(m))
#define seq_putc(m, c) fputc((c), pw_seq_out(m))
#define SEQ_SKIP 1

/* ---- mempolicy ------------------------------------------------------------ */

enum {
	MPOL_DEFAULT,
	MPOL_PREFERRED,
	MPOL_BIND,
	MPOL_INTERLEAVE,
	MPOL_LOCAL,
	MPOL_PREFERRED_MANY,
	MPOL_WEIGHTED_INTERLEAVE,
	MPOL_MAX,
};

/** A memory policy (fields as include/linux/mempolicy.h names them; none is
 *  applied by the machine). */
struct mempolicy {
	atomic_t refcnt;
	unsigned short mode;
	unsigned short flags;
	nodemask_t nodes;
	int home_node;
	union {
		struct {
			nodemask_t cpuset_mems_allowed;
		} cpuset_mems_allowed;
		nodemask_t user_nodemask;
	} w;
};

/* ---- kernel objects that file-scope types of mm/ embed ------------------- */

#define ATOMIC_INIT(i) \
	{              \
		(i)    \
	}
typedef unsigned short umode_t;
/** RCU callback head (nothing is deferred here). */
struct rcu_head {
	struct rcu_head *next;
	void (*func)(struct rcu_head *head);
};
struct callback_head {
	struct callback_head *next;
	void (*func)(struct callback_head *head);
};
struct mutex {
	int pw_owner;
};
struct rw_semaphore {
	int pw_count;
};
struct kref {
	atomic_t refcount;
};
struct attribute {
	const char *name;
	umode_t mode;
};
struct kobject {
	const char *name;
	struct kobject *parent;
	struct kref kref;
};
struct kobj_attribute {
	struct attribute attr;
	ssize_t (*show)(struct kobject *kobj, struct kobj_attribute *attr,
			char *buf);
	ssize_t (*store)(struct kobject *kobj, struct kobj_attribute *attr,
			 const char *buf, size_t count);
};
struct attribute_group {
	const char *name;
	struct attribute **attrs;
};
struct kmem_cache;
struct anon_vma_name;
struct anon_vma;
struct vm_fault;
struct zone;
struct pglist_data;

/* ---- misc ------------------------------------------------------------------ */

struct mmu_gather {
	struct mm_struct *mm;
};
#define MAY_WRITE 0x2
struct folio_queue;

#endif /* PW_COMPAT_MISC_H */
