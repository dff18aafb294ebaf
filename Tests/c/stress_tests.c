/*
 * stress_tests.c - readers and writers on one address space at once.
 *
 * Reader threads take mmap_read_lock and
 *   - walk the whole user range with pmd_entry and pte_entry (which splits
 *     the anonymous THPs it meets, as the kernel does under the read lock),
 *     checking that every PMD and PTE value they see is one a writer wrote
 *     (or the split of one): no torn or half-written entry;
 *   - walk with pmd_entry alone, counting THP leaves without splitting;
 *   - look up random addresses with folio_walk_start / folio_walk_end and
 *     check that the page-table lock is held in between (pw_spin_is_locked)
 *     and that what was found is a value a writer wrote.
 * Writer threads take mmap_write_lock and
 *   - map new VMAs (pw_vma_add): anonymous, and file-backed;
 *   - populate PTEs and THP PMD leaves (pw_mm_set_entry);
 *   - split THPs with a pte_entry walk over them.
 * A shadow copy of what the writers mapped (page by page) is kept under the
 * write lock; at the end a single-threaded walk must find exactly it, and
 * the counters must add up (VMAs, splits, folio lookups).
 *
 * Built by scripts/ci-reliability.sh with
 *   gcc -std=c11 -O1 -g -fsanitize=thread -pthread -I include CWalkCore/[all .c]
 * and by scripts/c-tests.sh with address and undefined-behaviour
 * sanitizers.  STRESS_SECONDS (default 3) sets how long the threads run.
 *
 * Writers also unmap whole slots with pw_munmap, which frees the tables
 * it empties, so readers race with VMA removal and table freeing too.
 *
 * Last line: "N passed, M failed"; exit status 1 on any failure.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pagewalk.h"
#include "pagewalk_machine.h"

#define READERS 3
#define WRITERS 2
#define SLOTS 64 /* VMA slots of 4 MiB each */
#define SLOT_SIZE (4UL << 20)
#define BASE 0x10000000UL /* first slot */
#define PAGES_PER_SLOT (SLOT_SIZE >> 12)
#define DATA_FRAMES (1UL << 15) /* data frames below the table region */

static int passed, failed;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (cond) {                                                    \
			passed++;                                              \
		} else {                                                       \
			failed++;                                              \
			printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			printf(__VA_ARGS__);                                   \
			printf("\n");                                          \
		}                                                              \
	} while (0)

/* ---- the values writers write --------------------------------------------- */

/*
 * Every value a writer writes carries a check field in bits 52..58 (bits
 * the MMU ignores) derived from the 2 MiB group of its PFN, so that a THP
 * and the PTEs its split makes agree, and a value torn between two writes
 * is caught.
 */
#define CHECK_SHIFT 52
#define CHECK_MASK (0x7fULL << CHECK_SHIFT)
#define PTE_FLAGS \
	(PW_PAGE_PRESENT | PW_PAGE_RW | PW_PAGE_USER | PW_PAGE_ACCESSED)

static uint64_t check_bits(uint64_t pfn)
{
	return (((pfn >> 9) * 0x9e3779b97f4a7c15ULL) >> 57) << CHECK_SHIFT;
}

static uint64_t make_pte(uint64_t pfn)
{
	return PTE_FLAGS | check_bits(pfn) | pfn << PW_PAGE_SHIFT;
}

static uint64_t make_thp(uint64_t pfn)
{
	return make_pte(pfn) | PW_PAGE_HUGE;
}

static bool valid_pte(uint64_t v)
{
	uint64_t pfn = pw_entry_pfn(v);

	return v == 0 || (v == make_pte(pfn) && pfn < DATA_FRAMES);
}

static bool valid_thp(uint64_t v)
{
	uint64_t pfn = pw_entry_pfn(v);

	return v == make_thp(pfn) && pfn % 512 == 0 && pfn < DATA_FRAMES;
}

/* ---- shared state ------------------------------------------------------------ */

