import PageWalk
import PageWalkImport
import Testing

/// Imports of recorded processes: what a live process here cannot show on demand (hugetlb
/// pages, swap entries, uffd-wp, hidden PFNs) and how an import fails.
@Suite struct ImportRecordedTests {
    static let anonStart: UInt64 = 0x7f00_0000_0000
    static let hugeStart: UInt64 = 0x7f00_4000_0000

    /// An anonymous VMA of 16 pages and a 4 MiB hugetlb VMA, as maps and smaps say.
    static func recorded() -> RecordedProcess {
        let maps = """
        7f0000000000-7f0000010000 rw-p 00000000 00:00 0 
        7f0040000000-7f0040400000 rw-s 00000000 00:10 4242                       /anon_hugepage (deleted)
        """
        let smaps = """
        7f0000000000-7f0000010000 rw-p 00000000 00:00 0 
        KernelPageSize:        4 kB
        VmFlags: rd wr mr mw me ac 
        7f0040000000-7f0040400000 rw-s 00000000 00:10 4242                       /anon_hugepage (deleted)
        KernelPageSize:     2048 kB
        VmFlags: rd wr sh mr mw me ms de ht 
        """
        var pagemap: [UInt64: UInt64] = [:]
        let a = anonStart >> 12
        pagemap[a] = PagemapEntry.presentBit | PagemapEntry.exclusiveBit | 0x1000           // PFN 0x1000
        pagemap[a + 1] = PagemapEntry.swapBit | (0x1234 << 5) | 3                           // swap type 3
        pagemap[a + 2] = PagemapEntry.presentBit | PagemapEntry.uffdWriteProtectBit | PagemapEntry.exclusiveBit | 0x1001
        pagemap[a + 3] = PagemapEntry.swapBit | PagemapEntry.guardRegionBit | (4 << 5) | 31  // guard marker
        pagemap[a + 4] = PagemapEntry.presentBit | 0x1002                                    // mapped twice
        let h = hugeStart >> 12
        for i in 0..<UInt64(512) {  // the first huge page present (PFN 0x40000..), the second not
            pagemap[h + i] = PagemapEntry.presentBit | PagemapEntry.fileBit | PagemapEntry.exclusiveBit | (0x40000 + i)
        }
        var flags: [UInt64: UInt64] = [
            0x1000: (KPageFlags.anon.union([.swapBacked, .mmap, .uptodate])).rawValue,
            0x1001: (KPageFlags.anon.union([.swapBacked, .mmap])).rawValue,
            0x1002: (KPageFlags.anon.union([.swapBacked, .mmap])).rawValue,
        ]
        flags[0x40000] = KPageFlags([.huge, .compoundHead, .mmap]).rawValue
        for i in 1..<UInt64(512) { flags[0x40000 + i] = KPageFlags([.huge, .compoundTail, .mmap]).rawValue }
        var counts: [UInt64: UInt64] = [0x1000: 1, 0x1001: 1, 0x1002: 2]
        for i in 0..<UInt64(512) { counts[0x40000 + i] = 1 }
        return RecordedProcess(maps: maps, smaps: smaps, pagemap: pagemap, pageFlags: flags, pageCounts: counts,
                               maxPFN: 1 << 20)
    }

