import PageWalk
// The formats of the /proc files an import reads: /proc/PID/pagemap entries,
// /proc/kpageflags bits, and the VMA flags that /proc/PID/smaps names in `VmFlags`.
// (Documentation/admin-guide/mm/pagemap.rst and fs/proc/task_mmu.c.)

/// One 64-bit entry of `/proc/PID/pagemap`: what the kernel reports for one virtual page.
///
/// Bits 0..54 hold the PFN of a present page, or the swap type (bits 0..4) and offset (bits
/// 5..54) of a swapped page; bit 55 soft-dirty, 56 exclusively mapped, 57 userfaultfd
/// write-protected, 58 guard region, 61 file page or shared anonymous, 62 swapped, 63 present.
@frozen public struct PagemapEntry: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The 64 bits as `/proc/PID/pagemap` holds them.
    public var rawValue: UInt64
    /// Wraps raw bits.
    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Mask of the frame field (bits 0..54).
    public static let frameMask: UInt64 = (1 << 55) - 1
    /// Bit 55: the page was written since soft-dirty was last cleared (`PM_SOFT_DIRTY`).
    public static let softDirtyBit: UInt64 = 1 << 55
    /// Bit 56: the page is mapped exclusively, by this process only (`PM_MMAP_EXCLUSIVE`).
    public static let exclusiveBit: UInt64 = 1 << 56
    /// Bit 57: userfaultfd write-protected (`PM_UFFD_WP`).
    public static let uffdWriteProtectBit: UInt64 = 1 << 57
    /// Bit 58: a guard region (`PM_GUARD_REGION`).
    public static let guardRegionBit: UInt64 = 1 << 58
    /// Bit 61: a file page or shared anonymous memory (`PM_FILE`).
    public static let fileBit: UInt64 = 1 << 61
    /// Bit 62: swapped, or another non-present entry with a type (`PM_SWAP`).
    public static let swapBit: UInt64 = 1 << 62
    /// Bit 63: present in memory (`PM_PRESENT`).
    public static let presentBit: UInt64 = 1 << 63
    /// `MAX_SWAPFILES_SHIFT`: the swap type's width in the frame field of a swapped page.
    public static let swapTypeBits: UInt64 = 5

    /// The frame field: a PFN (present), or type | offset << 5 (swapped).
    @inlinable public var frame: UInt64 { rawValue & Self.frameMask }
    /// Bit 63: present.
    @inlinable public var isPresent: Bool { rawValue & Self.presentBit != 0 }
    /// Bit 62: swapped (or migration, device, marker).
    @inlinable public var isSwapped: Bool { rawValue & Self.swapBit != 0 }
    /// Bit 61: a file page or shared anonymous memory.
    @inlinable public var isFileOrSharedAnon: Bool { rawValue & Self.fileBit != 0 }
    /// Bit 56: mapped by this process only.
    @inlinable public var isExclusive: Bool { rawValue & Self.exclusiveBit != 0 }
    /// Bit 55: soft-dirty.
    @inlinable public var isSoftDirty: Bool { rawValue & Self.softDirtyBit != 0 }
    /// Bit 57: userfaultfd write-protected.
    @inlinable public var isUffdWriteProtected: Bool { rawValue & Self.uffdWriteProtectBit != 0 }
    /// Bit 58: a guard region.
    @inlinable public var isGuardRegion: Bool { rawValue & Self.guardRegionBit != 0 }
    /// The PFN of a present page (0 when the reader may not see PFNs).
    @inlinable public var pfn: UInt64? { isPresent ? frame : nil }
    /// The swap type of a swapped page.
    @inlinable public var swapType: UInt8? { isSwapped ? UInt8(frame & 31) : nil }
    /// The swap offset of a swapped page (a PFN for migration entries).
    @inlinable public var swapOffset: UInt64? { isSwapped ? frame >> Self.swapTypeBits : nil }

    /// Builds an entry the way the kernel's `make_pme` does.
    @inlinable public init(frame: UInt64, flags: UInt64) {
        rawValue = (frame & Self.frameMask) | flags
    }

    /// The entry as 16 hex digits.
    public var description: String {
        let hex = String(rawValue, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// The bits of `/proc/kpageflags` (include/uapi/linux/kernel-page-flags.h and the kernel-internal
/// ones above bit 31, fs/proc/page.c).
public struct KPageFlags: OptionSet, Hashable, Sendable {
    /// The 64 bits as `/proc/kpageflags` holds them.
    public let rawValue: UInt64
    /// Wraps raw bits.
    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// `KPF_LOCKED`: the page is locked (I/O in progress).
    public static let locked = KPageFlags(rawValue: 1 << 0)
    /// `KPF_ERROR`: an I/O error occurred.
    public static let error = KPageFlags(rawValue: 1 << 1)
    /// `KPF_REFERENCED`: referenced since last scanned.
    public static let referenced = KPageFlags(rawValue: 1 << 2)
    /// `KPF_UPTODATE`: the contents are valid.
    public static let uptodate = KPageFlags(rawValue: 1 << 3)
    /// `KPF_DIRTY`: modified, not yet written back.
    public static let dirty = KPageFlags(rawValue: 1 << 4)
    /// `KPF_LRU`: on an LRU list.
    public static let lru = KPageFlags(rawValue: 1 << 5)
    /// `KPF_ACTIVE`: on the active LRU list.
    public static let active = KPageFlags(rawValue: 1 << 6)
    /// `KPF_SLAB`: owned by the slab allocator.
    public static let slab = KPageFlags(rawValue: 1 << 7)
    /// `KPF_WRITEBACK`: being written back.
    public static let writeback = KPageFlags(rawValue: 1 << 8)
    /// `KPF_RECLAIM`: to be reclaimed soon.
    public static let reclaim = KPageFlags(rawValue: 1 << 9)
    /// `KPF_BUDDY`: free, in the buddy allocator.
    public static let buddy = KPageFlags(rawValue: 1 << 10)
    /// `KPF_MMAP`: mapped into some address space.
    public static let mmap = KPageFlags(rawValue: 1 << 11)
    /// `KPF_ANON`: anonymous memory.
    public static let anon = KPageFlags(rawValue: 1 << 12)
    /// `KPF_SWAPCACHE`: in the swap cache.
    public static let swapCache = KPageFlags(rawValue: 1 << 13)
    /// `KPF_SWAPBACKED`: backed by swap (anonymous or shmem).
    public static let swapBacked = KPageFlags(rawValue: 1 << 14)
    /// `KPF_COMPOUND_HEAD`: the head page of a compound page.
    public static let compoundHead = KPageFlags(rawValue: 1 << 15)
    /// `KPF_COMPOUND_TAIL`: a tail page of a compound page.
    public static let compoundTail = KPageFlags(rawValue: 1 << 16)
    /// A hugetlb page.
    public static let huge = KPageFlags(rawValue: 1 << 17)
    /// `KPF_UNEVICTABLE`: on the unevictable list.
    public static let unevictable = KPageFlags(rawValue: 1 << 18)
    /// `KPF_HWPOISON`: hardware-poisoned.
    public static let hwpoison = KPageFlags(rawValue: 1 << 19)
    /// No struct page: a hole in physical memory.
    public static let noPage = KPageFlags(rawValue: 1 << 20)
    /// `KPF_KSM`: merged by KSM.
    public static let ksm = KPageFlags(rawValue: 1 << 21)
    /// A transparent huge page (any order), or the huge zero page.
    public static let thp = KPageFlags(rawValue: 1 << 22)
    /// `KPF_OFFLINE`: logically offline.
    public static let offline = KPageFlags(rawValue: 1 << 23)
    /// The zero page or the huge zero page.
    public static let zeroPage = KPageFlags(rawValue: 1 << 24)
    /// `KPF_IDLE`: not accessed since marked idle.
    public static let idle = KPageFlags(rawValue: 1 << 25)
    /// `KPF_PGTABLE`: a page table.
    public static let pageTable = KPageFlags(rawValue: 1 << 26)
    /// `KPF_RESERVED` (kernel-internal): reserved.
    public static let reserved = KPageFlags(rawValue: 1 << 32)
    /// `KPF_MLOCKED` (kernel-internal): mlocked.
    public static let mlocked = KPageFlags(rawValue: 1 << 33)

    /// Part of a compound page (head or tail).
    @inlinable public var isCompound: Bool { !isDisjoint(with: [.compoundHead, .compoundTail]) }
}

/// The `VmFlags:` line of `/proc/PID/smaps`: the kernel's mnemonics for ``VMAFlags``.
extension VMAFlags {
    /// `VmFlags` mnemonics in the kernel's order (its bit order), with their flags.
    public static let mnemonics: [(String, VMAFlags)] = [
        ("rd", .read), ("wr", .write), ("ex", .exec), ("sh", .shared), ("mr", .mayRead), ("mw", .mayWrite),
        ("me", .mayExec), ("ms", .mayShare), ("gd", .growsDown), ("um", .uffdMissing), ("pf", .pfnmap),
        ("gu", .maybeGuard), ("uw", .uffdWriteProtect), ("lo", .locked), ("io", .io), ("sr", .sequentialRead),
        ("rr", .randomRead), ("dc", .dontCopy), ("de", .dontExpand), ("lf", .lockOnFault), ("ac", .account),
        ("nr", .noReserve), ("ht", .hugetlb), ("sf", .sync), ("ar", .arch1), ("wf", .wipeOnFork),
        ("dd", .dontDump), ("sd", .softDirty), ("mm", .mixedmap), ("hg", .hugePage), ("nh", .noHugePage),
        ("mg", .mergeable), ("ss", .shadowStack), ("dp", .droppable), ("ui", .uffdMinor), ("sl", .sealed),
    ]

    /// Parses the mnemonics of a `VmFlags:` line; unknown ones are returned apart.
    public static func parse(vmFlags text: Substring) -> (flags: VMAFlags, unknown: [String]) {
        var flags: VMAFlags = []
        var unknown: [String] = []
        for word in text.split(separator: " ") {
            if let (_, f) = mnemonics.first(where: { $0.0 == word }) { flags.insert(f) } else { unknown.append(String(word)) }
        }
        return (flags, unknown)
    }

    /// The `VmFlags:` mnemonics of these flags, in the kernel's order.
    public var vmFlagsText: String {
        Self.mnemonics.filter { contains($0.1) }.map { $0.0 + " " }.joined()
    }
}
