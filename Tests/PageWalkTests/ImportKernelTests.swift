import Foundation
import PageWalk
import PageWalkImport
import Testing

#if canImport(Glibc)
import Glibc
#endif

private func hex(_ v: UInt64) -> String { String(v, radix: 16) }

/// A live child with a known layout, imported and compared with the kernel's own figures:
/// /proc/PID/smaps and smaps_rollup, /proc/PID/pagemap, mincore(2), MADV_GUARD_INSTALL and
/// clear_refs. Every figure page tables determine must be equal.
@Suite(.serialized, .enabled(if: kernelComparisonUnavailable == nil,
                             Comment(rawValue: kernelComparisonUnavailable ?? "")))
struct ImportKernelTests {
    /// A VMA made of the child's own regions only (anon, file, THP, ...), as opposed to libc's
    /// and the loader's, which the child's forks and stdio touch.
    func isChildRegion(_ header: String, _ child: TestChild) -> Bool {
        guard let start = UInt64(header.prefix(while: { $0 != "-" }), radix: 16) else { return false }
        let end = header.split(separator: " ")[0].split(separator: "-").last.flatMap { UInt64($0, radix: 16) } ?? start
        var covered: UInt64 = 0
        for r in child.regions.values where r.overlaps(start..<end) {
            if r.lowerBound < start || r.upperBound > end { return false }
            covered += r.upperBound - r.lowerBound
        }
        return covered == end - start
    }

    @Test func layoutIsImportedAsExpected() throws {
        let child = try TestChild()
        let snap = try ProcessSnapshot.importProcess(pid: child.pid)
        #expect(snap.knowledge.realPFNs && snap.knowledge.pageFlags && snap.knowledge.vmFlags && snap.knowledge.consistent)
        #expect(snap.zeroPFN != nil, "the child reads untouched anonymous pages: the zero page")
        #expect(snap.summary.markers == 2, "two guard pages")
        if child.gotTHP {
            #expect(snap.summary.pmdLeaves >= 1, "the kernel gave the THP region a PMD mapping")
            let thp = try child.region("thp")
            let pmd = try snap.space.entry(.pmd, at: thp.lowerBound)
            #expect(PMD(rawValue: pmd).isLeaf)
        }
        // The hole from munmap is a gap between VMAs.
        let low = try child.region("hole-low"), high = try child.region("hole-high")
        #expect(try snap.space.vma(containing: low.upperBound) == nil || snap.space.vma(containing: low.upperBound)!.start >= low.upperBound)
        #expect(try snap.space.vma(containing: high.lowerBound - 4096)?.range != snap.space.vma(containing: low.lowerBound)?.range)
        // Every imported PFN is a data frame below the table region.
        let layoutFrames = snap.machine.stats.frames
        #expect(snap.summary.highestPFN < layoutFrames)
        // Names are kept in the side table.
        #expect(snap.regions.contains { $0.name == "[heap]" && $0.kind == .heap })
        #expect(snap.regions.contains { $0.name == "[stack]" && $0.kind == .stack })
        #expect(snap.regions.contains { $0.name == child.scratch && $0.kind == .file })
        #expect(snap.regions.contains { $0.kind == .gate && $0.vmaID == nil })
    }

    @Test func smapsMatchesKernel() throws {
        let child = try TestChild()
        var problems: [String] = []
        for attempt in 1...3 {
            problems = []
            let before = try Kernel.smaps(child.pid)
            let snap = try ProcessSnapshot.importProcess(pid: child.pid)
            let after = try Kernel.smaps(child.pid)
            let ours = Kernel.parseSmaps(try snap.formatSmaps())
            try #require(ours.count == before.count, "VMA count \(ours.count) vs kernel \(before.count)")
            var retry = false
            for (i, o) in ours.enumerated() {
                let k = before[i], k2 = after[i]
                #expect(o.header == k.header)
                #expect(o.vmFlags == k.vmFlags, "\(o.header)")
                for f in exactSmapsFields {
                    #expect(o.fields[f] == k.fields[f], "\(f) of \(o.header): \(o.fields[f] ?? 0) vs kernel \(k.fields[f] ?? 0)")
                }
                // Map counts: other processes map the same library pages; equal to the kernel's
                // figures just before or just after the import.
                func withTotals(_ v: Kernel.SmapsVMA) -> [String: UInt64] {
                    var f = v.fields
                    f["Shared"] = (f["Shared_Clean"] ?? 0) + (f["Shared_Dirty"] ?? 0)
                    f["Private"] = (f["Private_Clean"] ?? 0) + (f["Private_Dirty"] ?? 0)
                    return f
                }
                let (of, kf, kf2) = (withTotals(o), withTotals(k), withTotals(k2))
                for f in mapcountSmapsFields + ["Shared", "Private"] where of[f] != kf[f] && of[f] != kf2[f] {
                    problems.append("\(f) of \(o.header): \(of[f] ?? 0) vs kernel \(kf[f] ?? 0)/\(kf2[f] ?? 0)")
                    retry = true
                }
                // The child's own regions: nothing else maps them, and their dirty and accessed
                // state is what the import infers.
                if isChildRegion(o.header, child) {
                    for f in ["Pss", "Pss_Dirty", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty",
                              "Referenced", "Locked"] {
                        #expect(o.fields[f] == k.fields[f], "\(f) of \(o.header): \(o.fields[f] ?? 0) vs kernel \(k.fields[f] ?? 0)")
                    }
                }
            }
            if !retry { break }
            if attempt == 3 { Issue.record("map-count figures never matched: \(problems)") }
        }
    }