static struct pw_machine *M;
static struct mm_struct *MM;
static struct address_space *AS;
static atomic_bool stop;

/* Under the mmap write lock only. */
static struct vm_area_struct *slot_vma[SLOTS];
static uint64_t *shadow; /* expected PTE value per page of the slots */
static unsigned long vmas_mapped, vmas_unmapped, ptes_written, thps_written,
	thps_unmapped;

/* Counted by everyone. */
static atomic_ulong splits_seen; /* split events from the hook */
static atomic_ulong reader_walks, reader_lookups, reader_found, writer_ops;
static atomic_ulong bad_values;     /* entries that no writer wrote */
static atomic_ulong unlocked_found; /* folio_walk found with its ptl free */
static atomic_ulong other_events;   /* bad entries, warnings, assertions */

static void on_event(void *ctx, const struct pw_event *ev)
{
	(void)ctx;
	if (ev->kind == PW_EVENT_SPLIT_PMD)
		atomic_fetch_add(&splits_seen, 1);
	else if (ev->kind != PW_EVENT_VMA_START_WRITE)
		atomic_fetch_add(&other_events, 1);
}

/* ---- per-thread random numbers --------------------------------------------------- */

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* ---- reader callbacks --------------------------------------------------------- */

struct rcount {
	unsigned long ptes, present, thps;
};

static int r_pmd(pmd_t *pmd, unsigned long addr, unsigned long next,
		 struct mm_walk *walk)
{
	/* Other readers may split this PMD right now: read it once. */
	uint64_t v = pw_entry_get(pmd);
	struct rcount *c = walk->private;

	(void)addr;
	(void)next;
	if ((v & (PW_PAGE_PRESENT | PW_PAGE_HUGE)) ==
	    (PW_PAGE_PRESENT | PW_PAGE_HUGE)) {
		if (!valid_thp(v))
			atomic_fetch_add(&bad_values, 1);
		c->thps++;
		/* without pte_entry, count it and do not descend */
		if (!walk->ops->pte_entry)
			walk->action = ACTION_CONTINUE;
	} else if (v && !pw_entry_is_table(M, v)) {
		atomic_fetch_add(&bad_values, 1);
	}
	return 0;
}

static int r_pte(pte_t *pte, unsigned long addr, unsigned long next,
		 struct mm_walk *walk)
{
	/* Under the PTE lock: stable. */
	uint64_t v = *pte;
	struct rcount *c = walk->private;

	(void)addr;
	(void)next;
	c->ptes++;
	if (v)
		c->present++;
	if (!valid_pte(v))
		atomic_fetch_add(&bad_values, 1);
	return 0;
}

static const struct mm_walk_ops split_ops = { .pmd_entry = r_pmd,
					      .pte_entry = r_pte };
static const struct mm_walk_ops count_ops = { .pmd_entry = r_pmd };

static void *reader(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 0x9e3779b97f4a7c15ULL + 1;

	while (!atomic_load(&stop)) {
		struct rcount c = { 0 };
		unsigned r = (unsigned)(rnd(&seed) % 8);

		mmap_read_lock(MM);
		if (r < 2) {
			if (walk_page_range(MM, BASE, BASE + SLOTS * SLOT_SIZE,
					    r ? &split_ops : &count_ops,
					    &c) != 0)
				atomic_fetch_add(&bad_values, 1);
			atomic_fetch_add(&reader_walks, 1);
		} else {
			unsigned slot = (unsigned)(rnd(&seed) % SLOTS);
			struct vm_area_struct *vma =
				find_vma(MM, BASE + slot * SLOT_SIZE);
			struct folio_walk fw;
			unsigned long addr;

			if (vma) {
				addr = vma->vm_start +
				       (rnd(&seed) % ((vma->vm_end -
						       vma->vm_start) >>
						      12)
					<< 12);
				if (folio_walk_start(&fw, vma, addr, 0)) {
					uint64_t v = fw.pte;

					if (!pw_spin_is_locked(fw.ptl))
						atomic_fetch_add(
							&unlocked_found, 1);
					if (fw.level == FW_LEVEL_PTE ?
						    !valid_pte(v) || !v :
					    fw.level == FW_LEVEL_PMD ?
						    !valid_thp(v) :
						    true)
						atomic_fetch_add(&bad_values,
								 1);
					folio_walk_end(&fw, vma);
					atomic_fetch_add(&reader_found, 1);
				}
				atomic_fetch_add(&reader_lookups, 1);
			}
		}
		mmap_read_unlock(MM);
		if (pw_ptl_held_by_thread() != 0)
			atomic_fetch_add(&bad_values, 1);
	}
	return NULL;
}

