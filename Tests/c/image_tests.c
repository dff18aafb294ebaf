/*
 * image_tests.c - memory images (CWalkImage): small ELF cores and raw
 * images built here with page tables written by hand, parsed, walked with
 * the kernel's walk API, and broken in every way a hostile file can be.
 *
 * Last line: "N passed, M failed"; exit status 1 on any failure.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pagewalk.h"
#include "pagewalk_image.h"
#include "pagewalk_machine.h"

#include "image_builder.h"
#include "test_cases.h"

#define PFN_MASK 0x000ffffffffff000ULL

/* The hand-written tables of the main test image (4 levels):
 *   PGD 0x1000 (segment A)  [0] -> PUD 0x201000 (segment B, past a hole)
 *                           [1] -> the PGD itself (a cycle)
 *                           [511] -> PUD 0x3000: [510] a 1 GiB leaf
 *   PUD 0x201000 [0] -> PMD 0x2000: [2] -> PTE 0x202000, [3] a 2 MiB leaf
 *   PTE 0x202000: [0] present PFN 0x10 soft-dirty, [1] PROT_NONE PFN 0x11,
 *                 [2] swap type 3 offset 0x1234 soft-dirty exclusive
 */
static const uint64_t PTE0 = (0x10ULL << 12) | 0x867;
static const uint64_t PTE1 = ((~(0x11ULL << 12)) & PFN_MASK) | 0x160;
static uint64_t PTE2;
static const uint64_t PMD3 = (0x400ULL << 12) | 0x8e7;
static const uint64_t PUD510 = (0x40000ULL << 12) | 0x1e3;

static const char *VMCI =
	"OSRELEASE=6.1.0-test\nPAGESIZE=4096\nSYMBOL(init_top_pgt)=ffffffff82a10000\n"
	"NUMBER(phys_base)=16777216\nKERNELOFFSET=1e200000\nNUMBER(pgtable_l5_enabled)=0\n";

static struct img main_image(void)
{
	struct seg_spec segs[2] = { { 0, 64, 12 }, { 0x200000, 16, 0 } };
	uint64_t cr3 = 0x1000;
	struct img im = img_elf(segs, 2, &cr3, 1, 0x6f0, VMCI);

	PTE2 = pw_x86_swp_entry(3, 0x1234) | PW_X86_SWP_SOFT_DIRTY |
	       PW_X86_SWP_EXCLUSIVE;
	img_entry(&im, 0x1000, 0, 0x201067);
	img_entry(&im, 0x1000, 1, 0x1067);
	img_entry(&im, 0x1000, 511, 0x3063);
	img_entry(&im, 0x3000, 510, PUD510);
	img_entry(&im, 0x201000, 0, 0x2067);
	img_entry(&im, 0x2000, 2, 0x202067);
	img_entry(&im, 0x2000, 3, PMD3);
	img_entry(&im, 0x202000, 0, PTE0);
	img_entry(&im, 0x202000, 1, PTE1);
	img_entry(&im, 0x202000, 2, PTE2);
	return im;
}

static char tmpdir[] = "/tmp/pw-image-tests-XXXXXX";

static const char *write_file(const char *name, const void *data, size_t len)
{
	static char path[256];
	int fd;

	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len) {
		perror(path);
		exit(1);
	}
	close(fd);
	return path;
}

/* ---- walking ------------------------------------------------------------- */

struct seen {
	uint64_t pte[8];
	unsigned long pte_addr[8];
	int nr_pte;
	uint64_t pmd_leaf;
	uint64_t pud_leaf;
	long entries;
};

static int rec_pte(pte_t *pte, unsigned long addr, unsigned long next,
		   struct mm_walk *walk)
{
	struct seen *s = walk->private;
	(void)next;
	s->entries++;
	if (*pte && s->nr_pte < 8) {
		s->pte[s->nr_pte] = *pte;
		s->pte_addr[s->nr_pte++] = addr;
	}
	return 0;
}

