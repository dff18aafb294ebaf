/*
 * clients_sim_tests.c - PageWalk's kernel-style clients (KernelClients/,
 * built through compat/) over the simulated machine of sim_machine.h, each
 * answer checked against values derived by hand from the kernel's
 * documented semantics.  Plain C11: it sees only kernel_clients.h.
 */
#include "kernel_clients.h"
#include "sim_machine.h"
#include "../c/test_cases.h"

#include <errno.h>
#include <string.h>

#define K 4096UL
#define M2 (2UL << 20)

static void test_mincore(struct mm_struct *mm)
{
	unsigned char vec[1024];

	TEST("mincore: anonymous, swap-cached, migration, guard, zero page")
	{
		static const unsigned char want[8] = { 1, 1, 1, 1, 0, 1, 1, 1 };

		CHECK(kc_mincore(mm, SIM_A, 8 * K, vec) == 0);
		CHECK(memcmp(vec, want, 8) == 0);
	}
	TEST("mincore: THP, file page cache, shmem swap")
	{
		static const unsigned char wc[3] = { 1, 1, 0 },
					   wd[4] = { 0, 1, 1, 0 };

		CHECK(kc_mincore(mm, SIM_B, 512 * K, vec) == 0);
		CHECK(memchr(vec, 0, 512) == NULL);
		CHECK(kc_mincore(mm, SIM_C, 3 * K, vec) == 0 &&
		      memcmp(vec, wc, 3) == 0);
		CHECK(kc_mincore(mm, SIM_D, 4 * K, vec) == 0 &&
		      memcmp(vec, wd, 4) == 0);
	}
	TEST("mincore: hugetlb and holes")
	{
		CHECK(kc_mincore(mm, SIM_E, 1024 * K, vec) == 0);
		CHECK(memchr(vec, 0, 512) == NULL && vec[512] == 0 &&
		      vec[1023] == 0);
		CHECK(kc_mincore(mm, 0x600000, K, vec) == -ENOMEM);
		CHECK(kc_mincore(mm, SIM_A + 1, K, vec) == -EINVAL);
	}
}

static void test_pagemap(struct mm_struct *mm)
{
	uint64_t pm[1024];
	const uint64_t P = KC_PM_PRESENT, X = KC_PM_MMAP_EXCLUSIVE,
		       S = KC_PM_SWAP;

	TEST("pagemap: the anonymous VMA entry by entry")
	{
		uint64_t want[8] = {
			P | X | 100,
			P | X | 101,
			S | KC_PM_SOFT_DIRTY | (0 | 7 << 5),
			S | (25 | 102 << 5),
			S | KC_PM_GUARD_REGION | (31 | 4 << 5),
			P | 1,
			P | 103,
			P | 103,
		};

		CHECK(kc_pagemap(mm, SIM_A, SIM_A + 8 * K, pm, true) == 0);
		for (int i = 0; i < 8; i++)
			CHECK(pm[i] == want[i]);
		CHECK(kc_pagemap(mm, SIM_A, SIM_A + 2 * K, pm, false) == 0);
		CHECK(pm[0] == (P | X) && pm[1] == (P | X));
	}
	TEST("pagemap: hole, THP, file, hugetlb")
	{
		CHECK(kc_pagemap(mm, 0x5ff000, 0x802000, pm, true) == 0);
		CHECK(pm[0] == 0 && pm[1] == 0 && pm[512] == 0);
		CHECK(pm[513] == (P | X | 1024) && pm[514] == (P | X | 1025));
		CHECK(kc_pagemap(mm, SIM_C, SIM_C + 2 * K, pm, true) == 0);
		CHECK(pm[0] == (P | X | KC_PM_FILE | 200) && pm[1] == 0);
		CHECK(kc_pagemap(mm, SIM_E + 511 * K, SIM_E + 513 * K, pm,
				 true) == 0);
		CHECK(pm[0] == (P | X | (2048 + 511)) && pm[1] == 0);
	}
}

