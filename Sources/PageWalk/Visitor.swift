import CWalkCore

/// A set of callbacks — the fields of the kernel's `struct mm_walk_ops`.
///
/// A visitor's set is derived from what it implements (``PageWalkVisitor/implementedCallbacks``);
/// only those are passed to the walker, and which ones are set changes the walk as in the kernel:
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
    /// Every callback.
    @inlinable public static var all: WalkCallbacks { WalkCallbacks(rawValue: (1 << 11) - 1) }
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
/// Implement the callbacks you need; nothing else is declared. The walk passes the kernel walker
/// exactly the callbacks the visitor implements (``implementedCallbacks``), so an implemented
/// callback cannot be left out, and which ones are implemented changes the walk as in the kernel:
/// with no handler below a level the walk does not descend, without `pteEntry` a THP is not
/// split, with `installPTE` missing tables are allocated. Each entry callback gets the entry
/// `inout` (writing it writes the page table) with the range `[address, next)` it covers, and the
/// walk's context.
///
/// ```swift
/// struct PresentCounter: PageWalkVisitor {
///     var present = 0
///     mutating func pteEntry(_ pte: inout PTE, address: UInt64, next: UInt64,
///                            walk: WalkContext) throws -> WalkStep {
///         if pte.isPresent { present += 1 }
///         return .proceed
///     }
/// }
/// ```
///
/// How the set is derived: each callback's result type is an associated type (`PTEEntryResult`,
/// ...) that Swift infers from the method the visitor declares; a callback the visitor does not
/// declare keeps the default implementation, whose result type is ``UnimplementedCallback``. The
/// test is a type comparison, decided when the walk is specialized for the visitor type: it
/// costs nothing per entry. A callback declared with a result type other than the documented
/// one (say `pmdEntry(...) -> Int32`) is not ignored either: the walk throws
/// ``PageWalkVisitorError`` before it starts. A callback whose argument labels are misspelled
/// is not a callback; when the conformance is declared on the extension that holds it, Swift
/// warns that it "nearly matches" the requirement.
///
/// A visitor whose callbacks are chosen at run time (a replayer, a test that draws them at
/// random) implements them all and names the ones a walk must not see in ``disabledCallbacks``.
public protocol PageWalkVisitor {
    /// The result of ``pgdEntry(_:address:next:walk:)``: ``WalkStep`` when implemented.
    associatedtype PGDEntryResult = UnimplementedCallback
    /// The result of ``p4dEntry(_:address:next:walk:)``: ``WalkStep`` when implemented.
    associatedtype P4DEntryResult = UnimplementedCallback
    /// The result of ``pudEntry(_:address:next:walk:)``: ``WalkStep`` when implemented.
    associatedtype PUDEntryResult = UnimplementedCallback
    /// The result of ``pmdEntry(_:address:next:walk:)``: ``WalkStep`` when implemented.
    associatedtype PMDEntryResult = UnimplementedCallback
    /// The result of ``pteEntry(_:address:next:walk:)``: ``WalkStep`` when implemented.
    associatedtype PTEEntryResult = UnimplementedCallback
    /// The result of ``pteHole(address:next:depth:walk:)``: ``WalkStep`` when implemented.
    associatedtype PTEHoleResult = UnimplementedCallback
    /// The result of ``hugetlbEntry(_:hmask:address:next:walk:)``: ``WalkStep`` when implemented.
    associatedtype HugetlbEntryResult = UnimplementedCallback
    /// The result of ``testWalk(address:next:walk:)``: ``VMAVerdict`` when implemented.
    associatedtype TestWalkResult = UnimplementedCallback
    /// The result of ``preVMA(start:end:walk:)``: ``WalkStep`` when implemented.
    associatedtype PreVMAResult = UnimplementedCallback
    /// The result of ``postVMA(walk:)``: `Void` when implemented.
    associatedtype PostVMAResult = UnimplementedCallback
    /// The result of ``installPTE(address:next:walk:)``: ``InstallStep`` when implemented.
    associatedtype InstallPTEResult = UnimplementedCallback

    /// Callbacks this visitor implements that a walk must not call, for visitors whose callbacks
    /// are chosen at run time; empty by default. Implemented callbacks not named here are called.
    var disabledCallbacks: WalkCallbacks { get }

