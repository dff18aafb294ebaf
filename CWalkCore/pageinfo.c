/*
 * pageinfo.c - page facts beside the machine's frames (flags, counts,
 * node), the page cache and the swap cache.  See pagewalk_pages.h.
 *
 * Kept apart from the walker and the memory layer: nothing on a walk's
 * path reads these; they exist for walk clients that ask about pages.
 */
#include "internal.h"
#include "pagewalk_pages.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* One slot of the open-addressing cache map: key (a, b) -> value, count. */
struct cache_slot {
	uint64_t a, b;
	uint64_t value;
	int count;
	bool used;
};

struct pw_page_extra {
	struct pw_page_info *info;
	size_t info_bytes;
	struct cache_slot *slots; /* power-of-two sized */
	size_t nr_slots, nr_used;
	const struct address_space **shmem;
	size_t nr_shmem, cap_shmem;
};

/* Key kinds: the page cache is keyed by (mapping, index), the swap cache
 * by (SWAP_KEY, entry): no mapping lives at address 1. */
#define SWAP_KEY 1ULL

static struct pw_page_extra *extra_of(struct pw_machine *m)
{
	if (!m->page_extra)
		m->page_extra = calloc(1, sizeof(*m->page_extra));
	return m->page_extra;
}

void pw_page_extra_free(struct pw_machine *m)
{
	struct pw_page_extra *x = m->page_extra;

	if (!x)
		return;
	if (x->info)
		munmap(x->info, x->info_bytes);
	free(x->slots);
	free(x->shmem);
	free(x);
	m->page_extra = NULL;
}

struct pw_page_info *pw_machine_page_info(struct pw_machine *m)
{
	struct pw_page_extra *x;
	void *p;

	pthread_mutex_lock(&m->alloc_lock);
	x = extra_of(m);
	if (x && !x->info) {
		x->info_bytes = pw_machine_config(m)->frames *
				sizeof(struct pw_page_info);
		p = mmap(NULL, x->info_bytes, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		x->info = p == MAP_FAILED ? NULL : p;
	}
	pthread_mutex_unlock(&m->alloc_lock);
	return x ? x->info : NULL;
}

/* ---- facts from the mappings ---------------------------------------- */

struct fill_ctx {
	struct pw_machine *m;
	struct pw_page_info *info;
};

static void fill_flags(struct pw_page_info *pi,
		       const struct vm_area_struct *vma)
{
	pi->flags |= PW_PGF_MMAP | PW_PGF_LRU | PW_PGF_UPTODATE;
	if (pw_vma_is_anonymous(vma))
		pi->flags |= PW_PGF_ANON | PW_PGF_SWAPBACKED;
	else if (vma->vm_flags & VM_SHARED && vma->vm_file &&
		 pw_mapping_is_shmem(vma->vm_file))
		pi->flags |= PW_PGF_SWAPBACKED;
}

static bool skip_pfn(const struct pw_machine *m, uint64_t pfn)
{
	return pfn >= pw_machine_config(m)->frames ||
	       pfn == pw_machine_config(m)->zero_pfn ||
	       (pw_machine_config(m)->huge_zero_pfn &&
		pfn == pw_machine_config(m)->huge_zero_pfn);
}

/* A leaf of @pages frames at @pfn mapped once, as a whole. */
static void fill_leaf(struct fill_ctx *c, const struct vm_area_struct *vma,
		      uint64_t pfn, uint64_t pages)
{
	uint64_t i;

	if (skip_pfn(c->m, pfn) ||
	    pfn + pages > pw_machine_config(c->m)->frames)
		return;
	c->info[pfn].entire_mapcount++;
	c->info[pfn].refcount++;
	for (i = 0; i < pages; i++)
		fill_flags(&c->info[pfn + i], vma);
}

static int fill_pud(pud_t *pud, unsigned long addr, unsigned long next,
		    struct mm_walk *walk)
{
	struct fill_ctx *c = walk->private;
	pud_t v = pw_entry_get(pud);

