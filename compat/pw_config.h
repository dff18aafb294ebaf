/*
 * pw_config.h - the kernel configuration the compat layer answers for
 * (what <generated/autoconf.h> is to a kernel build).
 *
 * An x86-64 kernel with everything the walk clients of Linux 6.18 look
 * at switched on: THP (with PMD migration), hugetlb, soft-dirty,
 * userfaultfd write-protect with markers, swap, shmem, NUMA, proc page
 * monitoring and the precise per-page map count.  IS_ENABLED(CONFIG_X)
 * is 1 exactly for the options defined to 1 here.  Define
 * PW_COMPAT_NO_PAGE_MAPCOUNT before including any compat header to get
 * CONFIG_NO_PAGE_MAPCOUNT (the average map count) instead.
 */
#ifndef PW_COMPAT_CONFIG_H
#define PW_COMPAT_CONFIG_H

#define CONFIG_X86 1
#define CONFIG_X86_64 1
#define CONFIG_64BIT 1
#define CONFIG_MMU 1
#define CONFIG_PGTABLE_LEVELS 5
#define CONFIG_TRANSPARENT_HUGEPAGE 1
#define CONFIG_ARCH_ENABLE_THP_MIGRATION 1
#define CONFIG_HAVE_ARCH_TRANSPARENT_HUGEPAGE 1
#define CONFIG_HAVE_ARCH_TRANSPARENT_HUGEPAGE_PUD 1
#define CONFIG_HUGETLB_PAGE 1
#define CONFIG_HUGETLBFS 1
#define CONFIG_ARCH_ENABLE_HUGEPAGE_MIGRATION 1
#define CONFIG_MIGRATION 1
#define CONFIG_MEM_SOFT_DIRTY 1
#define CONFIG_HAVE_ARCH_SOFT_DIRTY 1
#define CONFIG_USERFAULTFD 1
#define CONFIG_HAVE_ARCH_USERFAULTFD_WP 1
#define CONFIG_PTE_MARKER_UFFD_WP 1
#define CONFIG_SWAP 1
#define CONFIG_SHMEM 1
#define CONFIG_NUMA 1
#define CONFIG_PROC_FS 1
#define CONFIG_PROC_PAGE_MONITOR 1
#define CONFIG_PAGE_IDLE_FLAG 1
#define CONFIG_PTDUMP_CORE 1
#define CONFIG_SPLIT_PTE_PTLOCKS 1
#define CONFIG_SPLIT_PMD_PTLOCKS 1
#define CONFIG_NODES_SHIFT 6
#ifdef PW_COMPAT_NO_PAGE_MAPCOUNT
#define CONFIG_NO_PAGE_MAPCOUNT 1
#else
#define CONFIG_PAGE_MAPCOUNT 1
#endif

#endif /* PW_COMPAT_CONFIG_H */
