import CScenario
import CWalkCore
import PageWalk

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A visitor that forwards every callback to a C `struct mm_walk_ops` — how a scenario's
/// callbacks (written in C, in the replayer) are driven through the Swift API.
///
/// It implements every callback and disables those whose C op is not set, so the walk sees
/// exactly the C ops that are set. While a C callback runs, `walk->private`
/// is the scenario's own pointer, as the C callbacks expect.
struct _ForwardingVisitor: PageWalkVisitor {
    let ops: mm_walk_ops
    let scenarioPrivate: UnsafeMutableRawPointer?
    let disabledCallbacks: WalkCallbacks

    init(_ ops: UnsafePointer<mm_walk_ops>, _ scenarioPrivate: UnsafeMutableRawPointer?) {
        self.ops = ops.pointee
        self.scenarioPrivate = scenarioPrivate
        var set: WalkCallbacks = []
        if self.ops.pgd_entry != nil { set.insert(.pgdEntry) }
        if self.ops.p4d_entry != nil { set.insert(.p4dEntry) }
        if self.ops.pud_entry != nil { set.insert(.pudEntry) }
        if self.ops.pmd_entry != nil { set.insert(.pmdEntry) }
        if self.ops.pte_entry != nil { set.insert(.pteEntry) }
        if self.ops.pte_hole != nil { set.insert(.pteHole) }
        if self.ops.hugetlb_entry != nil { set.insert(.hugetlbEntry) }
        if self.ops.test_walk != nil { set.insert(.testWalk) }
        if self.ops.pre_vma != nil { set.insert(.preVMA) }
        if self.ops.post_vma != nil { set.insert(.postVMA) }
        if self.ops.install_pte != nil { set.insert(.installPTE) }
        disabledCallbacks = WalkCallbacks.all.subtracting(set)
    }

    /// Runs a C callback with the scenario's `private` in place.
    private func call<R>(_ walk: WalkContext, _ body: () -> R) -> R {
        let saved = walk.pointer.pointee.`private`
        walk.pointer.pointee.`private` = scenarioPrivate
        defer { walk.pointer.pointee.`private` = saved }
        return body()
    }

    private func step(_ r: Int32) throws -> WalkStep {
        if r < 0 { throw PageWalkError(errno: r) }
        return r == 0 ? .proceed : .stop(r)
    }

    private func entry<E: PageTableEntry>(
        _ e: inout E, _ walk: WalkContext,
        _ fn: (UnsafeMutablePointer<UInt64>?, UInt, UInt, UnsafeMutablePointer<mm_walk>?) -> Int32,
        _ a: UInt64, _ n: UInt64
    ) throws -> WalkStep {
        var raw = e.rawValue
        let r = call(walk) { fn(&raw, UInt(a), UInt(n), walk.pointer) }
        e = E(rawValue: raw)
        return try step(r)
    }

    mutating func pgdEntry(_ e: inout PGD, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        try entry(&e, walk, ops.pgd_entry!, address, next)
    }
    mutating func p4dEntry(_ e: inout P4D, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        try entry(&e, walk, ops.p4d_entry!, address, next)
    }
    mutating func pudEntry(_ e: inout PUD, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        try entry(&e, walk, ops.pud_entry!, address, next)
    }
    mutating func pmdEntry(_ e: inout PMD, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        try entry(&e, walk, ops.pmd_entry!, address, next)
    }
    mutating func pteEntry(_ e: inout PTE, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        try entry(&e, walk, ops.pte_entry!, address, next)
    }
    mutating func pteHole(address: UInt64, next: UInt64, depth: Int, walk: WalkContext) throws -> WalkStep {
        let fn = ops.pte_hole!
        return try step(call(walk) { fn(UInt(address), UInt(next), Int32(depth), walk.pointer) })
    }
    mutating func hugetlbEntry(_ e: inout PTE, hmask: UInt64, address: UInt64, next: UInt64,
                               walk: WalkContext) throws -> WalkStep {
        let fn = ops.hugetlb_entry!
        var raw = e.rawValue
        let r = call(walk) { fn(&raw, UInt(hmask), UInt(address), UInt(next), walk.pointer) }
        e = PTE(rawValue: raw)
        return try step(r)
    }
    mutating func testWalk(address: UInt64, next: UInt64, walk: WalkContext) throws -> VMAVerdict {
        let fn = ops.test_walk!
        let r = call(walk) { fn(UInt(address), UInt(next), walk.pointer) }
        if r < 0 { throw PageWalkError(errno: r) }
        return r == 0 ? .walk : .skip
    }
    mutating func preVMA(start: UInt64, end: UInt64, walk: WalkContext) throws -> WalkStep {
        let fn = ops.pre_vma!
        return try step(call(walk) { fn(UInt(start), UInt(end), walk.pointer) })
    }
    mutating func postVMA(walk: WalkContext) {
        let fn = ops.post_vma!
        call(walk) { fn(walk.pointer) }
    }
    mutating func installPTE(address: UInt64, next: UInt64, walk: WalkContext) throws -> InstallStep {
        let fn = ops.install_pte!
        var pte: UInt64 = 0
        let r = call(walk) { fn(UInt(address), UInt(next), &pte, walk.pointer) }
        if r < 0 { throw PageWalkError(errno: r) }
        return r == 0 ? .install(PTE(rawValue: pte)) : .stop(r)
    }
}

/// The kernel's int result of a Swift walk.
private func code(_ body: () throws -> WalkResult) -> Int32 {
    do {
        return try body().rawValue
    } catch let error as PageWalkError {
        return error.code
    } catch {
        return -EIO
    }
}

