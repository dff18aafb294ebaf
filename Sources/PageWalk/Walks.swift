import CWalkCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// MARK: - Raw entry points (C pointers in, either engine)

/// `walk_page_range` (`installing == false`: `install_pte` is refused) or `walk_page_range_mm`.
@inlinable
package func _walkPageRange<V: PageWalkVisitor>(_ mm: OpaquePointer, _ start: UInt, _ end: UInt, _ visitor: inout V,
                                        lock: WalkLock, engine: WalkEngine, installing: Bool) throws -> WalkResult {
    switch engine {
    case .c:
        return try _onCore(&visitor, lock: lock) { ops, priv in
            installing ? walk_page_range_mm(mm, start, end, ops, priv) : walk_page_range(mm, start, end, ops, priv)
        }
    case .swift:
        if !installing && visitor.activeCallbacks.contains(.installPTE) { throw PageWalkError.invalidArgument }
        let machine = pw_mm_machine(mm)!
        return try _onSwift(&visitor, machine: machine, mm: mm, lock: lock) { $0.walkPageRangeMM(mm, start, end, lock) }
    }
}

/// `walk_page_range_vma` (`range` given) or `walk_page_vma`.
@inlinable
package func _walkVMA<V: PageWalkVisitor>(_ vma: UnsafeMutablePointer<vm_area_struct>, _ range: (UInt, UInt)?,
                                  _ visitor: inout V, lock: WalkLock, engine: WalkEngine) throws -> WalkResult {
    switch engine {
    case .c:
        return try _onCore(&visitor, lock: lock) { ops, priv in
            if let (s, e) = range { return walk_page_range_vma(vma, s, e, ops, priv) }
            return walk_page_vma(vma, ops, priv)
        }
    case .swift:
        let (s, e) = range ?? (vma.pointee.vm_start, vma.pointee.vm_end)
        if range != nil && (s >= e || s < vma.pointee.vm_start || e > vma.pointee.vm_end) {
            throw PageWalkError.invalidArgument
        }
        if visitor.activeCallbacks.contains(.installPTE) { throw PageWalkError.invalidArgument }
        let mm = vma.pointee.vm_mm!
        return try _onSwift(&visitor, machine: pw_mm_machine(mm)!, mm: mm, vma: vma, lock: lock) {
            $0.walkVMA(vma, s, e, lock)
        }
    }
}

/// `walk_page_mapping`.
@inlinable
package func _walkMapping<V: PageWalkVisitor>(_ mapping: OpaquePointer, _ first: UInt, _ nr: UInt, _ visitor: inout V,
                                      lock: WalkLock, engine: WalkEngine) throws -> WalkResult {
    switch engine {
    case .c:
        return try _onCore(&visitor, lock: lock) { ops, priv in walk_page_mapping(mapping, first, nr, ops, priv) }
    case .swift:
        if visitor.activeCallbacks.contains(.installPTE) { throw PageWalkError.invalidArgument }
        return try _onSwift(&visitor, machine: pw_mapping_machine(mapping)!, mm: nil, lock: lock) {
            $0.walkMapping(mapping, first, nr)
        }
    }
}

/// `walk_page_range_debug` for a user mm, `walk_kernel_page_table_range` (+ `_lockless`) for the kernel's.
@inlinable
package func _walkTables<V: PageWalkVisitor>(_ mm: OpaquePointer, _ start: UInt, _ end: UInt, pgd: UnsafeMutablePointer<UInt64>?,
                                     _ visitor: inout V, lockless: Bool, engine: WalkEngine) throws -> WalkResult {
    let machine = pw_mm_machine(mm)!
    let kernel = pw_mm_is_kernel(mm)
    switch engine {
    case .c:
        return try _onCore(&visitor, lock: .read) { ops, priv in
            if !kernel { return walk_page_range_debug(mm, start, end, ops, pgd, priv) }
            return lockless ? walk_kernel_page_table_range_lockless(machine, start, end, ops, pgd, priv)
                : walk_kernel_page_table_range(machine, start, end, ops, pgd, priv)
        }
    case .swift:
        if start >= end || visitor.activeCallbacks.contains(.installPTE) { throw PageWalkError.invalidArgument }
        // 0, or -ENOLCK on a strict machine: the walk then ends before any callback.
        let err = kernel ? (lockless ? 0 : pw_mmap_assert_locked(mm)) : pw_mmap_assert_write_locked(mm)
        if err != 0 { throw PageWalkError(errno: err) }
        return try _onSwift(&visitor, machine: machine, mm: mm, pgd: pgd, noVMA: true, lock: .read) {
            $0.pgdRange(start, end)
        }
    }
}

