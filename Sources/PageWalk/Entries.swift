import CWalkCore

/// The walker's levels, top first. Levels a geometry does not have are folded into their parent.
public enum PageTableLevel: Int, CaseIterable, Sendable, CustomStringConvertible {
    case pgd = 0, p4d, pud, pmd, pte

    /// The kernel's name of the level: `pgd`, `p4d`, `pud`, `pmd` or `pte`.
    public var description: String {
        switch self {
        case .pgd: "pgd"
        case .p4d: "p4d"
        case .pud: "pud"
        case .pmd: "pmd"
        case .pte: "pte"
        }
    }

    @inlinable var c: pw_level { pw_level(rawValue: UInt32(rawValue)) }
}

/// The architecture bits of an entry (x86-64 layout).
///
/// The one place in Swift that names entry bits: the model's bits come from `pagewalk.h`'s
/// `PW_PAGE_*`; the others are x86-64's positions for bits the model itself never sets but
/// imported and dumped entries carry.
public struct EntryFlags: OptionSet, Sendable, Hashable {
    /// The raw bits.
    public let rawValue: UInt64
    /// Wraps raw bits.
    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Bit 0: present (valid for the MMU).
    @inlinable public static var present: EntryFlags { EntryFlags(rawValue: PW_PAGE_PRESENT) }
    /// Bit 1: writable.
    @inlinable public static var writable: EntryFlags { EntryFlags(rawValue: PW_PAGE_RW) }
    /// Bit 2: user-accessible.
    @inlinable public static var user: EntryFlags { EntryFlags(rawValue: PW_PAGE_USER) }
    /// Bit 3: page-level write-through (`_PAGE_PWT`).
    @inlinable public static var writeThrough: EntryFlags { EntryFlags(rawValue: 1 << 3) }
    /// Bit 4: page-level cache disable (`_PAGE_PCD`).
    @inlinable public static var cacheDisable: EntryFlags { EntryFlags(rawValue: 1 << 4) }
    /// Bit 5: accessed.
    @inlinable public static var accessed: EntryFlags { EntryFlags(rawValue: PW_PAGE_ACCESSED) }
    /// Bit 6: dirty.
    @inlinable public static var dirty: EntryFlags { EntryFlags(rawValue: PW_PAGE_DIRTY) }
    /// Bit 7: a leaf above the PTE level (PSE); in a PTE, the PAT bit.
    @inlinable public static var huge: EntryFlags { EntryFlags(rawValue: PW_PAGE_HUGE) }
    /// Bit 8: global.
    @inlinable public static var global: EntryFlags { EntryFlags(rawValue: PW_PAGE_GLOBAL) }
    /// Bit 9: a special mapping: no `struct page` to account.
    @inlinable public static var special: EntryFlags { EntryFlags(rawValue: PW_PAGE_SPECIAL) }
    /// Bit 10: userfaultfd write-protected (`_PAGE_UFFD_WP`; the same bit in swap entries here).
    @inlinable public static var uffdWriteProtect: EntryFlags { EntryFlags(rawValue: 1 << 10) }
    /// Bit 11: soft-dirty (the same bit in swap entries here).
    @inlinable public static var softDirty: EntryFlags { EntryFlags(rawValue: PW_PAGE_SOFT_DIRTY) }
    /// Bit 12 of a leaf above the PTE level: the PAT bit (`_PAGE_PAT_LARGE`).
    @inlinable public static var patLarge: EntryFlags { EntryFlags(rawValue: 1 << 12) }
    /// Bit 63: no-execute.
    @inlinable public static var noExecute: EntryFlags { EntryFlags(rawValue: PW_PAGE_NX) }

    /// The PFN field (bits 12..51) of a present entry: not flags, the mask that separates them.
    @inlinable public static var pfnMask: UInt64 { PW_PFN_MASK }

    /// What table allocation writes into a parent entry besides the PFN.
    @inlinable public static var table: EntryFlags { EntryFlags(rawValue: PW_PAGE_TABLE) }
    /// A present, writable, accessed, dirty user page.
    @inlinable public static var userPage: EntryFlags { [.present, .writable, .user, .accessed, .dirty] }
}

