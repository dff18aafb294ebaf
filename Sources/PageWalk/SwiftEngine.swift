import CWalkCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What a walker's `mem` holds on a machine without a flat part (`frames` is 0 there, so it is
/// never read).
@inlinable var _noFlatPart: UnsafeMutablePointer<UInt64> { UnsafeMutablePointer(bitPattern: 8).unsafelyUnwrapped }

/// The pure-Swift walker: `mm/pagewalk.c`'s walk, level by level, over the machine's table frames.
///
/// It reads and writes the same memory as the C core and calls the same machine primitives
/// (`pagewalk_machine.h`) for what lies under the walker: bad-entry checks, table allocation,
/// THP splits, `hugetlb_walk`, locks and lock assertions. The visitor's callbacks are called
/// directly and inline, specialized for its type.
@usableFromInline
struct _SwiftWalker<V: PageWalkVisitor> {
    @usableFromInline let m: OpaquePointer
    /// The machine's flat part, frames `0 ..< frames` at `mem` (all of a `Machine(frames:)`).
    @usableFromInline let mem: UnsafeMutablePointer<UInt64>
    @usableFromInline let frames: UInt64
    /// Memory beyond the flat part, or holes: other PFNs are looked up by the machine.
    @usableFromInline let sparse: Bool
    @usableFromInline let shifts: (UInt32, UInt32, UInt32, UInt32, UInt32)
    @usableFromInline let folded: (Bool, Bool, Bool, Bool, Bool)
    @usableFromInline let trivial: (Bool, Bool, Bool, Bool, Bool)
    @usableFromInline let taskSize: UInt
    @usableFromInline let set: WalkCallbacks
    @usableFromInline let v: UnsafeMutablePointer<V>
    @usableFromInline let w: UnsafeMutablePointer<mm_walk>
    @usableFromInline let error: UnsafeMutablePointer<(any Error)?>

    @inlinable
    init(machine: OpaquePointer, visitor: UnsafeMutablePointer<V>, walk: UnsafeMutablePointer<mm_walk>,
         error: UnsafeMutablePointer<(any Error)?>) {
        let lay = pw_machine_layout(machine)!.pointee
        m = machine
        // The memory layer's descriptor, read once: the loops below test `pfn < frames` inline
        // and ask the machine only on a sparse machine.
        mem = lay.mem ?? _noFlatPart
        frames = lay.frames
        sparse = lay.sparse
        shifts = lay.geo.shift
        folded = lay.geo.folded
        trivial = lay.trivial
        taskSize = UInt(lay.geo.task_size)
        set = visitor.pointee.activeCallbacks
        v = visitor
        w = walk
        self.error = error
    }

    // MARK: geometry and entries

    @inlinable @inline(__always) func shift(_ l: Int) -> UInt {
        switch l {
        case 0: UInt(shifts.0)
        case 1: UInt(shifts.1)
        case 2: UInt(shifts.2)
        case 3: UInt(shifts.3)
        default: UInt(shifts.4)
        }
    }

    @inlinable @inline(__always) func isFolded(_ l: Int) -> Bool {
        switch l {
        case 1: folded.1
        case 2: folded.2
        case 3: folded.3
        default: false
        }
    }

    @inlinable @inline(__always) func isTrivial(_ l: Int) -> Bool {
        switch l {
        case 0: trivial.0
        case 1: trivial.1
        case 2: trivial.2
        default: false
        }
    }

    @inlinable @inline(__always) func index(_ l: Int, _ addr: UInt) -> Int {
        Int((addr >> shift(l)) & 511)
    }

    /// `pXd_addr_end`: the next boundary of level `l`, or `end`.
    @inlinable @inline(__always) func addrEnd(_ l: Int, _ addr: UInt, _ end: UInt) -> UInt {
        let size: UInt = 1 << shift(l)
        let boundary = (addr &+ size) & ~(size &- 1)
        return boundary &- 1 < end &- 1 ? boundary : end
    }

    @inlinable @inline(__always) func none(_ l: Int, _ value: UInt64) -> Bool {
        !isTrivial(l) && value == 0
    }

    @inlinable @inline(__always) func present(_ l: Int, _ value: UInt64) -> Bool {
        isTrivial(l) || value & 1 != 0
    }