static int rec_pmd(pmd_t *pmd, unsigned long addr, unsigned long next,
		   struct mm_walk *walk)
{
	struct seen *s = walk->private;
	(void)addr, (void)next;
	s->entries++;
	if ((*pmd & PW_X86_PSE) && pw_x86_present(*pmd)) {
		s->pmd_leaf = *pmd;
		walk->action = ACTION_CONTINUE;
	}
	return 0;
}

static int rec_pud(pud_t *pud, unsigned long addr, unsigned long next,
		   struct mm_walk *walk)
{
	struct seen *s = walk->private;
	(void)addr, (void)next;
	s->entries++;
	if ((*pud & PW_X86_PSE) && pw_x86_present(*pud)) {
		s->pud_leaf = *pud;
		walk->action = ACTION_CONTINUE;
	}
	return 0;
}

static int count_pgd(pgd_t *pgd, unsigned long addr, unsigned long next,
		     struct mm_walk *walk)
{
	(void)pgd, (void)addr, (void)next;
	((struct seen *)walk->private)->entries++;
	return 0;
}

static const struct mm_walk_ops rec_ops = {
	.pgd_entry = count_pgd,
	.pud_entry = rec_pud,
	.pmd_entry = rec_pmd,
	.pte_entry = rec_pte,
};

static void test_parse(void)
{
	struct img im = main_image();
	struct pw_image *img;
	char err[256];

	TEST("an ELF core: segments sorted, holes absent, unaligned data realigned")
	{
		CHECK(pw_image_parse(im.buf, im.len, 0, &img, err,
				     sizeof err) == 0);
		CHECK(pw_image_kind(img) == PW_IMAGE_ELF);
		CHECK(pw_image_segment_count(img) == 2);
		const struct pw_image_segment *a = pw_image_segment_at(img, 0),
					      *b = pw_image_segment_at(img, 1);
		CHECK(a->paddr == 0 && a->size == 64 * 4096 && a->realigned);
		CHECK(b->paddr == 0x200000 && b->size == 16 * 4096 &&
		      !b->realigned);
		CHECK(pw_image_segment_at(img, 2) == NULL);
		CHECK(pw_image_max_pfn(img) == 0x210);
		CHECK(pw_image_frame(img, 64) == NULL); /* the hole */
		CHECK(pw_image_frame(img, 0x1ff) == NULL);
		CHECK(pw_image_frame(img, 0x210) == NULL); /* beyond */
		uint64_t *pgd = pw_image_frame(img, 1);
		CHECK(pgd && ((uintptr_t)pgd & 4095) == 0 &&
		      pgd[0] == 0x201067 && pgd[511] == 0x3063);
		CHECK(pw_image_frame(img, 0x202)[2] == PTE2);
		uint64_t w;
		CHECK(pw_image_read(img, 0x202008, &w, 8) == 0 && w == PTE1);
		CHECK(pw_image_read(img, 0x3fffc, &w, 8) ==
		      -1); /* runs into the hole */
		pw_image_close(img);
	}
	TEST("notes: QEMU CPU state (CR3 at 416, CR4 at 424) and VMCOREINFO")
	{
		CHECK(pw_image_parse(im.buf, im.len, 0, &img, err,
				     sizeof err) == 0);
		CHECK(pw_image_cpu_count(img) == 1);
		const struct pw_image_cpu *c = pw_image_cpu_at(img, 0);
		CHECK(c->has_control && c->cr3 == 0x1000 && c->cr4 == 0x6f0 &&
		      c->rip == 0x401000);
		const struct pw_image_vmcoreinfo *v = pw_image_vmcoreinfo(img);
		CHECK(v->present && strcmp(v->osrelease, "6.1.0-test") == 0);
		CHECK(v->has_init_top_pgt &&
		      v->init_top_pgt == 0xffffffff82a10000ULL);
		CHECK(v->has_phys_base && v->phys_base == 0x1000000);
		CHECK(v->has_kernel_offset && v->kernel_offset == 0x1e200000);
		CHECK(v->pgtable_l5 == 0);
		CHECK(pw_image_kernel_pgd(img) == 0x3a10000);
		pw_image_close(img);
	}
	TEST("a raw image: one segment from 0, a partial last page ignored")
	{
		CHECK(pw_image_parse(im.buf, 3 * 4096 + 100, PW_IMAGE_FORCE_RAW,
				     &img, err, sizeof err) == 0);
		CHECK(pw_image_kind(img) == PW_IMAGE_RAW &&
		      pw_image_segment_count(img) == 1);
		CHECK(pw_image_segment_at(img, 0)->size == 3 * 4096 &&
		      pw_image_cpu_count(img) == 0);
		CHECK(pw_image_frame(img, 3) == NULL &&
		      pw_image_frame(img, 0) == (uint64_t *)im.buf);
		CHECK(pw_image_kernel_pgd(img) == UINT64_MAX);
		pw_image_close(img);
	}
	free(im.buf);
}