    @Test func hugetlbSwapAndMarkersRoundTrip() throws {
        let rec = Self.recorded()
        let snap = try ProcessSnapshot.importProcess(from: rec)
        #expect(snap.summary.hugetlbLeaves == 1, "the second huge page is not present")
        #expect(snap.summary.swapEntries == 1 && snap.summary.markers == 1)
        let huge = try #require(snap.space.vma(containing: Self.hugeStart))
        #expect(try huge.hugePageSize == .twoMegabytes && huge.flags.contains(.hugetlb))
        #expect(PMD(rawValue: try snap.space.entry(.pmd, at: Self.hugeStart)).isLeaf)
        // pagemap from the walk gives back exactly what was read.
        for (start, pages) in [(Self.anonStart, 16), (Self.hugeStart, 1024)] {
            let ours = try snap.pagemap(start..<(start + UInt64(pages) * 4096))
            let recorded = (0..<pages).map { PagemapEntry(rawValue: rec.pagemap[(start >> 12) + UInt64($0)] ?? 0) }
            #expect(ours == recorded)
        }
        // smaps: Rss without hugetlb, Swap, Private_Hugetlb; a page mapped twice halves its Pss.
        let stats = try snap.smapsAll()
        let anon = stats[0].stats, hugetlb = stats[1].stats
        #expect(anon.resident == 3 * 4096 && anon.swap == 4096 && anon.anonymous == 3 * 4096)
        #expect(anon.pss >> MemoryStats.pssShift == 2 * 4096 + 2048)
        #expect(anon.sharedDirty + anon.sharedClean == 4096)
        #expect(hugetlb.resident == 0 && hugetlb.privateHugetlb == 2 << 20 && hugetlb.sharedHugetlb == 0)
        // mincore: present pages and the hugetlb page; the swapped page is undetermined.
        let m = try snap.mincore(Self.anonStart..<(Self.anonStart + 8 * 4096))
        #expect(m.vec == [1, 0, 1, 0, 1, 0, 0, 0] && m.undetermined == 1)
        #expect(try snap.mincore(Self.hugeStart..<(Self.hugeStart + (4 << 20))).vec
                == Array(repeating: 1, count: 512) + Array(repeating: 0, count: 512))
        // Guard regions cannot go into hugetlb VMAs.
        #expect(throws: GuardInstallError.invalid) { try snap.installGuardRegions(Self.hugeStart..<(Self.hugeStart + 4096)) }
        // ... but into the anonymous one: the populated pages are zapped, markers kept.
        #expect(try snap.installGuardRegions(Self.anonStart..<(Self.anonStart + 8 * 4096)) == [8])
        #expect(try snap.pagemap(Self.anonStart..<(Self.anonStart + 8 * 4096)).allSatisfy(\.isGuardRegion))
    }

    @Test func bothEnginesWalkTheImportAlike() throws {
        let snap = try ProcessSnapshot.importProcess(from: Self.recorded())
        let range = Self.anonStart..<(Self.hugeStart + (4 << 20))
        #expect(try snap.pagemap(range, engine: .c) == snap.pagemap(range, engine: .swift))
        #expect(try snap.smapsRollup(engine: .c) == snap.smapsRollup(engine: .swift))
        #expect(try snap.ptdump(engine: .c) == snap.ptdump(engine: .swift))
    }

    @Test func hiddenPFNsAreNumbered() throws {
        var rec = Self.recorded()
        for (k, v) in rec.pagemap where v & PagemapEntry.presentBit != 0 {
            rec.pagemap[k] = v & ~PagemapEntry.frameMask
        }
        rec.pageFlags = nil
        let snap = try ProcessSnapshot.importProcess(from: rec)
        #expect(!snap.knowledge.realPFNs && !snap.knowledge.pageFlags)
        let stats = try snap.smapsAll()[0].stats
        #expect(stats.resident == 3 * 4096 && stats.swap == 4096)
        #expect(stats.unknown.contains(.pss))
        let shown = try snap.pagemap(Self.anonStart..<(Self.anonStart + 4096), showPFN: false)
        #expect(shown == [PagemapEntry(rawValue: PagemapEntry.presentBit | PagemapEntry.exclusiveBit)])
    }

    /// A source whose process changes or exits while it is read.
    struct Flaky: ProcessSource {
        var base: RecordedProcess
        var mode: Mode
        enum Mode { case exits, changes }
        final class Counter: @unchecked Sendable { var reads = 0 }
        let counter = Counter()
        var pid: Int32? { 4242 }
        func readMaps() throws(ImportError) -> String {
            counter.reads += 1
            switch mode {
            case .exits: return counter.reads == 1 ? base.maps : ""
            case .changes: return base.maps + (counter.reads % 2 == 0 ? "\n7f0080000000-7f0080001000 rw-p 00000000 00:00 0 " : "")
            }
        }
        func readSmaps() throws(ImportError) -> String? { nil }
        func readPagemap(firstPage: UInt64, into buffer: UnsafeMutableBufferPointer<UInt64>) throws(ImportError) {
            try base.readPagemap(firstPage: firstPage, into: buffer)
        }
        var canReadPageFlags: Bool { false }
        func readPageFlags(firstPFN: UInt64, into buffer: UnsafeMutableBufferPointer<UInt64>) throws(ImportError) {}
        func readPageCounts(firstPFN: UInt64, into buffer: UnsafeMutableBufferPointer<UInt64>) throws(ImportError) {}
    }

    @Test func aProcessThatExitsOrKeepsChangingGetsAClearError() throws {
        do {
            _ = try ProcessSnapshot.importProcess(from: Flaky(base: Self.recorded(), mode: .exits))
            Issue.record("no error")
        } catch {
            #expect(error.kind == .exited && error.description.contains("4242") && !error.description.contains("\n"))
        }
        do {
            _ = try ProcessSnapshot.importProcess(from: Flaky(base: Self.recorded(), mode: .changes))
            Issue.record("no error")
        } catch {
            #expect(error.kind == .changing && error.description.contains("3 reads"))
        }
        var accept = ImportOptions()
        accept.acceptChanges = true
        let snap = try ProcessSnapshot.importProcess(from: Flaky(base: Self.recorded(), mode: .changes), options: accept)
        #expect(!snap.knowledge.consistent)
    }

    @Test func malformedMapsAndMissingProcessesAreOneLineErrors() throws {
        let bad = RecordedProcess(maps: "7f0000000000-7f0000010000 rw-p zz 00:00 0\n", pagemap: [:])
        #expect(throws: ImportError.self) { try ProcessSnapshot.importProcess(from: bad) }
        do {
            _ = try ProcessSnapshot.importProcess(pid: 999_999_999)
            Issue.record("no error")
        } catch {
            #expect(error.kind == .noProcess && error.description == "pagewalk: no process 999999999")
        }
        let huge = RecordedProcess(maps: "7f0000000000-7f0000001000 rw-p 00000000 00:00 0 \n",
                                   pagemap: [0x7_f000_0000: PagemapEntry.presentBit | (1 << 40)])
        do {
            _ = try ProcessSnapshot.importProcess(from: huge)
            Issue.record("no error")
        } catch {
            #expect(error.kind == .tooLarge && error.description.contains("2^28"))
        }
    }
}
