import CWalkCore

/// The callbacks a visitor implements — the fields of the kernel's `struct mm_walk_ops` it sets.
///
/// Only these are passed to the walker, and which ones are set changes the walk as in the kernel:
/// with no handler below a level the walk does not descend, without `pteEntry` a THP is not split,
/// with `installPTE` missing tables are allocated.
public struct WalkCallbacks: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    @inlinable public static var pgdEntry: WalkCallbacks { WalkCallbacks(rawValue: 1 << 0) }
    @inlinable public static var p4dEntry: WalkCallbacks { WalkCallbacks(rawValue: 1 << 1) }
    @inlinable public static var pudEntry: WalkCallbacks { WalkCallbacks(rawValue: 1 << 2) }
    @inlinable public static var pmdEntry: WalkCallbacks { WalkCallbacks(rawValue: 1 << 3) }
    @inlinable public static var pteEntry: WalkCallbacks { WalkCallbacks(rawValue: 1 << 4) }
    @inlinable public static var pteHole: WalkCallbacks { WalkCallbacks(rawValue: 1 << 5) }
    @inlinable public static var hugetlbEntry: WalkCallbacks { WalkCallbacks(rawValue: 1 << 6) }
    @inlinable public static var testWalk: WalkCallbacks { WalkCallbacks(rawValue: 1 << 7) }
    @inlinable public static var preVMA: WalkCallbacks { WalkCallbacks(rawValue: 1 << 8) }
    @inlinable public static var postVMA: WalkCallbacks { WalkCallbacks(rawValue: 1 << 9) }
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
    public let id: UInt32
    public let start: UInt64
    public let end: UInt64
    public let flags: VMAFlags
    public let pgoff: UInt64
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

    @inlinable public init(_ pointer: UnsafeMutablePointer<mm_walk>) { self.pointer = pointer }

    /// What the walker does after this `pudEntry` / `pmdEntry`.
    @inlinable public var action: WalkAction {
        get { WalkAction(rawValue: pointer.pointee.action.rawValue) ?? .subtree }
        nonmutating set { pointer.pointee.action = page_walk_action(rawValue: newValue.rawValue) }
    }

    /// The VMA being walked, nil outside VMAs and in table walks.
    @inlinable public var vma: VMAInfo? {
        guard let v = pointer.pointee.vma else { return nil }
        return VMAInfo(id: v.pointee.id, start: UInt64(v.pointee.vm_start), end: UInt64(v.pointee.vm_end),
                       flags: VMAFlags(rawValue: v.pointee.vm_flags), pgoff: UInt64(v.pointee.vm_pgoff),
                       isAnonymous: pw_vma_is_anonymous(v))
    }

    /// The C VMA being walked, for raw access.
    @inlinable public var vmaPointer: UnsafeMutablePointer<vm_area_struct>? { pointer.pointee.vma }

    /// True when walking tables without VMAs (kernel and debug walks).
    @inlinable public var isTableWalk: Bool { pointer.pointee.no_vma }

    /// The C `struct mm_struct` walked.
    @inlinable public var mm: OpaquePointer? { pointer.pointee.mm }

    /// Runs `body` over the PTEs under the PMD `pmd` (which must be a table) for `range`, holding
    /// the PTE table's lock, as `pte_offset_map_lock` does; nil if the PMD is not a PTE table.
    ///
    /// This is how a `pmdEntry` that handles the whole table itself (as smaps does) reads its PTEs.
    @inlinable
    public func withPTEs<R>(of pmd: UnsafeMutablePointer<PMD>, range: Range<UInt64>,
                            _ body: (UnsafeMutableBufferPointer<PTE>) throws -> R) rethrows -> R? {
        var ptl: OpaquePointer? = nil
        let raw = pmd.withMemoryRebound(to: UInt64.self, capacity: 1) { p in
            pte_offset_map_lock(pointer.pointee.mm, p, UInt(range.lowerBound), &ptl)
        }
        guard let raw else { return nil }
        defer { pte_unmap_unlock(raw, ptl) }
        let count = Int((range.upperBound - range.lowerBound) >> 12)
        return try raw.withMemoryRebound(to: PTE.self, capacity: count) {
            try body(UnsafeMutableBufferPointer(start: $0, count: count))
        }
    }
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

extension PageWalkVisitor {
    @inlinable public mutating func pgdEntry(_ entry: inout PGD, address: UInt64, next: UInt64,
                                             walk: WalkContext) throws -> WalkStep { .proceed }
    @inlinable public mutating func p4dEntry(_ entry: inout P4D, address: UInt64, next: UInt64,
                                             walk: WalkContext) throws -> WalkStep { .proceed }
    @inlinable public mutating func pudEntry(_ entry: inout PUD, address: UInt64, next: UInt64,
                                             walk: WalkContext) throws -> WalkStep { .proceed }
    @inlinable public mutating func pmdEntry(_ entry: inout PMD, address: UInt64, next: UInt64,
                                             walk: WalkContext) throws -> WalkStep { .proceed }
    @inlinable public mutating func pteEntry(_ entry: inout PTE, address: UInt64, next: UInt64,
                                             walk: WalkContext) throws -> WalkStep { .proceed }
    @inlinable public mutating func pteHole(address: UInt64, next: UInt64, depth: Int,
                                            walk: WalkContext) throws -> WalkStep { .proceed }
    @inlinable public mutating func hugetlbEntry(_ entry: inout PTE, hmask: UInt64, address: UInt64, next: UInt64,
                                                 walk: WalkContext) throws -> WalkStep { .proceed }
    @inlinable public mutating func testWalk(address: UInt64, next: UInt64,
                                             walk: WalkContext) throws -> VMAVerdict { .walk }
    @inlinable public mutating func preVMA(start: UInt64, end: UInt64, walk: WalkContext) throws -> WalkStep {
        .proceed
    }
    @inlinable public mutating func postVMA(walk: WalkContext) {}
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
