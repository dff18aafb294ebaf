import Foundation
import PageWalk
import PageWalkImport
import Testing

/// A THP the kernel maps by PTEs (its PMD split, e.g. by an mprotect of part of it that was
/// undone) is imported as the kernel maps it: PAGEMAP_SCAN's PAGE_IS_HUGE decides where the
/// kernel has it, each VMA's AnonHugePages bounds the PMD leaves where it does not, and the
/// import says when the two disagree.
@Suite struct ImportTHPTests {
    static let start: UInt64 = 0x7f00_0000_0000

    /// An anonymous 4 MiB VMA holding two THP folios, every page present on consecutive frames.
    static func recorded(anonHugeKB: Int, hugeRanges: [Range<UInt64>]?) -> RecordedProcess {
        let maps = "7f0000000000-7f0000400000 rw-p 00000000 00:00 0 \n"
        let smaps = maps + "AnonHugePages:  \(anonHugeKB) kB\nKernelPageSize:        4 kB\nVmFlags: rd wr mr mw me ac \n"
        var pagemap: [UInt64: UInt64] = [:], flags: [UInt64: UInt64] = [:], counts: [UInt64: UInt64] = [:]
        for i in 0..<UInt64(1024) {
            pagemap[(start >> 12) + i] = PagemapEntry.presentBit | PagemapEntry.exclusiveBit | (0x40000 + i)
            let compound: KPageFlags = i % 512 == 0 ? [.compoundHead] : [.compoundTail]
            flags[0x40000 + i] = KPageFlags([.anon, .swapBacked, .mmap, .thp]).union(compound).rawValue
            counts[0x40000 + i] = 1
        }
        var rec = RecordedProcess(maps: maps, smaps: smaps, pagemap: pagemap, pageFlags: flags, pageCounts: counts,
                                  maxPFN: 1 << 20)
        rec.hugeRanges = hugeRanges
        return rec
    }

    @Test func pagemapScanDecidesWhichTHPsArePMDMapped() throws {
        let snap = try ProcessSnapshot.importProcess(
            from: Self.recorded(anonHugeKB: 2048, hugeRanges: [Self.start..<(Self.start + (2 << 20))]))
        #expect(snap.summary.thpSource == "PAGEMAP_SCAN")
        #expect(snap.summary.pmdLeaves == 1)
        #expect(PMD(rawValue: try snap.space.entry(.pmd, at: Self.start)).isLeaf)
        #expect(!PMD(rawValue: try snap.space.entry(.pmd, at: Self.start + (2 << 20))).isLeaf)
        #expect(try snap.smapsRollup().anonymousTHP == 2 << 20)
        #expect(snap.summary.thpNotes.count == 1 && snap.summary.thpNotes[0].contains("mapped by PTEs"))
    }

    @Test func anonHugePagesBoundsTheLeavesWithoutPagemapScan() throws {
        let snap = try ProcessSnapshot.importProcess(from: Self.recorded(anonHugeKB: 2048, hugeRanges: nil))
        #expect(snap.summary.thpSource == "AnonHugePages")
        #expect(snap.summary.pmdLeaves == 1)
        #expect(try snap.smapsRollup().anonymousTHP == 2 << 20)
        #expect(snap.summary.thpNotes.count == 1 && snap.summary.thpNotes[0].contains("guess"))
        // Both agree with the frames: no note.
        let both = try ProcessSnapshot.importProcess(from: Self.recorded(anonHugeKB: 4096, hugeRanges: nil))
        #expect(both.summary.pmdLeaves == 2 && both.summary.thpNotes.isEmpty)
    }

    @Test(.enabled(if: kernelComparisonUnavailable == nil && transparentHugepagesAvailable,
                   Comment(rawValue: kernelComparisonUnavailable ?? "no THP")))
    func liveTHPSplitByMprotectIsImportedAsPTEs() throws {
        let child = try TestChild()
        guard child.gotTHP else { return }
        let thp = try child.region("thp")
        let page = String(thp.lowerBound + 4096, radix: 16)
        #expect(try child.command("ptemap \(page) 1000") == "ok")
        func contains(_ header: String) -> Bool {
            let bounds = header.split(separator: " ")[0].split(separator: "-").compactMap { UInt64($0, radix: 16) }
            return bounds.count == 2 && bounds[0] <= thp.lowerBound && thp.lowerBound < bounds[1]
        }
        // The kernel may still be settling (khugepaged): up to three imports.
        var snap = try ProcessSnapshot.importProcess(pid: child.pid)
        var k: Kernel.SmapsVMA? = nil, o: Kernel.SmapsVMA? = nil
        for _ in 1...3 {
            snap = try ProcessSnapshot.importProcess(pid: child.pid)
            k = try Kernel.smaps(child.pid).first { contains($0.header) }
            o = Kernel.parseSmaps(try snap.formatSmaps()).first { contains($0.header) }
            if o?.fields["AnonHugePages"] == k?.fields["AnonHugePages"] { break }
        }
        #expect(snap.summary.thpSource == "PAGEMAP_SCAN")
        #expect(try !PMD(rawValue: snap.space.entry(.pmd, at: thp.lowerBound)).isLeaf, "the kernel maps it by PTEs now")
        try #require(k != nil && o != nil)
        #expect(o!.header == k!.header)
        #expect(o!.fields["AnonHugePages"] == k!.fields["AnonHugePages"], "\(snap.summary.thpNotes)")
        #expect(o!.fields["Rss"] == k!.fields["Rss"])
    }
}