static void test_roots(void)
{
	TEST("CR3: PCID masked, KPTI's user bit gives both halves, LA57 gives 5 levels")
	{
		struct pw_x86_root r =
			pw_x86_root_from_cr3(0x11f01000, 0x6f0, -1);
		CHECK(r.kpti_user && r.pgd == 0x11f01000 &&
		      r.kernel_pgd == 0x11f00000 && r.user_pgd == 0x11f01000);
		CHECK(r.levels == 4 && r.pcid == 0);
		r = pw_x86_root_from_cr3(0x8000000001234005ULL,
					 PW_X86_CR4_PCIDE | PW_X86_CR4_LA57,
					 -1);
		CHECK(r.pgd == 0x1234000 && r.pcid == 5 && r.levels == 5 &&
		      !r.kpti_user);
		CHECK(r.kernel_pgd == 0x1234000 && r.user_pgd == 0x1234000);
		r = pw_x86_root_from_cr3(
			0x11f01000, 0,
			0); /* KPTI off: bit 12 is an address bit */
		CHECK(!r.kpti_user && r.kernel_pgd == 0x11f01000 &&
		      r.user_pgd == 0x11f01000);
		r = pw_x86_root_from_cr3(0x11f00000, 0,
					 1); /* the kernel CR3 of a KPTI pair */
		CHECK(!r.kpti_user && r.kernel_pgd == 0x11f00000 &&
		      r.user_pgd == 0x11f01000);
	}
	TEST("x86-64 Linux entries: PROTNONE present with its PFN inverted, swap type and offset")
	{
		CHECK(pw_x86_present(PTE0) && pw_x86_pfn(PTE0) == 0x10);
		CHECK(pw_x86_present(PTE1) && pw_x86_protnone(PTE1) &&
		      pw_x86_pfn(PTE1) == 0x11);
		uint64_t s = pw_x86_swp_entry(3, 0x1234);
		CHECK(!pw_x86_present(s) && pw_x86_is_swap(s));
		CHECK(pw_x86_swp_type(s) == 3 &&
		      pw_x86_swp_offset(s) == 0x1234);
		CHECK((s & 0x1ff) == 0); /* bits 0..8 stay free for the flags */
		/* the guest's own: pagemap said type 0 offset 0x200 for this PTE */
		CHECK(pw_x86_swp_type(0x07fffffffffbfe08ULL) == 0 &&
		      pw_x86_swp_offset(0x07fffffffffbfe08ULL) == 0x200);
		CHECK(pw_x86_swp_type(pw_x86_swp_entry(31, 0)) == 31 &&
		      pw_x86_swp_offset(pw_x86_swp_entry(
			      0, (1ULL << 50) - 1)) == (1ULL << 50) - 1);
		CHECK(!pw_x86_is_swap(0));
	}
}

