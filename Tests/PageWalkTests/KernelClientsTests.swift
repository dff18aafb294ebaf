import CKernelClients
import CWalkCore
import Foundation
import PageWalk
import PageWalkImport
import Testing

/// PageWalk's kernel-style C clients (KernelClients/, built through compat/) against the Swift
/// clients of PageWalkImport on the same imported machines: a recorded process (hugetlb, swap,
/// markers, a page mapped twice) and a live test child. Both read the same page tables and the
/// same page facts (the import records kpageflags and kpagecount in the machine for the C side);
/// every figure both compute must agree.
@Suite struct KernelClientsTests {
    private static func cSmaps(_ vma: VMA) throws -> kc_smaps {
        var s = kc_smaps()
        #expect(try kc_smaps_vma(vma.pointer, &s) == 0)
        return s
    }

    private static func cPagemap(_ snap: ProcessSnapshot, _ range: Range<UInt64>) -> [UInt64] {
        var out = [UInt64](repeating: 0, count: Int((range.upperBound - range.lowerBound) >> 12))
        #expect(kc_pagemap(snap.space.pointer, UInt(range.lowerBound), UInt(range.upperBound), &out, true) == 0)
        return out
    }

    /// The figures both sides compute, side by side: (name, C, Swift).
    private static func smapsPairs(_ c: kc_smaps, _ s: MemoryStats) -> [(String, UInt64, UInt64)] {
        [("Rss", UInt64(c.resident), s.resident),
         ("Pss", c.pss, s.pss),
         ("Anonymous", UInt64(c.anonymous), s.anonymous),
         ("AnonHugePages", UInt64(c.anonymous_thp), s.anonymousTHP),
         ("Swap", UInt64(c.swap), s.swap),
         ("Shared", UInt64(c.shared_clean + c.shared_dirty), s.sharedClean + s.sharedDirty),
         ("Private", UInt64(c.private_clean + c.private_dirty), s.privateClean + s.privateDirty),
         ("Private_Hugetlb", UInt64(c.private_hugetlb), s.privateHugetlb),
         ("Shared_Hugetlb", UInt64(c.shared_hugetlb), s.sharedHugetlb)]
    }

    @Test func recordedProcessGivesTheSameAnswers() throws {
        let rec = ImportRecordedTests.recorded()
        let snap = try ProcessSnapshot.importProcess(from: rec)
        // pagemap: entry for entry.
        for (start, pages) in [(ImportRecordedTests.anonStart, 16), (ImportRecordedTests.hugeStart, 1024)] {
            let range = start..<(start + UInt64(pages) * 4096)
            #expect(Self.cPagemap(snap, range) == (try snap.pagemap(range)).map(\.rawValue))
        }
        // smaps, per VMA.
        for (region, stats) in try snap.smapsAll() {
            guard let vma = snap.space.vma(containing: region.range.lowerBound) else { continue }
            for (name, c, s) in Self.smapsPairs(try Self.cSmaps(vma), stats) {
                #expect(c == s, "\(name) of \(region.name): C \(c), Swift \(s)")
            }
        }
        // mincore: wherever the Swift client can tell.
        let range = ImportRecordedTests.anonStart..<(ImportRecordedTests.anonStart + 8 * 4096)
        let swift = try snap.mincore(range)
        var vec = [UInt8](repeating: 0, count: 8)
        #expect(kc_mincore(snap.space.pointer, UInt(range.lowerBound), 8 * 4096, &vec) == 0)
        #expect(zip(vec, swift.vec).filter { $0 != $1 }.count <= swift.undetermined)
        #expect(vec == [1, 0, 1, 0, 1, 0, 0, 0], "the swapped page is in no swap cache the import knows: out of core")
    }

    @Test(.enabled(if: kernelComparisonUnavailable == nil, Comment(rawValue: kernelComparisonUnavailable ?? "")))
    func liveChildGivesTheSameAnswers() throws {
        let child = try TestChild()
        let snap = try ProcessSnapshot.importProcess(pid: child.pid)
        var compared = 0
        for (region, stats) in try snap.smapsAll() where child.regions.values.contains(where: { $0.overlaps(region.range) }) {
            guard let vma = snap.space.vma(containing: region.range.lowerBound) else { continue }
            for (name, c, s) in Self.smapsPairs(try Self.cSmaps(vma), stats) {
                #expect(c == s, "\(name) of \(region.name): C \(c), Swift \(s)")
            }
            let ours = Self.cPagemap(snap, region.range)
            let theirs = try snap.pagemap(region.range).map(\.rawValue)
            #expect(ours == theirs, "pagemap of \(region.name): \(zip(ours, theirs).filter { $0 != $1 }.count) entries differ")
            compared += 1
        }
        #expect(compared >= 5)
        // mincore of the child's regions, file pages included (page cache from the import).
        for name in ["anon", "file-private", "file-shared", "thp", "guard"] {
            let r = try child.region(name)
            let swift = try snap.mincore(r)
            var vec = [UInt8](repeating: 0, count: swift.vec.count)
            #expect(kc_mincore(snap.space.pointer, UInt(r.lowerBound), UInt(r.count), &vec) == 0)
            #expect(swift.undetermined == 0 && vec == swift.vec, "mincore of \(name)")
            #expect(vec == (try child.mincore(r)), "mincore of \(name): the kernel's")
        }
        // smaps_rollup over the whole process.
        var roll = kc_smaps()
        #expect(kc_smaps_rollup(snap.space.pointer, &roll) == 0)
        let swiftRoll = try snap.smapsRollup()
        #expect(UInt64(roll.resident) == swiftRoll.resident && UInt64(roll.anonymous) == swiftRoll.anonymous)
    }

    /// The example client (Examples/kernel-client/count_client.c) built as a shared object with
    /// the documented command, loaded and run over an imported live child.
    @Test(.enabled(if: kernelComparisonUnavailable == nil, Comment(rawValue: kernelComparisonUnavailable ?? "")))
    func sharedObjectClientRunsOverALiveProcess() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let so = TestChild.directory + "/count_client.so", out = TestChild.directory + "/count_client.out"
        let cc = Process()
        cc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        cc.arguments = ["cc", "-std=gnu11", "-shared", "-fPIC", "-I", root.path + "/compat", "-I", root.path + "/include",
                        root.path + "/Examples/kernel-client/count_client.c", "-o", so]
        try cc.run()
        cc.waitUntilExit()
        try #require(cc.terminationStatus == 0)
        let child = try TestChild()
        let snap = try ProcessSnapshot.importProcess(pid: child.pid)
        #expect(try snap.space.runKernelClient(at: so, arguments: [out]) == 0)
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        let total = lines.last.flatMap { UInt64($0.split(separator: " ").last ?? "") }
        #expect(total == UInt64(snap.summary.ptes - snap.summary.swapEntries - snap.summary.markers) + 512 * UInt64(snap.summary.pmdLeaves + snap.summary.hugeZeroLeaves),
                "the client counts every present page: \(lines.last ?? "")")
        #expect(throws: KernelClientError.self) { try snap.space.runKernelClient(at: "/nonexistent/client.so") }
    }
}