    @inlinable @inline(__always) func leaf(_ l: Int, _ value: UInt64) -> Bool {
        !isTrivial(l) && value & 0x81 == 0x81
    }

    /// The table an entry points to; nil when its PFN is a hole or beyond memory.
    @inlinable @inline(__always) func table(_ value: UInt64) -> UnsafeMutablePointer<UInt64>? {
        let pfn = (value & PW_PFN_MASK) >> 12
        if pfn < frames { return mem + Int(pfn) * 512 }
        return sparse ? pw_pfn_to_frame(m, pfn) : nil
    }

    /// `pXd_offset`: a folded level shares its parent's entry.
    @inlinable @inline(__always)
    func offset(_ l: Int, _ parent: UnsafeMutablePointer<UInt64>, _ addr: UInt) -> UnsafeMutablePointer<UInt64>? {
        if isFolded(l) { return parent }
        guard let t = table(_load(parent)) else { return nil }
        return t + index(l, addr)
    }

    /// `pgd/p4d_none_or_clear_bad`: none and good entries decided inline; a bad one (not present,
    /// huge, beyond memory) is reported and cleared by the machine.
    @inlinable @inline(__always)
    func noneOrClearBad(_ l: Int, _ level: pw_level, _ p: UnsafeMutablePointer<UInt64>) -> Bool {
        if isTrivial(l) { return false }
        let v = _load(p)
        if v == 0 { return true }
        if v & 0x81 == 1 && (v & PW_PFN_MASK) >> 12 < frames { return false }
        return pw_pxd_none_or_clear_bad(m, level, p)
    }

    /// `pte_offset_map`: a present, non-huge PMD in memory maps inline; the machine decides (and
    /// reports) the rest.
    @inlinable @inline(__always)
    func pteOffsetMap(_ pmd: UnsafeMutablePointer<UInt64>, _ addr: UInt) -> UnsafeMutablePointer<UInt64>? {
        let v = _load(pmd)
        if v & 0x81 == 1 && (v & PW_PFN_MASK) >> 12 < frames {
            let table: UnsafeMutablePointer<UInt64> = mem + Int((v & PW_PFN_MASK) >> 12) &* 512
            return table + index(4, addr)
        }
        return pw_pte_offset_map(m, pmd, addr)
    }

    /// Reads an upper-level entry as the C core's `pw_load` does: an acquire load, because other
    /// walkers under the read lock may split a huge entry (under its lock) or install a table
    /// meanwhile (the kernel's `READ_ONCE` / `pmdp_get_lockless`). A plain `mov` on x86-64.
    @inlinable @inline(__always) func _load(_ p: UnsafeMutablePointer<UInt64>) -> UInt64 {
        _loadEntry(p)
    }

    @inlinable @inline(__always) func realDepth(_ depth: Int32) -> Int32 {
        var d = depth
        if d == 3 && isFolded(3) { d = 2 }
        if d == 2 && isFolded(2) { d = 1 }
        if d == 1 && isFolded(1) { d = 0 }
        return d
    }

    @inlinable @inline(__always) var action: UInt32 {
        w.pointee.action.rawValue
    }

    @inlinable @inline(__always) func setAction(_ a: page_walk_action) {
        w.pointee.action = a
    }

    @inlinable @inline(__always) func hole(_ addr: UInt, _ next: UInt, _ depth: Int32) -> Int32 {
        _Invoke<V>.hole(v, addr, next, depth, w, error)
    }

    /// A run of none entries of level `l` from `entry` on, each reported to `pteHole` as the level
    /// loop would, in a loop of its own: stops at the first entry that is not none (read again after
    /// every callback) or at `end`, and moves `entry` and `addr` there.
    @inlinable @inline(__always)
    func holeRun(_ l: Int, _ entry: inout UnsafeMutablePointer<UInt64>, _ addr: inout UInt, _ end: UInt,
                 _ depth: Int32) -> Int32 {
        let size: UInt = 1 << shift(l)
        var e = entry
        var a = addr
        defer {
            entry = e
            addr = a
        }
        repeat {
            let boundary = (a &+ size) & ~(size &- 1)
            let next = boundary &- 1 < end &- 1 ? boundary : end
            let err = hole(a, next, depth)
            if err != 0 { return err }
            e += 1
            a = next
        } while a != end && e.pointee == 0
        return 0
    }

    // MARK: PTE level