static void test_walks(void)
{
	struct img im = main_image();
	const char *path = write_file("main.elf", im.buf, im.len);
	struct pw_image *img;
	struct pw_machine *m;
	struct mm_struct *mm;
	char err[256];

	TEST("the walk API over an image: every level, a PMD leaf, PTEs as the kernel wrote them")
	{
		CHECK(pw_image_open(path, 0, &img, err, sizeof err) == 0);
		CHECK(pw_machine_open_image(img, 4, 0x1000, &m, err,
					    sizeof err) == 0);
		CHECK(pw_image_mm_create(m, img, 0x1000, &mm, err,
					 sizeof err) == 0);
		struct seen s = { 0 };
		mmap_write_lock(mm);
		CHECK(walk_page_range_debug(mm, 0x400000, 0x800000, &rec_ops,
					    NULL, &s) == 0);
		mmap_write_unlock(mm);
		CHECK(s.nr_pte == 3 && s.pte[0] == PTE0 && s.pte[1] == PTE1 &&
		      s.pte[2] == PTE2);
		CHECK(s.pte_addr[0] == 0x400000 && s.pte_addr[1] == 0x401000 &&
		      s.pte_addr[2] == 0x402000);
		CHECK(s.pmd_leaf == PMD3);
		/* the kernel half: the 1 GiB leaf */
		struct seen k = { 0 };
		mmap_read_lock(pw_init_mm(m));
		CHECK(walk_kernel_page_table_range(m, 0xffffff8000000000UL,
						   0xffffffffc0000000UL,
						   &rec_ops, NULL, &k) == 0);
		mmap_read_unlock(pw_init_mm(m));
		CHECK(k.pud_leaf == PUD510);
		pw_machine_destroy(m);
		pw_image_close(img);
	}
	TEST("a cyclic table (a PGD entry pointing at the PGD) ends, in bounds")
	{
		CHECK(pw_image_open(path, 0, &img, err, sizeof err) == 0);
		CHECK(pw_machine_open_image(img, 4, UINT64_MAX, &m, err,
					    sizeof err) == 0);
		CHECK(pw_image_mm_create(m, img, 0x1000, &mm, err,
					 sizeof err) == 0);
		struct seen s = { 0 };
		mmap_write_lock(mm);
		CHECK(walk_page_range_debug(mm, 0,
					    pw_machine_geometry(m)->task_size,
					    &rec_ops, NULL, &s) == 0);
		mmap_write_unlock(mm);
		CHECK(s.entries > 0 && s.entries < 100000);
		pw_machine_destroy(m);
		pw_image_close(img);
	}
	TEST("writes go to a private overlay: the image file never changes")
	{
		CHECK(pw_image_open(path, 0, &img, err, sizeof err) == 0);
		CHECK(pw_machine_open_image(img, 4, UINT64_MAX, &m, err,
					    sizeof err) == 0);
		CHECK(pw_image_mm_create(m, img, 0x1000, &mm, err,
					 sizeof err) == 0);
		CHECK(pw_mm_set_entry(mm, PW_LEVEL_PTE, 0x400000, 0) == 0);
		uint64_t *f = pw_image_frame(img, 0x202);
		f[1] = 0x1234;
		uint64_t v = 1;
		CHECK(pw_mm_get_entry(mm, PW_LEVEL_PTE, 0x400000, &v) == 0 &&
		      v == 0);
		pw_machine_destroy(m);
		pw_image_close(img);
		FILE *fp = fopen(path, "rb");
		uint8_t *back = malloc(im.len);
		CHECK(fp && fread(back, 1, im.len, fp) == im.len &&
		      memcmp(back, im.buf, im.len) == 0);
		free(back);
		if (fp)
			fclose(fp);
	}
	TEST("a live image: a table changed under the mapping changes the tables' digest")
	{
		struct img raw = main_image();
		/* the raw image: segment A's bytes from file offset 0 */
		const char *rp = write_file(
			"live.mem", raw.buf + raw.data_off[1], 16 * 4096);
		CHECK(pw_image_open(rp, PW_IMAGE_FORCE_RAW, &img, err,
				    sizeof err) == 0);
		uint64_t n1 = 0, n2 = 0;
		/* raw PFN 1 holds segment B's frame 1 (the PUD): use it as a top table */
		uint64_t d1 = pw_image_tables_digest(img, 0x1000, 4, &n1);
		CHECK(d1 == pw_image_tables_digest(img, 0x1000, 4, &n2) &&
		      n1 == n2 && n1 >= 1);
		int fd = open(rp, O_WRONLY);
		uint64_t v = 0x5067;
		CHECK(fd >= 0 && pwrite(fd, &v, 8, 0x1000 + 8 * 7) == 8);
		close(fd);
		CHECK(pw_image_tables_digest(img, 0x1000, 4, &n2) != d1);
		CHECK(pw_image_tables_digest(img, 0x7000000, 4, &n2) == 0 &&
		      n2 == 0);
		pw_image_close(img);
		free(raw.buf);
	}
	TEST("a top table outside memory (CR3 beyond the last segment, or in a hole) is one clear line")
	{
		CHECK(pw_image_open(path, 0, &img, err, sizeof err) == 0);
		CHECK(pw_machine_open_image(img, 4, UINT64_MAX, &m, err,
					    sizeof err) == 0);
		err[0] = 0;
		CHECK(pw_image_mm_create(m, img, 0x7000000, &mm, err,
					 sizeof err) == -1);
		CHECK(strstr(err, "0x7000000") && strstr(err, "outside") &&
		      !strchr(err, '\n'));
		CHECK(pw_image_mm_create(m, img, 0x100000, &mm, err,
					 sizeof err) == -1);
		struct pw_machine *m3;
		CHECK(pw_machine_open_image(img, 3, 0x1000, &m3, err,
					    sizeof err) == -1 &&
		      strstr(err, "4 or 5"));
		CHECK(m3 == NULL);
		pw_machine_destroy(m);
		pw_image_close(img);
	}
	free(im.buf);
}

