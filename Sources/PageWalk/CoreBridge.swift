import CWalkCore

/// A callback of one entry, specialized for the visitor type when the walk is.
@usableFromInline
typealias _EntryThunk = (UnsafeMutableRawPointer, UnsafeMutablePointer<UInt64>, UInt, UInt,
                         UnsafeMutablePointer<mm_walk>, UnsafeMutablePointer<(any Error)?>) -> Int32

/// What the C trampolines find through `walk->private` during a walk on the C core.
///
/// The C core calls a fixed set of `@convention(c)` trampolines; each loads the thunk for its
/// callback from here and calls it once, and the thunk (formed where the walk is specialized for
/// the visitor type) runs the visitor's method inline. PTEs are passed a table run at a time
/// through the core's `pte_range` hook, and holes, PUD and PMD entries and installs a run of
/// entries at a time through `entry_run`, so the per-entry calls stay inside specialized Swift.
///
/// A final class with `let` thunks, reached without retaining it: a thunk loaded from immutable
/// storage is called without retaining its context (a struct reached through a pointer costs a
/// `swift_retain`/`swift_release` pair on every callback).
@usableFromInline
final class _CoreDispatch {
    @usableFromInline let visitor: UnsafeMutableRawPointer
    @usableFromInline let error: UnsafeMutablePointer<(any Error)?>
    @usableFromInline let pgd: _EntryThunk
    @usableFromInline let p4d: _EntryThunk
    @usableFromInline let pud: _EntryThunk
    @usableFromInline let pmd: _EntryThunk
    @usableFromInline let pte: _EntryThunk
    @usableFromInline let pteRun: _EntryThunk
    @usableFromInline let hole: (UnsafeMutableRawPointer, UInt, UInt, Int32, UnsafeMutablePointer<mm_walk>,
                                 UnsafeMutablePointer<(any Error)?>) -> Int32
    @usableFromInline let hugetlb: (UnsafeMutableRawPointer, UnsafeMutablePointer<UInt64>, UInt, UInt, UInt,
                                    UnsafeMutablePointer<mm_walk>, UnsafeMutablePointer<(any Error)?>) -> Int32
    @usableFromInline let test: (UnsafeMutableRawPointer, UInt, UInt, UnsafeMutablePointer<mm_walk>,
                                 UnsafeMutablePointer<(any Error)?>) -> Int32
    @usableFromInline let pre: (UnsafeMutableRawPointer, UInt, UInt, UnsafeMutablePointer<mm_walk>,
                                UnsafeMutablePointer<(any Error)?>) -> Int32
    @usableFromInline let post: (UnsafeMutableRawPointer, UnsafeMutablePointer<mm_walk>) -> Void
    @usableFromInline let install: (UnsafeMutableRawPointer, UInt, UInt, UnsafeMutablePointer<UInt64>,
                                    UnsafeMutablePointer<mm_walk>, UnsafeMutablePointer<(any Error)?>) -> Int32
    @usableFromInline let run: (UnsafeMutableRawPointer, UnsafeMutablePointer<mm_walk_run>, UnsafeMutablePointer<mm_walk>,
                                UnsafeMutablePointer<(any Error)?>) -> Int32

    @inlinable
    init<V: PageWalkVisitor>(_ visitor: UnsafeMutablePointer<V>, error: UnsafeMutablePointer<(any Error)?>) {
        self.visitor = UnsafeMutableRawPointer(visitor)
        self.error = error
        pgd = { v, e, a, n, w, s in _Invoke<V>.pgd(v.assumingMemoryBound(to: V.self), e, a, n, w, s) }
        p4d = { v, e, a, n, w, s in _Invoke<V>.p4d(v.assumingMemoryBound(to: V.self), e, a, n, w, s) }
        pud = { v, e, a, n, w, s in _Invoke<V>.pud(v.assumingMemoryBound(to: V.self), e, a, n, w, s) }
        pmd = { v, e, a, n, w, s in _Invoke<V>.pmd(v.assumingMemoryBound(to: V.self), e, a, n, w, s) }
        pte = { v, e, a, n, w, s in _Invoke<V>.pte(v.assumingMemoryBound(to: V.self), e, a, n, w, s) }
        pteRun = { v, e, a, n, w, s in _Invoke<V>.pteRun(v.assumingMemoryBound(to: V.self), e, a, n, w, s) }
        hole = { v, a, n, d, w, s in _Invoke<V>.hole(v.assumingMemoryBound(to: V.self), a, n, d, w, s) }
        hugetlb = { v, e, h, a, n, w, s in _Invoke<V>.hugetlb(v.assumingMemoryBound(to: V.self), e, h, a, n, w, s) }
        test = { v, a, n, w, s in _Invoke<V>.test(v.assumingMemoryBound(to: V.self), a, n, w, s) }
        pre = { v, a, n, w, s in _Invoke<V>.pre(v.assumingMemoryBound(to: V.self), a, n, w, s) }
        post = { v, w in _Invoke<V>.post(v.assumingMemoryBound(to: V.self), w) }
        install = { v, a, n, o, w, s in _Invoke<V>.install(v.assumingMemoryBound(to: V.self), a, n, o, w, s) }
        let set = visitor.pointee.activeCallbacks
        run = { v, r, w, s in _Invoke<V>.run(v.assumingMemoryBound(to: V.self), r, w, s, set) }
    }
}

