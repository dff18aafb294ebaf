import ArgumentParser
import CBenchCallbacks
import PageWalk

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `swift run -c release pagewalk-bench`: every workload, built once, walked by every path.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pagewalk-bench",
        abstract: "Times PageWalk's walks: C core with C callbacks (a), Swift API on the C core (b), "
            + "pure-Swift engine (c), a bare C loop (d) and batched pte_range (e).")

    @Flag(help: "Small sizes and few runs: seconds, for CI.")
    var quick = false

    @Flag(help: "Print one JSON object per line (workload, path) instead of tables.")
    var json = false

    @Option(help: "Timed runs of each path (default 21, 5 with --quick).")
    var runs: Int?

    @Option(help: "Untimed warm-up runs of each path (default 3, 1 with --quick).")
    var warmup: Int?

    @Option(name: .customLong("workload"), help: "Run only workloads whose name contains this (repeatable).")
    var only: [String] = []

    @Option(name: .customLong("path"), help: "Run only these paths: a, b, c, d, e (repeatable; for profiling).")
    var paths: [String] = []

    @Option(help: "Seed of the random layouts.")
    var seed: UInt64 = 0x5EED_BA5E

    @Flag(help: "Run even in a debug build (the numbers are then meaningless).")
    var allowDebug = false

    @Option(help: "wall (CLOCK_MONOTONIC, the default) or cpu (the thread's CPU time: robust on a busy machine).")
    var clock: String = "wall"

    @Flag(help: "Also link the C core into one C process several ways (Benchmarks/placement/run.sh) and print how the dense walk's speed varies with code placement.")
    var placement = false

    @Flag(help: "How cost grows: each workload at three sizes (7 runs each unless --runs), then a scaling table.")
    var scaling = false

    func run() throws {
        switch clock {
        case "wall": benchClock = CLOCK_MONOTONIC
        case "cpu": benchClock = CLOCK_THREAD_CPUTIME_ID
        default:
            note("pagewalk-bench: --clock \(clock): must be wall or cpu")
            throw ExitCode(2)
        }
        let debugSwift = swiftIsUnoptimized()
        let debugC = !cb_optimized()
        if debugSwift || debugC {
            let which = [debugSwift ? "Swift" : nil, debugC ? "C" : nil].compactMap { $0 }.joined(separator: " and ")
            note("""
                ################################################################################
                ##  WARNING: pagewalk-bench is a DEBUG build (\(which) unoptimized).
                ##  Its timings mean nothing. Use: swift run -c release pagewalk-bench
                ################################################################################
                """)
            if !allowDebug {
                note("refusing to run; pass --allow-debug to run anyway")
                throw ExitCode(2)
            }
        }
        if scaling {
            try runScaling(runs: max(1, self.runs ?? (quick ? 3 : 7)), warmup: max(0, self.warmup ?? 1),
                           quick: quick, json: json, only: only, paths: paths, seed: seed,
                           build: debugSwift || debugC ? "debug" : "release")
            return
        }
        let sizes = quick ? Sizes.quick : Sizes.full
        let runs = max(1, self.runs ?? (quick ? 5 : 21))
        let warmup = max(0, self.warmup ?? (quick ? 1 : 3))

        // Each workload is built when its turn comes and freed after it.
        var builders: [(String, () -> Workload)] = []
        for pages in sizes.densePages {
            builders.append(("dense-\(sizeName(pages: pages))", { denseWorkload(pages: pages, seed: seed) }))
        }
        builders.append(("thp-\(sizeName(pages: sizes.thpPages))", { thpWorkload(pages: sizes.thpPages) }))
        for levels in [4, 5] {
            let name = "sparse-\(levels == 5 ? 56 : 47)bit-\(sizes.sparsePages)pages"
            builders.append((name, { sparseWorkload(levels: levels, pages: sizes.sparsePages, seed: seed) }))
        }
        builders.append(("many-vmas-\(sizes.vmas)", { manyVMAsWorkload(count: sizes.vmas) }))
        builders.append(("folio-walk-\(sizes.folioLookups)", {
            folioWorkload(pages: sizes.folioPages, lookups: sizes.folioLookups, seed: seed)
        }))
        builders.append(("install-\(sizeName(pages: sizes.installPages))", { installWorkload(pages: sizes.installPages) }))
        builders.append(("smaps-\(sizeName(pages: sizes.smapsPages))", { smapsWorkload(pages: sizes.smapsPages, seed: seed) }))

        let buildType = debugSwift || debugC ? "debug" : "release"
        if !json {
            if buildType == "debug" { print("WARNING: DEBUG BUILD (--allow-debug): these timings mean nothing") }
            print("pagewalk-bench: \(runs) timed runs per path after \(warmup) warm-up, paths alternating run by run, "
                  + "\(clock == "cpu" ? "thread CPU time" : "wall time")")
            print("machine: \(cpuModel()), nproc \(onlineCPUs())\(quick ? "  (--quick sizes)" : "")")
            print("times are per walk (median, min); ns/entry uses the median; ×a and ×d are median ratios")
        }
        var all: [Measurement] = []
        for (name, build) in builders where only.isEmpty || only.contains(where: { name.contains($0) }) {
            note("[\(name)] building")
            var w = build()
            if !paths.isEmpty { w.paths = w.paths.filter { paths.contains($0.id.rawValue) } }
            note("[\(name)] \(w.entries) \(w.unit) entries; timing \(w.paths.count) paths")
            let ms = measure(w, runs: runs, warmup: warmup)
            all += ms
            if json { for m in ms { print(jsonLine(m, ms, build: buildType)) } } else { printTable(w, ms) }
        }
        if !json { printTargets(all) }
        if placement { try runPlacement(runs: self.runs ?? (quick ? 5 : 201), json: json) }
    }

    /// Benchmarks/placement/run.sh, from the package root (where `swift run` starts).
    func runPlacement(runs: Int, json: Bool) throws {
        let script = "Benchmarks/placement/run.sh"
        guard access(script, X_OK) == 0 else {
            note("pagewalk-bench: --placement: \(script) not found; run from the package root")
            throw ExitCode(2)
        }
        if !json { print("\n== placement: the C core linked several ways into one C process (\(script))") }
        fflush(nil)
        let status = system("\(script) \(quick ? 16384 : 262144) \(runs) \(clock)\(json ? " json" : "")")
        if status != 0 { fail("\(script) failed (status \(status))") }
    }
}