// MARK: - Public API

/// The core's `[start, end)` of a closed range: `end` is `last + 1`, or, for a range through the
/// last address (`UInt64.max`), `2^64 - 1` — the C API's name for the top of the address space
/// (the kernel's ptdump walks to `~0UL`). Walks are page-granular, so the last page is walked
/// whole: its PTE reports `next` 0 (2^64 wrapped, as in the kernel); the entries above it report
/// `next` 2^64 - 1.
@inlinable
func _bounds(_ range: ClosedRange<UInt64>) -> (UInt, UInt) {
    (UInt(range.lowerBound), range.upperBound == .max ? UInt.max : UInt(range.upperBound &+ 1))
}

extension AddressSpace {
    /// `walkPageRange` over a closed range: `start...UInt64.max` walks up to the top of the
    /// address space, which a `Range<UInt64>` cannot name.
    @inlinable @discardableResult
    public func walkPageRange<V: PageWalkVisitor>(_ range: ClosedRange<UInt64>, visitor: inout V,
                                                  lock: WalkLock = .read, engine: WalkEngine = .c) throws -> WalkResult {
        let (s, e) = _bounds(range)
        return try _walkPageRange(pointer, s, e, &visitor, lock: lock, engine: engine, installing: false)
    }

    /// `walkPageRangeMM` over a closed range (up to the top with `start...UInt64.max`).
    @inlinable @discardableResult
    public func walkPageRangeMM<V: PageWalkVisitor>(_ range: ClosedRange<UInt64>, visitor: inout V,
                                                    lock: WalkLock = .read, engine: WalkEngine = .c) throws -> WalkResult {
        let (s, e) = _bounds(range)
        return try _walkPageRange(pointer, s, e, &visitor, lock: lock, engine: engine, installing: true)
    }

    /// `walkPageRangeDebug` over a closed range (up to the top with `start...UInt64.max`).
    @inlinable @discardableResult
    public func walkPageRangeDebug<V: PageWalkVisitor>(_ range: ClosedRange<UInt64>, visitor: inout V,
                                                       tables: AddressSpace? = nil,
                                                       engine: WalkEngine = .c) throws -> WalkResult {
        let (s, e) = _bounds(range)
        return try _walkTables(pointer, s, e, pgd: tables.map { pw_mm_pgd($0.pointer) }, &visitor, lockless: false,
                               engine: engine)
    }

    /// Walks `range` VMA by VMA (the kernel's `walk_page_range`): gaps between VMAs are holes of
    /// depth -1, `testWalk` (or PFNMAP) decides per VMA, `preVMA`/`postVMA` bracket each VMA.
    ///
    /// - Parameters:
    ///   - range: the addresses to walk; must not be empty.
    ///   - visitor: the callbacks, and the state they keep.
    ///   - lock: which locks the walk asserts or takes (the kernel's `walk_lock`).
    ///   - engine: the C core or the pure-Swift walker.
    /// - Returns: `.completed`, or `.stopped(value)` when a callback stopped the walk.
    /// - Throws: `PageWalkError.invalidArgument` for an empty range or an `installPTE` visitor,
    ///   or the error a callback threw.
    @inlinable @discardableResult
    public func walkPageRange<V: PageWalkVisitor>(_ range: Range<UInt64>, visitor: inout V, lock: WalkLock = .read,
                                                  engine: WalkEngine = .c) throws -> WalkResult {
        try _walkPageRange(pointer, UInt(range.lowerBound), UInt(range.upperBound), &visitor, lock: lock,
                           engine: engine, installing: false)
    }

    /// As `walkPageRange`, and the only walk that accepts `installPTE` (the kernel's
    /// `walk_page_range_mm`): missing tables are allocated (`outOfMemory` when allocation fails)
    /// and empty PTEs installed.
    @inlinable @discardableResult
    public func walkPageRangeMM<V: PageWalkVisitor>(_ range: Range<UInt64>, visitor: inout V, lock: WalkLock = .read,
                                                    engine: WalkEngine = .c) throws -> WalkResult {
        try _walkPageRange(pointer, UInt(range.lowerBound), UInt(range.upperBound), &visitor, lock: lock,
                           engine: engine, installing: true)
    }