/// The dispatch of a walk, borrowed: `_onCore` keeps it alive for the whole walk.
@inlinable @inline(__always)
func _dispatch<R>(_ w: UnsafeMutablePointer<mm_walk>?, _ body: (_CoreDispatch) -> R) -> R {
    Unmanaged<_CoreDispatch>.fromOpaque(w.unsafelyUnwrapped.pointee.`private`.unsafelyUnwrapped)
        ._withUnsafeGuaranteedRef(body)
}

@usableFromInline let _cPGD: @convention(c) (UnsafeMutablePointer<pgd_t>?, UInt, UInt, UnsafeMutablePointer<mm_walk>?) -> Int32 = { e, a, n, w in
    _dispatch(w) { d in d.pgd(d.visitor, e.unsafelyUnwrapped, a, n, w.unsafelyUnwrapped, d.error) }
}
@usableFromInline let _cP4D: @convention(c) (UnsafeMutablePointer<p4d_t>?, UInt, UInt, UnsafeMutablePointer<mm_walk>?) -> Int32 = { e, a, n, w in
    _dispatch(w) { d in d.p4d(d.visitor, e.unsafelyUnwrapped, a, n, w.unsafelyUnwrapped, d.error) }
}
@usableFromInline let _cPUD: @convention(c) (UnsafeMutablePointer<pud_t>?, UInt, UInt, UnsafeMutablePointer<mm_walk>?) -> Int32 = { e, a, n, w in
    _dispatch(w) { d in d.pud(d.visitor, e.unsafelyUnwrapped, a, n, w.unsafelyUnwrapped, d.error) }
}
@usableFromInline let _cPMD: @convention(c) (UnsafeMutablePointer<pmd_t>?, UInt, UInt, UnsafeMutablePointer<mm_walk>?) -> Int32 = { e, a, n, w in
    _dispatch(w) { d in d.pmd(d.visitor, e.unsafelyUnwrapped, a, n, w.unsafelyUnwrapped, d.error) }
}
@usableFromInline let _cPTE: @convention(c) (UnsafeMutablePointer<pte_t>?, UInt, UInt, UnsafeMutablePointer<mm_walk>?) -> Int32 = { e, a, n, w in
    _dispatch(w) { d in d.pte(d.visitor, e.unsafelyUnwrapped, a, n, w.unsafelyUnwrapped, d.error) }
}
@usableFromInline let _cPTERun: @convention(c) (UnsafeMutablePointer<pte_t>?, UInt, UInt, UnsafeMutablePointer<mm_walk>?) -> Int32 = { e, a, n, w in
    _dispatch(w) { d in d.pteRun(d.visitor, e.unsafelyUnwrapped, a, n, w.unsafelyUnwrapped, d.error) }
}
@usableFromInline let _cHole: @convention(c) (UInt, UInt, Int32, UnsafeMutablePointer<mm_walk>?) -> Int32 = { a, n, depth, w in
    _dispatch(w) { d in d.hole(d.visitor, a, n, depth, w.unsafelyUnwrapped, d.error) }
}
@usableFromInline let _cHugetlb: @convention(c) (UnsafeMutablePointer<pte_t>?, UInt, UInt, UInt, UnsafeMutablePointer<mm_walk>?) -> Int32 = { e, h, a, n, w in
    _dispatch(w) { d in d.hugetlb(d.visitor, e.unsafelyUnwrapped, h, a, n, w.unsafelyUnwrapped, d.error) }
}
@usableFromInline let _cTest: @convention(c) (UInt, UInt, UnsafeMutablePointer<mm_walk>?) -> Int32 = { a, n, w in
    _dispatch(w) { d in d.test(d.visitor, a, n, w.unsafelyUnwrapped, d.error) }
}
@usableFromInline let _cPre: @convention(c) (UInt, UInt, UnsafeMutablePointer<mm_walk>?) -> Int32 = { a, n, w in
    _dispatch(w) { d in d.pre(d.visitor, a, n, w.unsafelyUnwrapped, d.error) }
}
@usableFromInline let _cPost: @convention(c) (UnsafeMutablePointer<mm_walk>?) -> Void = { w in
    _dispatch(w) { d in d.post(d.visitor, w.unsafelyUnwrapped) }
}
@usableFromInline let _cInstall: @convention(c) (UInt, UInt, UnsafeMutablePointer<pte_t>?, UnsafeMutablePointer<mm_walk>?) -> Int32 = { a, n, o, w in
    _dispatch(w) { d in d.install(d.visitor, a, n, o.unsafelyUnwrapped, w.unsafelyUnwrapped, d.error) }
}

