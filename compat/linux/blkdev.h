/* <linux/blkdev.h>: the kernel-compatibility layer (see pw_compat.h). */
#include "../pw_compat.h"
