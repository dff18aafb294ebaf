import CWalkCore

/// The callbacks a visitor implements — the fields of the kernel's `struct mm_walk_ops` it sets.
///
/// Only these are passed to the walker, and which ones are set changes the walk as in the kernel:
/// with no handler below a level the walk does not descend, without `pteEntry` a THP is not split,
/// with `installPTE` missing tables are allocated.
public struct WalkCallbacks: OptionSet, Sendable, Hashable {
    /// The raw bits.
    public let rawValue: UInt32
    /// Wraps raw bits.
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// ``PageWalkVisitor/pgdEntry(_:address:next:walk:)``.
    @inlinable public static var pgdEntry: WalkCallbacks { WalkCallbacks(rawValue: 1 << 0) }
    /// ``PageWalkVisitor/p4dEntry(_:address:next:walk:)``.
    @inlinable public static var p4dEntry: WalkCallbacks { WalkCallbacks(rawValue: 1 << 1) }
    /// ``PageWalkVisitor/pudEntry(_:address:next:walk:)``.
    @inlinable public static var pudEntry: WalkCallbacks { WalkCallbacks(rawValue: 1 << 2) }
    /// ``PageWalkVisitor/pmdEntry(_:address:next:walk:)``.
    @inlinable public static var pmdEntry: WalkCallbacks { WalkCallbacks(rawValue: 1 << 3) }
    /// ``PageWalkVisitor/pteEntry(_:address:next:walk:)``.
    @inlinable public static var pteEntry: WalkCallbacks { WalkCallbacks(rawValue: 1 << 4) }
    /// ``PageWalkVisitor/pteHole(address:next:depth:walk:)``.
    @inlinable public static var pteHole: WalkCallbacks { WalkCallbacks(rawValue: 1 << 5) }
    /// ``PageWalkVisitor/hugetlbEntry(_:hmask:address:next:walk:)``.
    @inlinable public static var hugetlbEntry: WalkCallbacks { WalkCallbacks(rawValue: 1 << 6) }
    /// ``PageWalkVisitor/testWalk(address:next:walk:)``.
    @inlinable public static var testWalk: WalkCallbacks { WalkCallbacks(rawValue: 1 << 7) }
    /// ``PageWalkVisitor/preVMA(start:end:walk:)``.
    @inlinable public static var preVMA: WalkCallbacks { WalkCallbacks(rawValue: 1 << 8) }
    /// ``PageWalkVisitor/postVMA(walk:)``.
    @inlinable public static var postVMA: WalkCallbacks { WalkCallbacks(rawValue: 1 << 9) }
    /// ``PageWalkVisitor/installPTE(address:next:walk:)``.
    @inlinable public static var installPTE: WalkCallbacks { WalkCallbacks(rawValue: 1 << 10) }
}

/// What a callback tells the walker: go on, or stop and return a positive value to the caller.
///
/// Errors are thrown instead: they end the walk and the walk function rethrows them.
@frozen public struct WalkStep: Equatable, Sendable {
    /// 0 to go on, > 0 to stop.
    public let rawValue: Int32

    @inlinable init(raw: Int32) { rawValue = raw }

    /// Go on with the walk.
    @inlinable public static var proceed: WalkStep { WalkStep(raw: 0) }

    /// End the walk and return `value` (which must be positive) to the caller.
    @inlinable public static func stop(_ value: Int32) -> WalkStep {
        precondition(value > 0, "a stop value must be positive; throw an error instead")
        return WalkStep(raw: value)
    }
}

/// What `testWalk` decides for a VMA.
public enum VMAVerdict: Sendable, Equatable {
    /// Walk the VMA's page tables.
    case walk
    /// Skip the VMA.
    case skip
}

/// What `installPTE` decides for an empty PTE.
public enum InstallStep: Sendable, Equatable {
    /// Write this PTE.
    case install(PTE)
    /// Write nothing and end the walk, returning `value` (positive) to the caller.
    case stop(Int32)
}

