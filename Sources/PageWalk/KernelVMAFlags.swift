/// The kernel's VMA flags beyond those the model itself uses (`VMAFlags` has `read`, `write`,
/// `exec`, `shared`, `pfnmap`, `mixedmap`, `hugetlb`), at the kernel's bit positions on x86-64,
/// so that an imported VMA carries the flags `/proc/PID/smaps` shows in `VmFlags`.
extension VMAFlags {
    public static let mayRead = VMAFlags(rawValue: 0x10)
    public static let mayWrite = VMAFlags(rawValue: 0x20)
    public static let mayExec = VMAFlags(rawValue: 0x40)
    public static let mayShare = VMAFlags(rawValue: 0x80)
    public static let growsDown = VMAFlags(rawValue: 0x100)
    public static let uffdMissing = VMAFlags(rawValue: 0x200)
    /// The VMA may hold guard regions (`VM_MAYBE_GUARD`, set by `MADV_GUARD_INSTALL`).
    public static let maybeGuard = VMAFlags(rawValue: 0x800)
    public static let uffdWriteProtect = VMAFlags(rawValue: 0x1000)
    public static let locked = VMAFlags(rawValue: 0x2000)
    public static let io = VMAFlags(rawValue: 0x4000)
    public static let sequentialRead = VMAFlags(rawValue: 0x8000)
    public static let randomRead = VMAFlags(rawValue: 0x10000)
    public static let dontCopy = VMAFlags(rawValue: 0x20000)
    public static let dontExpand = VMAFlags(rawValue: 0x40000)
    public static let lockOnFault = VMAFlags(rawValue: 0x80000)
    public static let account = VMAFlags(rawValue: 0x100000)
    public static let noReserve = VMAFlags(rawValue: 0x200000)
    public static let sync = VMAFlags(rawValue: 0x800000)
    public static let arch1 = VMAFlags(rawValue: 0x1000000)
    public static let wipeOnFork = VMAFlags(rawValue: 0x2000000)
    public static let dontDump = VMAFlags(rawValue: 0x4000000)
    /// `VM_SOFTDIRTY`: every page of the VMA reports soft-dirty until `clear_refs` 4.
    public static let softDirty = VMAFlags(rawValue: 0x8000000)
    /// `VM_HUGEPAGE` (`MADV_HUGEPAGE`).
    public static let hugePage = VMAFlags(rawValue: 0x2000_0000)
    /// `VM_NOHUGEPAGE` (`MADV_NOHUGEPAGE`).
    public static let noHugePage = VMAFlags(rawValue: 0x4000_0000)
    public static let mergeable = VMAFlags(rawValue: 0x8000_0000)
    public static let shadowStack = VMAFlags(rawValue: 1 << 37)
    public static let droppable = VMAFlags(rawValue: 1 << 40)
    public static let uffdMinor = VMAFlags(rawValue: 1 << 41)
    public static let sealed = VMAFlags(rawValue: 1 << 42)
}
