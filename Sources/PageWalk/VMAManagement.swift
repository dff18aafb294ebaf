import CWalkCore

/// mmap, munmap and mprotect: VMAs that split and merge as a process's do.
///
/// These are set-up operations: they take no lock. Hold the mmap write lock
/// (`withMmapWriteLock`) when other threads walk the same address space.
extension AddressSpace {
    /// Maps `range` (MAP_FIXED_NOREPLACE semantics): `PageWalkError.exists` if it overlaps a VMA.
    /// The new range merges with neighbours where the kernel's `vma_merge` would (same flags,
    /// mapping and hugetlb size, contiguous file offsets); the resulting VMA is returned.
    @discardableResult
    public func map(_ range: Range<UInt64>, flags: VMAFlags, file: Mapping? = nil, pgoff: UInt64 = 0,
                    hugePages: HugePageSize? = nil) throws(PageWalkError) -> VMA {
        var out: UnsafeMutablePointer<vm_area_struct>? = nil
        let err = pw_mmap(pointer, UInt(range.lowerBound), UInt(range.count), flags.rawValue, file?.pointer,
                          UInt(pgoff), hugePages?.rawValue ?? 0, &out)
        guard err == 0, let out else { throw PageWalkError(errno: err) }
        return VMA(space: self, raw: out)
    }

    /// Unmaps `range`: splits the VMAs it cuts, clears its entries (splitting huge ones it only
    /// partly covers) and frees every page table left empty.
    public func unmap(_ range: Range<UInt64>) throws(PageWalkError) {
        let err = pw_munmap(pointer, UInt(range.lowerBound), UInt(range.count))
        if err != 0 { throw PageWalkError(errno: err) }
    }

    /// Changes the protection of `range` to `protection` (read, write, exec): splits and merges
    /// VMAs, and updates entries as `change_protection` does (write is only ever removed, NX
    /// follows exec). `PageWalkError.outOfMemory` if part of the range is not mapped, as the kernel.
    public func protect(_ range: Range<UInt64>, _ protection: VMAFlags) throws(PageWalkError) {
        let err = pw_mprotect(pointer, UInt(range.lowerBound), UInt(range.count), protection.rawValue)
        if err != 0 { throw PageWalkError(errno: err) }
    }

    /// Checks the address space's invariants: VMAs sorted, non-overlapping and (with `merged`)
    /// merged wherever `map` would have merged them; each VMA in its mapping's `i_mmap` order;
    /// every page table reachable once, and as many as the machine counts in use.
    ///
    /// - Returns: nil when they hold, else what is wrong.
    public func checkInvariants(merged: Bool = true) -> String? {
        var message = [CChar](repeating: 0, count: 256)
        let err = merged ? pw_mm_check_merged(pointer, &message, message.count)
            : pw_mm_check(pointer, &message, message.count)
        return err == 0 ? nil : message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}