/// What the walker does after `pudEntry` / `pmdEntry` returns (the kernel's `walk->action`).
public enum WalkAction: UInt32, Sendable {
    /// Descend to the next level, splitting huge entries if a handler below needs it (the default).
    case subtree = 0
    /// Go on with the next entry of this level, skipping the subtree (`ACTION_CONTINUE`).
    case `continue` = 1
    /// Call the callback again for the same entry (`ACTION_AGAIN`).
    case again = 2
}

/// The few facts of a VMA a callback usually needs, copied out (no reference is kept).
@frozen public struct VMAInfo: Sendable, Equatable {
    /// Its number: 1, 2, ... in order of creation (as ``VMA/id``).
    public let id: UInt32
    /// The VMA's first address.
    public let start: UInt64
    /// The first address after the VMA.
    public let end: UInt64
    /// Its flags.
    public let flags: VMAFlags
    /// The file offset of `start`, in pages.
    public let pgoff: UInt64
    /// No file, neither pfnmap nor mixedmap.
    public let isAnonymous: Bool

    @usableFromInline
    init(id: UInt32, start: UInt64, end: UInt64, flags: VMAFlags, pgoff: UInt64, isAnonymous: Bool) {
        self.id = id
        self.start = start
        self.end = end
        self.flags = flags
        self.pgoff = pgoff
        self.isAnonymous = isAnonymous
    }
}

/// The state of a walk, given to every callback (the kernel's `struct mm_walk`).
///
/// A thin wrapper of a pointer: copying it costs nothing; it is valid during the callback only.
@frozen public struct WalkContext {
    /// The C `struct mm_walk`, for raw access.
    public let pointer: UnsafeMutablePointer<mm_walk>

    /// Wraps a C walk state.
    @inlinable public init(_ pointer: UnsafeMutablePointer<mm_walk>) { self.pointer = pointer }

    /// What the walker does after this `pudEntry` / `pmdEntry`.
    @inlinable public var action: WalkAction {
        get { WalkAction(rawValue: pointer.pointee.action.rawValue) ?? .subtree }
        nonmutating set { pointer.pointee.action = page_walk_action(rawValue: newValue.rawValue) }
    }

    /// The VMA being walked, nil outside VMAs and in table walks.
    @inlinable public var vma: VMAInfo? {
        pointer.pointee.vma.map(VMAInfo.init)
    }

    /// The C VMA being walked, for raw access.
    @inlinable public var vmaPointer: UnsafeMutablePointer<vm_area_struct>? { pointer.pointee.vma }

    /// True when walking tables without VMAs (kernel and debug walks).
    @inlinable public var isTableWalk: Bool { pointer.pointee.no_vma }

    /// The C `struct mm_struct` walked.
    @inlinable public var mm: OpaquePointer? { pointer.pointee.mm }

    /// Runs `body` over the PTEs under the PMD `pmd` for `range`, holding the PTE table's lock, as
    /// `pte_offset_map_lock` does. Returns nil — without calling `body` — when the PMD is not a PTE
    /// table (none, a leaf, a migration entry; a bad one is reported and cleared, as the kernel
    /// does), or when `range` is empty, unaligned or not inside one PMD's span.
    ///
    /// This is how a `pmdEntry` that handles the whole table itself (as smaps does) reads its PTEs.
    @inlinable
    public func withPTEs<R>(of pmd: inout PMD, range: Range<UInt64>,
                            _ body: (PTETableSlice) throws -> R) rethrows -> R? {
        guard let mm = pointer.pointee.mm else { return nil }
        let span = UInt64(1) << UInt64(pw_machine_layout(pw_mm_machine(mm)).pointee.geo.shift.3)
        guard !range.isEmpty, range.lowerBound & 0xfff == 0, range.upperBound & 0xfff == 0,
              range.lowerBound / span == (range.upperBound - 1) / span else { return nil }
        var ptl: OpaquePointer? = nil
        let raw = withUnsafeMutablePointer(to: &pmd) { p in
            p.withMemoryRebound(to: UInt64.self, capacity: 1) { pte_offset_map_lock(mm, $0, UInt(range.lowerBound), &ptl) }
        }
        guard let raw else { return nil }
        defer { pte_unmap_unlock(raw, ptl) }
        let count = Int((range.upperBound - range.lowerBound) >> 12)
        return try raw.withMemoryRebound(to: PTE.self, capacity: count) {
            try body(PTETableSlice(base: $0, startAddress: range.lowerBound, count: count))
        }
    }
}