    @inlinable
    func pteRangeInner(_ first: UnsafeMutablePointer<UInt64>, _ start: UInt, _ end: UInt) -> Int32 {
        if !set.contains(.installPTE) {
            return _Invoke<V>.pteRun(v, first, start, end, w, error)
        }
        var pte = first
        var addr = start
        let last: UInt = end > 4096 ? end &- 4096 : 0
        while true {
            var err: Int32 = 0
            if pte.pointee == 0 {
                var newPTE: UInt64 = 0
                err = _Invoke<V>.install(v, addr, addr &+ 4096, &newPTE, w, error)
                if err == 0 {
                    pte.pointee = newPTE
                    if w.pointee.no_vma { pw_warn(m) }
                }
            } else if set.contains(.pteEntry) {
                err = _Invoke<V>.pte(v, pte, addr, addr &+ 4096, w, error)
            }
            if err != 0 || addr >= last { return err }
            addr &+= 4096
            pte += 1
        }
    }

    @inlinable
    func pteRange(_ pmd: UnsafeMutablePointer<UInt64>, _ addr: UInt, _ end: UInt) -> Int32 {
        var err: Int32 = 0
        let pte: UnsafeMutablePointer<UInt64>?
        if w.pointee.no_vma {
            if pw_mm_is_kernel(w.pointee.mm) || addr >= taskSize {
                // pte_offset_kernel checks nothing; a table beyond memory is skipped, not read.
                guard let t = table(_load(pmd)) else { return 0 }
                pte = t + index(4, addr)
            } else {
                pte = pteOffsetMap(pmd, addr)
            }
            if let pte { err = pteRangeInner(pte, addr, end) }
        } else {
            pte = pteOffsetMap(pmd, addr)
            if let pte {
                let ptl = pw_table_lock(m, pte)
                spin_lock(ptl)
                err = pteRangeInner(pte, addr, end)
                spin_unlock(ptl)
            }
        }
        if pte == nil { setAction(ACTION_AGAIN) }
        return err
    }

    // MARK: PMD and PUD levels

    @inlinable
    func pmdRange(_ pud: UnsafeMutablePointer<UInt64>, _ start: UInt, _ end: UInt) -> Int32 {
        let hasHandler = set.contains(.pteEntry)
        let hasInstall = set.contains(.installPTE)
        let depth = realDepth(3)
        let holeRuns = !hasInstall && set.contains(.pteHole) && !isTrivial(3)
        guard var pmd = offset(3, pud, start) else { return 0 }
        var addr = start
        var err: Int32 = 0
        repeat {
            if holeRuns && pmd.pointee == 0 {
                err = holeRun(3, &pmd, &addr, end, depth)
                if err != 0 || addr == end { return err }
            }
            var again = true
            while again {
                again = false
                let next = addrEnd(3, addr, end)
                if none(3, _load(pmd)) {
                    if hasInstall {
                        err = pw_table_alloc_into(w.pointee.mm, pmd)
                    } else if set.contains(.pteHole) {
                        err = hole(addr, next, depth)
                    }
                    if err != 0 { return err }
                    if !hasInstall { break }
                }
                setAction(ACTION_SUBTREE)
                if set.contains(.pmdEntry) { err = _Invoke<V>.pmd(v, pmd, addr, next, w, error) }
                if err != 0 { return err }
                if action == ACTION_AGAIN.rawValue { again = true; continue }
                if action == ACTION_CONTINUE.rawValue { break }
                if !hasHandler {
                    if !hasInstall { break }
                    if leaf(3, _load(pmd)) { break }
                }
                if let vma = w.pointee.vma {
                    // split_huge_pmd(): only a leaf or a migration entry has anything to split.
                    let v = _load(pmd)
                    if leaf(3, v) || pw_is_migration_entry(v) { pw_split_huge_pmd(vma, pmd, addr) }
                } else if leaf(3, _load(pmd)) || !present(3, _load(pmd)) {
                    break
                }
                err = pteRange(pmd, addr, next)
                if err != 0 { return err }
                if action == ACTION_AGAIN.rawValue { again = true }
            }
            pmd += 1
            addr = addrEnd(3, addr, end)
        } while addr != end
        return err
    }

