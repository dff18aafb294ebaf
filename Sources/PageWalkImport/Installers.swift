import PageWalk

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// MARK: - clear_refs 4: soft-dirty clearing

/// `clear_refs` with type 4 (CLEAR_REFS_SOFT_DIRTY, fs/proc/task_mmu.c: `clear_refs_pte_range`,
/// `clear_soft_dirty`, `clear_soft_dirty_pmd`, `clear_refs_test_walk`) as a visitor: every
/// present PTE and PMD leaf is write-protected and loses its soft-dirty bit; swap and migration
/// entries lose theirs. PFNMAP VMAs are skipped.
public struct ClearSoftDirtyVisitor: PageWalkVisitor {
    /// Entries changed.
    public var cleared = 0

    /// A visitor with nothing counted yet.
    public init() {}

    static let softDirty = EntryFlags.softDirty.rawValue
    static let writable = EntryFlags.writable.rawValue

    /// `clear_refs_test_walk`: skips `VM_PFNMAP` VMAs.
    public mutating func testWalk(address: UInt64, next: UInt64, walk: WalkContext) throws -> VMAVerdict {
        walk.vma?.flags.contains(.pfnmap) == true ? .skip : .walk
    }

    /// `clear_refs_pte_range`: write-protects and cleans a PMD leaf, cleans a PMD migration entry, or does the same for every PTE of the table.
    public mutating func pmdEntry(_ pmd: inout PMD, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        if pmd.isLeaf {
            pmd = PMD(rawValue: pmd.rawValue & ~(Self.writable | Self.softDirty))
            cleared += 1
            return .proceed
        }
        if pmd.isMigration {
            pmd = PMD(rawValue: pmd.rawValue & ~Self.softDirty)
            cleared += 1
            return .proceed
        }
        let mapped: Void? = walk.withPTEs(of: &pmd, range: address..<next) { ptes in
            for i in ptes.indices {
                let v = ptes[i].rawValue
                if ptes[i].isPresent {
                    ptes[i] = PTE(rawValue: v & ~(Self.writable | Self.softDirty))
                    cleared += 1
                } else if ptes[i].isSwap {
                    ptes[i] = PTE(rawValue: v & ~Self.softDirty)
                    cleared += 1
                }
            }
        }
        if mapped == nil { walk.action = .again }
        return .proceed
    }
}

extension ProcessSnapshot {
    /// Writes "4" to the imported process's `clear_refs`: clears `VM_SOFTDIRTY` on every VMA
    /// under the mmap write lock, then walks the whole address space under the read lock.
    ///
    /// - Returns: the entries changed.
    @discardableResult
    public func clearSoftDirty(engine: WalkEngine = .c) throws -> Int {
        try space.withMmapWriteLock {
            for vma in space.vmas { try vma.removeFlags(.softDirty) }
        }
        var visitor = ClearSoftDirtyVisitor()
        let end = try space.vmas.last?.end ?? 0
        if end > 0 {
            _ = try space.withMmapReadLock { try space.walkPageRange(0..<end, visitor: &visitor, engine: engine) }
        }
        return visitor.cleared
    }
}

// MARK: - MADV_GUARD_INSTALL

/// The guard-region installer of `MADV_GUARD_INSTALL` (mm/madvise.c: `guard_install_pud_entry`,
/// `guard_install_pmd_entry`, `guard_install_pte_entry`, `guard_install_set_pte`) for
/// `walk_page_range_mm`: a huge PUD or PMD, or a populated PTE that is not already a guard
/// marker, stops the walk with 1 (the caller zaps and retries); every empty PTE gets a guard
/// marker.
public struct GuardInstallVisitor: PageWalkVisitor {
    /// Pages that are guard regions after the walk (installed or already there).
    public var pages = 0

    /// A visitor with nothing counted yet.
    public init() {}

    /// `guard_install_pud_entry`: a huge PUD stops the walk with 1.
    public mutating func pudEntry(_ entry: inout PUD, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        entry.isLeaf ? .stop(1) : .proceed
    }

    /// `guard_install_pmd_entry`: a huge PMD stops the walk with 1.
    public mutating func pmdEntry(_ entry: inout PMD, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        entry.isLeaf ? .stop(1) : .proceed
    }