    /// Each top-level entry that is not none (also when the level is folded).
    mutating func pgdEntry(_ entry: inout PGD, address: UInt64, next: UInt64, walk: WalkContext) throws
        -> PGDEntryResult
    /// Each P4D entry that is not none (also when the level is folded).
    mutating func p4dEntry(_ entry: inout P4D, address: UInt64, next: UInt64, walk: WalkContext) throws
        -> P4DEntryResult
    /// Each PUD entry that is not none; may set `walk.action`.
    mutating func pudEntry(_ entry: inout PUD, address: UInt64, next: UInt64, walk: WalkContext) throws
        -> PUDEntryResult
    /// Each PMD entry that is not none, trans-huge ones included; may set `walk.action`.
    mutating func pmdEntry(_ entry: inout PMD, address: UInt64, next: UInt64, walk: WalkContext) throws
        -> PMDEntryResult
    /// Each PTE, empty ones included (with `installPTE`: populated ones only).
    mutating func pteEntry(_ entry: inout PTE, address: UInt64, next: UInt64, walk: WalkContext) throws
        -> PTEEntryResult
    /// Each hole: `depth` 0 (PGD) to 3 (PMD), folded levels skipped; -1 when unknown.
    mutating func pteHole(address: UInt64, next: UInt64, depth: Int, walk: WalkContext) throws -> PTEHoleResult
    /// Each entry of a hugetlb VMA (a PUD or PMD entry), with the huge page mask.
    mutating func hugetlbEntry(_ entry: inout PTE, hmask: UInt64, address: UInt64, next: UInt64,
                               walk: WalkContext) throws -> HugetlbEntryResult
    /// Decides whether to walk a VMA; throwing aborts the walk.
    mutating func testWalk(address: UInt64, next: UInt64, walk: WalkContext) throws -> TestWalkResult
    /// Before a VMA is walked.
    mutating func preVMA(start: UInt64, end: UInt64, walk: WalkContext) throws -> PreVMAResult
    /// After a VMA whose `preVMA` succeeded was walked (also after an error).
    mutating func postVMA(walk: WalkContext) -> PostVMAResult
    /// The PTE to install over an empty PTE (only `walkPageRangeMM` accepts this callback).
    mutating func installPTE(address: UInt64, next: UInt64, walk: WalkContext) throws -> InstallPTEResult
}

/// The result type of a callback a visitor does not implement: its default implementation
/// returns this, and the walker never calls it.
@frozen public struct UnimplementedCallback: Sendable {
    /// The placeholder value.
    @inlinable public init() {}
}

/// A visitor declares a callback with a result type the walker does not accept; reported when a
/// walk starts, before anything is walked.
public struct PageWalkVisitorError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The visitor type.
    public let visitor: String
    /// The callback.
    public let callback: String
    /// The result type it declares.
    public let declared: String
    /// The result type a walker accepts.
    public let expected: String

    /// A readable form.
    public var description: String {
        "\(visitor).\(callback) returns \(declared); a \(callback) callback must return \(expected)"
    }
}

// The defaults, one per callback: a callback a visitor does not declare keeps this one, whose
// result type marks it unimplemented; the walker never calls it.
extension PageWalkVisitor where PGDEntryResult == UnimplementedCallback {
    /// Not implemented: never called.
    @inlinable public mutating func pgdEntry(_ entry: inout PGD, address: UInt64, next: UInt64,
                                             walk: WalkContext) throws -> UnimplementedCallback { .init() }
}
extension PageWalkVisitor where P4DEntryResult == UnimplementedCallback {
    /// Not implemented: never called.
    @inlinable public mutating func p4dEntry(_ entry: inout P4D, address: UInt64, next: UInt64,
                                             walk: WalkContext) throws -> UnimplementedCallback { .init() }
}
extension PageWalkVisitor where PUDEntryResult == UnimplementedCallback {
    /// Not implemented: never called.
    @inlinable public mutating func pudEntry(_ entry: inout PUD, address: UInt64, next: UInt64,
                                             walk: WalkContext) throws -> UnimplementedCallback { .init() }
}
extension PageWalkVisitor where PMDEntryResult == UnimplementedCallback {
    /// Not implemented: never called.
    @inlinable public mutating func pmdEntry(_ entry: inout PMD, address: UInt64, next: UInt64,
                                             walk: WalkContext) throws -> UnimplementedCallback { .init() }
}
extension PageWalkVisitor where PTEEntryResult == UnimplementedCallback {
    /// Not implemented: never called.
    @inlinable public mutating func pteEntry(_ entry: inout PTE, address: UInt64, next: UInt64,
                                             walk: WalkContext) throws -> UnimplementedCallback { .init() }
}
extension PageWalkVisitor where PTEHoleResult == UnimplementedCallback {
    /// Not implemented: never called.
    @inlinable public mutating func pteHole(address: UInt64, next: UInt64, depth: Int,
                                            walk: WalkContext) throws -> UnimplementedCallback { .init() }
}
extension PageWalkVisitor where HugetlbEntryResult == UnimplementedCallback {
    /// Not implemented: never called.
    @inlinable public mutating func hugetlbEntry(_ entry: inout PTE, hmask: UInt64, address: UInt64, next: UInt64,
                                                 walk: WalkContext) throws -> UnimplementedCallback { .init() }
}
extension PageWalkVisitor where TestWalkResult == UnimplementedCallback {
    /// Not implemented: never called.
    @inlinable public mutating func testWalk(address: UInt64, next: UInt64,
                                             walk: WalkContext) throws -> UnimplementedCallback { .init() }
}
extension PageWalkVisitor where PreVMAResult == UnimplementedCallback {
    /// Not implemented: never called.
    @inlinable public mutating func preVMA(start: UInt64, end: UInt64,
                                           walk: WalkContext) throws -> UnimplementedCallback { .init() }
}
extension PageWalkVisitor where PostVMAResult == UnimplementedCallback {
    /// Not implemented: never called.
    @inlinable public mutating func postVMA(walk: WalkContext) -> UnimplementedCallback { .init() }
}
extension PageWalkVisitor where InstallPTEResult == UnimplementedCallback {
    /// Not implemented: never called.
    @inlinable public mutating func installPTE(address: UInt64, next: UInt64,
                                               walk: WalkContext) throws -> UnimplementedCallback { .init() }
}