/// The bits of a PTE marker (swap type 31).
public struct PTEMarker: OptionSet, Sendable, Hashable {
    /// The raw bits.
    public let rawValue: UInt64
    /// Wraps raw bits.
    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// userfaultfd write-protected.
    @inlinable public static var uffdWriteProtect: PTEMarker { PTEMarker(rawValue: PW_PTE_MARKER_UFFD_WP) }
    /// Poisoned (a memory error was seen here).
    @inlinable public static var poisoned: PTEMarker { PTEMarker(rawValue: PW_PTE_MARKER_POISONED) }
    /// A guard region (`MADV_GUARD_INSTALL`).
    @inlinable public static var guardRegion: PTEMarker { PTEMarker(rawValue: PW_PTE_MARKER_GUARD) }
}

/// Swap types with a meaning of their own (below 24: swap devices).
public enum SwapType {
    /// A hardware-poisoned page.
    public static let hwpoison = UInt8(PW_SWP_HWPOISON)
    /// A read migration entry.
    public static let migrationRead = UInt8(PW_SWP_MIGRATION_READ)
    /// A read-exclusive migration entry.
    public static let migrationReadExclusive = UInt8(PW_SWP_MIGRATION_READ_EXCLUSIVE)
    /// A write migration entry.
    public static let migrationWrite = UInt8(PW_SWP_MIGRATION_WRITE)
    /// The first of the device-private/exclusive types (28...30).
    public static let deviceFirst = UInt8(PW_SWP_DEVICE_FIRST)
    /// A PTE marker; its offset holds ``PTEMarker`` bits.
    public static let marker = UInt8(PW_SWP_PTE_MARKER)
}

/// A page-table entry of some level: 64 bits in the x86-64 layout, with typed accessors.
///
/// `PGD`, `P4D`, `PUD`, `PMD` and `PTE` conform; they differ only in type, so that a
/// callback cannot mistake one level's entry for another's.
public protocol PageTableEntry: RawRepresentable, Hashable, Sendable, CustomStringConvertible
where RawValue == UInt64 {
    init(rawValue: UInt64)
}

extension PageTableEntry {
    /// The empty entry.
    @inlinable public static var none: Self { Self(rawValue: 0) }

    /// A present entry mapping `pfn` with `flags`.
    @inlinable public static func present(pfn: UInt64, flags: EntryFlags = .userPage) -> Self {
        Self(rawValue: (flags.rawValue | EntryFlags.present.rawValue) | ((pfn << 12) & EntryFlags.pfnMask))
    }

    /// An entry pointing at the page table in frame `pfn`, as table allocation writes it.
    @inlinable public static func table(pfn: UInt64) -> Self {
        Self(rawValue: EntryFlags.table.rawValue | ((pfn << 12) & EntryFlags.pfnMask))
    }

    /// A swap entry: type in bits 1..5, offset in bits 12..62.
    @inlinable public static func swap(type: UInt8, offset: UInt64) -> Self {
        Self(rawValue: pw_swp_entry(UInt32(type), offset))
    }

    /// A migration entry for `pfn`.
    @inlinable public static func migration(pfn: UInt64, writable: Bool = false) -> Self {
        swap(type: writable ? SwapType.migrationWrite : SwapType.migrationRead, offset: pfn)
    }

    /// A PTE marker with `marker` bits.
    @inlinable public static func marker(_ marker: PTEMarker) -> Self {
        swap(type: SwapType.marker, offset: marker.rawValue)
    }

    /// The entry is empty.
    @inlinable public var isNone: Bool { rawValue == 0 }
    /// The PRESENT bit is set.
    @inlinable public var isPresent: Bool { rawValue & EntryFlags.present.rawValue != 0 }
    /// The HUGE (PSE) bit is set.
    @inlinable public var isHuge: Bool { rawValue & EntryFlags.huge.rawValue != 0 }
    /// Present and huge: a leaf above the PTE level (trans-huge).
    @inlinable public var isLeaf: Bool {
        let leaf = EntryFlags.present.rawValue | EntryFlags.huge.rawValue
        return rawValue & leaf == leaf
    }
    /// The architecture bits other than the PFN.
    @inlinable public var flags: EntryFlags { EntryFlags(rawValue: rawValue & ~EntryFlags.pfnMask) }
    /// The frame number of a present entry.
    @inlinable public var pfn: UInt64 { (rawValue & EntryFlags.pfnMask) >> 12 }
    /// The writable (RW) bit is set.
    @inlinable public var isWritable: Bool { rawValue & EntryFlags.writable.rawValue != 0 }
    /// The user-accessible bit is set.
    @inlinable public var isUser: Bool { rawValue & EntryFlags.user.rawValue != 0 }
    /// The accessed bit is set.
    @inlinable public var isAccessed: Bool { rawValue & EntryFlags.accessed.rawValue != 0 }
    /// The dirty bit is set.
    @inlinable public var isDirty: Bool { rawValue & EntryFlags.dirty.rawValue != 0 }
    /// The special bit is set: no `struct page` to account (`pte_special`).
    @inlinable public var isSpecial: Bool { rawValue & EntryFlags.special.rawValue != 0 }
    /// The soft-dirty bit is set (present or swap entry).
    @inlinable public var isSoftDirty: Bool { rawValue & EntryFlags.softDirty.rawValue != 0 }
    /// The userfaultfd write-protect bit is set (present or swap entry; markers have their own).
    @inlinable public var isUffdWriteProtected: Bool { rawValue & EntryFlags.uffdWriteProtect.rawValue != 0 }
    /// The no-execute bit is set.
    @inlinable public var isNoExecute: Bool { rawValue & EntryFlags.noExecute.rawValue != 0 }

