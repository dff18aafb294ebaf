import PageWalk
/// One line of a page-table dump: a run of consecutive addresses whose entries share a level
/// and protection bits.
public struct PTDumpRange: Sendable, Equatable {
    /// The first address of the run.
    public var start: UInt64
    /// The first address after the run.
    public var end: UInt64
    /// The level of the entries (the level of the hole, for non-present runs).
    public var level: PageTableLevel
    /// The entries' bits other than the PFN (`pgprotval_t`), 0 for holes.
    public var prot: UInt64

    /// The line as x86's `note_page` / `printk_prot` print it:
    /// `0x…-0x…   SIZE  USR RW PWT PCD PSE PAT GLB NX level`.
    public var formatted: String {
        func hex16(_ v: UInt64) -> String {
            let s = String(v, radix: 16)
            return "0x" + String(repeating: "0", count: max(0, 16 - s.count)) + s
        }
        var delta = end &- start
        let units: [Character] = ["K", "M", "G", "T", "P", "E"]
        var unit = 0
        delta >>= 10
        while delta & 1023 == 0 && unit < units.count - 1 && delta != 0 {
            delta >>= 10
            unit += 1
        }
        let size = String(delta)
        var line = "\(hex16(start))-\(hex16(end))   " + String(repeating: " ", count: max(0, 9 - size.count)) + size
            + String(units[unit]) + " "
        let isPTE = level == .pte
        let bits = EntryFlags(rawValue: prot)
        if !bits.contains(.present) {
            line += String(repeating: " ", count: 30)
        } else {
            line += bits.contains(.user) ? "USR " : "    "
            line += bits.contains(.writable) ? "RW " : "ro "
            line += bits.contains(.writeThrough) ? "PWT " : "    "
            line += bits.contains(.cacheDisable) ? "PCD " : "    "
            line += !isPTE && bits.contains(.huge) ? "PSE " : "    "
            // In a PTE bit 7 is the PAT bit; in a leaf above, bit 12 is.
            line += (isPTE && bits.contains(.huge)) || (!isPTE && bits.contains(.patLarge)) ? "PAT " : "    "
            line += bits.contains(.global) ? "GLB " : "    "
            line += bits.contains(.noExecute) ? "NX " : "x  "
        }
        return line + level.description
    }
}

/// The generic page-table dumper (mm/ptdump.c: `ptdump_pgd_entry` … `ptdump_pte_entry`,
/// `ptdump_hole`) with x86's `note_page` (arch/x86/mm/dump_pagetables.c) as a visitor: leaves
/// and holes are noted at their level, and runs of equal level and protection merge into one
/// range.
public struct PTDumpVisitor: PageWalkVisitor {
    /// The finished ranges.
    public var ranges: [PTDumpRange] = []
    var current: PTDumpRange? = nil

    /// A dumper with no range yet.
    public init() {}

    /// The protection bits of an entry: everything but the PFN (`PTE_FLAGS_MASK`; the x86 pgd
    /// and p4d use the same layout).
    static func prot(_ value: UInt64) -> UInt64 { value & ~EntryFlags.pfnMask }

    /// `note_page`: ends the current run where the level or protection changes.
    mutating func note(_ address: UInt64, _ level: PageTableLevel, _ value: UInt64) {
        let prot = Self.prot(value)
        if let c = current, c.level == level, c.prot == prot { return }
        if var c = current {
            c.end = address
            ranges.append(c)
        }
        current = PTDumpRange(start: address, end: address, level: level, prot: prot)
    }

    /// `note_page_flush`: ends the last run at `end`.
    public mutating func flush(at end: UInt64) {
        if var c = current {
            c.end = end
            ranges.append(c)
        }
        current = nil
    }

    /// `ptdump_pgd_entry`: nothing to note (a pgd never holds a leaf here).
    public mutating func pgdEntry(_ entry: inout PGD, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        .proceed  // the pgd and p4d never hold leaves
    }

    /// `ptdump_p4d_entry`: nothing to note (a p4d never holds a leaf here).
    public mutating func p4dEntry(_ entry: inout P4D, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        .proceed
    }

    /// `ptdump_pud_entry`: notes a leaf or non-present entry and does not descend under it.
    public mutating func pudEntry(_ entry: inout PUD, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        if entry.isLeaf || (!entry.isPresent && !entry.isNone) {
            note(address, .pud, entry.rawValue)
            walk.action = .continue
        }
        return .proceed
    }

    /// `ptdump_pmd_entry`: notes a leaf or non-present entry and does not descend under it.
    public mutating func pmdEntry(_ entry: inout PMD, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        if entry.isLeaf || (!entry.isPresent && !entry.isNone) {
            note(address, .pmd, entry.rawValue)
            walk.action = .continue
        }
        return .proceed
    }

    /// `ptdump_pte_entry`: notes the PTE.
    public mutating func pteEntry(_ entry: inout PTE, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        note(address, .pte, entry.rawValue)
        return .proceed
    }

    /// `ptdump_hole`: a none entry of the level given by `depth`.
    public mutating func pteHole(address: UInt64, next: UInt64, depth: Int, walk: WalkContext) throws -> WalkStep {
        let levels: [PageTableLevel] = [.pgd, .p4d, .pud, .pmd, .pte]
        if depth >= 0 && depth < levels.count { note(address, levels[depth], 0) }
        return .proceed
    }
}

extension ProcessSnapshot {
    /// The dump of the user address space's tables (`ptdump_walk_pgd` over [0, TASK_SIZE) with
    /// `walk_page_range_debug`, which wants the mmap write lock).
    public func ptdump(engine: WalkEngine = .c) throws -> [PTDumpRange] {
        var visitor = PTDumpVisitor()
        let end = machine.geometry.taskSize
        _ = try space.withMmapWriteLock { try space.walkPageRangeDebug(0..<end, visitor: &visitor, engine: engine) }
        visitor.flush(at: end)
        return visitor.ranges
    }

    /// The dump as text: the `---[ User Space ]---` marker, then one line per range.
    public func formatPTDump(_ ranges: [PTDumpRange]) -> String {
        "---[ User Space ]---\n" + ranges.map { $0.formatted + "\n" }.joined()
    }
}