    @inlinable
    func pudRange(_ p4d: UnsafeMutablePointer<UInt64>, _ start: UInt, _ end: UInt) -> Int32 {
        let hasHandler = set.contains(.pmdEntry) || set.contains(.pteEntry)
        let hasInstall = set.contains(.installPTE)
        let depth = realDepth(2)
        let holeRuns = !hasInstall && set.contains(.pteHole) && !isTrivial(2)
        guard var pud = offset(2, p4d, start) else { return 0 }
        var addr = start
        var err: Int32 = 0
        repeat {
            if holeRuns && pud.pointee == 0 {
                err = holeRun(2, &pud, &addr, end, depth)
                if err != 0 || addr == end { return err }
            }
            let next = addrEnd(2, addr, end)
            var again = true
            while again {
                again = false
                if none(2, _load(pud)) {
                    if hasInstall {
                        err = pw_table_alloc_into(w.pointee.mm, pud)
                    } else if set.contains(.pteHole) {
                        err = hole(addr, next, depth)
                    }
                    if err != 0 { return err }
                    if !hasInstall { break }
                }
                setAction(ACTION_SUBTREE)
                if set.contains(.pudEntry) { err = _Invoke<V>.pud(v, pud, addr, next, w, error) }
                if err != 0 { return err }
                if action == ACTION_AGAIN.rawValue { again = true; continue }
                if action == ACTION_CONTINUE.rawValue { break }
                if !hasHandler {
                    if !hasInstall { break }
                    if leaf(2, _load(pud)) { break }
                }
                if let vma = w.pointee.vma {
                    if leaf(2, _load(pud)) { pw_split_huge_pud(vma, pud, addr) }
                } else if leaf(2, _load(pud)) || !present(2, _load(pud)) {
                    break
                }
                if none(2, _load(pud)) { again = true; continue }
                err = pmdRange(pud, addr, next)
                if err != 0 { return err }
            }
            pud += 1
            addr = next
        } while addr != end
        return err
    }

    // MARK: P4D and PGD levels

    @inlinable
    func p4dRange(_ pgd: UnsafeMutablePointer<UInt64>, _ start: UInt, _ end: UInt) -> Int32 {
        let hasHandler = set.contains(.pudEntry) || set.contains(.pmdEntry) || set.contains(.pteEntry)
        let hasInstall = set.contains(.installPTE)
        let depth = realDepth(1)
        let holeRuns = !hasInstall && set.contains(.pteHole) && !isTrivial(1)
        guard var p4d = offset(1, pgd, start) else { return 0 }
        var addr = start
        var err: Int32 = 0
        repeat {
            if holeRuns && p4d.pointee == 0 {
                err = holeRun(1, &p4d, &addr, end, depth)
                if err != 0 || addr == end { return err }
            }
            let next = addrEnd(1, addr, end)
            repeat {
                if noneOrClearBad(1, PW_LEVEL_P4D, p4d) {
                    if hasInstall {
                        err = pw_table_alloc_into(w.pointee.mm, p4d)
                    } else if set.contains(.pteHole) {
                        err = hole(addr, next, depth)
                    }
                    if err != 0 { return err }
                    if !hasInstall { break }
                }
                if set.contains(.p4dEntry) {
                    err = _Invoke<V>.p4d(v, p4d, addr, next, w, error)
                    if err != 0 { return err }
                }
                if hasHandler || hasInstall { err = pudRange(p4d, addr, next) }
                if err != 0 { return err }
            } while false
            p4d += 1
            addr = next
        } while addr != end
        return err
    }

    @inlinable
    func pgdRange(_ start: UInt, _ end: UInt) -> Int32 {
        let hasHandler = set.contains(.p4dEntry) || set.contains(.pudEntry) || set.contains(.pmdEntry)
            || set.contains(.pteEntry)
        let hasInstall = set.contains(.installPTE)
        let base = w.pointee.pgd ?? pw_mm_pgd(w.pointee.mm)!
        var addr = start
        var err: Int32 = 0
        repeat {
            // The non-canonical hole [TASK_SIZE, -TASK_SIZE) is one hole of depth -1 (as the C core).
            if addr >= taskSize && addr < 0 &- taskSize {
                let canonical = 0 &- taskSize
                let next = end &- 1 < canonical &- 1 ? end : canonical
                if set.contains(.pteHole) { err = hole(addr, next, -1) }
                if err != 0 { return err }
                addr = next
                continue
            }
            // Index bits above the VA bits are ignored: the top table wraps.
            let pgd = base + index(0, addr)
            let next = addrEnd(0, addr, end)
            repeat {
                if noneOrClearBad(0, PW_LEVEL_PGD, pgd) {
                    if hasInstall {
                        err = pw_table_alloc_into(w.pointee.mm, pgd)
                    } else if set.contains(.pteHole) {
                        err = hole(addr, next, 0)
                    }
                    if err != 0 { return err }
                    if !hasInstall { break }
                }
                if set.contains(.pgdEntry) {
                    err = _Invoke<V>.pgd(v, pgd, addr, next, w, error)
                    if err != 0 { return err }
                }
                if hasHandler || hasInstall { err = p4dRange(pgd, addr, next) }
                if err != 0 { return err }
            } while false
            addr = next
        } while addr != end
        return err
    }