/// The PTEs of one PTE table over a range of addresses, read and written in place while the
/// table's lock is held (inside ``WalkContext/withPTEs(of:range:_:)``); index 0 maps `startAddress`.
@frozen public struct PTETableSlice: RandomAccessCollection, MutableCollection {
    @usableFromInline let base: UnsafeMutablePointer<PTE>
    /// The address the first PTE maps.
    public let startAddress: UInt64
    /// The number of PTEs.
    public let count: Int

    @inlinable init(base: UnsafeMutablePointer<PTE>, startAddress: UInt64, count: Int) {
        self.base = base
        self.startAddress = startAddress
        self.count = count
    }

    /// 0.
    @inlinable public var startIndex: Int { 0 }
    /// `count`.
    @inlinable public var endIndex: Int { count }

    /// The PTE at `index`; writing it writes the page table.
    @inlinable public subscript(index: Int) -> PTE {
        get {
            precondition(index >= 0 && index < count, "PTE index out of range")
            return base[index]
        }
        nonmutating set {
            precondition(index >= 0 && index < count, "PTE index out of range")
            base[index] = newValue
        }
    }

    /// The address the PTE at `index` maps.
    @inlinable public func address(at index: Int) -> UInt64 { startAddress + UInt64(index) * 4096 }
}

/// A page-table visitor: the Swift form of the kernel's `struct mm_walk_ops`.
///
/// Implement the callbacks you need and list them in `callbacks`; the others keep their default
/// implementations and are never called. Each entry callback gets the entry `inout` (writing it
/// writes the page table) with the range `[address, next)` it covers, and the walk's context.
///
/// ```swift
/// struct PresentCounter: PageWalkVisitor {
///     var present = 0
///     var callbacks: WalkCallbacks { .pteEntry }
///     mutating func pteEntry(_ pte: inout PTE, address: UInt64, next: UInt64,
///                            walk: WalkContext) throws -> WalkStep {
///         if pte.isPresent { present += 1 }
///         return .proceed
///     }
/// }
/// ```
public protocol PageWalkVisitor {
    /// The callbacks this visitor implements. Only these are called.
    var callbacks: WalkCallbacks { get }

