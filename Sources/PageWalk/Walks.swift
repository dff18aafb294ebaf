import CWalkCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// MARK: - Raw entry points (C pointers in, either engine)

/// `walk_page_range` (`installing == false`: `install_pte` is refused) or `walk_page_range_mm`.
@inlinable
func _walkPageRange<V: PageWalkVisitor>(_ mm: OpaquePointer, _ start: UInt, _ end: UInt, _ visitor: inout V,
                                        lock: WalkLock, engine: WalkEngine, installing: Bool) throws -> WalkResult {
    switch engine {
    case .c:
        return try _onCore(&visitor, lock: lock) { ops, priv in
            installing ? walk_page_range_mm(mm, start, end, ops, priv) : walk_page_range(mm, start, end, ops, priv)
        }
    case .swift:
        if !installing && visitor.callbacks.contains(.installPTE) { throw PageWalkError.invalidArgument }
        let machine = pw_mm_machine(mm)!
        return try _onSwift(&visitor, machine: machine, mm: mm, lock: lock) { $0.walkPageRangeMM(mm, start, end, lock) }
    }
}

/// `walk_page_range_vma` (`range` given) or `walk_page_vma`.
@inlinable
func _walkVMA<V: PageWalkVisitor>(_ vma: UnsafeMutablePointer<vm_area_struct>, _ range: (UInt, UInt)?,
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
        if visitor.callbacks.contains(.installPTE) { throw PageWalkError.invalidArgument }
        let mm = vma.pointee.vm_mm!
        return try _onSwift(&visitor, machine: pw_mm_machine(mm)!, mm: mm, vma: vma, lock: lock) {
            $0.walkVMA(vma, s, e, lock)
        }
    }
}

/// `walk_page_mapping`.
@inlinable
func _walkMapping<V: PageWalkVisitor>(_ mapping: OpaquePointer, _ first: UInt, _ nr: UInt, _ visitor: inout V,
                                      lock: WalkLock, engine: WalkEngine) throws -> WalkResult {
    switch engine {
    case .c:
        return try _onCore(&visitor, lock: lock) { ops, priv in walk_page_mapping(mapping, first, nr, ops, priv) }
    case .swift:
        if visitor.callbacks.contains(.installPTE) { throw PageWalkError.invalidArgument }
        return try _onSwift(&visitor, machine: pw_mapping_machine(mapping)!, mm: nil, lock: lock) {
            $0.walkMapping(mapping, first, nr)
        }
    }
}

/// `walk_page_range_debug` for a user mm, `walk_kernel_page_table_range` (+ `_lockless`) for the kernel's.
@inlinable
func _walkTables<V: PageWalkVisitor>(_ mm: OpaquePointer, _ start: UInt, _ end: UInt, pgd: UnsafeMutablePointer<UInt64>?,
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
        if start >= end || visitor.callbacks.contains(.installPTE) { throw PageWalkError.invalidArgument }
        if kernel {
            if !lockless { mmap_assert_locked(mm) }
        } else {
            mmap_assert_write_locked(mm)
        }
        return try _onSwift(&visitor, machine: machine, mm: mm, pgd: pgd, noVMA: true, lock: .read) {
            $0.pgdRange(start, end)
        }
    }
}

// MARK: - Public API

extension AddressSpace {
    /// Walks `range` VMA by VMA (the kernel's `walk_page_range`): gaps between VMAs are holes of
    /// depth -1, `testWalk` (or PFNMAP) decides per VMA, `preVMA`/`postVMA` bracket each VMA.
    ///
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
    /// - Parameter tables: walk this address space's top-level table instead (the kernel's `pgd`).
    @inlinable @discardableResult
    public func walkPageRangeDebug<V: PageWalkVisitor>(_ range: Range<UInt64>, visitor: inout V,
                                                       tables: AddressSpace? = nil,
                                                       engine: WalkEngine = .c) throws -> WalkResult {
        try _walkTables(pointer, UInt(range.lowerBound), UInt(range.upperBound), pgd: tables.map { pw_mm_pgd($0.pointer) },
                        &visitor, lockless: false, engine: engine)
    }
}

