/*
 * capture_stderr.h - what a test program's own stderr receives between
 * capture_begin() and capture_end(), for checking the lines the machine
 * prints without an event hook.  Needs POSIX (dup, fileno): define
 * _POSIX_C_SOURCE 200809L before the first include.
 */
#ifndef PW_CAPTURE_STDERR_H
#define PW_CAPTURE_STDERR_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct captured {
	int saved;
	FILE *f;
};

/* Sends stderr to a temporary file until capture_end(). */
static inline void capture_begin(struct captured *c)
{
	fflush(stderr);
	c->f = tmpfile();
	c->saved = dup(2);
	if (!c->f || c->saved < 0 || dup2(fileno(c->f), 2) < 0)
		abort();
}

/* Restores stderr; returns what was written (the first 4 KiB), valid
 * until the next call. */
static inline char *capture_end(struct captured *c)
{
	static char buf[4096];
	size_t n;

	fflush(stderr);
	dup2(c->saved, 2);
	close(c->saved);
	rewind(c->f);
	n = fread(buf, 1, sizeof(buf) - 1, c->f);
	buf[n] = 0;
	fclose(c->f);
	return buf;
}

#endif /* PW_CAPTURE_STDERR_H */