    /// Walks the tables of `range` without VMAs: `walk_page_range_debug` for a user address space
    /// (asserts the mmap write lock), `walk_kernel_page_table_range` for the kernel's.
    ///
    /// - Parameters:
    ///   - range: the addresses to walk.
    ///   - visitor: the callbacks.
    ///   - tables: walk this address space's top-level table instead (the kernel's `pgd`).
    ///   - engine: the walker.
    @inlinable @discardableResult
    public func walkPageRangeDebug<V: PageWalkVisitor>(_ range: Range<UInt64>, visitor: inout V,
                                                       tables: AddressSpace? = nil,
                                                       engine: WalkEngine = .c) throws -> WalkResult {
        try _walkTables(pointer, UInt(range.lowerBound), UInt(range.upperBound), pgd: tables.map { pw_mm_pgd($0.pointer) },
                        &visitor, lockless: false, engine: engine)
    }
}

extension Machine {
    /// `walkKernelPageTableRange` over a closed range: `start...UInt64.max` walks the kernel's
    /// tables up to the top of the address space, last page included.
    @inlinable @discardableResult
    public func walkKernelPageTableRange<V: PageWalkVisitor>(_ range: ClosedRange<UInt64>, visitor: inout V,
                                                             tables: AddressSpace? = nil, lockless: Bool = false,
                                                             engine: WalkEngine = .c) throws -> WalkResult {
        let (s, e) = _bounds(range)
        return try _walkTables(pw_init_mm(pointer), s, e, pgd: tables.map { pw_mm_pgd($0.pointer) }, &visitor,
                               lockless: lockless, engine: engine)
    }

    /// Walks the kernel tables of `range` (the kernel's `walk_kernel_page_table_range`, or its
    /// `_lockless` twin, which asserts no lock).
    @inlinable @discardableResult
    public func walkKernelPageTableRange<V: PageWalkVisitor>(_ range: Range<UInt64>, visitor: inout V,
                                                             tables: AddressSpace? = nil, lockless: Bool = false,
                                                             engine: WalkEngine = .c) throws -> WalkResult {
        try _walkTables(pw_init_mm(pointer), UInt(range.lowerBound), UInt(range.upperBound),
                        pgd: tables.map { pw_mm_pgd($0.pointer) }, &visitor, lockless: lockless, engine: engine)
    }
}

extension VMA {
    /// Walks the whole VMA without `testWalk` (the kernel's `walk_page_vma`).
    @inlinable @discardableResult
    public func walkPageVMA<V: PageWalkVisitor>(visitor: inout V, lock: WalkLock = .read,
                                                engine: WalkEngine = .c) throws -> WalkResult {
        try _walkVMA(pointer, nil, &visitor, lock: lock, engine: engine)
    }

    /// Walks `range` inside the VMA without `testWalk` (the kernel's `walk_page_range_vma`);
    /// `invalidArgument` if the range is not inside the VMA.
    @inlinable @discardableResult
    public func walkPageRangeVMA<V: PageWalkVisitor>(_ range: Range<UInt64>, visitor: inout V, lock: WalkLock = .read,
                                                     engine: WalkEngine = .c) throws -> WalkResult {
        try _walkVMA(pointer, (UInt(range.lowerBound), UInt(range.upperBound)), &visitor, lock: lock, engine: engine)
    }
}

extension Mapping {
    /// Walks every VMA mapping page offsets `pages` of this file, in `i_mmap` order, each clipped
    /// to them (the kernel's `walk_page_mapping`); a `testWalk` that skips ends the whole walk.
    @inlinable @discardableResult
    public func walkPageMapping<V: PageWalkVisitor>(pages: Range<UInt64>, visitor: inout V,
                                                    engine: WalkEngine = .c) throws -> WalkResult {
        try _walkMapping(pointer, UInt(pages.lowerBound), UInt(pages.count), &visitor, lock: .read, engine: engine)
    }
}

// MARK: - folio_walk

/// Flags of a folio lookup.
public struct FolioWalkFlags: OptionSet, Sendable {
    /// The raw bits.
    public let rawValue: Int32
    /// Wraps raw bits.
    @inlinable public init(rawValue: Int32) { self.rawValue = rawValue }

    /// Also return folios behind migration entries (`page` is then nil).
    @inlinable public static var migration: FolioWalkFlags { FolioWalkFlags(rawValue: FW_MIGRATION) }
    /// Also return the shared zero pages, small and huge (`page` is then nil).
    @inlinable public static var zeroPage: FolioWalkFlags { FolioWalkFlags(rawValue: FW_ZEROPAGE) }
}

/// The level of the entry a folio was found through.
public enum FolioWalkLevel: UInt32, Sendable {
    case pte = 0, pmd = 1, pud = 2
}