extension Machine {
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
    public let rawValue: Int32
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
    /// The exact page mapped at the address, nil for migration entries and zero pages.
    public let page: UInt64?
    /// The head frame of the folio.
    public let folio: UInt64
    /// The folio's order.
    public let folioOrder: Int
    /// The entry itself (raw access; the lock protects it during the closure).
    public let entryPointer: UnsafeMutablePointer<UInt64>
}

extension AddressSpace {
    /// Looks up the folio mapped at `address` in `vma` (the kernel's `folio_walk_start`) and runs
    /// `body` with it while the page-table lock is held; the walk always ends and the lock is
    /// released when `body` returns or throws (`folio_walk_end`).
    ///
    /// - Returns: `body`'s result, or nil when nothing (suitable) is mapped there.
    public func withFolio<R>(at address: UInt64, in vma: VMA, flags: FolioWalkFlags = [], engine: WalkEngine = .c,
                             _ body: (FolioWalk) throws -> R) rethrows -> R? {
        try _withFolio(machine.pointer, vma.pointer, UInt(address), flags, engine, body)
    }
}

func _withFolio<R>(_ m: OpaquePointer, _ vma: UnsafeMutablePointer<vm_area_struct>, _ address: UInt,
                   _ flags: FolioWalkFlags, _ engine: WalkEngine, _ body: (FolioWalk) throws -> R) rethrows -> R? {
    switch engine {
    case .c:
        var fw = folio_walk()
        guard let folio = folio_walk_start(&fw, vma, address, flags.rawValue) else { return nil }
        defer { folio_walk_end(&fw, vma) }
        let walk = FolioWalk(level: FolioWalkLevel(rawValue: fw.level.rawValue)!, entry: fw.pte,
                             page: fw.page.map { pw_page_to_pfn(m, $0) }, folio: pw_folio_pfn(m, folio),
                             folioOrder: Int(pw_folio_order(m, folio)), entryPointer: fw.ptep)
        return try body(walk)
    case .swift:
        guard let (walk, ptl) = _swiftFolioWalkStart(m, vma, address, flags) else { return nil }
        defer { spin_unlock(ptl) }
        return try body(walk)
    }
}