    /// Not present and not empty: a swap, migration, device or marker entry.
    @inlinable public var isSwap: Bool { rawValue != 0 && !isPresent }
    /// The swap type of a swap entry, nil otherwise.
    @inlinable public var swapType: UInt8? { isSwap ? UInt8(pw_swp_type(rawValue)) : nil }
    /// The swap offset of a swap entry (the PFN of a migration entry), nil otherwise.
    @inlinable public var swapOffset: UInt64? { isSwap ? pw_swp_offset(rawValue) : nil }
    /// A migration entry (types 25..27).
    @inlinable public var isMigration: Bool { pw_is_migration_entry(rawValue) }
    /// The marker bits of a PTE marker, nil otherwise.
    @inlinable public var marker: PTEMarker? {
        swapType == SwapType.marker ? PTEMarker(rawValue: pw_swp_offset(rawValue)) : nil
    }

    /// The value in hex.
    public var description: String { "0x" + String(rawValue, radix: 16) }
}

/// A top-level entry.
@frozen public struct PGD: PageTableEntry {
    /// The 64 bits of the entry, as the table holds them.
    public var rawValue: UInt64
    /// Wraps raw bits.
    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }
}

/// A P4D entry (real with 5 levels).
@frozen public struct P4D: PageTableEntry {
    /// The 64 bits of the entry, as the table holds them.
    public var rawValue: UInt64
    /// Wraps raw bits.
    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }
}

/// A PUD entry (1 GiB per entry with 4 or 5 levels).
@frozen public struct PUD: PageTableEntry {
    /// The 64 bits of the entry, as the table holds them.
    public var rawValue: UInt64
    /// Wraps raw bits.
    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }
}

/// A PMD entry (2 MiB per entry).
@frozen public struct PMD: PageTableEntry {
    /// The 64 bits of the entry, as the table holds them.
    public var rawValue: UInt64
    /// Wraps raw bits.
    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }
}

/// A PTE: one 4 KiB page.
@frozen public struct PTE: PageTableEntry {
    /// The 64 bits of the entry, as the table holds them.
    public var rawValue: UInt64
    /// Wraps raw bits.
    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }
}

/// The shape of a machine's page tables.
public struct Geometry: Sendable, Hashable {
    /// 2, 3, 4 or 5.
    public let levels: Int
    /// The address shift of each level (a folded level has its parent's).
    public let shifts: [Int]
    /// Which levels are folded into their parent.
    public let folded: [Bool]
    /// Virtual address bits: 30, 39, 48 or 57.
    public let virtualAddressBits: Int
    /// The first kernel address: `1 << (virtualAddressBits - 1)`.
    public let taskSize: UInt64

    init(_ g: pw_geometry) {
        levels = Int(g.levels)
        shifts = withUnsafeBytes(of: g.shift) { Array($0.bindMemory(to: UInt32.self)).map(Int.init) }
        folded = withUnsafeBytes(of: g.folded) { Array($0.bindMemory(to: Bool.self)) }
        virtualAddressBits = Int(g.va_bits)
        taskSize = g.task_size
    }

    /// The levels that are real in this geometry, top first.
    public var realLevels: [PageTableLevel] {
        PageTableLevel.allCases.filter { !folded[$0.rawValue] }
    }

    /// The size covered by one entry of `level`.
    public func entrySize(_ level: PageTableLevel) -> UInt64 { 1 << UInt64(shifts[level.rawValue]) }
}
