/*
 * garbage_tests.c - the documented result for each kind of garbage table.
 *
 * Replays every Tests/Reliability/cases/NAME.scn on the C core and
 * compares the trace with NAME.trace byte for byte, as the conformance
 * runner does.  The cases are the ones docs/RELIABILITY.md lists: bad
 * pgd/p4d/pmd entries, PUDs beyond memory or not present, data frames and
 * a table's own frame or its ancestors used as tables, THP splits with no
 * frame left, the non-canonical hole, wrapping page offsets, folio_walk
 * at the end of memory, unaligned ranges.  Under the sanitizers of
 * scripts/c-tests.sh this also checks that none of them reads out of
 * bounds.  Run from the repository's top directory.
 *
 * Last line: "N passed, M failed"; exit status 1 on any failure.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pagewalk.h"
#include "pagewalk_scenario.h"

#define DIR_CASES "Tests/Reliability/cases"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1))) {
		*len = fread(buf, 1, (size_t)n, f);
		buf[*len] = 0;
	}
	fclose(f);
	return buf;
}

static void first_difference(const char *want, const char *got)
{
	int line = 1;
	const char *w = want, *g = got;

	while (*w && *w == *g) {
		if (*w == '\n')
			line++;
		w++;
		g++;
	}
	while (w > want && w[-1] != '\n')
		w--, g--;
	printf("  line %d: expected '%.*s', got '%.*s'\n", line,
	       (int)strcspn(w, "\n"), w, (int)strcspn(g, "\n"), g);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
	DIR *d = opendir(DIR_CASES);
	struct dirent *e;
	char *names[256];
	int n = 0, i, passed = 0, failed = 0;

	if (!d) {
		printf("cannot open %s (run from the top directory)\n0 passed, 1 failed\n",
		       DIR_CASES);
		return 1;
	}
	while ((e = readdir(d)) && n < 256) {
		size_t l = strlen(e->d_name);

		if (l > 4 && !strcmp(e->d_name + l - 4, ".scn"))
			names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof(*names), by_name);
	for (i = 0; i < n; i++) {
		char path[512], err[512], *scn, *want, *got = NULL;
		size_t slen = 0, wlen = 0, glen = 0;
		int st;

		snprintf(path, sizeof(path), "%s/%s", DIR_CASES, names[i]);
		scn = slurp(path, &slen);
		strcpy(path + strlen(path) - 4, ".trace");
		want = slurp(path, &wlen);
		if (!scn || !want) {
			printf("FAIL %s: cannot read it or its .trace\n",
			       names[i]);
			failed++;
		} else if ((st = pw_scenario_replay(scn, slen, names[i],
						    &pw_c_engine, &got, &glen,
						    err, sizeof(err)))) {
			printf("FAIL %s: %s\n", names[i], err);
			failed++;
		} else if (glen != wlen || memcmp(got, want, wlen)) {
			printf("FAIL %s\n", names[i]);
			first_difference(want, got);
			failed++;
		} else {
			passed++;
		}
		free(scn);
		free(want);
		free(got);
		free(names[i]);
	}
	if (n == 0)
		failed++;
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