/// `folio_walk_start` in Swift: the lookup with the lock it leaves held.
func _swiftFolioWalkStart(_ m: OpaquePointer, _ vma: UnsafeMutablePointer<vm_area_struct>, _ addr: UInt,
                          _ flags: FolioWalkFlags) -> (FolioWalk, OpaquePointer)? {
    let lay = pw_machine_layout(m)!.pointee
    let mm = vma.pointee.vm_mm!
    let frames = lay.frames
    let trivial = [lay.trivial.0, lay.trivial.1, lay.trivial.2, lay.trivial.3, lay.trivial.4]
    let folded = [lay.geo.folded.0, lay.geo.folded.1, lay.geo.folded.2, lay.geo.folded.3, lay.geo.folded.4]
    let shifts = [lay.geo.shift.0, lay.geo.shift.1, lay.geo.shift.2, lay.geo.shift.3, lay.geo.shift.4].map { UInt($0) }
    func none(_ l: Int, _ v: UInt64) -> Bool { !trivial[l] && v == 0 }
    func present(_ l: Int, _ v: UInt64) -> Bool { trivial[l] || v & 1 != 0 }
    func leaf(_ l: Int, _ v: UInt64) -> Bool { !trivial[l] && v & 0x81 == 0x81 }
    func offset(_ l: Int, _ parent: UnsafeMutablePointer<UInt64>) -> UnsafeMutablePointer<UInt64>? {
        if folded[l] { return parent }
        let pfn = (parent.pointee & PW_PFN_MASK) >> 12
        guard pfn < frames else { return nil }
        return lay.mem + Int(pfn) * 512 + Int((addr >> shifts[l]) & 511)
    }
    func found(_ level: FolioWalkLevel, _ p: UnsafeMutablePointer<UInt64>, _ value: UInt64, _ pfn: UInt64,
               expose: Bool, _ ptl: OpaquePointer) -> (FolioWalk, OpaquePointer) {
        let size: UInt = 1 << shifts[level == .pte ? 4 : level == .pmd ? 3 : 2]
        let nth = pfn + UInt64((addr & (size - 1)) >> 12)
        let folio = pw_page_folio(m, pw_pfn_to_page(m, pfn))!
        return (FolioWalk(level: level, entry: value, page: expose && nth < frames ? nth : nil,
                          folio: pw_folio_pfn(m, folio), folioOrder: Int(pw_folio_order(m, folio)), entryPointer: p), ptl)
    }

    mmap_assert_locked(mm)
    if addr < vma.pointee.vm_start || addr >= vma.pointee.vm_end {
        pw_warn(m)
        return nil
    }
    let pgdp = pw_mm_pgd(mm)! + Int((addr >> shifts[0]) & 511)
    if pw_pxd_none_or_clear_bad(m, PW_LEVEL_PGD, pgdp) { return nil }
    guard let p4dp = offset(1, pgdp), !pw_pxd_none_or_clear_bad(m, PW_LEVEL_P4D, p4dp) else { return nil }
    guard let pudp = offset(2, p4dp) else { return nil }
    var pud = pudp.pointee
    if none(2, pud) { return nil }
    if !present(2, pud) || leaf(2, pud) {
        let ptl = pw_mm_page_table_lock(mm)!
        spin_lock(ptl)
        pud = pudp.pointee
        let pfn = (pud & PW_PFN_MASK) >> 12
        if !present(2, pud) || pud & EntryFlags.special.rawValue != 0 || pfn >= frames {
            spin_unlock(ptl)
            return nil
        }
        if leaf(2, pud) { return found(.pud, pudp, pud, pfn, expose: true, ptl) }
        spin_unlock(ptl)
    }
    guard let pmdp = offset(3, pudp) else { return nil }
    var pmd = pmdp.pointee
    if none(3, pmd) { return nil }
    if !present(3, pmd) || leaf(3, pmd) {
        let ptl = pw_table_lock(m, pmdp)!
        spin_lock(ptl)
        pmd = pmdp.pointee
        if none(3, pmd) {
            spin_unlock(ptl)
            return nil
        }
        if present(3, pmd) && !leaf(3, pmd) {
            spin_unlock(ptl)
        } else if present(3, pmd) {
            if let page = pw_vm_normal_page_pmd(vma, addr, pmd) {
                return found(.pmd, pmdp, pmd, pw_page_to_pfn(m, page), expose: true, ptl)
            }
            let pfn = (pmd & PW_PFN_MASK) >> 12
            if flags.contains(.zeroPage) && lay.huge_zero_pfn != 0 && pfn == lay.huge_zero_pfn && pfn < frames {
                return found(.pmd, pmdp, pmd, pfn, expose: false, ptl)
            }
            spin_unlock(ptl)
            return nil
        } else {
            if flags.contains(.migration) && pw_is_migration_entry(pmd) && pw_swp_offset(pmd) < frames {
                return found(.pmd, pmdp, pmd, pw_swp_offset(pmd), expose: false, ptl)
            }
            spin_unlock(ptl)
            return nil
        }
    }
    guard let ptep = pw_pte_offset_map(m, pmdp, addr) else { return nil }
    let ptl = pw_table_lock(m, ptep)!
    spin_lock(ptl)
    let pte = ptep.pointee
    if pte & 1 != 0 {
        if let page = pw_vm_normal_page(vma, addr, pte) {
            return found(.pte, ptep, pte, pw_page_to_pfn(m, page), expose: true, ptl)
        }
        let pfn = (pte & PW_PFN_MASK) >> 12
        if flags.contains(.zeroPage) && pfn == lay.zero_pfn && pfn < frames {
            return found(.pte, ptep, pte, pfn, expose: false, ptl)
        }
    } else if pte != 0 {
        if flags.contains(.migration) && pw_is_migration_entry(pte) && pw_swp_offset(pte) < frames {
            return found(.pte, ptep, pte, pw_swp_offset(pte), expose: false, ptl)
        }
    }
    spin_unlock(ptl)
    return nil
}
