/*
 * sim_machine.h - the simulated machine the compat tests share: five VMAs
 * whose every entry and page fact is known, so each client's answer can be
 * written down in advance (the expectations in the tests are hand-derived
 * from the kernel's documented semantics, not computed by the clients).
 *
 *   A anon  [0x400000, 0x600000) rw: p0 pfn 100 young+dirty, p1 pfn 101,
 *           p2 swap (type 0, offset 7, soft-dirty; swap-cached in pfn 400),
 *           p3 migration entry of pfn 102, p4 guard marker, p5 the zero page,
 *           p6 and p7 both pfn 103 (mapped twice)
 *   B anon  [0x800000, 0xc00000) rw: a PMD leaf at 0x800000 (folio 1024, order 9)
 *   C file  [0x1000000, 0x1010000) r, mapping 1: p0 pfn 200; index 1 in the
 *           page cache (pfn 201); index 2 nowhere
 *   D shmem [0x2000000, 0x2004000) rw shared, mapping 2: index 0 swapped out
 *           (type 1, offset 9), p1 pfn 300 dirty, index 2 swapped out (type 1,
 *           offset 10; swap-cached in pfn 401), index 3 nowhere
 *   E hugetlb 2 MiB [0x40000000, 0x40400000) rw: the first huge page pfn 2048
 */
#ifndef COMPAT_SIM_MACHINE_H
#define COMPAT_SIM_MACHINE_H

#include "pagewalk.h"
#include "pagewalk_machine.h"
#include "pagewalk_pages.h"

#include <stdlib.h>

#define SIM_A 0x400000UL
#define SIM_B 0x800000UL
#define SIM_C 0x1000000UL
#define SIM_D 0x2000000UL
#define SIM_E 0x40000000UL

static inline uint64_t sim_pte(uint64_t pfn, uint64_t bits)
{
	return (pfn << 12) | bits;
}

static inline struct mm_struct *sim_build(struct pw_machine **mp)
{
	struct pw_machine_config cfg = { .levels = 4,
					 .frames = 1 << 16,
					 .table_base = 1 << 15,
					 .zero_pfn = 1 };
	struct pw_machine *m;
	struct mm_struct *mm;
	struct address_space *file, *shm;
	struct pw_page_info *pi;
	int err;

	if (pw_machine_create(&cfg, &m))
		abort();
	*mp = m;
	mm = pw_mm_create(m);
	file = pw_mapping_get(m, 1);
	shm = pw_mapping_get(m, 2);
	pw_mapping_set_shmem(shm, true);
	pw_vma_add(mm, SIM_A, 0x600000, VM_READ | VM_WRITE, NULL, 0, 0, &err);
	pw_vma_add(mm, SIM_B, 0xc00000, VM_READ | VM_WRITE, NULL, 0, 0, &err);
	pw_vma_add(mm, SIM_C, 0x1010000, VM_READ, file, 0, 0, &err);
	pw_vma_add(mm, SIM_D, 0x2004000, VM_READ | VM_WRITE | VM_SHARED, shm, 0,
		   0, &err);
	pw_vma_add(mm, SIM_E, 0x40400000, VM_READ | VM_WRITE, NULL, 0, 21,
		   &err);

	pw_mm_set_entry(mm, PW_LEVEL_PTE, SIM_A + 0x0000, sim_pte(100, 0x67));
	pw_mm_set_entry(mm, PW_LEVEL_PTE, SIM_A + 0x1000, sim_pte(101, 0x07));
	pw_mm_set_entry(mm, PW_LEVEL_PTE, SIM_A + 0x2000,
			pw_swp_entry(0, 7) | PW_PAGE_SOFT_DIRTY);
	pw_mm_set_entry(mm, PW_LEVEL_PTE, SIM_A + 0x3000,
			pw_swp_entry(PW_SWP_MIGRATION_READ, 102));
	pw_mm_set_entry(mm, PW_LEVEL_PTE, SIM_A + 0x4000,
			pw_swp_entry(PW_SWP_PTE_MARKER, PW_PTE_MARKER_GUARD));
	pw_mm_set_entry(mm, PW_LEVEL_PTE, SIM_A + 0x5000, sim_pte(1, 0x205));
	pw_mm_set_entry(mm, PW_LEVEL_PTE, SIM_A + 0x6000, sim_pte(103, 0x07));
	pw_mm_set_entry(mm, PW_LEVEL_PTE, SIM_A + 0x7000, sim_pte(103, 0x07));
	pw_folio_declare(m, 1024, 9);
	pw_mm_set_entry(mm, PW_LEVEL_PMD, SIM_B, sim_pte(1024, 0xe7));
	pw_mm_set_entry(mm, PW_LEVEL_PTE, SIM_C, sim_pte(200, 0x05));
	pw_page_cache_set(file, 0, 200 + 1);
	pw_page_cache_set(file, 1, 201 + 1);
	pw_page_cache_set(shm, 0, PW_CACHE_VALUE | pw_swp_entry(1, 9));
	pw_mm_set_entry(mm, PW_LEVEL_PTE, SIM_D + 0x1000, sim_pte(300, 0x47));
	pw_page_cache_set(shm, 1, 300 + 1);
	pw_page_cache_set(shm, 2, PW_CACHE_VALUE | pw_swp_entry(1, 10));
	pw_folio_declare(m, 2048, 9);
	pw_mm_set_entry(mm, PW_LEVEL_PMD, SIM_E, sim_pte(2048, 0xe7));

	if (pw_page_info_from_mappings(mm))
		abort();
	pi = pw_machine_page_info(m);
	pi[102].flags = PW_PGF_ANON | PW_PGF_SWAPBACKED | PW_PGF_UPTODATE;
	pi[102].refcount = 1;
	pi[201].flags = PW_PGF_UPTODATE | PW_PGF_LRU;
	pi[201].refcount = 1;
	pi[400].flags = PW_PGF_UPTODATE | PW_PGF_SWAPCACHE | PW_PGF_SWAPBACKED |
			PW_PGF_ANON;
	pi[401].flags = PW_PGF_UPTODATE | PW_PGF_SWAPCACHE | PW_PGF_SWAPBACKED;
	pw_swap_cache_set(m, pw_swp_entry(0, 7), 400 + 1, 1);
	pw_swap_cache_set(m, pw_swp_entry(1, 10), 401 + 1, 1);
	return mm;
}

#endif /* COMPAT_SIM_MACHINE_H */