    /// `guard_install_pte_entry`: a guard marker counts; any other populated PTE stops the walk with 1.
    public mutating func pteEntry(_ entry: inout PTE, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        if entry.marker == .guardRegion {
            pages += 1
            return .proceed
        }
        return .stop(1)
    }

    /// `guard_install_set_pte`: an empty PTE becomes a guard marker.
    public mutating func installPTE(address: UInt64, next: UInt64, walk: WalkContext) throws -> InstallStep {
        pages += 1
        return .install(.marker(.guardRegion))
    }
}

/// Zaps [start, end) of one VMA as `zap_page_range_single` does for the guard installer: PMD
/// leaves covered whole are cleared, partly covered ones split; PTEs other than guard markers
/// are cleared.
struct GuardZapVisitor: PageWalkVisitor {
    let start: UInt64
    let end: UInt64

    mutating func pudEntry(_ entry: inout PUD, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        if entry.isLeaf && address & ((1 << 30) - 1) == 0 && next - address == 1 << 30 {
            entry = .none
            walk.action = .continue
        }
        return .proceed
    }

    mutating func pmdEntry(_ entry: inout PMD, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        // A whole huge PMD is zapped; a partly covered one is split by the walker (a PTE handler
        // is set) and its PTEs zapped.
        if (entry.isLeaf || entry.isMigration) && address & ((2 << 20) - 1) == 0 && next - address == 2 << 20 {
            entry = .none
            walk.action = .continue
        }
        return .proceed
    }

    mutating func pteEntry(_ entry: inout PTE, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        if !entry.isNone && entry.marker != .guardRegion { entry = .none }
        return .proceed
    }
}

/// Why a guard installation was refused.
public enum GuardInstallError: Error, Equatable, Sendable {
    /// `EINVAL`: unaligned range, or a VMA that cannot hold guard regions (hugetlb, PFNMAP,
    /// MIXEDMAP, IO, DONTEXPAND, locked).
    case invalid
    /// `ENOMEM`: part of the range is not mapped (the mapped parts are still guarded).
    case unmapped
    /// The installer kept finding populated entries after zapping (the kernel restarts the
    /// syscall).
    case raced
}

extension ProcessSnapshot {
    /// `madvise(start, length, MADV_GUARD_INSTALL)` on the import: for each VMA of the range
    /// (`madvise_walk_vmas`), `madvise_guard_install`: checks the VMA, sets `VM_MAYBE_GUARD`,
    /// then up to 3 times walks the range with `walk_page_range_mm` and the guard installer,
    /// zapping what is populated between tries.
    ///
    /// - Returns: pages marked, per VMA, in order.
    @discardableResult
    public func installGuardRegions(_ range: Range<UInt64>, engine: WalkEngine = .c) throws -> [Int] {
        if range.lowerBound & 4095 != 0 { throw GuardInstallError.invalid }
        let end = (range.upperBound + 4095) & ~4095
        if end <= range.lowerBound { return [] }
        let refused: VMAFlags = [.hugetlb, .pfnmap, .mixedmap, .io, .dontExpand, .locked]
        var done: [Int] = []
        var unmapped = false
        var addr = range.lowerBound
        try space.withMmapReadLock {
            while addr < end {
                guard let vma = space.findVMA(addr), try vma.start < end else {
                    unmapped = true
                    break
                }
                let info = try vma.info
                if info.start > addr { unmapped = true }
                let s = max(addr, info.start), e = min(end, info.end)
                if !info.flags.isDisjoint(with: refused) { throw GuardInstallError.invalid }
                try vma.insertFlags(.maybeGuard)
                var installed: Int? = nil
                for _ in 0..<3 {
                    var visitor = GuardInstallVisitor()
                    let r = try space.walkPageRangeMM(s..<e, visitor: &visitor, engine: engine)
                    if r == .completed {
                        installed = visitor.pages
                        break
                    }
                    var zap = GuardZapVisitor(start: s, end: e)
                    _ = try vma.walkPageRangeVMA(s..<e, visitor: &zap, engine: engine)
                }
                guard let installed else { throw GuardInstallError.raced }
                done.append(installed)
                addr = e
            }
        }
        if unmapped { throw GuardInstallError.unmapped }
        return done
    }
}