    /// Each top-level entry that is not none (also when the level is folded).
    mutating func pgdEntry(_ entry: inout PGD, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep
    /// Each P4D entry that is not none (also when the level is folded).
    mutating func p4dEntry(_ entry: inout P4D, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep
    /// Each PUD entry that is not none; may set `walk.action`.
    mutating func pudEntry(_ entry: inout PUD, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep
    /// Each PMD entry that is not none, trans-huge ones included; may set `walk.action`.
    mutating func pmdEntry(_ entry: inout PMD, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep
    /// Each PTE, empty ones included (with `installPTE`: populated ones only).
    mutating func pteEntry(_ entry: inout PTE, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep
    /// Each hole: `depth` 0 (PGD) to 3 (PMD), folded levels skipped; -1 when unknown.
    mutating func pteHole(address: UInt64, next: UInt64, depth: Int, walk: WalkContext) throws -> WalkStep
    /// Each entry of a hugetlb VMA (a PUD or PMD entry), with the huge page mask.
    mutating func hugetlbEntry(_ entry: inout PTE, hmask: UInt64, address: UInt64, next: UInt64,
                               walk: WalkContext) throws -> WalkStep
    /// Decides whether to walk a VMA; throwing aborts the walk.
    mutating func testWalk(address: UInt64, next: UInt64, walk: WalkContext) throws -> VMAVerdict
    /// Before a VMA is walked.
    mutating func preVMA(start: UInt64, end: UInt64, walk: WalkContext) throws -> WalkStep
    /// After a VMA whose `preVMA` succeeded was walked (also after an error).
    mutating func postVMA(walk: WalkContext)
    /// The PTE to install over an empty PTE (only `walkPageRangeMM` accepts this callback).
    mutating func installPTE(address: UInt64, next: UInt64, walk: WalkContext) throws -> InstallStep
}

/// The defaults: a callback a visitor does not implement does nothing (and, not being listed in
/// `callbacks`, is never called).
extension PageWalkVisitor {
    /// Does nothing.
    @inlinable public mutating func pgdEntry(_ entry: inout PGD, address: UInt64, next: UInt64,
                                             walk: WalkContext) throws -> WalkStep { .proceed }
    /// Does nothing.
    @inlinable public mutating func p4dEntry(_ entry: inout P4D, address: UInt64, next: UInt64,
                                             walk: WalkContext) throws -> WalkStep { .proceed }
    /// Does nothing.
    @inlinable public mutating func pudEntry(_ entry: inout PUD, address: UInt64, next: UInt64,
                                             walk: WalkContext) throws -> WalkStep { .proceed }
    /// Does nothing.
    @inlinable public mutating func pmdEntry(_ entry: inout PMD, address: UInt64, next: UInt64,
                                             walk: WalkContext) throws -> WalkStep { .proceed }
    /// Does nothing.
    @inlinable public mutating func pteEntry(_ entry: inout PTE, address: UInt64, next: UInt64,
                                             walk: WalkContext) throws -> WalkStep { .proceed }
    /// Does nothing.
    @inlinable public mutating func pteHole(address: UInt64, next: UInt64, depth: Int,
                                            walk: WalkContext) throws -> WalkStep { .proceed }
    /// Does nothing.
    @inlinable public mutating func hugetlbEntry(_ entry: inout PTE, hmask: UInt64, address: UInt64, next: UInt64,
                                                 walk: WalkContext) throws -> WalkStep { .proceed }
    /// Does nothing.
    @inlinable public mutating func testWalk(address: UInt64, next: UInt64,
                                             walk: WalkContext) throws -> VMAVerdict { .walk }
    /// Does nothing.
    @inlinable public mutating func preVMA(start: UInt64, end: UInt64, walk: WalkContext) throws -> WalkStep {
        .proceed
    }
    /// Does nothing.
    @inlinable public mutating func postVMA(walk: WalkContext) {}
    /// Does nothing.
    @inlinable public mutating func installPTE(address: UInt64, next: UInt64,
                                               walk: WalkContext) throws -> InstallStep { .install(.none) }
}

/// How a walk ended without an error.
public enum WalkResult: Equatable, Sendable {
    /// The whole range was walked.
    case completed
    /// A callback stopped the walk with this positive value.
    case stopped(Int32)

    /// The kernel's return value: 0 or the stop value.
    public var rawValue: Int32 {
        switch self {
        case .completed: 0
        case .stopped(let v): v
        }
    }
}

/// The lock requirement of a walk (the kernel's `ops->walk_lock`).
public enum WalkLock: UInt32, Sendable {
    /// The mmap_lock must be held for read (asserted).
    case read = 0
    /// Each VMA is write-locked during the walk (the mmap write lock is asserted).
    case write = 1
    /// Each VMA must already be write-locked.
    case writeVerify = 2
    /// Each VMA must already be read-locked; the mmap_lock is not asserted.
    case vmaReadVerify = 3
}

/// Which walker runs a walk.
public enum WalkEngine: Sendable {
    /// The C core (`CWalkCore`), calling back into the visitor.
    case c
    /// The pure-Swift walker over the same machine.
    case swift
}