extension PageWalkVisitor {
    /// None.
    @inlinable public var disabledCallbacks: WalkCallbacks { [] }

    /// The callbacks this visitor type implements, derived from the methods it declares.
    @inlinable public static var implementedCallbacks: WalkCallbacks {
        var set: WalkCallbacks = []
        if _implemented(PGDEntryResult.self) { set.insert(.pgdEntry) }
        if _implemented(P4DEntryResult.self) { set.insert(.p4dEntry) }
        if _implemented(PUDEntryResult.self) { set.insert(.pudEntry) }
        if _implemented(PMDEntryResult.self) { set.insert(.pmdEntry) }
        if _implemented(PTEEntryResult.self) { set.insert(.pteEntry) }
        if _implemented(PTEHoleResult.self) { set.insert(.pteHole) }
        if _implemented(HugetlbEntryResult.self) { set.insert(.hugetlbEntry) }
        if _implemented(TestWalkResult.self) { set.insert(.testWalk) }
        if _implemented(PreVMAResult.self) { set.insert(.preVMA) }
        if _implemented(PostVMAResult.self) { set.insert(.postVMA) }
        if _implemented(InstallPTEResult.self) { set.insert(.installPTE) }
        return set
    }

    /// The callbacks a walk passes to the walker: the implemented ones not disabled.
    @inlinable public var activeCallbacks: WalkCallbacks { Self.implementedCallbacks.subtracting(disabledCallbacks) }

    /// Checks the result types of the implemented callbacks (a type test per callback, folded away
    /// when the walk is specialized for the visitor type).
    @inlinable static func _checkResultTypes() throws(PageWalkVisitorError) {
        try _check(PGDEntryResult.self, WalkStep.self, "pgdEntry")
        try _check(P4DEntryResult.self, WalkStep.self, "p4dEntry")
        try _check(PUDEntryResult.self, WalkStep.self, "pudEntry")
        try _check(PMDEntryResult.self, WalkStep.self, "pmdEntry")
        try _check(PTEEntryResult.self, WalkStep.self, "pteEntry")
        try _check(PTEHoleResult.self, WalkStep.self, "pteHole")
        try _check(HugetlbEntryResult.self, WalkStep.self, "hugetlbEntry")
        try _check(TestWalkResult.self, VMAVerdict.self, "testWalk")
        try _check(PreVMAResult.self, WalkStep.self, "preVMA")
        try _check(PostVMAResult.self, Void.self, "postVMA")
        try _check(InstallPTEResult.self, InstallStep.self, "installPTE")
    }

    @inlinable @inline(__always)
    static func _check<R, E>(_ declared: R.Type, _ expected: E.Type, _ name: String) throws(PageWalkVisitorError) {
        if declared == UnimplementedCallback.self || declared == E.self { return }
        throw _resultTypeError(Self.self, name, R.self, E.self)
    }
}

/// The error for a callback declared with the wrong result type (out of line: never on a hot path).
@usableFromInline
func _resultTypeError(_ visitor: Any.Type, _ callback: String, _ declared: Any.Type,
                      _ expected: Any.Type) -> PageWalkVisitorError {
    PageWalkVisitorError(visitor: String(reflecting: visitor), callback: callback,
                         declared: String(reflecting: declared), expected: String(reflecting: expected))
}

/// Whether a callback's result type says it is implemented.
@inlinable @inline(__always)
func _implemented<R>(_ result: R.Type) -> Bool {
    // A metatype comparison: two constant metadata addresses once specialized (a cast to
    // `UnimplementedCallback.Type` is not always folded).
    result != UnimplementedCallback.self
}

/// A callback's result as the type the walker expects; the walk checked the type before it started.
@inlinable @inline(__always)
func _as<R, E>(_ value: R, _ expected: E.Type) -> E { unsafeBitCast(value, to: E.self) }

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
