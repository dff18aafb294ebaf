/*
 * image.c - opening memory images: ELF64 cores with guest-physical
 * PT_LOAD segments and their notes, and raw memory files.
 *
 * Everything read from the file is checked here, once, against the size of
 * the mapping; afterwards a frame lookup is a binary search over validated
 * segments.  A segment whose bytes do not start at a page-aligned file
 * offset (QEMU's dumps put them right after the notes) cannot be mapped
 * aligned, so it gets an anonymous shadow mapping of its size (untouched
 * pages cost nothing) into which each frame is copied on first use: the
 * open stays independent of the image's size and entries are always read
 * as aligned 64-bit words.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "pagewalk_image.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE 4096ULL
/* Physical addresses above 2^52 do not exist on x86-64. */
#define MAX_PADDR (1ULL << 52)
/* Bounds against absurd headers (each still far above any real image). */
#define MAX_SEGMENTS (1u << 20)
#define MAX_CPUS 4096u
/* Memory an image may describe beyond its file's bytes (zero-filled
 * tails of kdump segments): more than this is an absurd header. */
#define MAX_ZERO_FILL (1ULL << 40)

/* Shadow frame states (realigned segments). */
enum { FRAME_UNCOPIED = 0, FRAME_COPYING = 1, FRAME_READY = 2 };

struct seg {
	struct pw_image_segment pub;
	uint64_t first_pfn, nr_frames;
	unsigned char *aligned;       /* frame 0 of the segment, page aligned */
	const unsigned char *src;     /* the bytes in the file mapping */
	uint64_t src_frames;          /* frames with bytes in the file */
	_Atomic unsigned char *state; /* realigned: one per frame */
	size_t shadow_len;
	size_t state_len;
};

