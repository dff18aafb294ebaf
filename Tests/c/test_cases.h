/*
 * test_cases.h - the small case harness the C test programs share: a case
 * is begun with a name, CHECKs record failures in it, and the program ends
 * with the line "N passed, M failed" (and exit status 1 on any failure).
 */
#ifndef PW_TEST_CASES_H
#define PW_TEST_CASES_H

#include <stdarg.h>
#include <stdio.h>

static int passed, failed, case_failed;
static char case_name[160];

/* Records a failure of the current case (once by name, then each check). */
#define CHECK(cond)                                                         \
	do {                                                                \
		if (!(cond)) {                                              \
			if (!case_failed)                                   \
				printf("FAIL %s\n", case_name);             \
			printf("  %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			case_failed = 1;                                    \
		}                                                           \
	} while (0)

/* Begins a case named by @fmt. */
static inline void case_begin(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(case_name, sizeof(case_name), fmt, ap);
	va_end(ap);
	case_failed = 0;
}

/* Ends the current case, counting it passed or failed. */
static inline void case_end(void)
{
	if (case_failed)
		failed++;
	else
		passed++;
}

/* Runs the block that follows as one case named @name. */
#define TEST(name)                                                       \
	for (int test_once_ = (case_begin("%s", (name)), 1); test_once_; \
	     test_once_ = 0, case_end())

/* Prints the summary line; the program's exit status. */
static inline int cases_summary(void)
{
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

#endif /* PW_TEST_CASES_H */
