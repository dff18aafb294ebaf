import PageWalk

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The mincore walk (mm/mincore.c: `mincore_pte_range`, `mincore_unmapped_range`,
/// `mincore_hugetlb`) as a visitor: one residency byte per page of the range walked.
///
/// What page tables cannot say — whether a file page that no PTE maps is in the page cache,
/// whether a swapped page is in the swap cache — comes from `pageCache` (recorded by the
/// import) or is reported 0, and counted in `undetermined`.
public struct MincoreVisitor: PageWalkVisitor {
    /// The bytes produced so far, one per page from the walk's start.
    public var vec: [UInt8] = []
    /// Pages whose byte no page table determines and the import did not record.
    public var undetermined = 0
    let snapshot: ProcessSnapshot

    /// A visitor for the walks of `snapshot`'s address space (its recorded page cache fills file holes).
    public init(snapshot: ProcessSnapshot) { self.snapshot = snapshot }

    /// `__mincore_unmapped_range`: anonymous memory is not resident; file pages are as the
    /// page cache has them.
    mutating func unmapped(_ addr: UInt64, _ end: UInt64, _ walk: WalkContext) {
        let n = Int((end - addr) >> 12)
        guard let vma = walk.vma, walk.vmaMappingID != nil else {
            vec.append(contentsOf: repeatElement(0, count: n))
            return
        }
        let region = snapshot.region(vma: vma.id)
        if let cache = region?.pageCache {
            let first = Int((addr - vma.start) >> 12)
            for i in 0..<n { vec.append(first + i < cache.count ? cache[first + i] & 1 : 0) }
        } else {
            vec.append(contentsOf: repeatElement(0, count: n))
            undetermined += n
        }
    }

    /// `mincore_unmapped_range`.
    public mutating func pteHole(address: UInt64, next: UInt64, depth: Int, walk: WalkContext) throws -> WalkStep {
        unmapped(address, next, walk)
        return .proceed
    }

    /// `mincore_pte_range`.
    public mutating func pmdEntry(_ pmd: inout PMD, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        let n = Int((next - address) >> 12)
        if pmd.isLeaf || pmd.isSwap {
            // pmd_trans_huge_lock succeeded: the whole range is resident.
            vec.append(contentsOf: repeatElement(1, count: n))
            return .proceed
        }
        let mapped: Void? = walk.withPTEs(of: &pmd, range: address..<next) { ptes in
            var a = address
            for i in ptes.indices {
                let pte = ptes[i]
                if pte.isNone || pte.marker != nil {
                    // pte_none_mostly: markers are looked up like holes.
                    unmapped(a, a + 4096, walk)
                } else if pte.isPresent {
                    vec.append(1)
                } else {
                    vec.append(swap(pte))
                }
                a &+= 4096
            }
        }
        if mapped == nil { walk.action = .again }
        return .proceed
    }

    /// `mincore_swap`: migration and hwpoison entries are always up to date; a real swap entry
    /// is resident only if its page is in the swap cache, which no page table says.
    mutating func swap(_ pte: PTE) -> UInt8 {
        if let t = pte.swapType, t >= SwapType.hwpoison { return 1 }
        undetermined += 1
        return 0
    }

    /// `mincore_hugetlb`.
    public mutating func hugetlbEntry(_ pte: inout PTE, hmask: UInt64, address: UInt64, next: UInt64,
                                      walk: WalkContext) throws -> WalkStep {
        let present: UInt8 = !pte.isNone && pte.marker == nil ? 1 : 0
        vec.append(contentsOf: repeatElement(present, count: Int((next - address) >> 12)))
        return .proceed
    }
}

extension ProcessSnapshot {
    /// The `mincore(2)` vector of `range` as the process would get it: `start` must be
    /// page-aligned and every page mapped (else `EINVAL` / `ENOMEM`, as the syscall); each
    /// VMA is walked with `walk_page_range` (`do_mincore`).
    public func mincore(_ range: Range<UInt64>, engine: WalkEngine = .c) throws -> (vec: [UInt8], undetermined: Int) {
        if range.lowerBound & 4095 != 0 { throw PageWalkError.invalidArgument }
        let end = (range.upperBound + 4095) & ~4095
        var visitor = MincoreVisitor(snapshot: self)
        var addr = range.lowerBound
        try space.withMmapReadLock {
            while addr < end {
                guard let vma = space.vma(containing: addr) else { throw PageWalkError.outOfMemory }
                let stop = min(try vma.end, end)
                if let r = region(vma: vma.id), r.kind == .special && !r.name.hasPrefix("[anon:") {
                    // can_do_mincore: a special mapping ([vdso], [vvar]) is neither anonymous
                    // nor a file; the kernel reports it all resident without a walk.
                    visitor.vec.append(contentsOf: repeatElement(1, count: Int((stop - addr) >> 12)))
                } else {
                    _ = try space.walkPageRange(addr..<stop, visitor: &visitor, engine: engine)
                }
                addr = stop
            }
        }
        return (visitor.vec, visitor.undetermined)
    }
}