/// What a folio lookup found; valid inside the `withFolio` closure, while the page-table lock is held.
public struct FolioWalk {
    /// The level of the entry.
    public let level: FolioWalkLevel
    /// The entry's value when it was read under the lock.
    public let entry: UInt64
    /// The exact page mapped at the address, nil for migration and zero pages.
    public let page: UInt64?
    /// The entry itself (raw access; the lock protects it during the closure).
    public let entryPointer: UnsafeMutablePointer<UInt64>
    /// The machine, and a page of the folio (its head, or else the frame `_pfn`): the folio's
    /// head frame and order are read from them only when asked for.
    @usableFromInline let _machine: OpaquePointer
    @usableFromInline let _page: OpaquePointer?
    @usableFromInline let _pfn: UInt64

    @inlinable
    init(level: FolioWalkLevel, entry: UInt64, page: UInt64?, entryPointer: UnsafeMutablePointer<UInt64>,
         machine: OpaquePointer, pageOfFolio: OpaquePointer?, pfnOfFolio: UInt64 = 0) {
        self.level = level
        self.entry = entry
        self.page = page
        self.entryPointer = entryPointer
        _machine = machine
        _page = pageOfFolio
        _pfn = pfnOfFolio
    }

    @inlinable var _folio: OpaquePointer {
        pw_page_folio(_machine, _page ?? pw_pfn_to_page(_machine, _pfn)).unsafelyUnwrapped
    }

    /// The head frame of the folio.
    @inlinable public var folio: UInt64 { pw_folio_pfn(_machine, _folio) }
    /// The folio's order.
    @inlinable public var folioOrder: Int { Int(pw_folio_order(_machine, _folio)) }
}

extension AddressSpace {
    /// Looks up the folio mapped at `address` in `vma` (the kernel's `folio_walk_start`) and runs
    /// `body` with it while the page-table lock is held; the walk always ends and the lock is
    /// released when `body` returns or throws (`folio_walk_end`).
    ///
    /// - Returns: `body`'s result, or nil when nothing (suitable) is mapped there.
    /// - Throws: ``PageWalkError/staleVMA(id:)`` when `vma` no longer exists, or what `body` throws.
    @inlinable
    public func withFolio<R>(at address: UInt64, in vma: VMA, flags: FolioWalkFlags = [], engine: WalkEngine = .c,
                             _ body: (FolioWalk) throws -> R) throws -> R? {
        try _withFolio(machine.pointer, vma.pointer, UInt(address), flags, engine, body)
    }

    /// As ``withFolio(at:in:flags:engine:_:)-(_,_,_,_,(FolioWalk)->R)``, for a `body` that returns an
    /// optional: one level of optional, nil both when nothing is mapped and when `body` returns nil.
    @inlinable
    public func withFolio<R>(at address: UInt64, in vma: VMA, flags: FolioWalkFlags = [], engine: WalkEngine = .c,
                             _ body: (FolioWalk) throws -> R?) throws -> R? {
        try _withFolio(machine.pointer, vma.pointer, UInt(address), flags, engine, body) ?? nil
    }
}

@inlinable
package func _withFolio<R>(_ m: OpaquePointer, _ vma: UnsafeMutablePointer<vm_area_struct>, _ address: UInt,
                   _ flags: FolioWalkFlags, _ engine: WalkEngine, _ body: (FolioWalk) throws -> R) rethrows -> R? {
    switch engine {
    case .c:
        var fw = folio_walk()
        guard let folio = folio_walk_start(&fw, vma, address, flags.rawValue) else { return nil }
        defer { folio_walk_end(&fw, vma) }
        let level: FolioWalkLevel = fw.level == FW_LEVEL_PTE ? .pte : fw.level == FW_LEVEL_PMD ? .pmd : .pud
        let walk = FolioWalk(level: level, entry: fw.pte, page: fw.page.map { pw_page_to_pfn(m, $0) },
                             entryPointer: fw.ptep, machine: m, pageOfFolio: folio)
        return try body(walk)
    case .swift:
        var ptl: OpaquePointer? = nil
        guard let walk = _swiftFolioWalkStart(m, vma, address, flags, &ptl) else { return nil }
        defer { spin_unlock(ptl) }
        return try body(walk)
    }
}