/* ---- hostile files ----------------------------------------------------------- */

static int parse_fails(const void *data, size_t len, const char *want)
{
	void *copy = aligned_alloc(4096, (len + 4096) & ~(size_t)4095);
	struct pw_image *img;
	char err[256] = "";
	int rc;

	memcpy(copy, data, len);
	rc = pw_image_parse(copy, len, 0, &img, err, sizeof err);
	if (rc == 0)
		pw_image_close(img);
	free(copy);
	if (rc == 0)
		return 0;
	if (!err[0] || strchr(err, '\n'))
		return 0;
	if (want && !strstr(err, want)) {
		printf("  message '%s' lacks '%s'\n", err, want);
		return 0;
	}
	return 1;
}

static void test_hostile(void)
{
	struct img im = main_image();
	uint8_t *b = im.buf;
	uint8_t *t = malloc(im.len);

	TEST("every truncation of the headers and notes, and of the data, is one line")
	{
		int bad = 0;
		for (size_t n = 0; n < 8192 + 64; n++)
			if (!parse_fails(b, n, NULL))
				bad++;
		CHECK(bad == 0);
		CHECK(parse_fails(b, im.len - 1, "truncated file"));
	}
	TEST("overlapping segments")
	{
		memcpy(t, b, im.len);
		put64(t + 64 + 2 * 56 + 24,
		      0x1000); /* segment B at 0x1000, inside A */
		CHECK(parse_fails(t, im.len, "overlap"));
	}
	TEST("absurd segments: unaligned, past 2^52, file size above memory size")
	{
		memcpy(t, b, im.len);
		put64(t + 64 + 56 + 24, 0x123);
		CHECK(parse_fails(t, im.len, "not page aligned"));
		memcpy(t, b, im.len);
		put64(t + 64 + 56 + 24, 0xfffffffffffff000ULL);
		CHECK(parse_fails(t, im.len, "2^52"));
		memcpy(t, b, im.len);
		put64(t + 64 + 56 + 40, 4096);
		CHECK(parse_fails(t, im.len, "absurd"));
		memcpy(t, b, im.len);
		put64(t + 64 + 56 + 40,
		      1ULL << 45); /* memsz: 32 TiB of zeros */
		CHECK(parse_fails(t, im.len, "does not hold"));
	}
	TEST("bogus notes: sizes past the segment, a short or unknown QEMU state, a second VMCOREINFO")
	{
		size_t notes = 64 + 3 * 56;
		memcpy(t, b, im.len);
		put32(t + notes + 4, 0x7fffffff); /* descsz of the first note */
		CHECK(parse_fails(t, im.len, "bogus note"));
		/* the QEMU note is the second: CORE (12 + 8 + 336) */
		size_t q = notes + 12 + 8 + 336;
		memcpy(t, b, im.len);
		put32(t + q + 12 + 8, 2); /* version 2 */
		CHECK(parse_fails(t, im.len, "version 2"));
		memcpy(t, b, im.len);
		put32(t + q + 12 + 8 + 4, 100000); /* size beyond the note */
		CHECK(parse_fails(t, im.len, "bogus note"));
		memcpy(t, b, im.len);
		put32(t + q + 4, 200); /* descsz too short for CR3/CR4 */
		CHECK(parse_fails(t, im.len, NULL));
	}
	TEST("bogus headers: not ELF64, big-endian, not a core, not x86-64, bad phentsize, PN_XNUM without sections")
	{
		memcpy(t, b, im.len);
		t[4] = 1;
		CHECK(parse_fails(t, im.len, "ELF64"));
		memcpy(t, b, im.len);
		t[5] = 2;
		CHECK(parse_fails(t, im.len, "little-endian"));
		memcpy(t, b, im.len);
		put16(t + 16, 2);
		CHECK(parse_fails(t, im.len, "not a core"));
		memcpy(t, b, im.len);
		put16(t + 18, 183);
		CHECK(parse_fails(t, im.len, "x86-64"));
		memcpy(t, b, im.len);
		put16(t + 54, 32);
		CHECK(parse_fails(t, im.len, "56"));
		memcpy(t, b, im.len);
		put16(t + 56, 0xffff);
		put64(t + 40, im.len + 100);
		CHECK(parse_fails(t, im.len, "PN_XNUM"));
	}
	TEST("bad VMCOREINFO numbers")
	{
		struct seg_spec segs[1] = { { 0, 4, 0 } };
		struct img v = img_elf(segs, 1, NULL, 0, 0,
				       "SYMBOL(init_top_pgt)=zzzz\n");
		CHECK(parse_fails(v.buf, v.len, "not a number"));
		free(v.buf);
		v = img_elf(segs, 1, NULL, 0, 0,
			    "NUMBER(pgtable_l5_enabled)=7\n");
		CHECK(parse_fails(v.buf, v.len, "not 0 or 1"));
		free(v.buf);
	}
	TEST("ten thousand random corruptions of the headers: parsed or refused, never a crash")
	{
		uint32_t x = 12345;
		int bad = 0;
		for (int i = 0; i < 10000; i++) {
			memcpy(t, b, im.len);
			for (int k = 0; k < 4; k++) {
				x ^= x << 13, x ^= x >> 17, x ^= x << 5;
				t[x % 4096] = (uint8_t)(x >> 24);
			}
			void *copy = aligned_alloc(4096, (im.len + 4095) &
								 ~(size_t)4095);
			struct pw_image *img;
			char err[256] = "";
			memcpy(copy, t, im.len);
			if (pw_image_parse(copy, im.len, 0, &img, err,
					   sizeof err) == 0) {
				for (size_t s = 0;
				     s < pw_image_segment_count(img); s++) {
					const struct pw_image_segment *seg =
						pw_image_segment_at(img, s);
					uint64_t *f = pw_image_frame(
						img, (seg->paddr + seg->size) /
								     4096 -
							     1);
					if (!f)
						bad++;
					else
						f[511] ^= 1;
				}
				pw_image_close(img);
			} else if (!err[0] || strchr(err, '\n')) {
				bad++;
			}
			free(copy);
		}
		CHECK(bad == 0);
	}
	free(t);
	free(im.buf);
}