    @Test func sharedPagesAfterForkHalveTheirPss() throws {
        let child = try TestChild()
        let forked = try child.command("fork")
        #expect(Int32(forked) ?? 0 > 0)
        let snap = try ProcessSnapshot.importProcess(pid: child.pid)
        let kernel = try Kernel.smaps(child.pid)
        let ours = Kernel.parseSmaps(try snap.formatSmaps())
        try #require(ours.count == kernel.count)
        var checked = 0
        for (o, k) in zip(ours, kernel) where isChildRegion(o.header, child) {
            for f in ["Rss", "Pss", "Pss_Dirty", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty",
                      "AnonHugePages", "Anonymous"] {
                #expect(o.fields[f] == k.fields[f], "\(f) of \(o.header): \(o.fields[f] ?? 0) vs kernel \(k.fields[f] ?? 0)")
            }
            checked += 1
        }
        #expect(checked >= 8)
        // The written anonymous pages are now mapped twice: no longer exclusive.
        let a = try child.region("anon")
        #expect(try snap.pagemap(a) == Kernel.pagemap(child.pid, a))
        #expect(try !snap.pagemap(a)[0].isExclusive)
    }

    @Test func smapsRollupMatchesKernel() throws {
        let child = try TestChild()
        for attempt in 1...3 {
            let before = try Kernel.smapsRollup(child.pid)
            let snap = try ProcessSnapshot.importProcess(pid: child.pid)
            let after = try Kernel.smapsRollup(child.pid)
            let ours = Kernel.parseSmaps(snap.formatSmapsRollup(try snap.smapsRollup()))[0]
            #expect(ours.header == before.header)
            for f in ["Rss", "Anonymous", "KSM", "LazyFree", "AnonHugePages", "ShmemPmdMapped", "FilePmdMapped",
                      "Shared_Hugetlb", "Private_Hugetlb", "Swap", "Pss_Shmem"] {
                #expect(ours.fields[f] == before.fields[f], "\(f): \(ours.fields[f] ?? 0) vs kernel \(before.fields[f] ?? 0)")
            }
            let varying = ["Pss", "Pss_Anon", "Pss_File", "Locked"].filter {
                ours.fields[$0] != before.fields[$0] && ours.fields[$0] != after.fields[$0]
            }
            if varying.isEmpty { break }
            if attempt == 3 { Issue.record("rollup \(varying) never matched the kernel's") }
        }
    }

    @Test func pagemapMatchesKernel() throws {
        let child = try TestChild()
        var mismatches: [String] = []
        for _ in 1...3 {
            mismatches = []
            let snap = try ProcessSnapshot.importProcess(pid: child.pid)
            var checked = 0
            for r in snap.regions where r.vmaID != nil {
                // The VMA and a page either side (holes, or the neighbours).
                let range = (r.range.lowerBound - 4096)..<(r.range.upperBound + 4096)
                let kernel = try Kernel.pagemap(child.pid, range)
                let ours = try snap.pagemap(range)
                try #require(ours.count == kernel.count)
                for (i, (o, k)) in zip(ours, kernel).enumerated() where o != k {
                    mismatches.append("\(hex(range.lowerBound + UInt64(i) * 4096)) in \(r.name): \(o) vs kernel \(k)")
                }
                checked += kernel.count
            }
            #expect(checked > 1000)
            if mismatches.isEmpty { break }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) entries differ: \(mismatches.prefix(8))")
        // The guard pages, the zero page and the file pages are there as the kernel says.
        let g = try child.region("guard")
        let snap = try ProcessSnapshot.importProcess(pid: child.pid)
        let entries = try snap.pagemap(g)
        #expect(entries.map(\.isGuardRegion) == [false, false, true, true, false, false, false, false])
    }

