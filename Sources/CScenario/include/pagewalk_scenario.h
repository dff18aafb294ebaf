/*
 * pagewalk_scenario.h - replaying conformance scenarios.
 *
 * A scenario (.scn, see Tests/Conformance/FORMAT.md) builds a machine, sets
 * callbacks and their behaviour, and makes walk calls; replaying it yields
 * the trace the kernel's walker produces over the same model.  The walk
 * calls go to an engine: the C core (pw_c_engine) or any other
 * implementation of the same entry points, which is how the other engines
 * of PageWalk are checked against the same cases.
 */
#ifndef PAGEWALK_SCENARIO_H
#define PAGEWALK_SCENARIO_H

#include "pagewalk.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The walk entry points a scenario's `call` lines use.  Every member must
 * be set; each has the signature and the contract of the C function of the
 * same name in pagewalk.h.
 */
struct pw_walk_engine {
	/** A short name ("c", "swift", ...). */
	const char *name;
	/** As walk_page_range(). */
	int (*walk_page_range)(struct mm_struct *mm, unsigned long start,
			       unsigned long end, const struct mm_walk_ops *ops,
			       void *private_data);
	/** As walk_page_range_mm(). */
	int (*walk_page_range_mm)(struct mm_struct *mm, unsigned long start,
				  unsigned long end,
				  const struct mm_walk_ops *ops,
				  void *private_data);
	/** As walk_page_range_vma(). */
	int (*walk_page_range_vma)(struct vm_area_struct *vma,
				   unsigned long start, unsigned long end,
				   const struct mm_walk_ops *ops,
				   void *private_data);
	/** As walk_page_vma(). */
	int (*walk_page_vma)(struct vm_area_struct *vma,
			     const struct mm_walk_ops *ops, void *private_data);
	/** As walk_page_mapping(). */
	int (*walk_page_mapping)(struct address_space *mapping,
				 unsigned long first_index, unsigned long nr,
				 const struct mm_walk_ops *ops,
				 void *private_data);
	/** As walk_kernel_page_table_range(). */
	int (*walk_kernel_page_table_range)(struct pw_machine *m,
					    unsigned long start,
					    unsigned long end,
					    const struct mm_walk_ops *ops,
					    pgd_t *pgd, void *private_data);
	/** As walk_page_range_debug(). */
	int (*walk_page_range_debug)(struct mm_struct *mm, unsigned long start,
				     unsigned long end,
				     const struct mm_walk_ops *ops, pgd_t *pgd,
				     void *private_data);
	/** As folio_walk_start(). */
	struct folio *(*folio_walk_start)(struct folio_walk *fw,
					  struct vm_area_struct *vma,
					  unsigned long addr,
					  folio_walk_flags_t flags);
	/** As folio_walk_end(). */
	void (*folio_walk_end)(struct folio_walk *fw,
			       struct vm_area_struct *vma);
};

/** The C core's entry points. */
extern const struct pw_walk_engine pw_c_engine;

/** pw_scenario_replay() succeeded. */
#define PW_SCENARIO_OK 0
/** The scenario is malformed or cannot be set up (the message says where). */
#define PW_SCENARIO_BAD_INPUT 2
/** Memory ran out, or the engine broke an invariant (a lock left held). */
#define PW_SCENARIO_INTERNAL 3

/**
 * Replays the scenario @text (@len bytes) on @engine.  On success returns
 * PW_SCENARIO_OK and sets *trace (NUL-terminated, free() it) and
 * *trace_len.  Otherwise returns PW_SCENARIO_BAD_INPUT or
 * PW_SCENARIO_INTERNAL, writes one line "NAME:LINE: what is wrong" (no
 * newline) into @err (@errlen bytes) and sets *trace to NULL: nothing is
 * half-written.  @name is used in messages only.
 */
int pw_scenario_replay(const char *text, size_t len, const char *name,
		       const struct pw_walk_engine *engine, char **trace,
		       size_t *trace_len, char *err, size_t errlen);

/** The trace limit of pw_scenario_replay(): 256 MiB. */
#define PW_SCENARIO_TRACE_LIMIT ((size_t)256 << 20)

/**
 * As pw_scenario_replay(), with the trace limited to fewer than
 * @max_trace bytes.  A replay whose trace would reach it fails with
 * PW_SCENARIO_INTERNAL ("the trace reaches its limit ..."): from then on
 * every callback returns 1, so a walk that would never end (a rule with
 * action=again and no times=) ends at once.
 */
int pw_scenario_replay_limit(const char *text, size_t len, const char *name,
			     const struct pw_walk_engine *engine,
			     size_t max_trace, char **trace, size_t *trace_len,
			     char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* PAGEWALK_SCENARIO_H */