// MARK: - output

func fmt(_ x: Double, _ digits: Int) -> String {
    guard x.isFinite else { return "-" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let r = (x * scale).rounded() / scale
    var s = String(r)
    if let dot = s.firstIndex(of: ".") {
        let decimals = s.distance(from: dot, to: s.endIndex) - 1
        if decimals < digits { s += String(repeating: "0", count: digits - decimals) }
        if digits == 0 { s = String(s[..<dot]) }
    } else if digits > 0 {
        s += "." + String(repeating: "0", count: digits)
    }
    return s
}

func pad(_ s: String, _ n: Int, left: Bool = false) -> String {
    s.count >= n ? s : (left ? s + String(repeating: " ", count: n - s.count)
                             : String(repeating: " ", count: n - s.count) + s)
}

func timeString(_ ns: Double) -> String {
    if ns >= 1e9 { return fmt(ns / 1e9, 2) + " s" }
    if ns >= 1e6 { return fmt(ns / 1e6, 3) + " ms" }
    if ns >= 1e3 { return fmt(ns / 1e3, 1) + " us" }
    return fmt(ns, 0) + " ns"
}

func ratio(_ m: Measurement, to id: PathID, in ms: [Measurement]) -> Double? {
    guard let r = ms.first(where: { $0.path == id }) else { return nil }
    return m.median / r.median
}

func printTable(_ w: Workload, _ ms: [Measurement]) {
    let first = ms[0]
    print("")
    print("== \(w.name): \(w.entries) entries (\(w.unit)), page tables \(first.tableBytes / 4096) × 4 KiB = "
          + "\(fmt(Double(first.tableBytes) / 1_048_576, 2)) MiB, peak RSS (VmHWM) so far \(fmt(Double(first.peakRSSKiB) / 1024, 1)) MiB")
    print(pad("path", 26, left: true) + pad("median", 12) + pad("min", 12) + pad("ns/entry", 10)
          + pad("min ns/e", 10) + pad("×a", 7) + pad("×d", 7))
    for m in ms.sorted(by: { $0.path < $1.path }) {
        let ra = ratio(m, to: .c, in: ms).map { fmt($0, 2) } ?? "-"
        let rd = ratio(m, to: .floor, in: ms).map { fmt($0, 2) } ?? "-"
        print(pad("(\(m.path.rawValue)) \(m.path.name)", 26, left: true) + pad(timeString(m.median), 12)
              + pad(timeString(m.minimum), 12) + pad(fmt(m.nsPerEntry, 2), 10) + pad(fmt(m.minNsPerEntry, 2), 10)
              + pad(ra, 7) + pad(rd, 7))
    }
}

func jsonString(_ s: String) -> String {
    "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
}

extension String {
    func replacingOccurrences(of a: String, with b: String) -> String {
        split(separator: a, omittingEmptySubsequences: false).joined(separator: b)
    }
}

func jsonLine(_ m: Measurement, _ ms: [Measurement], build: String, extra: [(String, String)] = []) -> String {
    func num(_ x: Double?) -> String { x.map { fmt($0, 4) } ?? "null" }
    let fields: [(String, String)] = [
        ("workload", jsonString(m.workload)), ("unit", jsonString(m.unit)),
        ("path", jsonString(m.path.key)), ("path_id", jsonString(m.path.rawValue)),
        ("path_name", jsonString(m.path.name)),
        ("ns_per_entry", num(m.nsPerEntry)), ("min_ns_per_entry", num(m.minNsPerEntry)),
        ("ratio_to_c", num(ratio(m, to: .c, in: ms))), ("ratio_to_floor", num(ratio(m, to: .floor, in: ms))),
        ("median_ns", num(m.median)), ("min_ns", num(m.minimum)),
        ("entries", String(m.entries)), ("runs", String(m.samples.count)),
        ("table_bytes", String(m.tableBytes)), ("peak_rss_kib", String(m.peakRSSKiB)),
        ("rusage_maxrss_kib", String(m.rusageMaxRSSKiB)),
        ("build", jsonString(build)), ("clock", jsonString(benchClock == CLOCK_MONOTONIC ? "wall" : "cpu")),
    ] + extra
    return "{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}"
}

/// The targets of the performance brief (issue 13), each marked met or missed.
func printTargets(_ all: [Measurement]) {
    func find(_ prefix: String, _ id: PathID) -> [Measurement] {
        all.filter { $0.workload.hasPrefix(prefix) && $0.path == id }
    }
    func ratioLine(_ what: String, _ prefixes: [String], _ id: PathID, to ref: PathID, limit: Double) {
        for p in prefixes {
            for m in find(p, id) {
                guard let r = all.first(where: { $0.workload == m.workload && $0.path == ref }) else { continue }
                let x = m.median / r.median
                print("  [\(x <= limit ? "met   " : "MISSED")] \(what) on \(m.workload): \(fmt(x, 2))× (limit \(fmt(limit, 2))×)")
            }
        }
    }
    let every = ["dense-", "thp-", "sparse-", "many-vmas-", "folio-", "install-", "smaps-"]
    print("")
    print("== targets (issue 13)")
    ratioLine("1. (b) <= 1.10 × (a)", every, .swiftOnC, to: .c, limit: 1.10)
    ratioLine("2. (c) <= 1.0 × (a)", every, .swiftEngine, to: .c, limit: 1.0)
    ratioLine("4. (c) <= 1.3 × floor", ["sparse-"], .swiftEngine, to: .floor, limit: 1.3)
    ratioLine("4. (a) <= 2.0 × floor", ["sparse-"], .c, to: .floor, limit: 2.0)
    print("  3. code placement: --placement prints the spread (target: within 5% across link orders and compilers)")
}

func cpuModel() -> String {
    guard let f = fopen("/proc/cpuinfo", "r") else { return "unknown CPU" }
    defer { fclose(f) }
    var line = [CChar](repeating: 0, count: 512)
    while fgets(&line, Int32(line.count), f) != nil {
        let s = String(decoding: line.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if s.hasPrefix("model name"), let colon = s.firstIndex(of: ":") {
            return s[s.index(after: colon)...].trimmingCharacters()
        }
    }
    return "unknown CPU"
}

extension Substring {
    func trimmingCharacters() -> String {
        String(drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == "\n" || $0 == " " }).reversed())
    }
}

func onlineCPUs() -> Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

Bench.main()

/// Whether this Swift code was built without optimization. A plain function, so that the
/// compiler does not fold the check into the caller and flag the other branch unreachable.
func swiftIsUnoptimized() -> Bool { _isDebugAssertConfiguration() }
