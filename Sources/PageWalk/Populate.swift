import CWalkCore

/// Filling an address space with mappings, as faults, THP collapse, swap-out and migration would.
///
/// Each writes one entry (allocating the tables above it) and nothing else: no VMA is created and
/// no lock is taken. Addresses are aligned down to the entry's size.
extension AddressSpace {
    /// Maps `pfn` at the page of `address` with a present PTE, as a fault would.
    public func faultIn(_ address: UInt64, pfn: UInt64, writable: Bool = true) throws(PageWalkError) {
        var flags: EntryFlags = [.present, .user, .accessed]
        if writable { flags.formUnion([.writable, .dirty]) }
        try setEntry(.pte, at: address, to: PTE.present(pfn: pfn, flags: flags).rawValue)
    }

    /// Maps the 2 MiB folio at `pfn` (which must be 512-aligned) with a PMD leaf, and declares it a folio.
    public func installTHP(at address: UInt64, pfn: UInt64, writable: Bool = true) throws(PageWalkError) {
        guard pfn % 512 == 0 else { throw .invalidArgument }
        try machine.declareFolio(head: pfn, order: 9)
        var flags: EntryFlags = [.present, .user, .accessed, .huge]
        if writable { flags.formUnion([.writable, .dirty]) }
        try setEntry(.pmd, at: address, to: PMD.present(pfn: pfn, flags: flags).rawValue)
    }

    /// Maps the shared zero page read-only at the page of `address` (a special PTE).
    public func mapZeroPage(at address: UInt64) throws(PageWalkError) {
        let zero = machine.layout.pointee.zero_pfn
        try setEntry(.pte, at: address, to: PTE.present(pfn: zero, flags: [.present, .user, .accessed, .special]).rawValue)
    }

    /// Maps the huge zero page read-only at the 2 MiB block of `address` (the machine must have one).
    public func mapHugeZeroPage(at address: UInt64) throws(PageWalkError) {
        let hugeZero = machine.layout.pointee.huge_zero_pfn
        guard hugeZero != 0 else { throw .invalidArgument }
        try setEntry(.pmd, at: address, to: PMD.present(pfn: hugeZero, flags: [.present, .user, .accessed, .huge]).rawValue)
    }

    /// Writes a swap entry for the page of `address`.
    public func swapOut(_ address: UInt64, type: UInt8 = 0, offset: UInt64) throws(PageWalkError) {
        guard type < SwapType.hwpoison else { throw .invalidArgument }
        try setEntry(.pte, at: address, to: PTE.swap(type: type, offset: offset).rawValue)
    }

    /// Writes a migration entry for `pfn` at the page of `address` (or a PMD migration entry with `huge`).
    public func setMigrationEntry(at address: UInt64, pfn: UInt64, writable: Bool = false,
                                  huge: Bool = false) throws(PageWalkError) {
        try setEntry(huge ? .pmd : .pte, at: address, to: PTE.migration(pfn: pfn, writable: writable).rawValue)
    }

    /// Writes a PTE marker (for example a guard region) at the page of `address`.
    public func setMarker(at address: UInt64, _ marker: PTEMarker) throws(PageWalkError) {
        try setEntry(.pte, at: address, to: PTE.marker(marker).rawValue)
    }
}
