/*
 * pagewalk_client.h - the entry point of a kernel-style walk client built
 * as a shared object, for `pagewalk client ./client.so --pid P [ARGS...]`,
 * for AddressSpace.runKernelClient(path:arguments:) in Swift, and for a C
 * program that loads it over a machine it built (Examples/kernel-client).
 *
 * Build a client with
 *
 *     cc -std=gnu11 -shared -fPIC -I compat -I include client.c -o client.so
 *
 * and define, once, in it:
 *
 *     int pagewalk_client_main(struct mm_struct *mm, int argc, char **argv);
 *
 * The host calls it with the address space to walk (a live process
 * imported into a machine, with the page facts kpageflags and kpagecount
 * gave, or a machine the host built), argc/argv holding the arguments
 * after the shared object's path (argv[0] is that path), and no lock held:
 * the client takes mmap_read_lock() and walks as a system call would.  Its
 * return value is the command's exit status.  The core's symbols
 * (walk_page_range, pw_*) come from the host, which exports them
 * (`pagewalk` and the Swift tests are linked with --export-dynamic; a C
 * host links with -rdynamic).
 */
#ifndef PAGEWALK_CLIENT_H
#define PAGEWALK_CLIENT_H

#include "pagewalk.h"

/** The symbol a host looks up in the shared object. */
#define PAGEWALK_CLIENT_ENTRY "pagewalk_client_main"

/** The type of the entry point. */
typedef int (*pagewalk_client_fn)(struct mm_struct *mm, int argc, char **argv);

/** The entry point a client defines (see above). */
int pagewalk_client_main(struct mm_struct *mm, int argc, char **argv);

#endif /* PAGEWALK_CLIENT_H */