/// `folio_walk_start` in Swift: the lookup, leaving the lock it holds in `ptlOut`.
///
/// The machine's primitives are called out of line only where they decide or report something
/// (bad entries, special pages) and for the locks; the common case is read inline.
@usableFromInline
func _swiftFolioWalkStart(_ m: OpaquePointer, _ vma: UnsafeMutablePointer<vm_area_struct>, _ addr: UInt,
                          _ flags: FolioWalkFlags, _ ptlOut: inout OpaquePointer?) -> FolioWalk? {
    // Fields are read where used: copying the layout up front costs more than the loads.
    let lay = pw_machine_layout(m).unsafelyUnwrapped
    // The memory layer's descriptor: PFNs below `frames` are in the flat part at `mem`; others
    // exist only on a sparse machine, which looks them up.
    let mem = lay.pointee.mem ?? _noFlatPart
    let frames = lay.pointee.frames
    let sparse = lay.pointee.sparse
    let model = lay.pointee.encoding == PW_ENCODING_MODEL
    var geo: pw_geometry { lay.pointee.geo }
    var trivial: (Bool, Bool, Bool, Bool, Bool) { lay.pointee.trivial }
    let mm = vma.pointee.vm_mm.unsafelyUnwrapped
    let pfnMask = PW_PFN_MASK

    @inline(__always) func pfnOf(_ v: UInt64) -> UInt64 { (v & pfnMask) >> 12 }
    /// `pfn_valid`: the flat part inline, the machine's ranges otherwise.
    @inline(__always) func valid(_ pfn: UInt64) -> Bool { pfn < frames || (sparse && pw_pfn_valid(m, pfn)) }
    /// Migration entries and their PFN, in the machine's encoding.
    @inline(__always) func isMigration(_ v: UInt64) -> Bool {
        model ? pw_is_migration_entry(v) : pw_machine_entry_ops(m).unsafelyUnwrapped.pointee.is_migration(v)
    }
    @inline(__always) func swapOffset(_ v: UInt64) -> UInt64 {
        model ? pw_swp_offset(v) : pw_machine_entry_ops(m).unsafelyUnwrapped.pointee.swp_offset(v)
    }
    @inline(__always) func leaf(_ trivial: Bool, _ v: UInt64) -> Bool { !trivial && v & 0x81 == 0x81 }
    @inline(__always) func present(_ trivial: Bool, _ v: UInt64) -> Bool { trivial || v & 1 != 0 }
    @inline(__always) func none(_ trivial: Bool, _ v: UInt64) -> Bool { !trivial && v == 0 }
    /// `pXd_offset`: a folded level shares its parent's entry.
    @inline(__always) func offset(_ folded: Bool, _ shift: UInt32, _ parent: UnsafeMutablePointer<UInt64>)
        -> UnsafeMutablePointer<UInt64>? {
        if folded { return parent }
        let pfn = pfnOf(_loadEntry(parent))
        let index = Int((addr &>> UInt(shift)) & 511)
        if pfn < frames {
            let table: UnsafeMutablePointer<UInt64> = mem + Int(pfn) &* 512
            return table + index
        }
        guard sparse, let table = pw_pfn_to_frame(m, pfn) else { return nil }
        return table + index
    }
    /// `pgd/p4d_none_or_clear_bad`: the common cases inline, a bad entry reported out of line.
    @inline(__always) func noneOrClearBad(_ level: pw_level, _ trivial: Bool, _ p: UnsafeMutablePointer<UInt64>) -> Bool {
        if trivial { return false }
        let v = _loadEntry(p)
        if v == 0 { return true }
        if v & 0x81 == 1 && pfnOf(v) < frames { return false }
        return pw_pxd_none_or_clear_bad(m, level, p)
    }
    @inline(__always) func found(_ level: FolioWalkLevel, _ p: UnsafeMutablePointer<UInt64>, _ value: UInt64,
                                 _ pfn: UInt64, _ shift: UInt32, expose: Bool, _ ptl: OpaquePointer) -> FolioWalk {
        let size: UInt = 1 &<< UInt(shift)
        let nth = pfn &+ UInt64((addr & (size &- 1)) >> 12)
        ptlOut = ptl
        return FolioWalk(level: level, entry: value, page: expose && valid(nth) ? nth : nil, entryPointer: p,
                         machine: m, pageOfFolio: nil, pfnOfFolio: pfn)
    }

    // A strict machine reports the missing lock and finds no folio (as folio_walk_start).
    if pw_mmap_assert_locked(mm) != 0 { return nil }
    if addr < vma.pointee.vm_start || addr >= vma.pointee.vm_end {
        pw_warn(m)
        return nil
    }
    let pgdp = pw_mm_pgd(mm).unsafelyUnwrapped + Int((addr &>> UInt(geo.shift.0)) & 511)
    if noneOrClearBad(PW_LEVEL_PGD, trivial.0, pgdp) { return nil }
    guard let p4dp = offset(geo.folded.1, geo.shift.1, pgdp), !noneOrClearBad(PW_LEVEL_P4D, trivial.1, p4dp) else {
        return nil
    }
    guard let pudp = offset(geo.folded.2, geo.shift.2, p4dp) else { return nil }
    var pud = _loadEntry(pudp)
    if none(trivial.2, pud) { return nil }
    if !present(trivial.2, pud) || leaf(trivial.2, pud) {
        let ptl = pw_mm_page_table_lock(mm).unsafelyUnwrapped
        spin_lock(ptl)
        pud = _loadEntry(pudp)
        let pfn = pfnOf(pud)
        if !present(trivial.2, pud) || pud & EntryFlags.special.rawValue != 0 || !valid(pfn) {
            spin_unlock(ptl)
            return nil
        }
        if leaf(trivial.2, pud) { return found(.pud, pudp, pud, pfn, geo.shift.2, expose: true, ptl) }
        spin_unlock(ptl)
    }
    guard let pmdp = offset(geo.folded.3, geo.shift.3, pudp) else { return nil }
    var pmd = _loadEntry(pmdp)
    if none(trivial.3, pmd) { return nil }
    if !present(trivial.3, pmd) || leaf(trivial.3, pmd) {
        let ptl = pw_table_lock(m, pmdp).unsafelyUnwrapped
        spin_lock(ptl)
        pmd = _loadEntry(pmdp)
        if none(trivial.3, pmd) {
            spin_unlock(ptl)
            return nil
        }
        if present(trivial.3, pmd) && !leaf(trivial.3, pmd) {
            spin_unlock(ptl)
        } else if present(trivial.3, pmd) {
            if let page = pw_vm_normal_page_pmd(vma, addr, pmd) {
                return found(.pmd, pmdp, pmd, pw_page_to_pfn(m, page), geo.shift.3, expose: true, ptl)
            }
            let pfn = pfnOf(pmd)
            if flags.contains(.zeroPage) && lay.pointee.huge_zero_pfn != 0 && pfn == lay.pointee.huge_zero_pfn
                && valid(pfn) {
                return found(.pmd, pmdp, pmd, pfn, geo.shift.3, expose: false, ptl)
            }
            spin_unlock(ptl)
            return nil
        } else {
            if flags.contains(.migration) && isMigration(pmd) && valid(swapOffset(pmd)) {
                return found(.pmd, pmdp, pmd, swapOffset(pmd), geo.shift.3, expose: false, ptl)
            }
            spin_unlock(ptl)
            return nil
        }
    }
    // pte_offset_map: a present, non-huge PMD in memory maps inline; the rest is decided (and
    // reported) by the machine.
    let ptep: UnsafeMutablePointer<UInt64>
    if pmd & 0x81 == 1 && pfnOf(pmd) < frames {
        let index = Int((addr >> 12) & 511)
        let table: UnsafeMutablePointer<UInt64> = mem + Int(pfnOf(pmd)) &* 512
        ptep = table + index
    } else {
        guard let p = pw_pte_offset_map(m, pmdp, addr) else { return nil }
        ptep = p
    }
    let ptl = pw_table_lock(m, ptep).unsafelyUnwrapped
    spin_lock(ptl)
    let pte = ptep.pointee
    if pte & 1 != 0 {
        // vm_normal_page: a normal page inline, the rest (special, beyond memory) out of line.
        if pte & EntryFlags.special.rawValue == 0 && pfnOf(pte) < frames {
            return found(.pte, ptep, pte, pfnOf(pte), 12, expose: true, ptl)
        }
        if let page = pw_vm_normal_page(vma, addr, pte) {
            return found(.pte, ptep, pte, pw_page_to_pfn(m, page), 12, expose: true, ptl)
        }
        let pfn = pfnOf(pte)
        if flags.contains(.zeroPage) && pfn == lay.pointee.zero_pfn && valid(pfn) {
            return found(.pte, ptep, pte, pfn, 12, expose: false, ptl)
        }
    } else if pte != 0 {
        if flags.contains(.migration) && isMigration(pte) && valid(swapOffset(pte)) {
            return found(.pte, ptep, pte, swapOffset(pte), 12, expose: false, ptl)
        }
    }
    spin_unlock(ptl)
    return nil
}
