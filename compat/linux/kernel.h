/* <linux/kernel.h>: the kernel-compatibility layer (see pw_compat.h).  glibc's own
 * headers include this name too (<fcntl.h>, <sys/sysinfo.h>): from there
 * (nested, before any compat header) it is the system's uapi header, so that
 * -I compat does not reach files that are not kernel-style. */
#if __INCLUDE_LEVEL__ > 1 && !defined(PW_COMPAT_H)
#include_next <linux/kernel.h>
#else
#include "../pw_compat.h"
#endif
