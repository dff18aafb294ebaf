import PageWalk

/// Saving an imported process to a file and loading it back (`pagewalk import --pid P --save
/// FILE`, `--snapshot FILE`): the machine goes through PageWalk's snapshot format
/// (`Machine.save`), and what the import knows beyond the machine (regions of maps, page flags
/// and map counts of every mapped frame, what was known, the counts) rides in its extra bytes as
/// the text described in docs/IMAGES.md ("Snapshots").
extension ProcessSnapshot {
    static let extraMagic = "pwimport 1"

    /// Saves this import to `path`; loading it anywhere gives the same walks and answers.
    public func save(to path: String) throws(SnapshotError) {
        var out: [String] = [Self.extraMagic]
        out.append("pid " + (pid.map { String($0) } ?? "-"))
        let k = knowledge
        out.append("knowledge \(b(k.realPFNs)) \(b(k.pageFlags)) \(b(k.vmFlags)) \(b(k.zeroPage)) \(b(k.consistent))")
        let s = summary
        out.append("summary \(s.vmas) \(s.ptes) \(s.pmdLeaves) \(s.hugetlbLeaves) \(s.swapEntries) \(s.markers) "
            + "\(s.zeroPagePTEs) \(s.hugeZeroLeaves) \(s.largeFolios) \(s.pageTables) \(s.reads) \(s.highestPFN) "
            + "\(s.readSeconds) \(s.buildSeconds)")
        out.append("zero " + (zeroPFN.map { String($0) } ?? "-") + " " + (hugeZeroPFN.map { String($0) } ?? "-"))
        out.append("pages \(pages.frames) " + (pages.flagsSource == .kpageflags ? "kpageflags" : "pagemap"))
        for r in regions {
            let cache = r.pageCache.map { $0.map { String($0) }.joined(separator: ",") } ?? "-"
            let unknown = r.unknownFlags.isEmpty ? "-" : r.unknownFlags.joined(separator: ",")
            out.append("region \(r.range.lowerBound) \(r.range.upperBound) \(r.permissions) \(r.offset) \(r.device) "
                + "\(r.inode) \(r.kind) \(r.vmaID.map { String($0) } ?? "-") \(r.flags.rawValue) \(b(r.flagsKnown)) "
                + "\(r.kernelPageSize) \(unknown) \(cache) \(r.name)")
        }
        // Page facts of every frame a leaf maps (each page of a huge leaf), and the zero pages.
        var seen = Set<UInt64>()
        func note(_ pfn: UInt64) {
            guard pfn < pages.frames, !seen.contains(pfn) else { return }
            seen.insert(pfn)
            if pages.rawFlags(pfn) != 0 || pages.rawCount(pfn) != 0 {
                out.append("page \(pfn) \(pages.rawFlags(pfn)) \(pages.rawCount(pfn))")
            }
        }
        for e in space.dump() where !e.isTable && e.value & 1 != 0 {
            let pfn = (e.value & 0x000f_ffff_ffff_f000) >> 12
            let count: UInt64 = e.level == .pte ? 1 : e.level == .pmd ? 512 : e.level == .pud ? 1 << 18 : 1
            for p in pfn..<pfn + count { note(p) }
        }
        if let z = zeroPFN { note(z) }
        if let z = hugeZeroPFN { for p in z..<z + 512 { note(p) } }
        let text = out.joined(separator: "\n") + "\n"
        try machine.save(to: path, spaces: [space], extra: Array(text.utf8))
    }

