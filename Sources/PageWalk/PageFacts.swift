import CWalkCore

/// What the kernel knows about a page beyond the page tables — the `struct page` facts of
/// `pagewalk_pages.h` that kernel-style walk clients (the compat layer's `folio_test_anon`,
/// `folio_precise_page_mapcount`, `folio_nid` …) read.
public struct PageFacts: Sendable, Equatable {
    /// Page flags, numbered as `/proc/kpageflags` (bits 48 and up are PageWalk's, see
    /// `pagewalk_pages.h`).
    public var flags: UInt64
    /// Mappings of this page (`folio_precise_page_mapcount` less the folio's entire mappings).
    public var mapcount: Int32
    /// References (`folio_ref_count` on a head page).
    public var refcount: Int32
    /// PMD/PUD mappings of the whole folio (head pages).
    public var entireMapcount: Int32
    /// NUMA node.
    public var nid: Int32

    /// Facts with the given values (all zero by default).
    public init(flags: UInt64 = 0, mapcount: Int32 = 0, refcount: Int32 = 0, entireMapcount: Int32 = 0,
                nid: Int32 = 0) {
        self.flags = flags
        self.mapcount = mapcount
        self.refcount = refcount
        self.entireMapcount = entireMapcount
        self.nid = nid
    }
}

extension Machine {
    /// Records the facts of frame `pfn` (ignored beyond memory).
    public func setPageFacts(_ pfn: UInt64, _ facts: PageFacts) {
        guard pfn < UInt64(layout.pointee.frames), let info = pw_machine_page_info(pointer) else { return }
        info[Int(pfn)].flags = facts.flags
        info[Int(pfn)].mapcount = facts.mapcount
        info[Int(pfn)].refcount = facts.refcount
        info[Int(pfn)].entire_mapcount = facts.entireMapcount
        info[Int(pfn)].nid = facts.nid
    }

    /// The facts of frame `pfn` (zero beyond memory or when never recorded).
    public func pageFacts(_ pfn: UInt64) -> PageFacts {
        guard pfn < UInt64(layout.pointee.frames), let info = pw_machine_page_info(pointer) else { return PageFacts() }
        let i = info[Int(pfn)]
        return PageFacts(flags: i.flags, mapcount: i.mapcount, refcount: i.refcount,
                         entireMapcount: i.entire_mapcount, nid: i.nid)
    }
}

extension Mapping {
    /// Records that page `index` of this file is in the page cache, held by frame `frame`
    /// (`filemap_get_entry` finds it; mincore reports it resident when no PTE maps it), or
    /// removes it (`frame` nil).
    public func setCachedPage(_ index: UInt64, frame: UInt64?) {
        _ = pw_page_cache_set(pointer, index, frame.map { $0 + 1 } ?? 0)
    }
}