private func walkLock(_ ops: UnsafePointer<mm_walk_ops>?) -> WalkLock {
    WalkLock(rawValue: ops!.pointee.walk_lock.rawValue) ?? .read
}

/// An engine table whose calls go through the Swift API on `engine`.
func _scenarioEngine(_ engine: WalkEngine) -> pw_walk_engine {
    // C function pointers cannot capture `engine`: one table per engine, spelled out.
    switch engine {
    case .c: return _cThroughSwift
    case .swift: return _pureSwift
    }
}

nonisolated(unsafe) private let _cThroughSwift = pw_walk_engine(
    name: UnsafePointer(strdup("c")),
    walk_page_range: { mm, s, e, ops, priv in
        var v = _ForwardingVisitor(ops!, priv)
        return code { try _walkPageRange(mm!, s, e, &v, lock: walkLock(ops), engine: .c, installing: false) }
    },
    walk_page_range_mm: { mm, s, e, ops, priv in
        var v = _ForwardingVisitor(ops!, priv)
        return code { try _walkPageRange(mm!, s, e, &v, lock: walkLock(ops), engine: .c, installing: true) }
    },
    walk_page_range_vma: { vma, s, e, ops, priv in
        var v = _ForwardingVisitor(ops!, priv)
        return code { try _walkVMA(vma!, (s, e), &v, lock: walkLock(ops), engine: .c) }
    },
    walk_page_vma: { vma, ops, priv in
        var v = _ForwardingVisitor(ops!, priv)
        return code { try _walkVMA(vma!, nil, &v, lock: walkLock(ops), engine: .c) }
    },
    walk_page_mapping: { mapping, first, nr, ops, priv in
        var v = _ForwardingVisitor(ops!, priv)
        return code { try _walkMapping(mapping!, first, nr, &v, lock: walkLock(ops), engine: .c) }
    },
    walk_kernel_page_table_range: { m, s, e, ops, pgd, priv in
        var v = _ForwardingVisitor(ops!, priv)
        return code { try _walkTables(pw_init_mm(m)!, s, e, pgd: pgd, &v, lockless: false, engine: .c) }
    },
    walk_page_range_debug: { mm, s, e, ops, pgd, priv in
        var v = _ForwardingVisitor(ops!, priv)
        return code { try _walkTables(mm!, s, e, pgd: pgd, &v, lockless: false, engine: .c) }
    },
    folio_walk_start: { fw, vma, addr, flags in scopedFolioWalk(fw!, vma!, addr, flags, .c) },
    folio_walk_end: { _, _ in }
)

nonisolated(unsafe) private let _pureSwift = pw_walk_engine(
    name: UnsafePointer(strdup("swift")),
    walk_page_range: { mm, s, e, ops, priv in
        var v = _ForwardingVisitor(ops!, priv)
        return code { try _walkPageRange(mm!, s, e, &v, lock: walkLock(ops), engine: .swift, installing: false) }
    },
    walk_page_range_mm: { mm, s, e, ops, priv in
        var v = _ForwardingVisitor(ops!, priv)
        return code { try _walkPageRange(mm!, s, e, &v, lock: walkLock(ops), engine: .swift, installing: true) }
    },
    walk_page_range_vma: { vma, s, e, ops, priv in
        var v = _ForwardingVisitor(ops!, priv)
        return code { try _walkVMA(vma!, (s, e), &v, lock: walkLock(ops), engine: .swift) }
    },
    walk_page_vma: { vma, ops, priv in
        var v = _ForwardingVisitor(ops!, priv)
        return code { try _walkVMA(vma!, nil, &v, lock: walkLock(ops), engine: .swift) }
    },
    walk_page_mapping: { mapping, first, nr, ops, priv in
        var v = _ForwardingVisitor(ops!, priv)
        return code { try _walkMapping(mapping!, first, nr, &v, lock: walkLock(ops), engine: .swift) }
    },
    walk_kernel_page_table_range: { m, s, e, ops, pgd, priv in
        var v = _ForwardingVisitor(ops!, priv)
        return code { try _walkTables(pw_init_mm(m)!, s, e, pgd: pgd, &v, lockless: false, engine: .swift) }
    },
    walk_page_range_debug: { mm, s, e, ops, pgd, priv in
        var v = _ForwardingVisitor(ops!, priv)
        return code { try _walkTables(mm!, s, e, pgd: pgd, &v, lockless: false, engine: .swift) }
    },
    folio_walk_start: { fw, vma, addr, flags in scopedFolioWalk(fw!, vma!, addr, flags, .swift) },
    folio_walk_end: { _, _ in }
)

/// Runs the scoped lookup and copies what it found into `fw` for the replayer; the lock is
/// already released when this returns (the engine's `folio_walk_end` has nothing left to do).
private func scopedFolioWalk(_ fw: UnsafeMutablePointer<folio_walk>, _ vma: UnsafeMutablePointer<vm_area_struct>,
                             _ addr: UInt, _ flags: Int32, _ engine: WalkEngine) -> OpaquePointer? {
    let m = pw_mm_machine(vma.pointee.vm_mm)!
    let result = _withFolio(m, vma, addr, FolioWalkFlags(rawValue: flags), engine) { $0 }
    guard let result else { return nil }
    fw.pointee.level = folio_walk_level(rawValue: result.level.rawValue)
    fw.pointee.pte = result.entry
    fw.pointee.ptep = result.entryPointer
    fw.pointee.page = result.page.flatMap { pw_pfn_to_page(m, $0) }
    fw.pointee.vma = vma
    return pw_page_folio(m, pw_pfn_to_page(m, result.folio))
}