	(void)addr;
	(void)next;
	if ((v & (PW_PAGE_PRESENT | PW_PAGE_HUGE)) ==
		    (PW_PAGE_PRESENT | PW_PAGE_HUGE) &&
	    pw_machine_geometry(c->m)->shift[PW_LEVEL_PUD] == 30) {
		fill_leaf(c, walk->vma, pw_entry_pfn(v), 1ULL << 18);
		walk->action = ACTION_CONTINUE;
	}
	return 0;
}

static int fill_pmd(pmd_t *pmd, unsigned long addr, unsigned long next,
		    struct mm_walk *walk)
{
	struct fill_ctx *c = walk->private;
	pmd_t v = pw_entry_get(pmd);
	pte_t *pte;

	walk->action = ACTION_CONTINUE;
	if (!(v & PW_PAGE_PRESENT))
		return 0;
	if (v & PW_PAGE_HUGE) {
		fill_leaf(c, walk->vma, pw_entry_pfn(v), 512);
		return 0;
	}
	pte = pw_pte_offset_map(c->m, pmd, addr);
	for (; pte && addr < next; addr += PW_PAGE_SIZE, pte++) {
		uint64_t pfn;

		if (!(*pte & PW_PAGE_PRESENT))
			continue;
		pfn = pw_entry_pfn(*pte);
		if (skip_pfn(c->m, pfn))
			continue;
		c->info[pfn].mapcount++;
		c->info[pfn].refcount++;
		fill_flags(&c->info[pfn], walk->vma);
	}
	return 0;
}

static int fill_hugetlb(pte_t *pte, unsigned long hmask, unsigned long addr,
			unsigned long next, struct mm_walk *walk)
{
	struct fill_ctx *c = walk->private;
	pte_t v = pte ? pw_entry_get(pte) : 0;

	(void)addr;
	(void)next;
	if (v & PW_PAGE_PRESENT) {
		uint64_t pages = (~hmask + 1) >> PW_PAGE_SHIFT;
		uint64_t pfn = pw_entry_pfn(v), i;

		fill_leaf(c, walk->vma, pfn, pages);
		if (!skip_pfn(c->m, pfn) &&
		    pfn + pages <= pw_machine_config(c->m)->frames)
			for (i = 0; i < pages; i++)
				c->info[pfn + i].flags |= PW_PGF_HUGE;
	}
	return 0;
}

int pw_page_info_from_mappings(struct mm_struct *mm)
{
	struct pw_machine *m = mm->m;
	const struct mm_walk_ops ops = { .pud_entry = fill_pud,
					 .pmd_entry = fill_pmd,
					 .hugetlb_entry = fill_hugetlb };
	struct fill_ctx c = { .m = m, .info = pw_machine_page_info(m) };
	uint64_t pfn;
	int err;

	if (!c.info)
		return -ENOMEM;
	mmap_read_lock(mm);
	err = walk_page_range(mm, 0, pw_machine_geometry(m)->task_size, &ops,
			      &c);
	mmap_read_unlock(mm);
	/* Compound flags from the declared folios (through the memory
	 * layer's public interface). */
	for (pfn = 0; pfn < pw_machine_config(m)->frames; pfn++) {
		struct folio *f = pw_page_folio(m, pw_pfn_to_page(m, pfn));
		unsigned order = pw_folio_order(m, f);

		if (pw_folio_pfn(m, f) != pfn)
			c.info[pfn].flags |= PW_PGF_COMPOUND_TAIL;
		else if (order) {
			c.info[pfn].flags |= PW_PGF_COMPOUND_HEAD;
			if (order == 9)
				c.info[pfn].flags |= PW_PGF_THP;
		}
	}
	return err < 0 ? err : 0;
}

/* ---- shmem mappings --------------------------------------------------- */

void pw_mapping_set_shmem(struct address_space *mapping, bool shmem)
{
	struct pw_page_extra *x = extra_of(mapping->m);
	size_t i;

	if (!x)
		return;
	for (i = 0; i < x->nr_shmem; i++)
		if (x->shmem[i] == mapping) {
			if (!shmem)
				x->shmem[i] = x->shmem[--x->nr_shmem];
			return;
		}
	if (shmem && pw_array_reserve((void **)&x->shmem, &x->cap_shmem,
				      x->nr_shmem + 1, sizeof(*x->shmem)))
		x->shmem[x->nr_shmem++] = mapping;
}

bool pw_mapping_is_shmem(const struct address_space *mapping)
{
	const struct pw_page_extra *x = mapping->m->page_extra;
	size_t i;

	for (i = 0; x && i < x->nr_shmem; i++)
		if (x->shmem[i] == mapping)
			return true;
	return false;
}

/* ---- the cache map ------------------------------------------------------ */

static size_t slot_hash(uint64_t a, uint64_t b, size_t n)
{
	uint64_t h = a * 0x9e3779b97f4a7c15ULL ^
		     (b + 0x632be59bd9b4e019ULL) * 0xbf58476d1ce4e5b9ULL;

	return (size_t)(h ^ (h >> 29)) & (n - 1);
}

static struct cache_slot *slot_find(const struct pw_page_extra *x, uint64_t a,
				    uint64_t b)
{
	size_t i, n = x->nr_slots;

	if (!n)
		return NULL;
	for (i = slot_hash(a, b, n);; i = (i + 1) & (n - 1)) {
		struct cache_slot *s = &x->slots[i];

		if (!s->used)
			return NULL;
		if (s->a == a && s->b == b)
			return s;
	}
}

static int slot_put(struct pw_page_extra *x, uint64_t a, uint64_t b,
		    uint64_t value, int count)
{
	struct cache_slot *s = slot_find(x, a, b);
	size_t i;

	if (s) {
		/* Removed slots keep their key (value 0, count 0): probing
		 * chains stay intact. */
		s->value = value;
		s->count = count;
		return 0;
	}
	if ((x->nr_used + 1) * 2 > x->nr_slots) {
		size_t n = x->nr_slots ? x->nr_slots * 2 : 64, j;
		struct cache_slot *old = x->slots, *ns = calloc(n, sizeof(*ns));

		if (!ns)
			return -ENOMEM;
		for (j = 0; j < x->nr_slots; j++) {
			if (!old[j].used)
				continue;
			for (i = slot_hash(old[j].a, old[j].b, n); ns[i].used;
			     i = (i + 1) & (n - 1))
				;
			ns[i] = old[j];
		}
		free(old);
		x->slots = ns;
		x->nr_slots = n;
	}
	for (i = slot_hash(a, b, x->nr_slots); x->slots[i].used;
	     i = (i + 1) & (x->nr_slots - 1))
		;
	x->slots[i] = (struct cache_slot){
		.a = a, .b = b, .value = value, .count = count, .used = true
	};
	x->nr_used++;
	return 0;
}

int pw_page_cache_set(struct address_space *mapping, uint64_t index,
		      uint64_t slot)
{
	struct pw_page_extra *x = extra_of(mapping->m);

	if (!x)
		return -ENOMEM;
	return slot_put(x, (uint64_t)(uintptr_t)mapping, index, slot, 0);
}

uint64_t pw_page_cache_get(const struct address_space *mapping, uint64_t index)
{
	const struct pw_page_extra *x = mapping->m->page_extra;
	const struct cache_slot *s =
		x ? slot_find(x, (uint64_t)(uintptr_t)mapping, index) : NULL;

	return s ? s->value : 0;
}

int pw_swap_cache_set(struct pw_machine *m, uint64_t entry, uint64_t pfn1,
		      int swap_count)
{
	struct pw_page_extra *x = extra_of(m);

	if (!x)
		return -ENOMEM;
	return slot_put(x, SWAP_KEY, entry, pfn1, swap_count);
}

uint64_t pw_swap_cache_get(const struct pw_machine *m, uint64_t entry,
			   int *swap_count)
{
	const struct pw_page_extra *x = m->page_extra;
	const struct cache_slot *s = x ? slot_find(x, SWAP_KEY, entry) : NULL;

	if (swap_count)
		*swap_count = s ? s->count : 0;
	return s ? s->value : 0;
}
