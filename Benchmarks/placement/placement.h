/*
 * placement.h - one copy of the C core, linked into the placement driver.
 *
 * Benchmarks/placement/run.sh links several copies of CWalkCore (the same
 * sources, compiled once, or by another compiler) into one process, each
 * shifted by a different amount of padding, with every symbol but one
 * local to its copy.  That one symbol is a struct pl_core: the dense
 * workload of pagewalk-bench, built and walked by that copy alone, as a C
 * embedder uses the core (pte_entry callback, walk_page_range).
 */
#ifndef PLACEMENT_H
#define PLACEMENT_H

#include <stdint.h>

struct pl_core {
	/** Builds the dense workload of @pages PTEs (1 in 16 a swap entry). */
	void *(*setup)(unsigned long pages, uint64_t seed);
	/** One walk; returns the PTEs visited, stores the present ones. */
	uint64_t (*walk)(void *state, uint64_t *present);
	void (*teardown)(void *state);
	/** Where the walker's code and the callback landed. */
	const void *walker;   /* walk_page_range */
	const void *callback; /* the pte_entry callback */
	const char *compiler;
};

#endif
