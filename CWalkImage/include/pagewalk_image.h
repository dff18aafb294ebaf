/*
 * pagewalk_image.h - memory images of real x86-64 Linux machines as
 * physical memory: ELF cores with guest-physical PT_LOAD segments (QEMU's
 * dump-guest-memory, virsh dump --memory-only, kdump's vmcore and
 * makedumpfile -E) and raw memory files (file offset = physical address),
 * their notes (QEMU's per-CPU state, VMCOREINFO), and x86-64 Linux's
 * page-table entry encoding.
 *
 * Images are opened zero-copy: the file is mapped MAP_PRIVATE, so opening
 * costs the same for any size and writes (a walk that installs or clears
 * entries) land in a private overlay; the file is never modified.  Every
 * parser check is done at open time; afterwards frame lookups never read
 * outside the mapping.  Plain C11; compiles as C++.
 */
#ifndef PAGEWALK_IMAGE_H
#define PAGEWALK_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An opened memory image. */
struct pw_image;

/** What kind of file an image is. */
enum pw_image_kind {
	PW_IMAGE_ELF = 1, /**< ELF64 core, PT_LOAD p_paddr = physical address */
	PW_IMAGE_RAW = 2, /**< raw memory: file offset = physical address */
};

/** One run of physical memory in the image. */
struct pw_image_segment {
	uint64_t paddr;       /**< first physical address (page aligned) */
	uint64_t size;        /**< bytes of physical memory (whole pages) */
	uint64_t file_offset; /**< where its bytes start in the file */
	uint64_t
		file_size; /**< bytes present in the file (the rest reads as 0) */
	bool realigned;    /**< the file offset is not page aligned: frames are
	                           copied, one by one on first use, to aligned memory */
};

/** One virtual CPU, from the image's notes. */
struct pw_image_cpu {
	unsigned index;   /**< 0, 1, ... in note order */
	bool has_control; /**< CR3/CR4 known (QEMU's "QEMU" note) */
	uint64_t cr3; /**< as the CPU held it: PCID and KPTI bits included */
	uint64_t cr4; /**< CR4; bit 12 (LA57) selects 5 levels */
	uint64_t rip; /**< instruction pointer, when known */
};

/** Facts from a VMCOREINFO note (kdump's vmcore; QEMU with -device vmcoreinfo). */
struct pw_image_vmcoreinfo {
	bool present;           /**< a VMCOREINFO note was found */
	char osrelease[65];     /**< OSRELEASE=, "" if absent */
	bool has_init_top_pgt;  /**< SYMBOL(init_top_pgt)= was given */
	uint64_t init_top_pgt;  /**< its virtual address (KASLR applied) */
	bool has_phys_base;     /**< NUMBER(phys_base)= was given */
	uint64_t phys_base;     /**< physical load offset of the kernel */
	bool has_kernel_offset; /**< KERNELOFFSET= was given */
	uint64_t kernel_offset; /**< KASLR text offset */
	int pgtable_l5; /**< NUMBER(pgtable_l5_enabled): 0, 1, or -1 unknown */
	uint64_t sme_mask; /**< NUMBER(sme_mask), 0 if absent */
	const char *text;  /**< the whole note text (not NUL terminated) */
	size_t text_len;   /**< its length */
};

/** Options of pw_image_open(). */
enum pw_image_open_flags {
	PW_IMAGE_AUTO =
		0, /**< ELF if the file starts with ELF's magic, else raw */
	PW_IMAGE_FORCE_RAW = 1, /**< treat any file as raw memory */
};

/**
 * Opens the image at @path: maps it MAP_PRIVATE (never modified) and
 * checks its structure.  0 and *@out, or -1 with one line in @err saying
 * what is wrong, where and why (truncated file, overlapping or absurd
 * segments, bogus notes, ...).
 */
int pw_image_open(const char *path, unsigned flags, struct pw_image **out,
		  char *err, size_t errlen);

/**
 * Parses an image held in caller memory (@data, @len bytes, which must
 * outlive the image and be writable if walks will write): the same checks
 * as pw_image_open().  For tests and fuzzing.
 */
int pw_image_parse(void *data, size_t len, unsigned flags,
		   struct pw_image **out, char *err, size_t errlen);

/** Closes @img (unmaps the file; the private overlay is dropped). */
void pw_image_close(struct pw_image *img);

/** The kind of @img. */
enum pw_image_kind pw_image_kind(const struct pw_image *img);

/** Size of the image file in bytes. */
uint64_t pw_image_file_size(const struct pw_image *img);

/** Number of memory segments (sorted by physical address, disjoint). */
size_t pw_image_segment_count(const struct pw_image *img);

/** Segment @i, or NULL when out of range. */
const struct pw_image_segment *pw_image_segment_at(const struct pw_image *img,
						   size_t i);

/** Number of vCPUs described by the notes. */
size_t pw_image_cpu_count(const struct pw_image *img);

