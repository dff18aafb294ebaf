/*
 * run_client.c - a C program that builds a machine and runs a kernel-style
 * client shared object over it, as `pagewalk client` does over an imported
 * process.  Build (the core's symbols exported to the client with -rdynamic):
 *
 *   cc -std=c11 -rdynamic -I include -I compat CWalkCore/\*.c \
 *      Examples/kernel-client/run_client.c -ldl -o run_client
 *   ./run_client ./count_client.so [ARGS...]
 *
 * The machine: an anonymous VMA with 8 PTE-mapped pages (one mapped twice)
 * and a PMD leaf, page facts from the mappings.  Exit status: the client's.
 */
#define _GNU_SOURCE
#include "pagewalk.h"
#include "pagewalk_pages.h"
#include "pagewalk_client.h"

#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	struct pw_machine_config cfg = { .levels = 4,
					 .frames = 1 << 14,
					 .table_base = 1 << 13,
					 .zero_pfn = 1 };
	struct pw_machine *m;
	struct mm_struct *mm;
	pagewalk_client_fn entry;
	void *so;
	int err, status, i;

	if (argc < 2) {
		fprintf(stderr, "usage: run_client CLIENT.so [ARGS...]\n");
		return 2;
	}
	so = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!so) {
		fprintf(stderr, "run_client: %s\n", dlerror());
		return 2;
	}
	entry = (pagewalk_client_fn)dlsym(so, PAGEWALK_CLIENT_ENTRY);
	if (!entry) {
		fprintf(stderr, "run_client: %s defines no %s\n", argv[1],
			PAGEWALK_CLIENT_ENTRY);
		return 2;
	}
	if (pw_machine_create(&cfg, &m))
		return 1;
	mm = pw_mm_create(m);
	pw_vma_add(mm, 0x400000, 0xc00000, VM_READ | VM_WRITE, NULL, 0, 0,
		   &err);
	for (i = 0; i < 8; i++)
		pw_mm_set_entry(mm, PW_LEVEL_PTE, 0x400000 + i * 4096UL,
				((uint64_t)(100 + (i == 7 ? 6 : i)) << 12) |
					0x67);
	pw_folio_declare(m, 512, 9);
	pw_mm_set_entry(mm, PW_LEVEL_PMD, 0x600000, (512ULL << 12) | 0xe7);
	pw_page_info_from_mappings(mm);
	status = entry(mm, argc - 1, argv + 1);
	pw_machine_destroy(m);
	dlclose(so);
	return status;
}
