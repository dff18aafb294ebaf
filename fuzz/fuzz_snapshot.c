/*
 * fuzz_snapshot.c - libFuzzer target: the snapshot loader
 * (pw_snapshot_parse) over inputs nobody vouches for.
 *
 * The harness fixes up the checksum of the input first (otherwise almost
 * every mutation would stop there), so the fuzzer reaches the header and
 * record checks and the machine building behind them.  An accepted
 * snapshot is walked whole, every address space, with callbacks at every
 * level; a refused one must come with a one-line message.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *         -I include CWalkCore/[all .c] \
 *         fuzz/fuzz_snapshot.c
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pagewalk.h"

static int count(pte_t *pte, unsigned long addr, unsigned long next,
		 struct mm_walk *walk)
{
	(void)pte, (void)addr, (void)next;
	return ++*(long *)walk->private > 200000; /* bounded */
}

static int count_pmd(pmd_t *pmd, unsigned long addr, unsigned long next,
		     struct mm_walk *walk)
{
	(void)pmd, (void)addr, (void)next;
	return ++*(long *)walk->private > 200000;
}

static const struct mm_walk_ops ops = { .pmd_entry = count_pmd,
					.pte_entry = count };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pw_snapshot s;
	char err[512];
	uint8_t *copy = malloc(size + 1);

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (size >= 64) {
		uint64_t h = 0xcbf29ce484222325ULL;
		for (size_t i = 64; i < size; i++) {
			h ^= copy[i];
			h *= 0x100000001b3ULL;
		}
		memcpy(copy + 56, &h, 8);
	}
	err[0] = 0;
	if (pw_snapshot_parse(copy, size, &s, err, sizeof err) != 0) {
		if (!err[0] || strchr(err, '\n'))
			abort();
		free(copy);
		return 0;
	}
	for (size_t i = 0; i < s.nr_mms; i++) {
		long n = 0;
		struct mm_struct *mm = s.mms[i];
		if (pw_mm_is_kernel(mm)) {
			mmap_read_lock(mm);
			walk_kernel_page_table_range(s.machine, 0, ~0UL, &ops,
						     NULL, &n);
			mmap_read_unlock(mm);
		} else {
			mmap_write_lock(mm);
			walk_page_range_debug(
				mm, 0,
				pw_machine_geometry(s.machine)->task_size, &ops,
				NULL, &n);
			walk_page_range(
				mm, 0,
				pw_machine_geometry(s.machine)->task_size, &ops,
				&n);
			mmap_write_unlock(mm);
		}
	}
	pw_machine_destroy(s.machine);
	pw_snapshot_free(&s);
	free(copy);
	return 0;
}
