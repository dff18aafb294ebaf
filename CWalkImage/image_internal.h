/*
 * image_internal.h - what CWalkImage's files share and do not export: the
 * one-line error writer.
 */
#ifndef PW_IMAGE_INTERNAL_H
#define PW_IMAGE_INTERNAL_H

#include <stddef.h>

/* Formats one line into @err (@errlen bytes, may be 0); returns -1. */
int pw_image_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* PW_IMAGE_INTERNAL_H */