@usableFromInline let _cRun: @convention(c) (UnsafeMutablePointer<mm_walk_run>?, UnsafeMutablePointer<mm_walk>?) -> Int32 = { r, w in
    _dispatch(w) { d in d.run(d.visitor, r.unsafelyUnwrapped, w.unsafelyUnwrapped, d.error) }
}

/// The C ops struct with exactly the trampolines of the callbacks `set` names.
@inlinable
func _coreOps(_ set: WalkCallbacks, lock: WalkLock) -> mm_walk_ops {
    var ops = mm_walk_ops()
    ops.walk_lock = page_walk_lock(rawValue: lock.rawValue)
    if set.contains(.pgdEntry) { ops.pgd_entry = _cPGD }
    if set.contains(.p4dEntry) { ops.p4d_entry = _cP4D }
    if set.contains(.pudEntry) { ops.pud_entry = _cPUD }
    if set.contains(.pmdEntry) { ops.pmd_entry = _cPMD }
    if set.contains(.pteEntry) {
        // Batched while nothing is installed: the same PTEs, in the same order, with the same
        // early stop. With install_pte the kernel's per-PTE interleaving is kept.
        if set.contains(.installPTE) { ops.pte_entry = _cPTE } else { ops.pte_range = _cPTERun }
    }
    if set.contains(.pteHole) { ops.pte_hole = _cHole }
    if set.contains(.hugetlbEntry) { ops.hugetlb_entry = _cHugetlb }
    if set.contains(.testWalk) { ops.test_walk = _cTest }
    if set.contains(.preVMA) { ops.pre_vma = _cPre }
    if set.contains(.postVMA) { ops.post_vma = _cPost }
    if set.contains(.installPTE) { ops.install_pte = _cInstall }
    // Holes, PUD and PMD entries and installs cross from C once per run of entries, not per entry.
    if !set.isDisjoint(with: [.pteHole, .pudEntry, .pmdEntry, .installPTE]) { ops.entry_run = _cRun }
    return ops
}

/// Runs `call` (one C entry point) with `visitor` behind the C trampolines.
@inlinable
func _onCore<V: PageWalkVisitor>(_ visitor: inout V, lock: WalkLock,
                                 _ call: (UnsafePointer<mm_walk_ops>, UnsafeMutableRawPointer) -> Int32) throws -> WalkResult {
    try V._checkResultTypes()
    var ops = _coreOps(visitor.activeCallbacks, lock: lock)
    var error: (any Error)? = nil
    let code = withUnsafeMutablePointer(to: &visitor) { v in
        withUnsafeMutablePointer(to: &error) { e in
            let dispatch = _CoreDispatch(v, error: e)
            return withExtendedLifetime(dispatch) {
                withUnsafePointer(to: &ops) { call($0, Unmanaged.passUnretained(dispatch).toOpaque()) }
            }
        }
    }
    return try _result(code, error)
}