/** vCPU @i, or NULL when out of range. */
const struct pw_image_cpu *pw_image_cpu_at(const struct pw_image *img,
					   size_t i);

/** The VMCOREINFO facts (present == false without the note). */
const struct pw_image_vmcoreinfo *
pw_image_vmcoreinfo(const struct pw_image *img);

/** One past the highest PFN of any segment. */
uint64_t pw_image_max_pfn(const struct pw_image *img);

/**
 * The 4 KiB frame @pfn as 512 aligned 64-bit words, or NULL when the frame
 * is not in the image (a hole, beyond memory, a partial page).  Writes
 * through the pointer go to the private overlay.  Thread-safe.
 */
uint64_t *pw_image_frame(struct pw_image *img, uint64_t pfn);

/**
 * The frames of segment @i as aligned 64-bit words (frame k of the segment
 * at + k * 512): the file mapping itself, or for a realigned segment its
 * shadow, whose frames hold their bytes only once pw_image_frame() looked
 * them up.  NULL when @i is out of range.
 */
uint64_t *pw_image_segment_frames(struct pw_image *img, size_t i);

/**
 * Copies @len bytes at physical address @paddr into @buf.  0, or -1 if any
 * byte is outside the image's memory.
 */
int pw_image_read(struct pw_image *img, uint64_t paddr, void *buf, size_t len);

/**
 * The physical address of the kernel's top page table from VMCOREINFO
 * (SYMBOL(init_top_pgt) - __START_KERNEL_map + phys_base), or UINT64_MAX
 * when the note does not give it.
 */
uint64_t pw_image_kernel_pgd(const struct pw_image *img);

/* ------------------------------------------------------------------------ */
/* Where translation starts                                                 */
/* ------------------------------------------------------------------------ */

/** CR3's page-table address bits (bits 12..51). */
#define PW_X86_CR3_ADDR_MASK 0x000ffffffffff000ULL
/** CR3's PCID field (bits 0..11, with CR4.PCIDE). */
#define PW_X86_CR3_PCID_MASK 0xfffULL
/** The bit KPTI sets in a user CR3: the user copy of the top table is the
 *  4 KiB page after the kernel's (PTI_USER_PGTABLE_BIT). */
#define PW_X86_CR3_PTI_USER (1ULL << 12)
/** CR3 bit 63: no TLB flush on load (PCID); not an address bit. */
#define PW_X86_CR3_NOFLUSH (1ULL << 63)
/** CR4.LA57: 5-level paging. */
#define PW_X86_CR4_LA57 (1ULL << 12)
/** CR4.PCIDE. */
#define PW_X86_CR4_PCIDE (1ULL << 17)

/** A translation root chosen from a CR3 value. */
struct pw_x86_root {
	uint64_t pgd;        /**< physical address of the top table walked */
	uint64_t kernel_pgd; /**< the kernel copy of the top table (KPTI: the
	                          8 KiB-aligned page of the pair), = pgd without KPTI */
	uint64_t user_pgd;   /**< the user copy (kernel_pgd + 4096) with KPTI,
	                          else = pgd */
	bool kpti_user;      /**< CR3 pointed at the user copy (bit 12 set with
	                          KPTI) */
	unsigned pcid;       /**< the PCID bits (0 without CR4.PCIDE) */
	int levels;          /**< 4 or 5 (CR4.LA57) */
};

/**
 * Decodes @cr3 under @cr4.  Bit 12 of the address means "user copy" only
 * under KPTI, which the caller knows best: @kpti 1 yes, 0 no, -1 guess
 * (bit 12 set = KPTI user CR3, since the kernel's top table pair is 8 KiB
 * aligned under KPTI and a plain top table rarely sits at an odd page).
 */
struct pw_x86_root pw_x86_root_from_cr3(uint64_t cr3, uint64_t cr4, int kpti);

/* ------------------------------------------------------------------------ */
/* x86-64 Linux entry encoding                                              */
/* ------------------------------------------------------------------------ */

