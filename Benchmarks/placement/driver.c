/*
 * driver.c - times the copies of the core that run.sh linked into this
 * process (see placement.h) on the same dense workload, alternating the
 * copies run by run, and prints how much their speed differs.
 *
 *   placement [PAGES [RUNS [wall|cpu [json]]]]
 *
 * Default 262144 PTEs (1 GiB), 21 runs, wall time (cpu: the thread's CPU
 * time, which leaves out waiting for a core on a busy machine); json: one
 * JSON object per copy instead of the table.
 */
#define _GNU_SOURCE /* CLOCK_THREAD_CPUTIME_ID under -std=c11 */
#include "placement.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern const struct pl_core *const pl_copies[];
extern const char *const pl_labels[];
extern const int pl_ncopies;

static clockid_t clock_id = CLOCK_MONOTONIC;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(clock_id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	unsigned long pages = argc > 1 ? strtoul(argv[1], NULL, 0) : 1UL << 18;
	int runs = argc > 2 ? atoi(argv[2]) : 21, warmup = 3;
	bool json = argc > 4 && strcmp(argv[4], "json") == 0;
	double core_best = 1e300, core_worst = 0;
	uintptr_t cb0 = (uintptr_t)pl_copies[0]->callback % 64;
	int n = pl_ncopies, i, k, r;
	void **state = calloc(n, sizeof(*state));
	uint64_t *t = calloc((size_t)n * runs, sizeof(*t));
	double *median = calloc(n, sizeof(*median)), best = 1e300, worst = 0;
	uint64_t want_ptes = 0, want_present = 0;

	if (argc > 3 && strcmp(argv[3], "cpu") == 0)
		clock_id = CLOCK_THREAD_CPUTIME_ID;
	else if (argc > 3 && strcmp(argv[3], "wall") != 0)
		pages = 0;
	if (pages == 0 || runs < 1 || !state || !t || !median) {
		fprintf(stderr,
			"placement: usage: placement [PAGES [RUNS [wall|cpu [json]]]] "
			"(PAGES and RUNS positive)\n");
		return 2;
	}
	for (i = 0; i < n; i++) {
		state[i] = pl_copies[i]->setup(pages, 0x5EEDBA5E);
		if (!state[i]) {
			fprintf(stderr, "placement: copy %s: setup failed\n",
				pl_labels[i]);
			return 1;
		}
	}
	for (r = -warmup; r < runs; r++) {
		for (k = 0; k < n; k++) {
			int c = ((r < 0 ? 0 : r) + k) % n;
			uint64_t present, ptes, t0, t1;

			t0 = now_ns();
			ptes = pl_copies[c]->walk(state[c], &present);
			t1 = now_ns();
			if (!want_ptes) {
				want_ptes = ptes;
				want_present = present;
			}
			if (ptes != pages || ptes != want_ptes ||
			    present != want_present) {
				fprintf(stderr,
					"placement: VERIFICATION FAILED: copy %s saw %llu PTEs, %llu present\n",
					pl_labels[c], (unsigned long long)ptes,
					(unsigned long long)present);
				return 1;
			}
			if (r >= 0)
				t[(size_t)c * runs + r] = t1 - t0;
		}
	}
	for (i = 0; i < n; i++) {
		qsort(t + (size_t)i * runs, runs, sizeof(*t), cmp_u64);
		median[i] = (double)t[(size_t)i * runs + runs / 2] / pages;
		if (median[i] < best)
			best = median[i];
		if (median[i] > worst)
			worst = median[i];
		/* The core moved, the callback where copy 0 has it. */
		if ((uintptr_t)pl_copies[i]->callback % 64 == cb0) {
			if (median[i] < core_best)
				core_best = median[i];
			if (median[i] > core_worst)
				core_worst = median[i];
		}
	}
	if (json) {
		for (i = 0; i < n; i++)
			printf("{\"workload\": \"placement-dense-%lu\", \"copy\": \"%s\", "
			       "\"ns_per_entry\": %.4f, \"min_ns_per_entry\": %.4f, "
			       "\"ratio_to_best\": %.4f, \"walker_mod64\": %lu, "
			       "\"callback_mod64\": %lu, \"runs\": %d, \"clock\": \"%s\"}\n",
			       pages, pl_labels[i], median[i],
			       (double)t[(size_t)i * runs] / pages,
			       median[i] / best,
			       (unsigned long)((uintptr_t)pl_copies[i]->walker %
					       64),
			       (unsigned long)((uintptr_t)pl_copies[i]
						       ->callback %
					       64),
			       runs,
			       clock_id == CLOCK_MONOTONIC ? "wall" : "cpu");
		printf("{\"workload\": \"placement-dense-%lu\", \"core_spread\": %.4f, "
		       "\"spread\": %.4f}\n",
		       pages, core_worst / core_best, worst / best);
	} else {
		printf("dense %lu PTEs, %d runs per copy, copies alternating run by run, %s\n",
		       pages, runs,
		       clock_id == CLOCK_MONOTONIC ? "wall time" :
						     "thread CPU time");
		printf("%-34s %10s %10s %8s %14s %14s\n", "copy of the core",
		       "ns/PTE", "min", "x best", "walker %64", "callback %64");
		for (i = 0; i < n; i++)
			printf("%-34s %10.3f %10.3f %8.3f %14lu %14lu\n",
			       pl_labels[i], median[i],
			       (double)t[(size_t)i * runs] / pages,
			       median[i] / best,
			       (unsigned long)((uintptr_t)pl_copies[i]->walker %
					       64),
			       (unsigned long)((uintptr_t)pl_copies[i]
						       ->callback %
					       64));
		printf("spread, core moved (callback in place, clang and gcc): %.3f\n",
		       core_worst / core_best);
		printf("spread, all copies (the callback moved too):           %.3f\n",
		       worst / best);
	}
	for (i = 0; i < n; i++)
		pl_copies[i]->teardown(state[i]);
	return 0;
}