/* ---- writers ----------------------------------------------------------------- */

static void *writer(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 0xc2b2ae3d27d4eb4fULL + 7;

	while (!atomic_load(&stop)) {
		unsigned r = (unsigned)(rnd(&seed) % 16);
		unsigned slot = (unsigned)(rnd(&seed) % SLOTS);
		unsigned long start = BASE + slot * SLOT_SIZE;
		struct vm_area_struct *vma;
		int err;

		mmap_write_lock(MM);
		vma = slot_vma[slot];
		if (!vma) {
			/* map the slot: anonymous mostly, file-backed now and then */
			bool file = r == 0;

			vma = pw_vma_add(MM, start, start + SLOT_SIZE,
					 VM_READ | VM_WRITE, file ? AS : NULL,
					 slot * PAGES_PER_SLOT, 0, &err);
			if (vma) {
				slot_vma[slot] = vma;
				vmas_mapped++;
			}
		} else if (r < 10) {
			/* populate a few PTEs where no THP is */
			unsigned n = 1 + (unsigned)(rnd(&seed) % 16), i;

			for (i = 0; i < n; i++) {
				unsigned long pg = rnd(&seed) % PAGES_PER_SLOT;
				unsigned long addr = start + (pg << 12);
				uint64_t pmd,
					pfn = 1 +
					      rnd(&seed) % (DATA_FRAMES - 1);

				pw_mm_get_entry(MM, PW_LEVEL_PMD, addr, &pmd);
				if (pmd & PW_PAGE_HUGE)
					continue;
				if (pw_mm_set_entry(MM, PW_LEVEL_PTE, addr,
						    make_pte(pfn)) == 0) {
					shadow[slot * PAGES_PER_SLOT + pg] =
						make_pte(pfn);
					ptes_written++;
				}
			}
		} else if (r < 13) {
			/*
			 * A THP over an empty 2 MiB range (writing it over a
			 * PTE table would leak the table, which the final
			 * frame accounting would rightly report).
			 */
			unsigned long half = rnd(&seed) % 2;
			unsigned long addr = start + half * (2UL << 20);
			uint64_t pmd,
				pfn = (rnd(&seed) % (DATA_FRAMES / 512 - 1) +
				       1) *
				      512;
			struct pw_machine_stats st;
			unsigned long i;

			pw_mm_get_entry(MM, PW_LEVEL_PMD, addr, &pmd);
			pw_machine_get_stats(M, &st);
			if (pmd == 0 && vma->vm_file == NULL &&
			    st.tables_in_use < st.table_frames / 2 &&
			    pw_mm_set_entry(MM, PW_LEVEL_PMD, addr,
					    make_thp(pfn)) == 0) {
				for (i = 0; i < 512; i++)
					shadow[slot * PAGES_PER_SLOT +
					       half * 512 + i] =
						make_pte(pfn + i);
				thps_written++;
			}
		} else if (r == 15) {
			/* unmap the slot: its VMA goes, its entries are
			 * cleared and its emptied tables freed under the
			 * readers' feet (they hold the read lock, so never
			 * during a walk) */
			unsigned long half;
			uint64_t pmd;

			/* a THP unmapped whole is cleared, not split */
			for (half = 0; half < SLOT_SIZE >> 21; half++)
				if (pw_mm_get_entry(MM, PW_LEVEL_PMD,
						    start + (half << 21),
						    &pmd) == 0 &&
				    (pmd & (PW_PAGE_PRESENT | PW_PAGE_HUGE)) ==
					    (PW_PAGE_PRESENT | PW_PAGE_HUGE))
					thps_unmapped++;
			if (pw_munmap(MM, start, SLOT_SIZE) == 0) {
				slot_vma[slot] = NULL;
				memset(&shadow[slot * PAGES_PER_SLOT], 0,
				       PAGES_PER_SLOT * sizeof(*shadow));
				vmas_unmapped++;
			} else {
				atomic_fetch_add(&bad_values, 1);
			}
		} else {
			/* split whatever THPs the slot has */
			struct rcount c = { 0 };

			if (walk_page_vma(vma, &split_ops, &c) != 0)
				atomic_fetch_add(&bad_values, 1);
		}
		mmap_write_unlock(MM);
		atomic_fetch_add(&writer_ops, 1);
		/* the lock prefers writers: leave the readers some room */
		nanosleep(&(struct timespec){ .tv_nsec = 20000 }, NULL);
	}
	return NULL;
}