    @Test func mincoreMatchesKernel() throws {
        let child = try TestChild()
        // The child answers first (its answers touch its own memory), then it is imported.
        let probe = try ProcessSnapshot.importProcess(pid: child.pid)
        var kernel: [Range<UInt64>: [UInt8]] = [:]
        for r in probe.regions where r.vmaID != nil { kernel[r.range] = try child.mincore(r.range) }
        let snap = try ProcessSnapshot.importProcess(pid: child.pid)
        var compared = 0
        for r in snap.regions where r.vmaID != nil {
            guard let k = kernel[r.range] else { continue }
            let (ours, undetermined) = try snap.mincore(r.range)
            #expect(undetermined == 0, "\(r.mapsLine)")
            #expect(ours == k, "\(r.mapsLine): \(ours.map(String.init).joined()) vs kernel \(k.map(String.init).joined())")
            compared += 1
        }
        #expect(compared >= snap.regions.count - 3)
        // The anon region: written pages and zero-page reads resident, the rest not.
        let a = try child.region("anon")
        #expect(try snap.mincore(a).vec == [1, 0, 1, 0, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0])
        // Guard pages are not resident.
        #expect(try snap.mincore(try child.region("guard")).vec == [1, 1, 0, 0, 1, 1, 1, 1])
        // A hole is ENOMEM, an unaligned start EINVAL, as the syscall.
        let low = try child.region("hole-low")
        let user = snap.regions.filter { $0.vmaID != nil }
        let gapAfter = zip(user, user.dropFirst()).first { $0.0.range.upperBound < $0.1.range.lowerBound }!.0
        #expect(throws: PageWalkError.outOfMemory) {
            try snap.mincore(gapAfter.range.lowerBound..<(gapAfter.range.upperBound + 4096))
        }
        #expect(throws: PageWalkError.invalidArgument) { try snap.mincore((low.lowerBound + 1)..<low.upperBound) }
    }

    @Test func guardInstallerMarksWhatTheKernelMarks() throws {
        let child = try TestChild()
        let anon = try child.region("anon"), thp = try child.region("thp"), fp = try child.region("file-private")
        let page: UInt64 = 4096, huge: UInt64 = 2 << 20
        let ranges: [Range<UInt64>] = [
            anon.lowerBound..<(anon.lowerBound + 8 * page),             // written, zero-page and empty pages
            (thp.lowerBound + 10 * page)..<(thp.lowerBound + 20 * page),  // inside the THP: split
            (thp.lowerBound + huge + 4 * page)..<(thp.lowerBound + huge + 6 * page),  // the huge zero page
            fp.lowerBound..<(fp.lowerBound + 4 * page),                  // file pages
        ]
        let snap = try ProcessSnapshot.importProcess(pid: child.pid)
        for r in ranges {
            let per = try snap.installGuardRegions(r)
            #expect(per == [Int(r.count / 4096)])
        }
        for r in ranges {
            #expect(try child.command("guard \(hex(r.lowerBound)) \(hex(UInt64(r.count)))") == "ok")
        }
        for r in ranges {
            guard let vma = try snap.space.vma(containing: r.lowerBound)?.info else { Issue.record("no VMA"); continue }
            let kernel = try Kernel.pagemap(child.pid, vma.start..<vma.end)
            let ours = try snap.pagemap(vma.start..<vma.end)
            #expect(ours.map(\.isGuardRegion) == kernel.map(\.isGuardRegion), "guard pages of \(hex(vma.start))")
            let differ = zip(ours, kernel).enumerated().filter { $0.element.0 != $0.element.1 }
            #expect(differ.isEmpty, "\(differ.count) entries of \(hex(vma.start)) differ: \(differ.prefix(4).map { "\($0.offset): \($0.element.0) vs \($0.element.1)" })")
        }
        // VM_MAYBE_GUARD ("gu") on the same VMAs.
        let kernelFlags = try Kernel.smaps(child.pid)
        let ours = Kernel.parseSmaps(try snap.formatSmaps())
        for (o, k) in zip(ours, kernelFlags) { #expect(o.vmFlags == k.vmFlags, "\(o.header)") }
        // A second install over the same ranges finds the markers and changes nothing.
        for r in ranges { #expect(try snap.installGuardRegions(r) == [Int(r.count / 4096)]) }
    }

    @Test func clearSoftDirtyMatchesKernel() throws {
        let child = try TestChild()
        let snap = try ProcessSnapshot.importProcess(pid: child.pid)
        #expect(try snap.clearSoftDirty() > 0)
        try "4".write(toFile: "/proc/\(child.pid)/clear_refs", atomically: false, encoding: .utf8)
        for r in snap.regions where r.vmaID != nil {
            let kernel = try Kernel.pagemap(child.pid, r.range)
            let ours = try snap.pagemap(r.range)
            #expect(ours.map(\.isSoftDirty) == kernel.map(\.isSoftDirty), "\(r.mapsLine)")
        }
        // clear_refs write-protects every present page.
        let a = try child.region("anon")
        #expect(try !PTE(rawValue: snap.space.entry(.pte, at: a.lowerBound)).isWritable)
    }

    @Test func importWithoutPageFlagsStillWorks() throws {
        let child = try TestChild()
        var options = ImportOptions()
        options.usePageFlags = false
        let full = try ProcessSnapshot.importProcess(pid: child.pid)
        let bare = try ProcessSnapshot.importProcess(pid: child.pid, options: options)
        #expect(!bare.knowledge.pageFlags && bare.zeroPFN == nil && bare.summary.pmdLeaves == 0)
        let a = try full.smapsRollup(), b = try bare.smapsRollup()
        // Zero pages are not known as such: counted as ordinary pages; THPs are PTEs.
        #expect(b.resident == a.resident + UInt64(full.summary.zeroPagePTEs) * 4096 + UInt64(full.summary.hugeZeroLeaves) * (2 << 20))
        #expect(b.unknown.contains(.pss) && b.unknown.contains(.dirty))
        #expect(b.anonymousTHP == 0)
        #expect(b.swap == a.swap)
        // Pagemap still gives the same entries for pages the zero page does not back.
        let h = try child.region("hole-high")
        #expect(try bare.pagemap(h) == Kernel.pagemap(child.pid, h))
    }

    @Test func ptdumpShowsTheLayout() throws {
        let child = try TestChild()
        let snap = try ProcessSnapshot.importProcess(pid: child.pid)
        let ranges = try snap.ptdump()
        // Contiguous from 0 to TASK_SIZE.
        #expect(ranges.first?.start == 0 && ranges.last?.end == snap.machine.geometry.taskSize)
        for (a, b) in zip(ranges, ranges.dropFirst()) { #expect(a.end == b.start) }
        if child.gotTHP {
            let thp = try child.region("thp")
            let leaf = ranges.first { $0.start == thp.lowerBound }
            #expect(leaf?.level == .pmd && leaf?.formatted.contains("USR RW") == true && leaf?.formatted.contains("PSE") == true)
        }
        let g = try child.region("guard")
        let marker = ranges.first { $0.start == g.lowerBound + 2 * 4096 }
        #expect(marker?.level == .pte && marker?.prot != 0 && marker?.end == g.lowerBound + 4 * 4096)
        #expect(snap.formatPTDump(ranges).hasPrefix("---[ User Space ]---\n0x0000000000000000-"))
    }

    @Test func pagewalkCommandsAgreeWithTheLibrary() throws {
        guard let dir = Bundle.main.executableURL?.deletingLastPathComponent(),
              FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("pagewalk").path)
        else { return }
        let child = try TestChild()
        func run(_ args: [String]) throws -> (Int32, String, String) {
            let p = Process()
            p.executableURL = dir.appendingPathComponent("pagewalk")
            p.arguments = args
            let out = Pipe(), err = Pipe()
            p.standardOutput = out
            p.standardError = err
            try p.run()
            let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
        }
        let g = try child.region("guard")
        let (status, out, _) = try run(["pagemap", "--pid", "\(child.pid)", hex(g.lowerBound), hex(g.upperBound)])
        #expect(status == 0)
        #expect(out.split(separator: "\n").map { String($0.split(separator: " ")[1]) }
                == (try Kernel.pagemap(child.pid, g)).map(\.description))
        let (s2, rollup, _) = try run(["smaps", "--pid", "\(child.pid)", "--rollup"])
        #expect(s2 == 0 && rollup.contains("[rollup]") && rollup.contains("AnonHugePages:"))
        let (s3, _, err) = try run(["smaps", "--pid", "999999999"])
        #expect(s3 == 2 && err.split(separator: "\n").count == 1 && err.contains("999999999"))
        let (s4, _, err4) = try run(["mincore", "--pid", "\(child.pid)", hex(g.lowerBound), hex(g.upperBound + (64 << 30))])
        #expect(s4 == 2 && err4.contains("ENOMEM"))
    }
}