/* ---- snapshots ------------------------------------------------------------------ */

struct dumped {
	char text[1 << 16];
	size_t len;
};

static void dump_line(void *ctx, enum pw_level level, unsigned long addr,
		      uint64_t value, bool is_table)
{
	struct dumped *d = ctx;
	if (is_table || d->len > sizeof d->text - 100)
		return;
	d->len += (size_t)snprintf(d->text + d->len, sizeof d->text - d->len,
				   "%d %lx %llx\n", (int)level, addr,
				   (unsigned long long)value);
}

static void vma_lines(struct mm_struct *mm, struct dumped *d)
{
	for (size_t i = 0; i < pw_mm_vma_count(mm); i++) {
		const struct vm_area_struct *v = pw_mm_vma_at(mm, i);
		d->len += (size_t)snprintf(
			d->text + d->len, sizeof d->text - d->len,
			"vma %lx %lx %lx %lx %u %u\n", v->vm_start, v->vm_end,
			v->vm_flags, v->vm_pgoff,
			v->vm_file ? pw_mapping_id(v->vm_file) : 0,
			v->hugetlb_shift);
	}
}

/* A model machine with every kind of entry, VMAs of every kind, folios. */
static struct pw_machine *snapshot_machine(struct mm_struct **mmp)
{
	struct pw_machine_config cfg = { .levels = 4,
					 .frames = 1 << 14,
					 .table_base = 1 << 13,
					 .zero_pfn = 1,
					 .huge_zero_pfn = 0x200 };
	struct pw_machine *m;
	struct mm_struct *mm;
	int err;