/* ---- the final check ------------------------------------------------------------- */

struct final {
	unsigned long mismatches, present;
};

static int f_pmd(pmd_t *pmd, unsigned long addr, unsigned long next,
		 struct mm_walk *walk)
{
	struct final *f = walk->private;
	uint64_t v = *pmd, i;

	(void)next;
	if ((v & (PW_PAGE_PRESENT | PW_PAGE_HUGE)) ==
	    (PW_PAGE_PRESENT | PW_PAGE_HUGE)) {
		for (i = 0; i < 512; i++) {
			unsigned long pg = ((addr - BASE) >> 12) + i;

			f->present++;
			if (shadow[pg] != make_pte(pw_entry_pfn(v) + i))
				f->mismatches++;
		}
		walk->action = ACTION_CONTINUE;
	}
	return 0;
}

static int f_pte(pte_t *pte, unsigned long addr, unsigned long next,
		 struct mm_walk *walk)
{
	struct final *f = walk->private;

	(void)next;
	if (*pte)
		f->present++;
	if (shadow[(addr - BASE) >> 12] != *pte)
		f->mismatches++;
	return 0;
}

static int f_hole(unsigned long addr, unsigned long next, int depth,
		  struct mm_walk *walk)
{
	struct final *f = walk->private;
	unsigned long a;

	(void)depth;
	if (addr < BASE)
		return 0;
	for (a = addr; a < next && a < BASE + SLOTS * SLOT_SIZE; a += 4096)
		if (shadow[(a - BASE) >> 12])
			f->mismatches++;
	return 0;
}