    /// Loads an import saved by ``save(to:)``.
    public static func load(from path: String) throws(SnapshotError) -> ProcessSnapshot {
        let loaded = try Machine.load(from: path)
        guard loaded.spaces.count == 1, !loaded.spaces[0].isKernel else {
            throw SnapshotError("snapshot \(path): \(loaded.spaces.count) address spaces; an import has one user space")
        }
        let text = String(decoding: loaded.extra, as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true).makeIterator()
        guard lines.next() == Substring(extraMagic) else {
            throw SnapshotError("snapshot \(path): no import facts (\"\(extraMagic)\") in its extra data: a machine, not an import")
        }
        var pid: Int32? = nil
        var knowledge = ImportKnowledge(realPFNs: false, pageFlags: false, vmFlags: false, zeroPage: false,
                                        consistent: false)
        var summary = ImportSummary()
        var zero: UInt64? = nil, hugeZero: UInt64? = nil
        var pages: PhysicalPages? = nil
        var regions: [ImportedRegion] = []
        var n = 1
        while let line = lines.next() {
            n += 1
            let f = line.split(separator: " ", maxSplits: line.hasPrefix("region ") ? 14 : Int.max,
                               omittingEmptySubsequences: false)
            func bad() -> SnapshotError { SnapshotError("snapshot \(path): import facts line \(n): '\(line.prefix(60))': bogus line") }
            func u(_ i: Int) throws(SnapshotError) -> UInt64 {
                guard i < f.count, let v = UInt64(f[i]) else { throw bad() }
                return v
            }
            func flag(_ i: Int) throws(SnapshotError) -> Bool {
                guard i < f.count, f[i] == "0" || f[i] == "1" else { throw bad() }
                return f[i] == "1"
            }
            switch f.first {
            case "pid":
                pid = f.count == 2 && f[1] != "-" ? Int32(f[1]) : nil
            case "knowledge":
                knowledge = ImportKnowledge(realPFNs: try flag(1), pageFlags: try flag(2), vmFlags: try flag(3),
                                            zeroPage: try flag(4), consistent: try flag(5))
            case "summary":
                guard f.count == 15, let rs = Double(f[13]), let bs = Double(f[14]) else { throw bad() }
                summary.vmas = Int(try u(1))
                summary.ptes = Int(try u(2))
                summary.pmdLeaves = Int(try u(3))
                summary.hugetlbLeaves = Int(try u(4))
                summary.swapEntries = Int(try u(5))
                summary.markers = Int(try u(6))
                summary.zeroPagePTEs = Int(try u(7))
                summary.hugeZeroLeaves = Int(try u(8))
                summary.largeFolios = Int(try u(9))
                summary.pageTables = Int(try u(10))
                summary.reads = Int(try u(11))
                summary.highestPFN = try u(12)
                summary.readSeconds = rs
                summary.buildSeconds = bs
            case "zero":
                guard f.count == 3 else { throw bad() }
                zero = f[1] == "-" ? nil : try u(1)
                hugeZero = f[2] == "-" ? nil : try u(2)
            case "pages":
                guard f.count == 3, f[2] == "kpageflags" || f[2] == "pagemap" else { throw bad() }
                let frames = try u(1)
                guard frames <= 1 << 40 else { throw bad() }
                pages = PhysicalPages(frames: frames, source: f[2] == "kpageflags" ? .kpageflags : .pagemap)
            case "page":
                guard let pages, f.count == 4, let flags = UInt64(f[2]), let count = UInt32(f[3]) else { throw bad() }
                let pfn = try u(1)
                guard pfn < pages.frames else { throw bad() }
                if flags != 0 { pages.setFlags(pfn, flags & ~(1 << 63)) }
                if count != 0 { pages.setMapcount(pfn, UInt64(count - 1)) }
            case "region":
                guard f.count >= 14 else { throw bad() }
                let kinds: [String: ImportedRegion.Kind] = ["anonymous": .anonymous, "file": .file, "heap": .heap,
                                                            "stack": .stack, "special": .special, "gate": .gate]
                guard let kind = kinds[String(f[7])], try u(2) > u(1) else { throw bad() }
                let cache: [UInt8]? = f[13] == "-" ? nil : f[13].split(separator: ",").compactMap { UInt8($0) }
                regions.append(ImportedRegion(
                    range: try u(1)..<u(2), permissions: String(f[3]), offset: try u(4), device: String(f[5]),
                    inode: try u(6), name: f.count > 14 ? String(f[14]) : "", kind: kind,
                    vmaID: f[8] == "-" ? nil : UInt32(try u(8)), flags: VMAFlags(rawValue: UInt(try u(9))),
                    flagsKnown: try flag(10), unknownFlags: f[12] == "-" ? [] : f[12].split(separator: ",").map(String.init),
                    kernelPageSize: try u(11), pageCache: cache))
            default:
                throw bad()
            }
        }
        guard let pages else { throw SnapshotError("snapshot \(path): import facts without a 'pages' line: bogus extra data") }
        return ProcessSnapshot(pid: pid, machine: loaded.machine, space: loaded.spaces[0], regions: regions,
                               pages: pages, knowledge: knowledge, summary: summary, zeroPFN: zero,
                               hugeZeroPFN: hugeZero)
    }
}

private func b(_ v: Bool) -> String { v ? "1" : "0" }