    // MARK: hugetlb and one VMA

    @inlinable
    func hugetlbRange(_ start: UInt, _ end: UInt) -> Int32 {
        let vma = w.pointee.vma!
        let size: UInt = 1 << UInt(vma.pointee.hugetlb_shift)
        let hmask = ~(size &- 1)
        var addr = start
        var err: Int32 = 0
        repeat {
            let boundary = (addr & hmask) &+ size
            let next = boundary < end ? boundary : end
            if let pte = pw_hugetlb_walk(vma, addr & hmask, size) {
                err = _Invoke<V>.hugetlb(v, pte, hmask, addr, next, w, error)
            } else if set.contains(.pteHole) {
                err = hole(addr, next, -1)
            }
            if err != 0 { break }
            addr = next
        } while addr != end
        return err
    }

    /// `walk_page_test`: 0 walk, 1 skip, negative abort.
    @inlinable
    func pageTest(_ start: UInt, _ end: UInt) -> Int32 {
        if set.contains(.testWalk) { return _Invoke<V>.test(v, start, end, w, error) }
        if w.pointee.vma!.pointee.vm_flags & UInt(VM_PFNMAP) != 0 {
            var err: Int32 = 1
            if set.contains(.pteHole) { err = hole(start, end, -1) }
            return err != 0 ? err : 1
        }
        return 0
    }

    @inlinable
    func vmaRange(_ start: UInt, _ end: UInt) -> Int32 {
        let vma = w.pointee.vma!
        let isHugetlb = vma.pointee.vm_flags & UInt(VM_HUGETLB) != 0
        var err: Int32 = 0
        if set.contains(.installPTE) && isHugetlb { return -EINVAL }
        if set.contains(.preVMA) {
            err = _Invoke<V>.pre(v, start, end, w, error)
            if err != 0 { return err }
        }
        if isHugetlb {
            if set.contains(.hugetlbEntry) { err = hugetlbRange(start, end) }
        } else {
            err = pgdRange(start, end)
        }
        if set.contains(.postVMA) { _Invoke<V>.post(v, w) }
        return err
    }

    // MARK: locks

    /// The mmap lock assertions of a walk: 0, or `-ENOLCK` on a strict machine (as the C core).
    @inlinable
    func mmWalkLock(_ mm: OpaquePointer, _ lock: WalkLock) -> Int32 {
        if lock == .read { return pw_mmap_assert_locked(mm) }
        if lock != .vmaReadVerify { return pw_mmap_assert_write_locked(mm) }
        return 0
    }

    /// The VMA lock of a walk: 0, or `-ENOLCK` on a strict machine.
    @inlinable
    func vmaWalkLock(_ vma: UnsafeMutablePointer<vm_area_struct>, _ lock: WalkLock) -> Int32 {
        switch lock {
        case .write: pw_vma_start_write(vma)
        case .writeVerify: pw_vma_assert_write_locked(vma)
        case .vmaReadVerify: pw_vma_assert_locked(vma)
        case .read: 0
        }
    }

    // MARK: entry points