static void test_smaps(struct mm_struct *mm)
{
	struct kc_smaps s;

	TEST("smaps: anonymous VMA with swap, migration and a page mapped twice")
	{
		memset(&s, 0, sizeof(s));
		CHECK(kc_smaps_vma(find_vma(mm, SIM_A), &s) == 0);
		CHECK(s.resident == 5 * K && s.anonymous == 5 * K);
		CHECK(s.referenced == K);
		CHECK(s.private_dirty == K && s.private_clean == K);
		CHECK(s.shared_clean == 3 * K && s.shared_dirty == 0);
		CHECK(s.pss == (uint64_t)(3 * K + 2 * 2048) << 12);
		CHECK(s.swap == K && s.swap_pss == (uint64_t)K << 12);
		CHECK(s.lazyfree == 0 && s.anonymous_thp == 0);
	}
	TEST("smaps: THP, file, shmem, hugetlb")
	{
		memset(&s, 0, sizeof(s));
		CHECK(kc_smaps_vma(find_vma(mm, SIM_B), &s) == 0);
		CHECK(s.resident == M2 && s.anonymous_thp == M2 &&
		      s.private_dirty == M2);
		CHECK(s.referenced == M2 && s.pss == (uint64_t)M2 << 12);
		memset(&s, 0, sizeof(s));
		CHECK(kc_smaps_vma(find_vma(mm, SIM_C), &s) == 0);
		CHECK(s.resident == K && s.private_clean == K &&
		      s.anonymous == 0);
		CHECK(s.pss_file == (uint64_t)K << 12);
		memset(&s, 0, sizeof(s));
		CHECK(kc_smaps_vma(find_vma(mm, SIM_D), &s) == 0);
		CHECK(s.resident == K && s.private_dirty == K &&
		      s.swap == 2 * K);
		CHECK(s.pss_shmem == (uint64_t)K << 12);
		memset(&s, 0, sizeof(s));
		CHECK(kc_smaps_vma(find_vma(mm, SIM_E), &s) == 0);
		CHECK(s.private_hugetlb == M2 && s.shared_hugetlb == 0 &&
		      s.resident == 0);
	}
	TEST("smaps_rollup: the sum")
	{
		CHECK(kc_smaps_rollup(mm, &s) == 0);
		CHECK(s.resident == 5 * K + M2 + K + K);
		CHECK(s.swap == 3 * K && s.private_hugetlb == M2);
	}
}

static void test_numa_maps(struct mm_struct *mm)
{
	struct kc_numa_maps n;

	TEST("numa_maps: anonymous VMA and the THP")
	{
		CHECK(kc_numa_maps_vma(find_vma(mm, SIM_A), &n) == 0);
		CHECK(n.pages == 4 && n.anon == 4 && n.dirty == 1 &&
		      n.mapcount_max == 2);
		CHECK(n.node[0] == 4 && n.active == 0 && n.swapcache == 0);
		CHECK(kc_numa_maps_vma(find_vma(mm, SIM_B), &n) == 0);
		CHECK(n.pages == 512 && n.anon == 512 && n.dirty == 512 &&
		      n.mapcount_max == 1);
		CHECK(kc_numa_maps_vma(find_vma(mm, SIM_E), &n) == 0);
		CHECK(n.pages == 1 && n.dirty == 1);
	}
}

static void test_scan(struct mm_struct *mm)
{
	struct page_region r[16];
	const uint64_t all = PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_GUARD |
			     PAGE_IS_HUGE | PAGE_IS_PFNZERO | PAGE_IS_FILE |
			     PAGE_IS_WRITTEN | PAGE_IS_SOFT_DIRTY;
	struct pm_scan_arg a = { .size = sizeof(a),
				 .start = SIM_A,
				 .end = 0xc00000,
				 .vec = (uintptr_t)r,
				 .vec_len = 16,
				 .category_anyof_mask =
					 PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
				 .return_mask = all };

	TEST("PAGEMAP_SCAN: categories and merging")
	{
		const uint64_t W = PAGE_IS_WRITTEN;
		struct page_region want[7] = {
			{ SIM_A, SIM_A + 2 * K, PAGE_IS_PRESENT | W },
			{ SIM_A + 2 * K, SIM_A + 3 * K,
			  PAGE_IS_SWAPPED | W | PAGE_IS_SOFT_DIRTY },
			{ SIM_A + 3 * K, SIM_A + 4 * K, PAGE_IS_SWAPPED | W },
			{ SIM_A + 4 * K, SIM_A + 5 * K,
			  PAGE_IS_SWAPPED | W | PAGE_IS_GUARD },
			{ SIM_A + 5 * K, SIM_A + 6 * K,
			  PAGE_IS_PRESENT | W | PAGE_IS_PFNZERO },
			{ SIM_A + 6 * K, SIM_A + 8 * K, PAGE_IS_PRESENT | W },
			{ SIM_B, SIM_B + M2,
			  PAGE_IS_PRESENT | W | PAGE_IS_HUGE },
		};
		struct pm_scan_arg x = a;

		CHECK(kc_pagemap_scan(mm, &x) == 7);
		CHECK(memcmp(r, want, sizeof(want)) == 0);
		CHECK(x.walk_end == 0xc00000);
	}
	TEST("PAGEMAP_SCAN: max_pages and vec_len stop the walk (walk_end)")
	{
		struct pm_scan_arg x = a;

		x.max_pages = 3;
		CHECK(kc_pagemap_scan(mm, &x) == 2);
		CHECK(x.walk_end == SIM_A + 3 * K);
		CHECK(r[1].end == SIM_A + 3 * K);
		x = a;
		x.vec_len = 2;
		CHECK(kc_pagemap_scan(mm, &x) == 2 &&
		      x.walk_end == SIM_A + 3 * K);
		x = a;
		x.category_mask = PAGE_IS_HUGE;
		CHECK(kc_pagemap_scan(mm, &x) == 1 && r[0].start == SIM_B);
		x = a;
		x.category_inverted = PAGE_IS_PRESENT;
		x.category_mask = PAGE_IS_PRESENT;
		x.category_anyof_mask = 0;
		x.end = SIM_A + 8 * K;
		CHECK(kc_pagemap_scan(mm, &x) == 3);
		x = a;
		x.size = 8;
		CHECK(kc_pagemap_scan(mm, &x) == -EINVAL);
		x = a;
		x.start = SIM_A + 1;
		CHECK(kc_pagemap_scan(mm, &x) == -EINVAL);
	}
}

