import CWalkCore

// What a visitor needs beyond its callbacks' arguments — the VMA lookup, `vm_normal_page`,
// the page and folio behind a PFN, VMA flag updates — as Swift values, so that a client of the
// walker (the procfs clients in PageWalkImport are the proof) needs no C.

/// What the machine knows of one page: its frame and the folio it belongs to, copied out
/// (the kernel's `struct page` and `page_folio()`, as facts rather than pointers).
@frozen public struct PageInfo: Sendable, Hashable {
    /// The page's frame number.
    public let pfn: UInt64
    /// The frame number of its folio's head page (`folio_pfn`).
    public let folioHead: UInt64
    /// Its folio's order: the folio spans `1 << folioOrder` frames (`folio_order`).
    public let folioOrder: Int

    /// The number of frames of the folio (`folio_nr_pages`).
    @inlinable public var folioPages: UInt64 { 1 << UInt64(folioOrder) }
    /// The page is its folio's head.
    @inlinable public var isFolioHead: Bool { pfn == folioHead }

    /// Wraps the facts of `page` of machine `m`; nil for a NULL page.
    @inlinable
    init?(_ m: OpaquePointer, _ page: OpaquePointer?) {
        guard let page, let folio = pw_page_folio(m, page) else { return nil }
        pfn = pw_page_to_pfn(m, page)
        folioHead = pw_folio_pfn(m, folio)
        folioOrder = Int(pw_folio_order(m, folio))
    }
}

extension VMAInfo {
    /// The facts of a C VMA.
    @inlinable
    init(_ v: UnsafeMutablePointer<vm_area_struct>) {
        self.init(id: v.pointee.id, start: UInt64(v.pointee.vm_start), end: UInt64(v.pointee.vm_end),
                  flags: VMAFlags(rawValue: v.pointee.vm_flags), pgoff: UInt64(v.pointee.vm_pgoff),
                  isAnonymous: pw_vma_is_anonymous(v))
    }
}

extension WalkContext {
    /// `find_vma`: the first VMA of the address space walked that ends above `address`, nil if
    /// none (or in a walk without an address space). The walk holds the mmap lock, as
    /// `find_vma` requires.
    @inlinable
    public func findVMA(_ address: UInt64) -> VMAInfo? {
        guard let mm = pointer.pointee.mm, let v = find_vma(mm, UInt(address)) else { return nil }
        return VMAInfo(v)
    }

    /// The id of the file mapping (`vma->vm_file`) of the VMA being walked; nil for a VMA
    /// without a file, and outside VMAs.
    @inlinable public var vmaMappingID: UInt32? {
        guard let file = pointer.pointee.vma?.pointee.vm_file else { return nil }
        return pw_mapping_id(file)
    }

    /// `vm_normal_page`: the page the present PTE `pte` at `address` of the VMA being walked maps,
    /// nil for a special mapping (the zero page, pfnmap without a `struct page`) or outside VMAs.
    /// A PFN beyond memory is reported as a bad PTE, as the kernel does, and gives nil.
    @inlinable
    public func vmNormalPage(_ pte: PTE, at address: UInt64) -> PageInfo? {
        guard let vma = pointer.pointee.vma, let m = pw_mm_machine(vma.pointee.vm_mm) else { return nil }
        return PageInfo(m, pw_vm_normal_page(vma, UInt(address), pte.rawValue))
    }

    /// `vm_normal_page_pmd`: the page a PMD leaf at `address` of the VMA being walked maps, nil
    /// for the huge zero page, a special mapping, or outside VMAs.
    @inlinable
    public func vmNormalPage(_ pmd: PMD, at address: UInt64) -> PageInfo? {
        guard let vma = pointer.pointee.vma, let m = pw_mm_machine(vma.pointee.vm_mm) else { return nil }
        return PageInfo(m, pw_vm_normal_page_pmd(vma, UInt(address), pmd.rawValue))
    }

    /// `pfn_to_page` and `page_folio`: the page of frame `pfn` of the machine walked, nil
    /// beyond memory. For PFNs that entries hold without mapping them (migration entries).
    @inlinable
    public func page(pfn: UInt64) -> PageInfo? {
        guard let mm = pointer.pointee.mm, let m = pw_mm_machine(mm) else { return nil }
        return PageInfo(m, pw_pfn_to_page(m, pfn))
    }
}

extension Machine {
    /// `pfn_to_page` and `page_folio`: the page of frame `pfn`, nil beyond memory.
    public func page(pfn: UInt64) -> PageInfo? { PageInfo(pointer, pw_pfn_to_page(pointer, pfn)) }
}

extension VMA {
    /// `vm_normal_page`: the page the present PTE `pte` at `address` of this VMA maps, nil for a
    /// special mapping, as in a walk.
    ///
    /// - Throws: ``PageWalkError/staleVMA(id:)`` when the VMA no longer exists.
    public func vmNormalPage(_ pte: PTE, at address: UInt64) throws(PageWalkError) -> PageInfo? {
        PageInfo(space.machine.pointer, pw_vm_normal_page(try pointer, UInt(address), pte.rawValue))
    }

    /// `vm_flags_set`: adds `flags` to the VMA's flags. The caller holds the mmap lock (for
    /// writing, to change what other walkers may be reading).
    ///
    /// - Throws: ``PageWalkError/staleVMA(id:)`` when the VMA no longer exists.
    public func insertFlags(_ flags: VMAFlags) throws(PageWalkError) {
        try pointer.pointee.vm_flags |= flags.rawValue
    }

    /// `vm_flags_clear`: removes `flags` from the VMA's flags. The caller holds the mmap lock
    /// (for writing, to change what other walkers may be reading).
    ///
    /// - Throws: ``PageWalkError/staleVMA(id:)`` when the VMA no longer exists.
    public func removeFlags(_ flags: VMAFlags) throws(PageWalkError) {
        try pointer.pointee.vm_flags &= ~flags.rawValue
    }
}