struct pw_image {
	enum pw_image_kind kind;
	unsigned char *base; /* the file's bytes */
	size_t len;
	bool mapped; /* base is our mmap of the file */
	struct seg *segs;
	size_t nr_segs;
	struct pw_image_cpu *cpus;
	size_t nr_cpus;
	size_t nr_prstatus;
	struct pw_image_vmcoreinfo vmci;
	uint64_t max_pfn;
	uint64_t zero_fill;
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static uint16_t rd16(const unsigned char *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

static uint32_t rd32(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static uint64_t rd64(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

/* [off, off + n) inside [0, len)?  Overflow-safe. */
static bool in_file(uint64_t off, uint64_t n, uint64_t len)
{
	return off <= len && n <= len - off;
}

/* ---- VMCOREINFO ---------------------------------------------------------- */

/* Value of "KEY=" on its own line of @t, or NULL; *vlen its length. */
static const char *vmci_value(const char *t, size_t n, const char *key,
			      size_t *vlen)
{
	size_t klen = strlen(key);
	size_t i = 0;

	while (i < n) {
		size_t j = i;
		while (j < n && t[j] != '\n')
			j++;
		if (j - i > klen && memcmp(t + i, key, klen) == 0) {
			*vlen = j - i - klen;
			return t + i + klen;
		}
		i = j + 1;
	}
	return NULL;
}

/* Parses a number of at most 24 characters in @base (16 or 10, optional
 * leading '-' for base 10).  false for anything else. */
static bool parse_num(const char *v, size_t n, int base, uint64_t *out)
{
	char buf[32];
	char *end;

	if (n == 0 || n >= sizeof buf)
		return false;
	memcpy(buf, v, n);
	buf[n] = 0;
	for (size_t i = 0; i < n; i++) {
		char c = buf[i];
		bool ok = (c >= '0' && c <= '9') ||
			  (i == 0 && c == '-' && base == 10) ||
			  (base == 16 &&
			   ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')));
		if (!ok)
			return false;
	}
	errno = 0;
	if (buf[0] == '-') {
		long long s = strtoll(buf, &end, 10);
		if (errno || *end)
			return false;
		*out = (uint64_t)s;
	} else {
		unsigned long long u = strtoull(buf, &end, base);
		if (errno || *end)
			return false;
		*out = u;
	}
	return true;
}

static int parse_vmcoreinfo(struct pw_image *img, const unsigned char *d,
			    size_t n, char *err, size_t errlen, uint64_t where)
{
	struct pw_image_vmcoreinfo *v = &img->vmci;
	const char *t = (const char *)d;
	const char *val;
	size_t vl;
	uint64_t x;

	/* Trailing NULs pad the note. */
	while (n && t[n - 1] == 0)
		n--;
	if (memchr(t, 0, n))
		return fail(
			err, errlen,
			"VMCOREINFO note at file offset 0x%llx: a NUL byte inside the text: not a VMCOREINFO note",
			(unsigned long long)where);
	v->present = true;
	v->text = t;
	v->text_len = n;
	v->pgtable_l5 = -1;
	if ((val = vmci_value(t, n, "OSRELEASE=", &vl))) {
		size_t c = vl < sizeof v->osrelease - 1 ?
				   vl :
				   sizeof v->osrelease - 1;
		memcpy(v->osrelease, val, c);
		v->osrelease[c] = 0;
	}
#define NUM(key, base, field, flag)                                                            \
	if ((val = vmci_value(t, n, key, &vl))) {                                              \
		if (!parse_num(val, vl, base, &x))                                             \
			return fail(                                                           \
				err, errlen,                                                   \
				"VMCOREINFO note at file offset 0x%llx: %s%.*s: not a number", \
				(unsigned long long)where, key,                                \
				(int)(vl > 40 ? 40 : vl), val);                                \
		v->field = x;                                                                  \
		flag;                                                                          \
	}
	NUM("SYMBOL(init_top_pgt)=", 16, init_top_pgt,
	    v->has_init_top_pgt = true)
	NUM("NUMBER(phys_base)=", 10, phys_base, v->has_phys_base = true)
	NUM("KERNELOFFSET=", 16, kernel_offset, v->has_kernel_offset = true)
	NUM("NUMBER(sme_mask)=", 10, sme_mask, (void)0)
	if ((val = vmci_value(t, n, "NUMBER(pgtable_l5_enabled)=", &vl))) {
		if (!parse_num(val, vl, 10, &x) || x > 1)
			return fail(
				err, errlen,
				"VMCOREINFO note at file offset 0x%llx: NUMBER(pgtable_l5_enabled)=%.*s: not 0 or 1",
				(unsigned long long)where,
				(int)(vl > 40 ? 40 : vl), val);
		v->pgtable_l5 = (int)x;
	}
#undef NUM
	return 0;
}

/* ---- ELF notes ----------------------------------------------------------- */

#define NOTE_ALIGN(x) (((x) + 3) & ~(uint64_t)3)

static int add_cpu(struct pw_image *img, char *err, size_t errlen,
		   uint64_t where)
{
	if (img->nr_cpus >= MAX_CPUS)
		return fail(
			err, errlen,
			"notes at file offset 0x%llx: more than %u CPU notes: not a real dump",
			(unsigned long long)where, MAX_CPUS);
	if (img->nr_cpus % 16 == 0) {
		struct pw_image_cpu *n =
			realloc(img->cpus, (img->nr_cpus + 16) * sizeof *n);
		if (!n)
			return fail(err, errlen,
				    "out of memory reading the CPU notes");
		img->cpus = n;
	}
	memset(&img->cpus[img->nr_cpus], 0, sizeof img->cpus[0]);
	img->cpus[img->nr_cpus].index = (unsigned)img->nr_cpus;
	img->nr_cpus++;
	return 0;
}

static int parse_notes(struct pw_image *img, uint64_t off, uint64_t size,
		       char *err, size_t errlen)
{
	const unsigned char *p = img->base + off;
	uint64_t i = 0;
	size_t qemu_seen = 0;

	while (i < size) {
		uint64_t at = off + i;
		if (size - i < 12)
			return fail(
				err, errlen,
				"note at file offset 0x%llx: %llu bytes left, a note header needs 12: truncated notes",
				(unsigned long long)at,
				(unsigned long long)(size - i));
		uint32_t namesz = rd32(p + i), descsz = rd32(p + i + 4),
			 type = rd32(p + i + 8);
		uint64_t name_off = i + 12;
		uint64_t desc_off = name_off + NOTE_ALIGN((uint64_t)namesz);
		uint64_t next = desc_off + NOTE_ALIGN((uint64_t)descsz);
		if (desc_off > size || next > size || next < desc_off)
			return fail(
				err, errlen,
				"note at file offset 0x%llx: name %u + desc %u bytes run past the note segment's end (0x%llx): bogus note",
				(unsigned long long)at, namesz, descsz,
				(unsigned long long)(off + size));
		const char *name = (const char *)p + name_off;
		const unsigned char *desc = p + desc_off;
		/* namesz counts the terminating NUL. */
		bool is_core = namesz == 5 && memcmp(name, "CORE", 5) == 0;
		bool is_qemu = namesz == 5 && memcmp(name, "QEMU", 5) == 0;
		bool is_vmci =
			namesz == 11 && memcmp(name, "VMCOREINFO", 11) == 0;
		if (is_core && type == 1 /* NT_PRSTATUS */) {
			if (add_cpu(img, err, errlen, at))
				return -1;
			img->nr_prstatus++;
		} else if (is_qemu && type == 0) {
			/* QEMUCPUState: u32 version, u32 size, registers...;
			 * version 1: CR3 at 416, CR4 at 424. */
			if (descsz < 432)
				return fail(
					err, errlen,
					"QEMU CPU note at file offset 0x%llx: %u bytes, CR3 and CR4 need 432: truncated note",
					(unsigned long long)at, descsz);
			uint32_t version = rd32(desc), qsize = rd32(desc + 4);
			if (version != 1)
				return fail(
					err, errlen,
					"QEMU CPU note at file offset 0x%llx: version %u, only version 1 is known",
					(unsigned long long)at, version);
			if (qsize < 432 || qsize > descsz)
				return fail(
					err, errlen,
					"QEMU CPU note at file offset 0x%llx: says %u bytes in a %u-byte note: bogus note",
					(unsigned long long)at, qsize, descsz);
			/* QEMU writes one "CORE" note then one "QEMU" note per
			 * CPU; pair the n-th QEMU note with the n-th CPU. */
			if (qemu_seen >= img->nr_cpus &&
			    add_cpu(img, err, errlen, at))
				return -1;
			struct pw_image_cpu *c = &img->cpus[qemu_seen++];
			c->has_control = true;
			c->rip = rd64(desc + 136);
			c->cr3 = rd64(desc + 416);
			c->cr4 = rd64(desc + 424);
		} else if (is_vmci) {
			if (img->vmci.present)
				return fail(
					err, errlen,
					"VMCOREINFO note at file offset 0x%llx: a second VMCOREINFO note: bogus notes",
					(unsigned long long)at);
			if (parse_vmcoreinfo(img, desc, descsz, err, errlen,
					     at))
				return -1;
		}
		i = next;
	}
	return 0;
}

/* ---- segments ------------------------------------------------------------ */

static int seg_cmp(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;
	return x->pub.paddr < y->pub.paddr ? -1 : x->pub.paddr > y->pub.paddr;
}

static int add_segment(struct pw_image *img, size_t *cap, uint64_t paddr,
		       uint64_t memsz, uint64_t off, uint64_t filesz, char *err,
		       size_t errlen, size_t index)
{
	if (paddr % PAGE)
		return fail(
			err, errlen,
			"segment %zu: physical address 0x%llx is not page aligned: absurd segment",
			index, (unsigned long long)paddr);
	if (filesz > memsz)
		return fail(
			err, errlen,
			"segment %zu: %llu bytes in the file but %llu in memory: absurd segment",
			index, (unsigned long long)filesz,
			(unsigned long long)memsz);
	if (paddr >= MAX_PADDR || memsz > MAX_PADDR - paddr)
		return fail(
			err, errlen,
			"segment %zu: physical 0x%llx + 0x%llx passes 2^52, beyond any x86-64 machine: absurd segment",
			index, (unsigned long long)paddr,
			(unsigned long long)memsz);
	if (!in_file(off, filesz, img->len))
		return fail(
			err, errlen,
			"segment %zu: file bytes 0x%llx + 0x%llx run past the end of the file (0x%zx bytes): truncated file",
			index, (unsigned long long)off,
			(unsigned long long)filesz, img->len);
	uint64_t frames = memsz / PAGE;
	img->zero_fill += memsz - filesz;
	if (img->zero_fill > MAX_ZERO_FILL)
		return fail(
			err, errlen,
			"segment %zu: segments describe %llu bytes of memory the file does not hold (more than 1 TiB): absurd segment",
			index, (unsigned long long)img->zero_fill);
	if (frames == 0)
		return 0; /* less than a page: nothing walkable */
	if (img->nr_segs == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		struct seg *n = realloc(img->segs, nc * sizeof *n);
		if (!n)
			return fail(err, errlen,
				    "out of memory reading the segments");
		img->segs = n;
		*cap = nc;
	}
	struct seg *s = &img->segs[img->nr_segs++];
	memset(s, 0, sizeof *s);
	s->pub.paddr = paddr;
	s->pub.size = frames * PAGE;
	s->pub.file_offset = off;
	s->pub.file_size = filesz < frames * PAGE ? filesz : frames * PAGE;
	s->first_pfn = paddr / PAGE;
	s->nr_frames = frames;
	s->src = img->base + off;
	s->src_frames = s->pub.file_size / PAGE;
	return 0;
}

/* Sorts, rejects overlaps, and gives each segment its aligned memory. */
static int finish_segments(struct pw_image *img, char *err, size_t errlen)
{
	if (img->nr_segs == 0)
		return fail(
			err, errlen,
			"no memory: the image has no segment of at least one page");
	qsort(img->segs, img->nr_segs, sizeof img->segs[0], seg_cmp);
	for (size_t i = 1; i < img->nr_segs; i++) {
		const struct seg *a = &img->segs[i - 1], *b = &img->segs[i];
		if (a->first_pfn + a->nr_frames > b->first_pfn)
			return fail(
				err, errlen,
				"segments overlap: physical 0x%llx-0x%llx and 0x%llx-0x%llx: absurd segments",
				(unsigned long long)a->pub.paddr,
				(unsigned long long)(a->pub.paddr +
						     a->pub.size),
				(unsigned long long)b->pub.paddr,
				(unsigned long long)(b->pub.paddr +
						     b->pub.size));
	}
	for (size_t i = 0; i < img->nr_segs; i++) {
		struct seg *s = &img->segs[i];
		bool aligned = ((uintptr_t)s->src % PAGE) == 0;
		if (aligned && s->src_frames == s->nr_frames) {
			s->aligned = (unsigned char *)s->src;
			continue;
		}
		/* Unaligned bytes, or memory the file does not hold: an
		 * anonymous shadow (zero until a frame is copied in). */
		if (s->nr_frames > SIZE_MAX / PAGE)
			return fail(
				err, errlen,
				"segment at 0x%llx: too large for this host",
				(unsigned long long)s->pub.paddr);
		s->shadow_len = (size_t)(s->nr_frames * PAGE);
		void *sh = mmap(NULL, s->shadow_len, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
				0);
		if (sh == MAP_FAILED) {
			s->shadow_len = 0;
			return fail(
				err, errlen,
				"segment at 0x%llx: cannot reserve %llu bytes of address space: %s",
				(unsigned long long)s->pub.paddr,
				(unsigned long long)s->nr_frames * PAGE,
				strerror(errno));
		}
		s->aligned = sh;
		/* one state byte per frame, also in lazily zeroed memory */
		s->state_len = (size_t)s->nr_frames;
		void *st = mmap(NULL, s->state_len, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
				0);
		if (st == MAP_FAILED) {
			s->state_len = 0;
			return fail(
				err, errlen,
				"segment at 0x%llx: cannot reserve its frame states: %s",
				(unsigned long long)s->pub.paddr,
				strerror(errno));
		}
		s->state = st;
		s->pub.realigned = !aligned;
	}
	const struct seg *last = &img->segs[img->nr_segs - 1];
	img->max_pfn = last->first_pfn + last->nr_frames;
	return 0;
}

static int parse_elf(struct pw_image *img, char *err, size_t errlen)
{
	const unsigned char *b = img->base;
	size_t len = img->len;
	size_t cap = 0;

	if (len < 64)
		return fail(
			err, errlen,
			"ELF header: the file has %zu bytes, the header needs 64: truncated file",
			len);
	if (b[4] != 2)
		return fail(
			err, errlen,
			"ELF header: class %u, only ELF64 cores are memory images",
			b[4]);
	if (b[5] != 1)
		return fail(
			err, errlen,
			"ELF header: data encoding %u, only little-endian (x86-64) is supported",
			b[5]);
	uint16_t type = rd16(b + 16), machine = rd16(b + 18);
	if (type != 4)
		return fail(
			err, errlen,
			"ELF header: type %u is not a core file (ET_CORE = 4)",
			type);
	if (machine != 62)
		return fail(
			err, errlen,
			"ELF header: machine %u is not x86-64 (62): only x86-64 images are supported",
			machine);
	uint64_t phoff = rd64(b + 32), shoff = rd64(b + 40);
	uint16_t phentsize = rd16(b + 54);
	uint64_t phnum = rd16(b + 56);
	if (phnum == 0xffff) {
		/* PN_XNUM: the count is in section header 0's sh_info. */
		if (!in_file(shoff, 64, len))
			return fail(
				err, errlen,
				"ELF header: e_phnum is PN_XNUM but section header 0 at 0x%llx is outside the file: truncated file",
				(unsigned long long)shoff);
		phnum = rd32(b + shoff + 44);
	}
	if (phentsize != 56)
		return fail(
			err, errlen,
			"ELF header: program header size %u, ELF64 needs 56: bogus header",
			phentsize);
	if (phnum > MAX_SEGMENTS)
		return fail(
			err, errlen,
			"ELF header: %llu program headers, more than %u: absurd header",
			(unsigned long long)phnum, MAX_SEGMENTS);
	if (!in_file(phoff, phnum * 56, len))
		return fail(
			err, errlen,
			"program headers: %llu at file offset 0x%llx run past the end of the file (0x%zx bytes): truncated file",
			(unsigned long long)phnum, (unsigned long long)phoff,
			len);
	for (uint64_t i = 0; i < phnum; i++) {
		const unsigned char *ph = b + phoff + i * 56;
		uint32_t ptype = rd32(ph);
		uint64_t off = rd64(ph + 8), paddr = rd64(ph + 24);
		uint64_t filesz = rd64(ph + 32), memsz = rd64(ph + 40);
		if (ptype == 4 /* PT_NOTE */) {
			if (!in_file(off, filesz, len))
				return fail(
					err, errlen,
					"note segment %llu: bytes 0x%llx + 0x%llx run past the end of the file (0x%zx bytes): truncated file",
					(unsigned long long)i,
					(unsigned long long)off,
					(unsigned long long)filesz, len);
			if (parse_notes(img, off, filesz, err, errlen))
				return -1;
		} else if (ptype == 1 /* PT_LOAD */) {
			if (add_segment(img, &cap, paddr, memsz, off, filesz,
					err, errlen, (size_t)i))
				return -1;
		}
	}
	return finish_segments(img, err, errlen);
}

static int parse_raw(struct pw_image *img, char *err, size_t errlen)
{
	size_t cap = 0;

	if (img->len < PAGE)
		return fail(err, errlen,
			    "raw image: %zu bytes, less than one 4 KiB page",
			    img->len);
	if (add_segment(img, &cap, 0, img->len / PAGE * PAGE, 0,
			img->len / PAGE * PAGE, err, errlen, 0))
		return -1;
	return finish_segments(img, err, errlen);
}

static int parse(struct pw_image *img, unsigned flags, char *err, size_t errlen)
{
	if (!(flags & PW_IMAGE_FORCE_RAW) && img->len >= 4 &&
	    memcmp(img->base,
		   "\x7f"
		   "ELF",
		   4) == 0) {
		img->kind = PW_IMAGE_ELF;
		return parse_elf(img, err, errlen);
	}
	img->kind = PW_IMAGE_RAW;
	return parse_raw(img, err, errlen);
}

int pw_image_parse(void *data, size_t len, unsigned flags,
		   struct pw_image **out, char *err, size_t errlen)
{
	struct pw_image *img = calloc(1, sizeof *img);

	*out = NULL;
	if (!img)
		return fail(err, errlen, "out of memory");
	img->base = data;
	img->len = len;
	img->vmci.pgtable_l5 = -1;
	if (parse(img, flags, err, errlen)) {
		pw_image_close(img);
		return -1;
	}
	*out = img;
	return 0;
}

int pw_image_open(const char *path, unsigned flags, struct pw_image **out,
		  char *err, size_t errlen)
{
	struct stat st;
	struct pw_image *img;
	void *map;
	int fd;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(err, errlen, "%s: cannot open: %s", path,
			    strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return fail(err, errlen, "%s: not a regular file", path);
	}
	if (st.st_size == 0) {
		close(fd);
		return fail(err, errlen, "%s: empty file", path);
	}
	if ((uint64_t)st.st_size > SIZE_MAX) {
		close(fd);
		return fail(err, errlen, "%s: too large to map on this host",
			    path);
	}
	/* Private and writable: walks that write see their writes, the file
	 * never does. */
	map = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_NORESERVE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return fail(err, errlen, "%s: cannot map: %s", path,
			    strerror(errno));
	img = calloc(1, sizeof *img);
	if (!img) {
		munmap(map, (size_t)st.st_size);
		return fail(err, errlen, "out of memory");
	}
	img->base = map;
	img->len = (size_t)st.st_size;
	img->mapped = true;
	img->vmci.pgtable_l5 = -1;
	if (parse(img, flags, err, errlen)) {
		/* prefix the path to the parser's line */
		if (err && errlen) {
			char tmp[512];
			snprintf(tmp, sizeof tmp, "%s", err);
			snprintf(err, errlen, "%s: %s", path, tmp);
		}
		pw_image_close(img);
		return -1;
	}
	*out = img;
	return 0;
}

void pw_image_close(struct pw_image *img)
{
	if (!img)
		return;
	for (size_t i = 0; i < img->nr_segs; i++) {
		struct seg *s = &img->segs[i];
		if (s->shadow_len)
			munmap(s->aligned, s->shadow_len);
		if (s->state_len)
			munmap((void *)s->state, s->state_len);
	}
	free(img->segs);
	free(img->cpus);
	if (img->mapped)
		munmap(img->base, img->len);
	free(img);
}

/* ---- queries --------------------------------------------------------------- */

enum pw_image_kind pw_image_kind(const struct pw_image *img)
{
	return img->kind;
}
uint64_t pw_image_file_size(const struct pw_image *img)
{
	return img->len;
}
size_t pw_image_segment_count(const struct pw_image *img)
{
	return img->nr_segs;
}
size_t pw_image_cpu_count(const struct pw_image *img)
{
	return img->nr_cpus;
}
uint64_t pw_image_max_pfn(const struct pw_image *img)
{
	return img->max_pfn;
}

const struct pw_image_segment *pw_image_segment_at(const struct pw_image *img,
						   size_t i)
{
	return i < img->nr_segs ? &img->segs[i].pub : NULL;
}

const struct pw_image_cpu *pw_image_cpu_at(const struct pw_image *img, size_t i)
{
	return i < img->nr_cpus ? &img->cpus[i] : NULL;
}

const struct pw_image_vmcoreinfo *
pw_image_vmcoreinfo(const struct pw_image *img)
{
	return &img->vmci;
}

uint64_t *pw_image_segment_frames(struct pw_image *img, size_t i)
{
	return i < img->nr_segs ? (uint64_t *)(void *)img->segs[i].aligned :
				  NULL;
}

static struct seg *find_seg(struct pw_image *img, uint64_t pfn)
{
	size_t lo = 0, hi = img->nr_segs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		struct seg *s = &img->segs[mid];
		if (pfn < s->first_pfn)
			hi = mid;
		else if (pfn - s->first_pfn >= s->nr_frames)
			lo = mid + 1;
		else
			return s;
	}
	return NULL;
}

uint64_t *pw_image_frame(struct pw_image *img, uint64_t pfn)
{
	struct seg *s = find_seg(img, pfn);
	uint64_t i;

	if (!s)
		return NULL;
	i = pfn - s->first_pfn;
	if (s->state) {
		unsigned char st = atomic_load_explicit(&s->state[i],
							memory_order_acquire);
		if (st != FRAME_READY) {
			unsigned char expect = FRAME_UNCOPIED;
			if (atomic_compare_exchange_strong_explicit(
				    &s->state[i], &expect, FRAME_COPYING,
				    memory_order_acquire,
				    memory_order_acquire)) {
				if (i < s->src_frames)
					memcpy(s->aligned + i * PAGE,
					       s->src + i * PAGE, PAGE);
				atomic_store_explicit(&s->state[i], FRAME_READY,
						      memory_order_release);
			} else {
				while (atomic_load_explicit(
					       &s->state[i],
					       memory_order_acquire) !=
				       FRAME_READY)
					;
			}
		}
	}
	return (uint64_t *)(void *)(s->aligned + i * PAGE);
}

int pw_image_read(struct pw_image *img, uint64_t paddr, void *buf, size_t len)
{
	unsigned char *out = buf;

	while (len) {
		uint64_t *f = pw_image_frame(img, paddr / PAGE);
		size_t in = (size_t)(PAGE - paddr % PAGE);
		size_t n = len < in ? len : in;
		if (!f)
			return -1;
		memcpy(out, (unsigned char *)f + paddr % PAGE, n);
		out += n;
		paddr += n;
		len -= n;
	}
	return 0;
}

uint64_t pw_image_kernel_pgd(const struct pw_image *img)
{
	const struct pw_image_vmcoreinfo *v = &img->vmci;
	const uint64_t start_kernel_map = 0xffffffff80000000ULL;

	if (!v->present || !v->has_init_top_pgt ||
	    v->init_top_pgt < start_kernel_map)
		return UINT64_MAX;
	return (v->init_top_pgt - start_kernel_map +
		(v->has_phys_base ? v->phys_base : 0)) &
	       ~(PAGE - 1);
}

struct pw_x86_root pw_x86_root_from_cr3(uint64_t cr3, uint64_t cr4, int kpti)
{
	struct pw_x86_root r;
	uint64_t addr = cr3 & PW_X86_CR3_ADDR_MASK;

	memset(&r, 0, sizeof r);
	r.levels = (cr4 & PW_X86_CR4_LA57) ? 5 : 4;
	r.pcid = (cr4 & PW_X86_CR4_PCIDE) ?
			 (unsigned)(cr3 & PW_X86_CR3_PCID_MASK) :
			 0;
	r.pgd = addr;
	if (kpti < 0)
		kpti = (addr & PW_X86_CR3_PTI_USER) != 0;
	if (kpti) {
		r.kernel_pgd = addr & ~PW_X86_CR3_PTI_USER;
		r.user_pgd = r.kernel_pgd | PW_X86_CR3_PTI_USER;
		r.kpti_user = (addr & PW_X86_CR3_PTI_USER) != 0;
	} else {
		r.kernel_pgd = r.user_pgd = addr;
	}
	return r;
}
