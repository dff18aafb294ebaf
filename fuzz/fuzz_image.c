/*
 * fuzz_image.c - libFuzzer target: the memory-image parser (ELF64 header,
 * program headers, PT_LOAD segments, PT_NOTE notes: CORE, QEMU CPU
 * state, VMCOREINFO) and raw images, over inputs nobody vouches for.
 *
 * The input is parsed as an image in a page-aligned buffer; when it is
 * accepted, every segment's frames and every CPU's CR3 are looked up and
 * read (the lookups must stay inside the buffer or the shadow copies, which
 * ASan checks), the VMCOREINFO facts are read, and a short x86-64 walk from
 * each CR3 reads one entry per level.  Rejected inputs must come with a
 * one-line message.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *         -I CWalkImage/include CWalkImage/image.c fuzz/fuzz_image.c
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pagewalk_image.h"

static volatile uint64_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	struct pw_image *img;
	unsigned flags = 0;
	void *buf;

	/* First byte: force raw for odd values only when it is not ELF. */
	if (size && (data[0] & 0x80) && size > 4096 + 1 &&
	    memcmp(data,
		   "\x7f"
		   "ELF",
		   4) != 0)
		flags = PW_IMAGE_FORCE_RAW;
	/* Page aligned, like an mmap of a file, so aligned segments are used
	 * in place; +1 so an empty input is still a valid allocation. */
	buf = aligned_alloc(4096, (size + 4096) / 4096 * 4096);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	err[0] = 0;
	if (pw_image_parse(buf, size, flags, &img, err, sizeof err)) {
		if (!err[0] || strchr(err, '\n'))
			abort(); /* a rejection must say why, in one line */
		free(buf);
		return 0;
	}
	uint64_t acc = 0;
	for (size_t i = 0; i < pw_image_segment_count(img); i++) {
		const struct pw_image_segment *s = pw_image_segment_at(img, i);
		uint64_t first = s->paddr / 4096, n = s->size / 4096;
		/* first, last and a middle frame (segments can be huge) */
		uint64_t probe[3] = { first, first + n / 2, first + n - 1 };
		for (int k = 0; k < 3; k++) {
			uint64_t *f = pw_image_frame(img, probe[k]);
			if (!f)
				abort(); /* inside a segment: must resolve */
			acc += f[0] + f[511];
			f[7] ^= 1; /* writes go to the private copy */
		}
		if (pw_image_frame(img, first + n) &&
		    (i + 1 == pw_image_segment_count(img) ||
		     pw_image_segment_at(img, i + 1)->paddr !=
			     s->paddr + s->size))
			abort(); /* just past a segment with a hole after it */
	}
	const struct pw_image_vmcoreinfo *v = pw_image_vmcoreinfo(img);
	if (v->present && v->text_len)
		acc += (unsigned char)v->text[v->text_len - 1] +
		       v->osrelease[0];
	acc += pw_image_kernel_pgd(img);
	for (size_t i = 0; i < pw_image_cpu_count(img); i++) {
		const struct pw_image_cpu *c = pw_image_cpu_at(img, i);
		struct pw_x86_root r = pw_x86_root_from_cr3(c->cr3, c->cr4, -1);
		uint64_t table = r.pgd;
		for (int l = 0; l < r.levels; l++) {
			uint64_t *f = pw_image_frame(img, table >> 12);
			if (!f)
				break;
			uint64_t e = f[(c->rip >> (39 - 9 * l)) & 511];
			if (!pw_x86_present(e))
				break;
			table = pw_x86_pfn(e) << 12;
		}
		acc += table;
	}
	char tmp[16];
	if (pw_image_read(img, 0, tmp, sizeof tmp) == 0)
		acc += (unsigned char)tmp[3];
	sink = acc;
	pw_image_close(img);
	free(buf);
	return 0;
}
