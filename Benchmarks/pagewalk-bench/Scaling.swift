#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// How cost grows: every workload at three sizes, each built, walked by every path and freed before
/// the next, with the peak RSS reset before each build (so it is that workload's own peak).

/// One workload at one size.
struct ScalingCase {
    let family: String
    let build: () -> Workload
}

/// The three sizes of each workload: a quarter of the full size, the full size, four times it
/// (sparse: 100, 1,000, 10,000 pages; VMAs: 1,000, 10,000, 100,000). `quick` shrinks them all.
func scalingCases(quick: Bool, seed: UInt64) -> [ScalingCase] {
    let dense = quick ? [1 << 10, 1 << 12, 1 << 14] : [1 << 16, 1 << 18, 1 << 20]
    let sparse = quick ? [10, 100, 1000] : [100, 1000, 10_000]
    let vmas = quick ? [100, 1000, 10_000] : [1000, 10_000, 100_000]
    let lookups = quick ? 10_000 : 1_000_000
    var cases: [ScalingCase] = []
    for p in dense { cases.append(ScalingCase(family: "dense") { denseWorkload(pages: p, seed: seed) }) }
    for p in dense { cases.append(ScalingCase(family: "thp") { thpWorkload(pages: p) }) }
    for levels in [4, 5] {
        for p in sparse {
            cases.append(ScalingCase(family: levels == 5 ? "sparse-56bit" : "sparse-47bit") {
                sparseWorkload(levels: levels, pages: p, seed: seed)
            })
        }
    }
    for n in vmas { cases.append(ScalingCase(family: "many-vmas") { manyVMAsWorkload(count: n) }) }
    for p in dense {
        cases.append(ScalingCase(family: "folio-walk") {
            var w = folioWorkload(pages: p, lookups: lookups, seed: seed)
            w.name = "folio-walk-\(lookups)-over-\(sizeName(pages: p))"
            return w
        })
    }
    for p in dense { cases.append(ScalingCase(family: "install") { installWorkload(pages: p) }) }
    for p in dense { cases.append(ScalingCase(family: "smaps") { smapsWorkload(pages: p, seed: seed) }) }
    return cases
}

/// Resets this process's VmHWM to its current RSS (`clear_refs` 5); false where that is not possible.
@discardableResult
func resetPeakRSS() -> Bool {
    guard let f = fopen("/proc/self/clear_refs", "w") else { return false }
    defer { fclose(f) }
    return fputs("5", f) >= 0
}

/// This process's current resident set in KiB (VmRSS).
func currentRSSKiB() -> Int {
    guard let f = fopen("/proc/self/status", "r") else { return 0 }
    defer { fclose(f) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, Int32(line.count), f) != nil {
        let s = String(decoding: line.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if s.hasPrefix("VmRSS:") { return Int(s.dropFirst(6).filter { $0.isNumber }) ?? 0 }
    }
    return 0
}

func runScaling(runs: Int, warmup: Int, quick: Bool, json: Bool, only: [String], paths: [String], seed: UInt64,
                build: String) throws {
    struct Row {
        let family: String
        let ms: [Measurement]
        let baseRSSKiB: Int
    }
    var rows: [Row] = []
    if !json {
        print("pagewalk-bench --scaling: each workload at three sizes, \(runs) timed runs per path after \(warmup) "
              + "warm-up, paths alternating run by run")
        print("machine: \(cpuModel()), nproc \(onlineCPUs())\(quick ? "  (--quick sizes)" : "")")
    }
    for c in scalingCases(quick: quick, seed: seed) where only.isEmpty || only.contains(where: { c.family.contains($0) }) {
        let base = currentRSSKiB()
        resetPeakRSS()
        var w = c.build()
        if !paths.isEmpty { w.paths = w.paths.filter { paths.contains($0.id.rawValue) } }
        note("[\(w.name)] \(w.entries) \(w.unit) entries; timing \(w.paths.count) paths")
        let ms = measure(w, runs: runs, warmup: warmup)
        rows.append(Row(family: c.family, ms: ms, baseRSSKiB: base))
        if json {
            for m in ms {
                print(jsonLine(m, ms, build: build, extra: [("scaling", "true"), ("family", jsonString(c.family)),
                                                             ("base_rss_kib", String(base))]))
            }
        }
    }
    if json { return }
    print("")
    print("== scaling: ns per entry (median) by path; page tables and the peak RSS of that workload alone "
          + "(VmHWM reset before it was built; the process held the 'before' RSS already)")
    let ids = PathID.allCases
    print(pad("workload", 34, left: true) + pad("entries", 11) + ids.map { pad("(\($0.rawValue))", 8) }.joined()
          + pad("tables MiB", 12) + pad("peak MiB", 10) + pad("before", 8))
    var last = ""
    for r in rows {
        if r.family != last && !last.isEmpty { print("") }
        last = r.family
        let m0 = r.ms[0]
        let cols = ids.map { id in pad(r.ms.first(where: { $0.path == id }).map { fmt($0.nsPerEntry, 2) } ?? "-", 8) }
        print(pad(m0.workload, 34, left: true) + pad(String(m0.entries), 11) + cols.joined()
              + pad(fmt(Double(m0.tableBytes) / 1_048_576, 2), 12) + pad(fmt(Double(m0.peakRSSKiB) / 1024, 1), 10)
              + pad(fmt(Double(r.baseRSSKiB) / 1024, 1), 8))
    }
}