    @inlinable
    func walkPageRangeMM(_ mm: OpaquePointer, _ start: UInt, _ end: UInt, _ lock: WalkLock) -> Int32 {
        if start >= end { return -EINVAL }
        var err = mmWalkLock(mm, lock)
        if err != 0 { return err }
        var vma = find_vma(mm, start)
        var start = start
        repeat {
            let next: UInt
            if let current = vma, start >= current.pointee.vm_start {
                err = vmaWalkLock(current, lock)
                if err != 0 { break }
                w.pointee.vma = current
                next = min(end, current.pointee.vm_end)
                vma = find_vma(mm, current.pointee.vm_end)
                err = pageTest(start, next)
                if err > 0 {
                    // Positive values only steer the walk.
                    err = 0
                    start = next
                    continue
                }
                if err < 0 { break }
                err = vmaRange(start, next)
            } else {
                w.pointee.vma = nil
                next = vma.map { min(end, $0.pointee.vm_start) } ?? end
                if set.contains(.pteHole) { err = hole(start, next, -1) }
            }
            if err != 0 { break }
            start = next
        } while start < end
        return err
    }

    @inlinable
    func walkVMA(_ vma: UnsafeMutablePointer<vm_area_struct>, _ start: UInt, _ end: UInt, _ lock: WalkLock) -> Int32 {
        var err = mmWalkLock(vma.pointee.vm_mm, lock)
        if err == 0 { err = vmaWalkLock(vma, lock) }
        if err != 0 { return err }
        return vmaRange(start, end)
    }

    @inlinable
    func walkMapping(_ mapping: OpaquePointer, _ first: UInt, _ nr: UInt) -> Int32 {
        var err = pw_i_mmap_assert_held(mapping)
        if err != 0 { return err }
        if nr == 0 { return 0 }
        let last = first &+ nr &- 1
        for i in 0..<pw_mapping_vma_count(mapping) {
            let vma = pw_mapping_vma_at(mapping, i)!
            let pages = (vma.pointee.vm_end - vma.pointee.vm_start) >> 12
            let vba = vma.pointee.vm_pgoff
            let vea = vba &+ pages
            if !(vba <= last && first <= vea &- 1) { continue }
            let cba = max(first, vba)
            let cea = min(first &+ nr, vea)
            let startAddr = ((cba &- vba) << 12) &+ vma.pointee.vm_start
            let endAddr = ((cea &- vba) << 12) &+ vma.pointee.vm_start
            // Wrapping offsets can put the clipped range outside the VMA: skipped (as the C core).
            if startAddr >= endAddr || startAddr < vma.pointee.vm_start || endAddr > vma.pointee.vm_end { continue }
            w.pointee.vma = vma
            w.pointee.mm = vma.pointee.vm_mm
            err = pageTest(vma.pointee.vm_start, vma.pointee.vm_end)
            if err > 0 { return 0 }
            if err < 0 { break }
            err = vmaRange(startAddr, endAddr)
            if err != 0 { break }
        }
        return err
    }
}

/// Runs `body` with a fresh `struct mm_walk` and a walker for `visitor`, then converts the result.
@inlinable
func _onSwift<V: PageWalkVisitor>(
    _ visitor: inout V, machine: OpaquePointer, mm: OpaquePointer?, vma: UnsafeMutablePointer<vm_area_struct>? = nil,
    pgd: UnsafeMutablePointer<UInt64>? = nil, noVMA: Bool = false, lock: WalkLock,
    _ body: (_SwiftWalker<V>) -> Int32
) throws -> WalkResult {
    try V._checkResultTypes()
    var error: (any Error)? = nil
    var ops = mm_walk_ops()
    ops.walk_lock = page_walk_lock(rawValue: lock.rawValue)
    let code = withUnsafePointer(to: &ops) { opsPointer in
        var walk = mm_walk(ops: opsPointer, mm: mm, pgd: pgd, vma: vma, action: ACTION_SUBTREE, no_vma: noVMA,
                           private: nil)
        return withUnsafeMutablePointer(to: &visitor) { v in
            withUnsafeMutablePointer(to: &error) { e in
                withUnsafeMutablePointer(to: &walk) { w in
                    body(_SwiftWalker(machine: machine, visitor: v, walk: w, error: e))
                }
            }
        }
    }
    return try _result(code, error)
}

/// An acquire load of a page-table entry: the C core's `pw_load`, over the same memory. The
/// machine's table memory is plain C memory holding 64-bit entries, which `Atomic<UInt64>` lays
/// out the same way.
@inlinable @inline(__always)
func _loadEntry(_ p: UnsafeMutablePointer<UInt64>) -> UInt64 {
    UnsafeMutableRawPointer(p).assumingMemoryBound(to: Atomic<UInt64>.self).pointee.load(ordering: .acquiring)
}