	if (pw_machine_create(&cfg, &m))
		return NULL;
	mm = pw_mm_create(m);
	pw_vma_add(mm, 0x400000, 0x800000, VM_READ | VM_WRITE, NULL, 0, 0,
		   &err);
	pw_vma_add(mm, 0x800000, 0x900000, VM_READ, pw_mapping_get(m, 3), 16, 0,
		   &err);
	pw_vma_add(mm, 0x40000000, 0x80000000, VM_READ | VM_WRITE, NULL, 0, 30,
		   &err);
	pw_mm_set_entry(mm, PW_LEVEL_PTE, 0x400000, 0x10067);
	pw_mm_set_entry(mm, PW_LEVEL_PTE, 0x401000, pw_swp_entry(2, 0x99));
	pw_mm_set_entry(mm, PW_LEVEL_PMD, 0x600000, (0x400ULL << 12) | 0xe7);
	pw_mm_set_entry(mm, PW_LEVEL_PTE, 0x800000, 0x20065);
	pw_mm_set_entry(mm, PW_LEVEL_PUD, 0x40000000, (0x1000ULL << 12) | 0xe7);
	pw_mm_set_entry(pw_init_mm(m), PW_LEVEL_PMD, 0xffff888000200000UL,
			(0x600ULL << 12) | 0x1e3);
	pw_folio_declare(m, 0x400, 9);
	pw_folio_declare(m, 0x10, 2);
	*mmp = mm;
	return m;
}

