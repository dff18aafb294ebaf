/* entry_x86.c - x86-64 Linux's page-table entry encoding, the machine's decoders for memory images of real machines. */
#include "internal.h"

/*
 * What arch/x86 stores, written from its documented layout
 * (arch/x86/include/asm/pgtable_64.h and pgtable_types.h, Linux 6.1):
 *
 *   present   _PAGE_PRESENT (bit 0), or _PAGE_PROTNONE (bit 8) with bit 0
 *             clear: a PROT_NONE mapping, whose PFN bits are stored
 *             inverted (the L1TF mitigation, protnone_mask()).
 *   swap      non-zero and not present: the type in bits 59..63, the
 *             offset inverted in bits 9..58; bits 1, 2 and 7 carry the
 *             swap soft-dirty, uffd-wp and exclusive flags.
 *
 * Swap types are numbered as the kernel numbers them with
 * CONFIG_MIGRATION, CONFIG_MEMORY_FAILURE and CONFIG_PTE_MARKER and
 * without CONFIG_DEVICE_PRIVATE (Debian's 6.1): MAX_SWAPFILES = 27, then
 * hwpoison 27, migration read / read-exclusive / write 28..30, the PTE
 * marker 31.  They are reported in the model's numbering (PW_SWP_*).
 */

#define X86_PRESENT (1ULL << 0)
#define X86_PROTNONE (1ULL << 8)
#define X86_PFN_MASK 0x000ffffffffff000ULL

enum {
	X86_SWP_HWPOISON = 27,
	X86_SWP_MIGRATION_READ = 28,
	X86_SWP_MIGRATION_WRITE = 30,
	X86_SWP_PTE_MARKER = 31,
};

static bool x86_present(uint64_t v)
{
	return (v & (X86_PRESENT | X86_PROTNONE)) != 0;
}

static uint64_t x86_pfn(uint64_t v)
{
	if ((v & (X86_PRESENT | X86_PROTNONE)) == X86_PROTNONE)
		v = ~v;
	return (v & X86_PFN_MASK) >> PW_PAGE_SHIFT;
}

static bool x86_is_swap(uint64_t v)
{
	return v != 0 && !x86_present(v);
}

static unsigned x86_raw_type(uint64_t v)
{
	return (unsigned)(v >> 59);
}

/* x86 type -> the model's: real swap files keep their number (up to the
 * model's 23), the special types move to the model's slots. */
static unsigned x86_swp_type(uint64_t v)
{
	unsigned t = x86_raw_type(v);

	if (t == X86_SWP_PTE_MARKER)
		return PW_SWP_PTE_MARKER;
	if (t >= X86_SWP_MIGRATION_READ)
		return PW_SWP_MIGRATION_READ + (t - X86_SWP_MIGRATION_READ);
	if (t == X86_SWP_HWPOISON)
		return PW_SWP_HWPOISON;
	return t < PW_SWP_HWPOISON ? t : PW_SWP_HWPOISON - 1;
}

static uint64_t x86_swp_offset(uint64_t v)
{
	return (~v << 5) >> 14;
}

static uint64_t x86_swp_entry(unsigned type, uint64_t offset)
{
	unsigned t = type;

	if (type == PW_SWP_PTE_MARKER)
		t = X86_SWP_PTE_MARKER;
	else if (type >= PW_SWP_MIGRATION_READ &&
		 type <= PW_SWP_MIGRATION_WRITE)
		t = X86_SWP_MIGRATION_READ + (type - PW_SWP_MIGRATION_READ);
	else if (type == PW_SWP_HWPOISON)
		t = X86_SWP_HWPOISON;
	return ((~offset << 14) >> 5) | ((uint64_t)(t & 31) << 59);
}

static bool x86_is_migration(uint64_t v)
{
	unsigned t = x86_raw_type(v);

	return x86_is_swap(v) && t >= X86_SWP_MIGRATION_READ &&
	       t <= X86_SWP_MIGRATION_WRITE;
}

const struct pw_entry_ops pw_x86_64_entry_ops = {
	.encoding = PW_ENCODING_X86_64,
	.name = "x86-64",
	.present = x86_present,
	.pfn = x86_pfn,
	.is_swap = x86_is_swap,
	.swp_type = x86_swp_type,
	.swp_offset = x86_swp_offset,
	.swp_entry = x86_swp_entry,
	.is_migration = x86_is_migration,
};
