/*
 * fuzz_scenario.c - libFuzzer target: arbitrary bytes as a conformance
 * scenario, replayed on the C core.  Must never crash, hang or leak: the
 * result is a trace, or one line "NAME:LINE: what is wrong".
 *
 * Seeds: a few small Tests/Conformance/cases/[all]/[all].scn, copied into
 * fuzz/corpus-scenario at build time by scripts/fuzz.sh.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pagewalk.h"
#include "pagewalk_machine.h"
#include "pagewalk_scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256], *trace = NULL;
	size_t len = 0;
	int st;

	/* A 1 MiB trace is far beyond any real case (the largest conformance
	 * trace is 0.5 MiB) and keeps a run's time and memory small; a walk
	 * that would not end (rule ... action=again) ends at the limit. */
	memset(err, 'x', sizeof(err));
	st = pw_scenario_replay_limit((const char *)data, size, "fuzz",
				      &pw_c_engine, (size_t)1 << 20, &trace,
				      &len, err, sizeof(err));
	if (st == PW_SCENARIO_OK) {
		if (!trace || trace[len] != 0 || strlen(trace) != len)
			abort();
		free(trace);
	} else {
		/* one line, NUL-terminated, no newline */
		if (trace ||
		    (st != PW_SCENARIO_BAD_INPUT && st != PW_SCENARIO_INTERNAL))
			abort();
		if (!memchr(err, 0, sizeof(err)) || strchr(err, '\n') ||
		    !err[0])
			abort();
	}
	if (pw_ptl_held_by_thread() != 0)
		abort();
	return 0;
}