static void test_snapshots(void)
{
	struct mm_struct *mm;
	struct pw_machine *m = snapshot_machine(&mm);
	struct mm_struct *mms[2] = { pw_init_mm(m), mm };
	char path[300], err[512];
	struct pw_snapshot s;
	static struct dumped a, b;

	snprintf(path, sizeof path, "%s/machine.pwsnap",
		 getenv("PW_SNAPSHOT_SEED") ? getenv("PW_SNAPSHOT_SEED") :
					      tmpdir);
	TEST("a snapshot round-trips: entries, VMAs, mappings, folios, the extra bytes")
	{
		CHECK(pw_machine_save(m, mms, 2, "facts", 5, path, err,
				      sizeof err) == 0);
		CHECK(pw_machine_load(path, &s, err, sizeof err) == 0);
		if (!s.machine) {
			printf("  %s\n", err);
			continue; /* ends the case (recorded failed) */
		}
		CHECK(s.nr_mms == 2 && pw_mm_is_kernel(s.mms[0]) &&
		      !pw_mm_is_kernel(s.mms[1]));
		CHECK(s.extra_len == 5 && memcmp(s.extra, "facts", 5) == 0);
		for (int i = 0; i < 2; i++) {
			a.len = b.len = 0;
			pw_mm_dump(mms[i], dump_line, &a);
			pw_mm_dump(s.mms[i], dump_line, &b);
			vma_lines(mms[i], &a);
			vma_lines(s.mms[i], &b);
			CHECK(a.len > 0 && a.len == b.len &&
			      memcmp(a.text, b.text, a.len) == 0);
		}
		const struct pw_machine_config *c =
			pw_machine_config(s.machine);
		CHECK(c->levels == 4 && c->frames == 1 << 14 &&
		      c->zero_pfn == 1 && c->huge_zero_pfn == 0x200);
		struct page *p = pw_pfn_to_page(s.machine, 0x480);
		CHECK(p &&
		      pw_folio_pfn(s.machine, pw_page_folio(s.machine, p)) ==
			      0x400 &&
		      pw_folio_order(s.machine, pw_page_folio(s.machine, p)) ==
			      9);
		p = pw_pfn_to_page(s.machine, 0x13);
		CHECK(p && pw_folio_order(s.machine,
					  pw_page_folio(s.machine, p)) == 2);
		/* and walks agree */
		struct seen w1 = { 0 }, w2 = { 0 };
		mmap_read_lock(mm);
		walk_page_range(mm, 0x400000, 0x900000, &rec_ops, &w1);
		mmap_read_unlock(mm);
		mmap_read_lock(s.mms[1]);
		walk_page_range(s.mms[1], 0x400000, 0x900000, &rec_ops, &w2);
		mmap_read_unlock(s.mms[1]);
		CHECK(w1.nr_pte == w2.nr_pte && w1.entries == w2.entries &&
		      w1.pmd_leaf == w2.pmd_leaf);
		CHECK(memcmp(w1.pte, w2.pte, sizeof w1.pte) == 0);
		pw_machine_destroy(s.machine);
		pw_snapshot_free(&s);
	}
	TEST("a snapshot refused: truncated anywhere, a flipped byte, another version, garbage")
	{
		FILE *f = fopen(path, "rb");
		static uint8_t data[1 << 16];
		size_t n = f ? fread(data, 1, sizeof data, f) : 0;
		if (f)
			fclose(f);
		CHECK(n > 64 && n < sizeof data);
		int bad = 0;
		for (size_t k = 0; k < n; k++) {
			err[0] = 0;
			if (pw_snapshot_parse(data, k, &s, err, sizeof err) ==
				    0 ||
			    !err[0] || strchr(err, '\n'))
				bad++;
		}
		CHECK(bad == 0);
		for (size_t k = 64; k < n; k += 7) {
			data[k] ^= 0x40;
			CHECK(pw_snapshot_parse(data, n, &s, err, sizeof err) ==
				      -1 &&
			      strstr(err, "checksum"));
			data[k] ^= 0x40;
		}
		data[8] = 2;
		CHECK(pw_snapshot_parse(data, n, &s, err, sizeof err) == -1 &&
		      strstr(err, "version 2"));
		data[8] = 1;
		CHECK(pw_snapshot_parse(
			      "not a snapshot at all, really not at all; no no no no no no no",
			      64, &s, err, sizeof err) == -1 &&
		      strstr(err, "magic"));
		CHECK(pw_machine_load("/nonexistent/x.pwsnap", &s, err,
				      sizeof err) == -1 &&
		      strstr(err, "cannot open"));
	}
	pw_machine_destroy(m);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_parse();
	test_roots();
	test_walks();
	test_hostile();
	test_snapshots();
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		printf("note: could not remove %s\n", tmpdir);
	return cases_summary();
}