#define PW_X86_PRESENT (1ULL << 0)  /**< _PAGE_PRESENT */
#define PW_X86_RW (1ULL << 1)       /**< _PAGE_RW */
#define PW_X86_USER (1ULL << 2)     /**< _PAGE_USER */
#define PW_X86_PWT (1ULL << 3)      /**< _PAGE_PWT */
#define PW_X86_PCD (1ULL << 4)      /**< _PAGE_PCD */
#define PW_X86_ACCESSED (1ULL << 5) /**< _PAGE_ACCESSED */
#define PW_X86_DIRTY (1ULL << 6)    /**< _PAGE_DIRTY */
#define PW_X86_PSE (1ULL << 7) /**< _PAGE_PSE (leaf at PUD/PMD; PAT in a PTE) */
#define PW_X86_GLOBAL (1ULL << 8)      /**< _PAGE_GLOBAL when present */
#define PW_X86_PROTNONE (1ULL << 8)    /**< _PAGE_PROTNONE when not present */
#define PW_X86_SPECIAL (1ULL << 9)     /**< _PAGE_SPECIAL (software) */
#define PW_X86_UFFD_WP (1ULL << 10)    /**< _PAGE_UFFD_WP (software) */
#define PW_X86_SOFT_DIRTY (1ULL << 11) /**< _PAGE_SOFT_DIRTY (software) */
#define PW_X86_PAT_LARGE (1ULL << 12)  /**< PAT bit of a PUD/PMD leaf */
#define PW_X86_NX (1ULL << 63)         /**< _PAGE_NX */
#define PW_X86_PKEY_SHIFT 59           /**< protection key: bits 59..62 */
/** Physical address bits of an entry (__PHYSICAL_MASK: 52 bits). */
#define PW_X86_PFN_MASK 0x000ffffffffff000ULL
/** Swap PTE bits: soft-dirty (_PAGE_SWP_SOFT_DIRTY = _PAGE_RW). */
#define PW_X86_SWP_SOFT_DIRTY PW_X86_RW
/** Swap PTE bits: uffd-wp (_PAGE_SWP_UFFD_WP = _PAGE_USER). */
#define PW_X86_SWP_UFFD_WP PW_X86_USER
/** Swap PTE bits: exclusive (_PAGE_SWP_EXCLUSIVE = _PAGE_PSE). */
#define PW_X86_SWP_EXCLUSIVE PW_X86_PSE

/** pte_present / pmd_present's core: PRESENT or PROTNONE. */
static inline bool pw_x86_present(uint64_t e)
{
	return (e & (PW_X86_PRESENT | PW_X86_PROTNONE)) != 0;
}

/** A PROT_NONE entry: PROTNONE without PRESENT (its PFN is stored inverted). */
static inline bool pw_x86_protnone(uint64_t e)
{
	return (e & (PW_X86_PRESENT | PW_X86_PROTNONE)) == PW_X86_PROTNONE;
}

/** The PFN of a present entry, un-inverting a PROT_NONE one (L1TF). */
static inline uint64_t pw_x86_pfn(uint64_t e)
{
	if (pw_x86_protnone(e))
		e = ~e;
	return (e & PW_X86_PFN_MASK) >> 12;
}

/** A swap (or migration, ...) entry: non-zero and not present. */
static inline bool pw_x86_is_swap(uint64_t e)
{
	return e != 0 && !pw_x86_present(e);
}

/** The swap type of a swap entry: bits 59..63. */
static inline unsigned pw_x86_swp_type(uint64_t e)
{
	return (unsigned)(e >> 59);
}

/** The swap offset of a swap entry: bits 9..58, stored inverted. */
static inline uint64_t pw_x86_swp_offset(uint64_t e)
{
	return (~e << 5) >> 14;
}

/** Builds a swap entry of @type and @offset (no soft-dirty/uffd-wp/exclusive). */
static inline uint64_t pw_x86_swp_entry(unsigned type, uint64_t offset)
{
	return ((~offset << 14) >> 5) | ((uint64_t)(type & 31) << 59);
}

/* ------------------------------------------------------------------------ */
/* Machines over images                                                     */
/* ------------------------------------------------------------------------ */

struct pw_machine;
struct mm_struct;

/**
 * Builds a PageWalk machine over @img's physical memory with @levels (4 or
 * 5) levels, whose kernel address space (init_mm) has the top table at
 * physical address @kernel_pgd (UINT64_MAX: an empty kernel half).  The
 * whole walk API then runs over the image's own page tables; a walk that
 * writes changes private memory only.  @img must outlive the machine.
 * 0 and *@out, or -1 with one line in @err (a top table outside the
 * image's memory, bad @levels, ...).
 */
int pw_machine_open_image(struct pw_image *img, int levels, uint64_t kernel_pgd,
			  struct pw_machine **out, char *err, size_t errlen);

/**
 * Creates a user address space of @m (made by pw_machine_open_image() over
 * @img) whose top table is the one at physical address @pgd, e.g. a CR3's
 * table or KPTI's user copy.  It has no VMAs: add them (pw_vma_add) for
 * walks with VMA semantics, or walk it with walk_page_range_debug().
 * 0 and *@out, or -1 with one line in @err.
 */
int pw_image_mm_create(struct pw_machine *m, struct pw_image *img, uint64_t pgd,
		       struct mm_struct **out, char *err, size_t errlen);

/**
 * A digest of every page-table frame reachable from the top table at
 * physical @pgd with @levels levels, read from the image as it is now
 * (each (level, frame) once; *@nr_tables gets their number).  For a live
 * image (a running guest's RAM file): equal digests before and after a
 * walk mean no table it could have read changed meanwhile; different ones
 * mean the walk may have read torn tables.
 */
uint64_t pw_image_tables_digest(struct pw_image *img, uint64_t pgd, int levels,
				uint64_t *nr_tables);

#ifdef __cplusplus
}
#endif

#endif /* PAGEWALK_IMAGE_H */
