import CWalkCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Turns a visitor's Swift callbacks into the kernel's int protocol (0 go on, > 0 stop,
/// < 0 error), storing a thrown error in `error` so the walk function can rethrow it.
///
/// Both engines call visitors through these, specialized for the visitor type: no existential,
/// no reference counting, no exclusivity check per entry.
@usableFromInline
enum _Invoke<V: PageWalkVisitor> {
    /// The code a thrown error is reported with to the walker.
    @inlinable @inline(__always)
    static func code(_ error: any Error, _ slot: UnsafeMutablePointer<(any Error)?>) -> Int32 {
        if slot.pointee == nil { slot.pointee = error }
        if let e = error as? PageWalkError, e.code < 0 { return e.code }
        return -EIO
    }

    @inlinable @inline(__always)
    static func entry<E: PageTableEntry>(
        _ entry: UnsafeMutablePointer<UInt64>, _ body: (inout E) throws -> Int32,
        _ slot: UnsafeMutablePointer<(any Error)?>
    ) -> Int32 {
        do {
            return try entry.withMemoryRebound(to: E.self, capacity: 1) { try body(&$0.pointee) }
        } catch {
            return code(error, slot)
        }
    }

    @inlinable @inline(__always)
    static func pgd(_ v: UnsafeMutablePointer<V>, _ e: UnsafeMutablePointer<UInt64>, _ a: UInt, _ n: UInt,
                    _ w: UnsafeMutablePointer<mm_walk>, _ slot: UnsafeMutablePointer<(any Error)?>) -> Int32 {
        entry(e, { (x: inout PGD) in
            _as(try v.pointee.pgdEntry(&x, address: UInt64(a), next: UInt64(n), walk: WalkContext(w)), WalkStep.self).rawValue
        }, slot)
    }

    @inlinable @inline(__always)
    static func p4d(_ v: UnsafeMutablePointer<V>, _ e: UnsafeMutablePointer<UInt64>, _ a: UInt, _ n: UInt,
                    _ w: UnsafeMutablePointer<mm_walk>, _ slot: UnsafeMutablePointer<(any Error)?>) -> Int32 {
        entry(e, { (x: inout P4D) in
            _as(try v.pointee.p4dEntry(&x, address: UInt64(a), next: UInt64(n), walk: WalkContext(w)), WalkStep.self).rawValue
        }, slot)
    }

    @inlinable @inline(__always)
    static func pud(_ v: UnsafeMutablePointer<V>, _ e: UnsafeMutablePointer<UInt64>, _ a: UInt, _ n: UInt,
                    _ w: UnsafeMutablePointer<mm_walk>, _ slot: UnsafeMutablePointer<(any Error)?>) -> Int32 {
        entry(e, { (x: inout PUD) in
            _as(try v.pointee.pudEntry(&x, address: UInt64(a), next: UInt64(n), walk: WalkContext(w)), WalkStep.self).rawValue
        }, slot)
    }

    @inlinable @inline(__always)
    static func pmd(_ v: UnsafeMutablePointer<V>, _ e: UnsafeMutablePointer<UInt64>, _ a: UInt, _ n: UInt,
                    _ w: UnsafeMutablePointer<mm_walk>, _ slot: UnsafeMutablePointer<(any Error)?>) -> Int32 {
        entry(e, { (x: inout PMD) in
            _as(try v.pointee.pmdEntry(&x, address: UInt64(a), next: UInt64(n), walk: WalkContext(w)), WalkStep.self).rawValue
        }, slot)
    }

    @inlinable @inline(__always)
    static func pte(_ v: UnsafeMutablePointer<V>, _ e: UnsafeMutablePointer<UInt64>, _ a: UInt, _ n: UInt,
                    _ w: UnsafeMutablePointer<mm_walk>, _ slot: UnsafeMutablePointer<(any Error)?>) -> Int32 {
        entry(e, { (x: inout PTE) in
            _as(try v.pointee.pteEntry(&x, address: UInt64(a), next: UInt64(n), walk: WalkContext(w)), WalkStep.self).rawValue
        }, slot)
    }

    /// The kernel's PTE loop over `[addr, end)` inside one table, calling `pteEntry` per PTE.
    @inlinable @inline(__always)
    static func pteRun(_ v: UnsafeMutablePointer<V>, _ first: UnsafeMutablePointer<UInt64>, _ addr: UInt, _ end: UInt,
                       _ w: UnsafeMutablePointer<mm_walk>, _ slot: UnsafeMutablePointer<(any Error)?>) -> Int32 {
        // The kernel stops after the PTE at or past end - PAGE_SIZE; with an unaligned end below
        // one page that would wrap, so the last PTE is the one holding end - 1 (as the C core).
        let last: UInt64 = end > 4096 ? UInt64(end) &- 4096 : 0
        let count = Int((max(last, UInt64(addr)) &- UInt64(addr) &+ 4095) >> 12) &+ 1
        return first.withMemoryRebound(to: PTE.self, capacity: count) { ptes in
            let context = WalkContext(w)
            var a = UInt64(addr)
            var i = 0
            do {
                while true {
                    let r = _as(try v.pointee.pteEntry(&ptes[i], address: a, next: a &+ 4096, walk: context),
                                WalkStep.self).rawValue
                    if r != 0 || a >= last { return r }
                    a &+= 4096
                    i &+= 1
                }
            } catch {
                return code(error, slot)
            }
        }
    }

    /// A run of entries the C core hands over in one call (`mm_walk_ops.entry_run`): the walker's
    /// own per-entry loop for holes, `pudEntry` / `pmdEntry` and installs, run here so that each
    /// entry costs a specialized Swift call instead of a C-to-Swift crossing. It does exactly what
    /// the C walker does per entry, in the same order (see `entry_run` in pagewalk.h), and stops
    /// where the walker must take over: an entry to descend into.
    @inlinable @inline(__always)
    static func run(_ v: UnsafeMutablePointer<V>, _ r: UnsafeMutablePointer<mm_walk_run>,
                    _ w: UnsafeMutablePointer<mm_walk>, _ slot: UnsafeMutablePointer<(any Error)?>,
                    _ set: WalkCallbacks) -> Int32 {
        let level = r.pointee.level
        if level == Int32(PW_LEVEL_PTE.rawValue) { return installRun(v, r, w, slot, set) }
        let context = WalkContext(w)
        let size = UInt(1) &<< UInt(r.pointee.shift)
        let end = r.pointee.end
        let depth = Int(r.pointee.depth)
        let hasHole = set.contains(.pteHole)
        let isPMD = level == Int32(PW_LEVEL_PMD.rawValue)
        let hasEntry = isPMD ? set.contains(.pmdEntry) : level == Int32(PW_LEVEL_PUD.rawValue) && set.contains(.pudEntry)
        let handlerBelow = set.contains(.pteEntry) || (!isPMD && set.contains(.pmdEntry))
        var e = r.pointee.entry.unsafelyUnwrapped
        var a = r.pointee.addr
        do {
            while a != end {
                let boundary = (a &+ size) & ~(size &- 1)
                let next = boundary &- 1 < end &- 1 ? boundary : end
                if e.pointee == 0 {
                    if hasHole {
                        let s = _as(try v.pointee.pteHole(address: UInt64(a), next: UInt64(next), depth: depth,
                                                          walk: context), WalkStep.self).rawValue
                        if s != 0 { return s }
                    }
                } else if hasEntry {
                    w.pointee.action = ACTION_SUBTREE
                    let s: Int32
                    if isPMD {
                        s = _as(try e.withMemoryRebound(to: PMD.self, capacity: 1) {
                            try v.pointee.pmdEntry(&$0.pointee, address: UInt64(a), next: UInt64(next), walk: context)
                        }, WalkStep.self).rawValue
                    } else {
                        s = _as(try e.withMemoryRebound(to: PUD.self, capacity: 1) {
                            try v.pointee.pudEntry(&$0.pointee, address: UInt64(a), next: UInt64(next), walk: context)
                        }, WalkStep.self).rawValue
                    }
                    if s != 0 { return s }
                    let action = w.pointee.action
                    if action == ACTION_AGAIN { continue }
                    if action != ACTION_CONTINUE && handlerBelow {
                        r.pointee.entry = e
                        r.pointee.addr = a
                        r.pointee.entry_called = true
                        return 0
                    }
                } else {
                    r.pointee.entry = e
                    r.pointee.addr = a
                    r.pointee.entry_called = false
                    return 0
                }
                e += 1
                a = next
            }
        } catch {
            return code(error, slot)
        }
        r.pointee.entry = e
        r.pointee.addr = end
        r.pointee.entry_called = false
        return 0
    }

    /// The PTE loop of an installing walk (`install_pte` over none PTEs, `pteEntry` over the others),
    /// as the C core runs it, for one table: `[addr, end)` up to the PTE of the first address at or
    /// past `end - 4096`.
    @inlinable @inline(__always)
    static func installRun(_ v: UnsafeMutablePointer<V>, _ r: UnsafeMutablePointer<mm_walk_run>,
                           _ w: UnsafeMutablePointer<mm_walk>, _ slot: UnsafeMutablePointer<(any Error)?>,
                           _ set: WalkCallbacks) -> Int32 {
        let context = WalkContext(w)
        let end = r.pointee.end
        let last: UInt = end > 4096 ? end &- 4096 : 0
        let hasPTE = set.contains(.pteEntry)
        var p = r.pointee.entry.unsafelyUnwrapped
        var a = r.pointee.addr
        do {
            while true {
                if p.pointee == 0 {
                    switch _as(try v.pointee.installPTE(address: UInt64(a), next: UInt64(a &+ 4096), walk: context),
                               InstallStep.self) {
                    case .install(let pte):
                        p.pointee = pte.rawValue
                    case .stop(let value):
                        precondition(value > 0, "a stop value must be positive; throw an error instead")
                        return value
                    }
                } else if hasPTE {
                    let s = _as(try p.withMemoryRebound(to: PTE.self, capacity: 1) {
                        try v.pointee.pteEntry(&$0.pointee, address: UInt64(a), next: UInt64(a &+ 4096), walk: context)
                    }, WalkStep.self).rawValue
                    if s != 0 { return s }
                }
                if a >= last { return 0 }
                a &+= 4096
                p += 1
            }
        } catch {
            return code(error, slot)
        }
    }

    @inlinable @inline(__always)
    static func hole(_ v: UnsafeMutablePointer<V>, _ a: UInt, _ n: UInt, _ depth: Int32,
                     _ w: UnsafeMutablePointer<mm_walk>, _ slot: UnsafeMutablePointer<(any Error)?>) -> Int32 {
        do {
            let r = try v.pointee.pteHole(address: UInt64(a), next: UInt64(n), depth: Int(depth), walk: WalkContext(w))
            return _as(r, WalkStep.self).rawValue
        } catch {
            return code(error, slot)
        }
    }

    @inlinable @inline(__always)
    static func hugetlb(_ v: UnsafeMutablePointer<V>, _ e: UnsafeMutablePointer<UInt64>, _ hmask: UInt, _ a: UInt,
                        _ n: UInt, _ w: UnsafeMutablePointer<mm_walk>,
                        _ slot: UnsafeMutablePointer<(any Error)?>) -> Int32 {
        entry(e, { (x: inout PTE) in
            let r = try v.pointee.hugetlbEntry(&x, hmask: UInt64(hmask), address: UInt64(a), next: UInt64(n),
                                               walk: WalkContext(w))
            return _as(r, WalkStep.self).rawValue
        }, slot)
    }

    @inlinable @inline(__always)
    static func test(_ v: UnsafeMutablePointer<V>, _ a: UInt, _ n: UInt, _ w: UnsafeMutablePointer<mm_walk>,
                     _ slot: UnsafeMutablePointer<(any Error)?>) -> Int32 {
        do {
            let r = try v.pointee.testWalk(address: UInt64(a), next: UInt64(n), walk: WalkContext(w))
            return _as(r, VMAVerdict.self) == .walk ? 0 : 1
        } catch {
            return code(error, slot)
        }
    }

    @inlinable @inline(__always)
    static func pre(_ v: UnsafeMutablePointer<V>, _ a: UInt, _ n: UInt, _ w: UnsafeMutablePointer<mm_walk>,
                    _ slot: UnsafeMutablePointer<(any Error)?>) -> Int32 {
        do {
            return _as(try v.pointee.preVMA(start: UInt64(a), end: UInt64(n), walk: WalkContext(w)), WalkStep.self).rawValue
        } catch {
            return code(error, slot)
        }
    }

    @inlinable @inline(__always)
    static func post(_ v: UnsafeMutablePointer<V>, _ w: UnsafeMutablePointer<mm_walk>) {
        _ = v.pointee.postVMA(walk: WalkContext(w))
    }

    @inlinable @inline(__always)
    static func install(_ v: UnsafeMutablePointer<V>, _ a: UInt, _ n: UInt, _ out: UnsafeMutablePointer<UInt64>,
                        _ w: UnsafeMutablePointer<mm_walk>, _ slot: UnsafeMutablePointer<(any Error)?>) -> Int32 {
        do {
            switch _as(try v.pointee.installPTE(address: UInt64(a), next: UInt64(n), walk: WalkContext(w)), InstallStep.self) {
            case .install(let pte):
                out.pointee = pte.rawValue
                return 0
            case .stop(let value):
                precondition(value > 0, "a stop value must be positive; throw an error instead")
                return value
            }
        } catch {
            return code(error, slot)
        }
    }
}

/// Converts a walker's int result (and a stored error) into the Swift result.
@inlinable
func _result(_ code: Int32, _ error: (any Error)?) throws -> WalkResult {
    if let error { throw error }
    if code < 0 { throw PageWalkError(errno: code) }
    return code == 0 ? .completed : .stopped(code)
}