int main(void)
{
	struct pw_machine_config cfg = { .levels = 4,
					 .frames = 1UL << 17,
					 .table_base = DATA_FRAMES,
					 .zero_pfn = 1 };
	pthread_t rt[READERS], wt[WRITERS];
	const struct mm_walk_ops fops = { .pmd_entry = f_pmd,
					  .pte_entry = f_pte,
					  .pte_hole = f_hole };
	struct pw_machine_stats st;
	struct final f = { 0 };
	const char *env = getenv("STRESS_SECONDS");
	double secs = env ? atof(env) : 3.0;
	struct timespec ts;
	unsigned long shadow_present = 0, i, thp_leaves = 0;
	size_t nv;
	int err;

	if (pw_machine_create(&cfg, &M))
		return 2;
	pw_machine_set_event_hook(M, on_event, NULL);
	MM = pw_mm_create(M);
	AS = pw_mapping_get(M, 1);
	shadow = calloc(SLOTS * PAGES_PER_SLOT, sizeof(*shadow));
	if (!MM || !AS || !shadow)
		return 2;

	for (i = 0; i < READERS; i++)
		pthread_create(&rt[i], NULL, reader,
			       (void *)(uintptr_t)(i + 1));
	for (i = 0; i < WRITERS; i++)
		pthread_create(&wt[i], NULL, writer,
			       (void *)(uintptr_t)(i + 1));
	ts.tv_sec = (time_t)secs;
	ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
	atomic_store(&stop, true);
	for (i = 0; i < READERS; i++)
		pthread_join(rt[i], NULL);
	for (i = 0; i < WRITERS; i++)
		pthread_join(wt[i], NULL);

	printf("writers: %lu ops, %lu VMAs mapped, %lu unmapped, %lu PTEs, %lu THPs; "
	       "readers: %lu walks, %lu lookups (%lu found); %lu splits\n",
	       atomic_load(&writer_ops), vmas_mapped, vmas_unmapped,
	       ptes_written, thps_written, atomic_load(&reader_walks),
	       atomic_load(&reader_lookups), atomic_load(&reader_found),
	       atomic_load(&splits_seen));

	CHECK(atomic_load(&bad_values) == 0, "%lu values no writer wrote",
	      atomic_load(&bad_values));
	CHECK(atomic_load(&unlocked_found) == 0,
	      "%lu folio_walk results without their lock",
	      atomic_load(&unlocked_found));
	CHECK(atomic_load(&other_events) == 0, "%lu bad/warn/assert events",
	      atomic_load(&other_events));
	CHECK(atomic_load(&reader_walks) > 0 &&
		      atomic_load(&reader_lookups) > 0 &&
		      atomic_load(&writer_ops) > 0,
	      "every thread kind ran");

	/* VMAs: as many as the writers mapped, in their slots */
	nv = pw_mm_vma_count(MM);
	CHECK(nv == vmas_mapped - vmas_unmapped,
	      "%zu VMAs, %lu mapped, %lu unmapped", nv, vmas_mapped,
	      vmas_unmapped);
	for (i = 0; i < SLOTS; i++)
		if (slot_vma[i])
			CHECK(find_vma(MM, BASE + i * SLOT_SIZE) == slot_vma[i],
			      "slot %lu", i);

	/* every page as the shadow says, THP or split */
	for (i = 0; i < SLOTS * PAGES_PER_SLOT; i++)
		shadow_present += shadow[i] != 0;
	mmap_read_lock(MM);
	err = walk_page_range(MM, BASE, BASE + SLOTS * SLOT_SIZE, &fops, &f);
	mmap_read_unlock(MM);
	CHECK(err == 0, "final walk returned %d", err);
	CHECK(f.mismatches == 0, "%lu pages differ from what the writers wrote",
	      f.mismatches);
	CHECK(f.present == shadow_present, "%lu present, %lu written",
	      f.present, shadow_present);

	/* splits: no more than THPs written; THPs left + split = written */
	for (i = 0; i < SLOTS * 2; i++) {
		uint64_t v = 0;

		pw_mm_get_entry(MM, PW_LEVEL_PMD, BASE + i * (2UL << 20), &v);
		thp_leaves += (v & PW_PAGE_HUGE) != 0;
	}
	CHECK(thp_leaves + atomic_load(&splits_seen) + thps_unmapped ==
		      thps_written,
	      "%lu THPs left + %lu splits + %lu unmapped != %lu written",
	      thp_leaves, atomic_load(&splits_seen), thps_unmapped,
	      thps_written);
	pw_machine_get_stats(M, &st);
	CHECK(st.bad_entries == 0 && st.warnings == 0 &&
		      st.assert_failures == 0,
	      "stats: %llu bad, %llu warnings, %llu assertions",
	      (unsigned long long)st.bad_entries,
	      (unsigned long long)st.warnings,
	      (unsigned long long)st.assert_failures);
	{
		char why[256];

		/* frame accounting: every table reachable once, and exactly
		 * as many as the machine counts in use (splits allocate,
		 * munmap frees) */
		CHECK(pw_mm_check(MM, why, sizeof(why)) == 0, "%s", why);
	}
	CHECK(pw_ptl_held_by_thread() == 0, "locks left held");

	free(shadow);
	pw_machine_destroy(M);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
