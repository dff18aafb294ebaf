/*
 * image_builder.h - builds small memory images in memory for the image
 * tests: an ELF64 core with a note segment (QEMU CPU notes, VMCOREINFO)
 * and PT_LOAD segments, or raw memory; page tables are written by hand
 * into the segments' frames with img_set().
 */
#ifndef PW_IMAGE_BUILDER_H
#define PW_IMAGE_BUILDER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct seg_spec {
	uint64_t paddr;  /* physical address (page aligned) */
	uint64_t frames; /* 4 KiB frames */
	unsigned skew;   /* bytes of padding before its data: 0 keeps it page
	                     aligned in the file, 12 mimics QEMU's offsets */
};

struct img {
	uint8_t *buf; /* the whole file, page aligned */
	size_t len;
	size_t nsegs;
	struct seg_spec segs[8];
	size_t data_off[8]; /* file offset of each segment's bytes */
};

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}
static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}
static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* Appends one note to @p at @off (4-byte aligned name and desc); the new offset. */
static size_t put_note(uint8_t *p, size_t off, const char *name, uint32_t type,
		       const void *desc, uint32_t descsz)
{
	uint32_t namesz = (uint32_t)strlen(name) + 1;

	put32(p + off, namesz);
	put32(p + off + 4, descsz);
	put32(p + off + 8, type);
	memcpy(p + off + 12, name, namesz);
	off += 12 + ((namesz + 3) & ~3u);
	memcpy(p + off, desc, descsz);
	return off + ((descsz + 3) & ~3u);
}

/*
 * Builds an ELF core with @nsegs segments, one QEMU CPU note per entry of
 * @cr3 (@ncpus, with @cr4), and a VMCOREINFO note @vmci (NULL: none).
 */
static struct img img_elf(const struct seg_spec *segs, size_t nsegs,
			  const uint64_t *cr3, size_t ncpus, uint64_t cr4,
			  const char *vmci)
{
	struct img im;
	uint8_t notes[8192];
	size_t nlen = 0;

	memset(&im, 0, sizeof im);
	for (size_t c = 0; c < ncpus; c++) {
		uint8_t prs[336] = { 0 };
		uint8_t q[440] = { 0 };
		nlen = put_note(notes, nlen, "CORE", 1, prs, sizeof prs);
		put32(q, 1);
		put32(q + 4, sizeof q);
		put64(q + 136, 0x401000 + c);
		put64(q + 416, cr3[c]);
		put64(q + 424, cr4);
		nlen = put_note(notes, nlen, "QEMU", 0, q, sizeof q);
	}
	if (vmci)
		nlen = put_note(notes, nlen, "VMCOREINFO", 0, vmci,
				(uint32_t)strlen(vmci));
	size_t phnum = 1 + nsegs;
	size_t off = 64 + phnum * 56 + nlen;
	off = (off + 4095) & ~(size_t)4095;
	for (size_t i = 0; i < nsegs; i++) {
		im.segs[i] = segs[i];
		off = ((off + 4095) & ~(size_t)4095) + segs[i].skew;
		im.data_off[i] = off;
		off += segs[i].frames * 4096;
	}
	im.nsegs = nsegs;
	im.len = off;
	im.buf = aligned_alloc(4096, (off + 4095) & ~(size_t)4095);
	memset(im.buf, 0, off);
	uint8_t *b = im.buf;
	memcpy(b,
	       "\x7f"
	       "ELF",
	       4);
	b[4] = 2;
	b[5] = 1;
	b[6] = 1;
	put16(b + 16, 4);
	put16(b + 18, 62);
	put32(b + 20, 1);
	put64(b + 32, 64);
	put16(b + 52, 64);
	put16(b + 54, 56);
	put16(b + 56, (uint16_t)phnum);
	uint8_t *ph = b + 64;
	put32(ph, 4);
	put64(ph + 8, 64 + phnum * 56);
	put64(ph + 32, nlen);
	put64(ph + 40, nlen);
	memcpy(b + 64 + phnum * 56, notes, nlen);
	for (size_t i = 0; i < nsegs; i++) {
		ph = b + 64 + (i + 1) * 56;
		put32(ph, 1);
		put64(ph + 8, im.data_off[i]);
		put64(ph + 16, 0xffff888000000000ULL + segs[i].paddr);
		put64(ph + 24, segs[i].paddr);
		put64(ph + 32, segs[i].frames * 4096);
		put64(ph + 40, segs[i].frames * 4096);
	}
	return im;
}

/* Writes the 64-bit word at physical @paddr (inside a segment). */
static void img_set(struct img *im, uint64_t paddr, uint64_t v)
{
	for (size_t i = 0; i < im->nsegs; i++) {
		const struct seg_spec *s = &im->segs[i];
		if (paddr >= s->paddr && paddr < s->paddr + s->frames * 4096) {
			put64(im->buf + im->data_off[i] + (paddr - s->paddr),
			      v);
			return;
		}
	}
	abort();
}

/* Sets entry @index of the table at physical @table. */
static void img_entry(struct img *im, uint64_t table, unsigned index,
		      uint64_t v)
{
	img_set(im, table + index * 8ULL, v);
}

#endif /* PW_IMAGE_BUILDER_H */
