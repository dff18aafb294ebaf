/* snapshot.c - machine snapshots saved to and loaded from versioned files. */
/*
 * Machine snapshots: a machine's geometry, address spaces,
 * VMAs, page-table entries and folios saved to a versioned file and loaded
 * back (docs/IMAGES.md, "Snapshots"), through the public machine API only,
 * so a snapshot means the same on any build that reads its version.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "pagewalk.h"
#include "pagewalk_machine.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SNAP_MAGIC "PWSNAP\r\n"
#define SNAP_HEADER 64
#define SNAP_MAX_MMS 4096u
#define SNAP_MAX_FOLIO_ORDER 18u

enum rec_type {
	REC_MM = 1, /* u32 index, u32 kernel */
	REC_VMA =
		2, /* u32 mm, u32 id, u64 start, end, flags, pgoff, u32 mapping, u32 shift */
	REC_ENTRY = 3, /* u32 mm, u32 level, u64 addr, u64 value */
	REC_FOLIO = 4, /* u64 head, u32 order, u32 0 */
	REC_EXTRA = 5, /* the embedder's bytes */
};

static const uint32_t rec_size[] = { 0, 8, 48, 24, 16, 0 };

struct buf {
	uint8_t *p;
	size_t len, cap;
	int oom;
	uint32_t records;
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

static void put(struct buf *b, const void *data, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 65536;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *p = realloc(b->p, cap);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void put32(struct buf *b, uint32_t v)
{
	put(b, &v, 4);
}
static void put64(struct buf *b, uint64_t v)
{
	put(b, &v, 8);
}

static void record(struct buf *b, uint32_t type, uint32_t size)
{
	put32(b, type);
	put32(b, size);
	b->records++;
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* ---- save ------------------------------------------------------------------ */

struct dump_ctx {
	struct buf *b;
	struct pw_machine *m;
	uint32_t mm;
	uint64_t *folios; /* (head << 8 | order), to dedupe */
	size_t nr_folios, cap_folios;
};

static void note_folio(struct dump_ctx *c, uint64_t pfn)
{
	struct page *page = pw_pfn_to_page(c->m, pfn);
	struct folio *f;
	unsigned order;

	if (!page || !(f = pw_page_folio(c->m, page)))
		return;
	order = pw_folio_order(c->m, f);
	if (order == 0)
		return;
	if (c->nr_folios == c->cap_folios) {
		size_t cap = c->cap_folios ? c->cap_folios * 2 : 256;
		uint64_t *n = realloc(c->folios, cap * sizeof(*n));
		if (!n) {
			c->b->oom = 1;
			return;
		}
		c->folios = n;
		c->cap_folios = cap;
	}
	c->folios[c->nr_folios++] = (pw_folio_pfn(c->m, f) << 8) | order;
}

static void dump_entry(void *ctx, enum pw_level level, unsigned long addr,
		       uint64_t value, bool is_table)
{
	struct dump_ctx *c = ctx;

	if (is_table)
		return; /* tables are rebuilt by the loader */
	record(c->b, REC_ENTRY, rec_size[REC_ENTRY]);
	put32(c->b, c->mm);
	put32(c->b, (uint32_t)level);
	put64(c->b, addr);
	put64(c->b, value);
	if (value & PW_PAGE_PRESENT)
		note_folio(c, pw_entry_pfn(value));
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int pw_machine_save(struct pw_machine *m, struct mm_struct *const *mms,
		    size_t nr_mms, const void *extra, size_t extra_len,
		    const char *path, char *err, size_t errlen)
{
	const struct pw_machine_config *cfg = pw_machine_config(m);
	struct buf b = { 0 };
	struct dump_ctx c = { .b = &b, .m = m };
	uint8_t header[SNAP_HEADER] = { 0 };
	char tmp[4096];
	int fd, rc = 0;

	if (nr_mms > SNAP_MAX_MMS)
		return fail(err, errlen,
			    "snapshot %s: %zu address spaces, at most %u", path,
			    nr_mms, SNAP_MAX_MMS);
	put(&b, header, sizeof header);
	for (size_t i = 0; i < nr_mms; i++) {
		record(&b, REC_MM, rec_size[REC_MM]);
		put32(&b, (uint32_t)i);
		put32(&b, pw_mm_is_kernel(mms[i]));
	}
	for (size_t i = 0; i < nr_mms; i++) {
		size_t n = pw_mm_vma_count(mms[i]);
		for (size_t k = 0; k < n; k++) {
			const struct vm_area_struct *v =
				pw_mm_vma_at(mms[i], k);
			record(&b, REC_VMA, rec_size[REC_VMA]);
			put32(&b, (uint32_t)i);
			put32(&b, v->id);
			put64(&b, v->vm_start);
			put64(&b, v->vm_end);
			put64(&b, v->vm_flags);
			put64(&b, v->vm_pgoff);
			put32(&b, v->vm_file ? pw_mapping_id(v->vm_file) : 0);
			put32(&b, v->hugetlb_shift);
		}
	}
	for (size_t i = 0; i < nr_mms; i++) {
		c.mm = (uint32_t)i;
		pw_mm_dump(mms[i], dump_entry, &c);
	}
	qsort(c.folios, c.nr_folios, sizeof(uint64_t), cmp_u64);
	for (size_t i = 0; i < c.nr_folios; i++) {
		if (i > 0 && c.folios[i] == c.folios[i - 1])
			continue;
		record(&b, REC_FOLIO, rec_size[REC_FOLIO]);
		put64(&b, c.folios[i] >> 8);
		put32(&b, (uint32_t)(c.folios[i] & 0xff));
		put32(&b, 0);
	}
	free(c.folios);
	if (extra_len) {
		if (extra_len > UINT32_MAX - 8) {
			free(b.p);
			return fail(
				err, errlen,
				"snapshot %s: %zu bytes of extra data, at most 4 GiB",
				path, extra_len);
		}
		record(&b, REC_EXTRA, (uint32_t)extra_len);
		put(&b, extra, extra_len);
		while (b.len % 8)
			put(&b, "", 1);
	}
	if (b.oom) {
		free(b.p);
		return fail(err, errlen, "snapshot %s: out of memory", path);
	}
	memcpy(b.p, SNAP_MAGIC, 8);
	uint32_t version = PW_SNAPSHOT_VERSION, levels = (uint32_t)cfg->levels;
	memcpy(b.p + 8, &version, 4);
	memcpy(b.p + 12, &levels, 4);
	memcpy(b.p + 16, &cfg->frames, 8);
	memcpy(b.p + 24, &cfg->table_base, 8);
	memcpy(b.p + 32, &cfg->zero_pfn, 8);
	memcpy(b.p + 40, &cfg->huge_zero_pfn, 8);
	memcpy(b.p + 48, &b.records, 4);
	uint64_t sum = fnv1a(b.p + SNAP_HEADER, b.len - SNAP_HEADER);
	memcpy(b.p + 56, &sum, 8);

	snprintf(tmp, sizeof tmp, "%s.tmp-%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = fail(err, errlen, "snapshot %s: cannot create: %s", path,
			  strerror(errno));
	} else {
		size_t done = 0;
		while (done < b.len) {
			ssize_t w = write(fd, b.p + done, b.len - done);
			if (w <= 0) {
				rc = fail(err, errlen,
					  "snapshot %s: write failed: %s", path,
					  strerror(errno));
				break;
			}
			done += (size_t)w;
		}
		if (close(fd) != 0 && rc == 0)
			rc = fail(err, errlen, "snapshot %s: write failed: %s",
				  path, strerror(errno));
		if (rc == 0 && rename(tmp, path) != 0)
			rc = fail(err, errlen,
				  "snapshot %s: cannot rename into place: %s",
				  path, strerror(errno));
		if (rc != 0)
			unlink(tmp);
	}
	free(b.p);
	return rc;
}

/* ---- load ------------------------------------------------------------------ */

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

int pw_snapshot_parse(const void *data, size_t len, struct pw_snapshot *out,
		      char *err, size_t errlen)
{
	const uint8_t *p = data;
	struct pw_machine_config cfg;
	struct pw_machine *m = NULL;
	struct mm_struct **mms = NULL;
	size_t nr_mms = 0, off;
	uint32_t nr_records, i;
	int e;

	memset(out, 0, sizeof *out);
	if (len < SNAP_HEADER)
		return fail(
			err, errlen,
			"header: %zu bytes, a snapshot header has %d: truncated file",
			len, SNAP_HEADER);
	if (memcmp(p, SNAP_MAGIC, 8) != 0)
		return fail(err, errlen,
			    "header: no PWSNAP magic: not a PageWalk snapshot");
	if (get32(p + 8) != PW_SNAPSHOT_VERSION)
		return fail(
			err, errlen,
			"header: format version %u, this PageWalk reads version %d",
			get32(p + 8), PW_SNAPSHOT_VERSION);
	memset(&cfg, 0, sizeof cfg);
	cfg.levels = (int)get32(p + 12);
	cfg.frames = get64(p + 16);
	cfg.table_base = get64(p + 24);
	cfg.zero_pfn = get64(p + 32);
	cfg.huge_zero_pfn = get64(p + 40);
	nr_records = get32(p + 48);
	if (get64(p + 56) != fnv1a(p + SNAP_HEADER, len - SNAP_HEADER))
		return fail(
			err, errlen,
			"header: the checksum does not match the %zu bytes after the header: corrupt or truncated file",
			len - SNAP_HEADER);
	if ((e = pw_machine_create(&cfg, &m)) != 0)
		return fail(
			err, errlen,
			"header: a machine of %d levels, %llu frames, table base %llu, zero PFN %llu cannot be made (error %d): bogus header",
			cfg.levels, (unsigned long long)cfg.frames,
			(unsigned long long)cfg.table_base,
			(unsigned long long)cfg.zero_pfn, e);
	off = SNAP_HEADER;
	for (i = 0; i < nr_records; i++) {
		size_t at = off;
		if (len - off < 8) {
			e = fail(
				err, errlen,
				"record %u at offset 0x%zx: past the end of the file: truncated file",
				i, at);
			goto bad;
		}
		uint32_t type = get32(p + off), size = get32(p + off + 4);
		off += 8;
		if (type < REC_MM || type > REC_EXTRA ||
		    (type != REC_EXTRA && size != rec_size[type])) {
			e = fail(
				err, errlen,
				"record %u at offset 0x%zx: type %u of %u bytes: unknown record",
				i, at, type, size);
			goto bad;
		}
		if (len - off < size) {
			e = fail(
				err, errlen,
				"record %u at offset 0x%zx: %u bytes past the end of the file: truncated file",
				i, at, size);
			goto bad;
		}
		const uint8_t *r = p + off;
		off += (size + 7u) & ~(size_t)7;
		if (off > len)
			off = len;
		if (type == REC_MM) {
			uint32_t index = get32(r), kernel = get32(r + 4);
			if (index != nr_mms || nr_mms >= SNAP_MAX_MMS ||
			    kernel > 1 || (kernel && nr_mms != 0)) {
				e = fail(
					err, errlen,
					"record %u at offset 0x%zx: address space %u (kernel %u) out of order: bogus record",
					i, at, index, kernel);
				goto bad;
			}
			struct mm_struct *mm =
				kernel ? pw_init_mm(m) : pw_mm_create(m);
			struct mm_struct **n =
				realloc(mms, (nr_mms + 1) * sizeof(*n));
			if (!mm || !n) {
				free(n ? n : mms);
				mms = NULL;
				e = fail(err, errlen,
					 "record %u: out of memory", i);
				goto bad;
			}
			mms = n;
			mms[nr_mms++] = mm;
		} else if (type == REC_VMA || type == REC_ENTRY) {
			uint32_t mm = get32(r);
			if (mm >= nr_mms) {
				e = fail(
					err, errlen,
					"record %u at offset 0x%zx: address space %u of %zu: bogus record",
					i, at, mm, nr_mms);
				goto bad;
			}
			if (type == REC_VMA) {
				uint32_t mapping = get32(r + 40),
					 shift = get32(r + 44);
				int verr = 0;
				struct address_space *as =
					mapping ? pw_mapping_get(m, mapping) :
						  NULL;
				if ((mapping && !as) ||
				    !pw_vma_add(mms[mm], get64(r + 8),
						get64(r + 16), get64(r + 24),
						as, get64(r + 32), shift,
						&verr)) {
					e = fail(
						err, errlen,
						"record %u at offset 0x%zx: VMA 0x%llx-0x%llx cannot be added (error %d): bogus record",
						i, at,
						(unsigned long long)get64(r +
									  8),
						(unsigned long long)get64(r +
									  16),
						verr);
					goto bad;
				}
			} else {
				uint32_t level = get32(r + 4);
				if (level > PW_LEVEL_PTE ||
				    (e = pw_mm_set_entry(mms[mm],
							 (enum pw_level)level,
							 get64(r + 8),
							 get64(r + 16))) != 0) {
					e = fail(
						err, errlen,
						"record %u at offset 0x%zx: entry 0x%llx at level %u of 0x%llx cannot be set: bogus record",
						i, at,
						(unsigned long long)get64(r +
									  16),
						level,
						(unsigned long long)get64(r +
									  8));
					goto bad;
				}
			}
		} else if (type == REC_FOLIO) {
			uint32_t order = get32(r + 8);
			if (order > SNAP_MAX_FOLIO_ORDER ||
			    pw_folio_declare(m, get64(r), order) != 0) {
				e = fail(
					err, errlen,
					"record %u at offset 0x%zx: folio of order %u at PFN 0x%llx is not in memory: bogus record",
					i, at, order,
					(unsigned long long)get64(r));
				goto bad;
			}
		} else {
			if (out->extra) {
				e = fail(
					err, errlen,
					"record %u at offset 0x%zx: a second extra-data record: bogus record",
					i, at);
				goto bad;
			}
			out->extra = r;
			out->extra_len = size;
		}
	}
	if (off != len) {
		e = fail(
			err, errlen,
			"offset 0x%zx: %zu bytes after the %u records the header announces: bogus file",
			off, len - off, nr_records);
		goto bad;
	}
	out->machine = m;
	out->mms = mms;
	out->nr_mms = nr_mms;
	return 0;
bad:
	free(mms);
	pw_machine_destroy(m);
	memset(out, 0, sizeof *out);
	return -1;
}

int pw_machine_load(const char *path, struct pw_snapshot *out, char *err,
		    size_t errlen)
{
	struct stat st;
	void *map;
	int fd, rc;
	char inner[512];

	memset(out, 0, sizeof *out);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(err, errlen, "snapshot %s: cannot open: %s", path,
			    strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
		close(fd);
		return fail(err, errlen,
			    "snapshot %s: not a regular, non-empty file", path);
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return fail(err, errlen, "snapshot %s: cannot map: %s", path,
			    strerror(errno));
	rc = pw_snapshot_parse(map, (size_t)st.st_size, out, inner,
			       sizeof inner);
	if (rc != 0) {
		munmap(map, (size_t)st.st_size);
		return fail(err, errlen, "snapshot %s: %s", path, inner);
	}
	/* The extra bytes live in the mapping: keep a copy, drop the map. */
	if (out->extra_len) {
		void *copy = malloc(out->extra_len);
		if (!copy) {
			munmap(map, (size_t)st.st_size);
			pw_snapshot_free(out);
			return fail(err, errlen, "snapshot %s: out of memory",
				    path);
		}
		memcpy(copy, out->extra, out->extra_len);
		out->extra = copy;
		out->extra_owned = true;
	}
	munmap(map, (size_t)st.st_size);
	return 0;
}

void pw_snapshot_free(struct pw_snapshot *s)
{
	free(s->mms);
	if (s->extra_owned)
		free((void *)s->extra);
	memset(s, 0, sizeof *s);
}
