/// The kernel's VMA flags beyond those the model itself uses (`VMAFlags` has `read`, `write`,
/// `exec`, `shared`, `pfnmap`, `mixedmap`, `hugetlb`), at the kernel's bit positions on x86-64,
/// so that an imported VMA carries the flags `/proc/PID/smaps` shows in `VmFlags`.
extension VMAFlags {
    /// `VM_MAYREAD`: `mprotect` may make the VMA readable.
    public static let mayRead = VMAFlags(rawValue: 0x10)
    /// `VM_MAYWRITE`: `mprotect` may make the VMA writable.
    public static let mayWrite = VMAFlags(rawValue: 0x20)
    /// `VM_MAYEXEC`: `mprotect` may make the VMA executable.
    public static let mayExec = VMAFlags(rawValue: 0x40)
    /// `VM_MAYSHARE`: the mapping was created shared.
    public static let mayShare = VMAFlags(rawValue: 0x80)
    /// `VM_GROWSDOWN`: a stack that grows down.
    public static let growsDown = VMAFlags(rawValue: 0x100)
    /// `VM_UFFD_MISSING`: userfaultfd reports missing pages.
    public static let uffdMissing = VMAFlags(rawValue: 0x200)
    /// The VMA may hold guard regions (`VM_MAYBE_GUARD`, set by `MADV_GUARD_INSTALL`).
    public static let maybeGuard = VMAFlags(rawValue: 0x800)
    /// `VM_UFFD_WP`: userfaultfd write-protection is armed.
    public static let uffdWriteProtect = VMAFlags(rawValue: 0x1000)
    /// `VM_LOCKED`: `mlock`ed; smaps counts its pages as `Locked`.
    public static let locked = VMAFlags(rawValue: 0x2000)
    /// `VM_IO`: memory-mapped I/O.
    public static let io = VMAFlags(rawValue: 0x4000)
    /// `VM_SEQ_READ`: `MADV_SEQUENTIAL`.
    public static let sequentialRead = VMAFlags(rawValue: 0x8000)
    /// `VM_RAND_READ`: `MADV_RANDOM`.
    public static let randomRead = VMAFlags(rawValue: 0x10000)
    /// `VM_DONTCOPY`: not copied on fork (`MADV_DONTFORK`).
    public static let dontCopy = VMAFlags(rawValue: 0x20000)
    /// `VM_DONTEXPAND`: cannot be expanded by `mremap`.
    public static let dontExpand = VMAFlags(rawValue: 0x40000)
    /// `VM_LOCKONFAULT`: pages are locked as they fault in (`MLOCK_ONFAULT`).
    public static let lockOnFault = VMAFlags(rawValue: 0x80000)
    /// `VM_ACCOUNT`: charged to the commit limit.
    public static let account = VMAFlags(rawValue: 0x100000)
    /// `VM_NORESERVE`: no swap space reserved (`MAP_NORESERVE`).
    public static let noReserve = VMAFlags(rawValue: 0x200000)
    /// `VM_SYNC`: synchronous page faults (`MAP_SYNC`).
    public static let sync = VMAFlags(rawValue: 0x800000)
    /// `VM_ARCH_1`: architecture-specific (on x86-64, `VM_PAT`).
    public static let arch1 = VMAFlags(rawValue: 0x1000000)
    /// `VM_WIPEONFORK`: the child sees zeroes (`MADV_WIPEONFORK`).
    public static let wipeOnFork = VMAFlags(rawValue: 0x2000000)
    /// `VM_DONTDUMP`: left out of core dumps (`MADV_DONTDUMP`).
    public static let dontDump = VMAFlags(rawValue: 0x4000000)
    /// `VM_SOFTDIRTY`: every page of the VMA reports soft-dirty until `clear_refs` 4.
    public static let softDirty = VMAFlags(rawValue: 0x8000000)
    /// `VM_HUGEPAGE` (`MADV_HUGEPAGE`).
    public static let hugePage = VMAFlags(rawValue: 0x2000_0000)
    /// `VM_NOHUGEPAGE` (`MADV_NOHUGEPAGE`).
    public static let noHugePage = VMAFlags(rawValue: 0x4000_0000)
    /// `VM_MERGEABLE`: KSM may merge its pages (`MADV_MERGEABLE`).
    public static let mergeable = VMAFlags(rawValue: 0x8000_0000)
    /// `VM_SHADOW_STACK`: a shadow stack.
    public static let shadowStack = VMAFlags(rawValue: 1 << 37)
    /// `VM_DROPPABLE`: pages may be dropped under memory pressure (`MAP_DROPPABLE`).
    public static let droppable = VMAFlags(rawValue: 1 << 40)
    /// `VM_UFFD_MINOR`: userfaultfd reports minor faults.
    public static let uffdMinor = VMAFlags(rawValue: 1 << 41)
    /// `VM_SEALED`: sealed by `mseal`.
    public static let sealed = VMAFlags(rawValue: 1 << 42)
}