static void test_ptdump(struct mm_struct *mm)
{
	struct kc_ptdump_range got[64];
	size_t n = 0;

	TEST("ptdump: leaves merged by level and protection, holes between")
	{
		void collect(void *ctx, const struct kc_ptdump_range *r);
		struct cap {
			struct kc_ptdump_range *r;
			size_t *n;
		} c = { got, &n };
		extern void ptdump_collect(void *,
					   const struct kc_ptdump_range *);

		CHECK(kc_ptdump(mm, ptdump_collect, &c) == 0);
		CHECK(n >= 6 && n < 64);
		/* p0 (rw, user) alone, p1 ... with its own bits, the THP one PMD range. */
		int thp = -1, first = -1;
		for (size_t i = 0; i < n; i++) {
			if (got[i].start == SIM_B)
				thp = (int)i;
			if (got[i].start == SIM_A)
				first = (int)i;
		}
		CHECK(thp >= 0 && got[thp].level == 3 &&
		      got[thp].end == SIM_B + M2);
		CHECK(first >= 0 && got[first].level == 4 &&
		      got[first].end == SIM_A + 2 * K);
		for (size_t i = 1; i < n; i++)
			CHECK(got[i].start == got[i - 1].end);
	}
}

void ptdump_collect(void *ctx, const struct kc_ptdump_range *r)
{
	struct cap {
		struct kc_ptdump_range *r;
		size_t *n;
	} *c = ctx;

	if (*c->n < 64)
		c->r[(*c->n)++] = *r;
}

static void test_guard_and_clear_refs(void)
{
	struct pw_machine *m;
	struct mm_struct *mm = sim_build(&m);
	uint64_t pm[8], v;

	TEST("guard install zaps what is in the way and retries; remove clears markers")
	{
		CHECK(kc_guard_install(mm, SIM_A + 4 * K, SIM_A + 6 * K) == 0);
		CHECK(kc_pagemap(mm, SIM_A + 4 * K, SIM_A + 6 * K, pm, true) ==
		      0);
		CHECK((pm[0] & KC_PM_GUARD_REGION) &&
		      (pm[1] & KC_PM_GUARD_REGION));
		CHECK(kc_guard_install(mm, SIM_E, SIM_E + K) == -EINVAL);
		CHECK(kc_guard_install(mm, 0x600000, 0x601000) == -ENOMEM);
		CHECK(kc_guard_remove(mm, SIM_A + 4 * K, SIM_A + 6 * K) == 0);
		CHECK(kc_pagemap(mm, SIM_A + 4 * K, SIM_A + 6 * K, pm, true) ==
		      0);
		CHECK(pm[0] == 0 && pm[1] == 0);
	}
	TEST("clear_refs 1: accessed bits cleared, PTE and PMD")
	{
		CHECK(kc_clear_refs(mm, KC_CLEAR_REFS_ALL) == 0);
		pw_mm_get_entry(mm, PW_LEVEL_PTE, SIM_A, &v);
		CHECK(v == sim_pte(100, 0x47));
		pw_mm_get_entry(mm, PW_LEVEL_PMD, SIM_B, &v);
		CHECK(v == sim_pte(1024, 0xc7));
		CHECK(kc_clear_refs(mm, 9) == -EINVAL);
	}
	TEST("clear_refs 4: soft-dirty cleared and write-protected")
	{
		pw_mm_set_entry(mm, PW_LEVEL_PTE, SIM_A + K,
				sim_pte(101, 0x807));
		find_vma(mm, SIM_A)->vm_flags |=
			0x08000000UL; /* VM_SOFTDIRTY */
		CHECK(kc_clear_refs(mm, KC_CLEAR_REFS_SOFT_DIRTY) == 0);
		pw_mm_get_entry(mm, PW_LEVEL_PTE, SIM_A + K, &v);
		CHECK(v == sim_pte(101, 0x05));
		pw_mm_get_entry(mm, PW_LEVEL_PTE, SIM_A + 2 * K, &v);
		CHECK(v == pw_swp_entry(0, 7));
		pw_mm_get_entry(mm, PW_LEVEL_PMD, SIM_B, &v);
		CHECK(v == sim_pte(1024, 0xc5));
		CHECK(!(find_vma(mm, SIM_A)->vm_flags & 0x08000000UL));
	}
	pw_machine_destroy(m);
}

int main(void)
{
	struct pw_machine *m;
	struct mm_struct *mm = sim_build(&m);

	test_mincore(mm);
	test_pagemap(mm);
	test_smaps(mm);
	test_numa_maps(mm);
	test_scan(mm);
	test_ptdump(mm);
	pw_machine_destroy(m);
	test_guard_and_clear_refs();
	return cases_summary();
}
