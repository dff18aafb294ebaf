#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The five ways a workload is walked.
enum PathID: String, CaseIterable, Comparable {
    /// The C core with C callbacks, as a C embedder uses it.
    case c = "a"
    /// The Swift visitor API over the C core (`engine: .c`).
    case swiftOnC = "b"
    /// The pure-Swift engine (`engine: .swift`).
    case swiftEngine = "c"
    /// Bare nested loops in C over the same tables, no callbacks.
    case floor = "d"
    /// The C core with a batched `pte_range` C callback.
    case batched = "e"

    var name: String {
        switch self {
        case .c: "c-core+c-callbacks"
        case .swiftOnC: "swift-api(engine .c)"
        case .swiftEngine: "swift-engine(.swift)"
        case .floor: "floor(bare C loop)"
        case .batched: "c-core+pte_range"
        }
    }

    /// The name in `--json` output.
    var key: String {
        switch self {
        case .c: "c"
        case .swiftOnC: "swift-c"
        case .swiftEngine: "swift"
        case .floor: "floor"
        case .batched: "batched"
        }
    }

    static func < (a: PathID, b: PathID) -> Bool { a.rawValue < b.rawValue }
}

/// One path of a workload: an untimed `prepare`, the timed `run` returning what it saw, and an
/// untimed `finish` that completes that into the signature every path must agree on.
struct BenchPath {
    let id: PathID
    var prepare: () -> Void = {}
    let run: () -> [UInt64]
    var finish: ([UInt64]) -> [UInt64] = { $0 }
}

/// A workload built once and walked by every path.
struct Workload {
    var name: String
    /// What one entry is, for "ns per entry".
    let unit: String
    let entries: Int
    /// What every path must report, with the names of the fields.
    let expected: [UInt64]
    let fields: [String]
    var paths: [BenchPath]
    /// Page tables in use (each exactly 4 KiB) once built (for install: after a run).
    var tables: () -> UInt64
}

/// The timings of one path of one workload.
struct Measurement {
    let workload: String
    let unit: String
    let path: PathID
    let entries: Int
    var samples: [UInt64] = []
    var tableBytes: UInt64 = 0
    var peakRSSKiB: Int = 0
    var rusageMaxRSSKiB: Int = 0

    var median: Double {
        let s = samples.sorted()
        let n = s.count
        return n % 2 == 1 ? Double(s[n / 2]) : (Double(s[n / 2 - 1]) + Double(s[n / 2])) / 2
    }
    var minimum: Double { Double(samples.min() ?? 0) }
    var nsPerEntry: Double { median / Double(entries) }
    var minNsPerEntry: Double { minimum / Double(entries) }
}

/// The clock runs are timed with: CLOCK_MONOTONIC (wall time), or with `--clock cpu`
/// CLOCK_THREAD_CPUTIME_ID, which leaves out the time the thread waited for a core on a busy
/// machine (cache effects of the other load stay in).
nonisolated(unsafe) var benchClock = CLOCK_MONOTONIC

@inline(__always)
func nowNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(benchClock, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// getrusage's peak resident set, in KiB. It survives execve, so under `swift run` it is at least
/// SwiftPM's own peak (about 120 MiB); `peakRSSKiB` is this process's.
func rusageMaxRSSKiB() -> Int {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Int(usage.ru_maxrss)
}

/// This process's peak resident set in KiB: VmHWM of /proc/self/status (per address space, so
/// not inherited across exec), or getrusage where /proc is missing.
func peakRSSKiB() -> Int {
    guard let f = fopen("/proc/self/status", "r") else { return rusageMaxRSSKiB() }
    defer { fclose(f) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, Int32(line.count), f) != nil {
        let s = String(decoding: line.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if s.hasPrefix("VmHWM:") {
            return Int(s.dropFirst(6).filter { $0.isNumber }) ?? rusageMaxRSSKiB()
        }
    }
    return rusageMaxRSSKiB()
}

/// Writes to standard error.
func writeError(_ s: String) {
    var s = s
    s.withUTF8 { b in _ = write(2, b.baseAddress, b.count) }
}

func fail(_ message: String) -> Never {
    writeError("\n*** pagewalk-bench: VERIFICATION FAILED: \(message)\n")
    exit(1)
}

func note(_ message: String) {
    writeError(message + "\n")
}

/// Runs every path of `w`: `warmup` untimed rounds, then `runs` timed rounds, alternating the
/// paths within each round (the starting path rotates); each run's result is checked.
func measure(_ w: Workload, runs: Int, warmup: Int) -> [Measurement] {
    func check(_ p: BenchPath, _ raw: [UInt64]) {
        let got = p.finish(raw)
        if got != w.expected {
            let show = { (v: [UInt64]) in zip(w.fields, v).map { "\($0)=\($1)" }.joined(separator: " ") }
            fail("workload \(w.name), path (\(p.id.rawValue)) \(p.id.name): got [\(show(got))], expected [\(show(w.expected))]")
        }
    }
    for _ in 0..<warmup {
        for p in w.paths {
            p.prepare()
            check(p, p.run())
        }
    }
    var results = w.paths.map { Measurement(workload: w.name, unit: w.unit, path: $0.id, entries: w.entries) }
    let n = w.paths.count
    for r in 0..<runs {
        for k in 0..<n {
            let i = (r + k) % n
            let p = w.paths[i]
            p.prepare()
            let t0 = nowNanoseconds()
            let raw = p.run()
            let t1 = nowNanoseconds()
            check(p, raw)
            results[i].samples.append(t1 &- t0)
        }
    }
    let tableBytes = w.tables() * 4096
    let rss = peakRSSKiB()
    let maxrss = rusageMaxRSSKiB()
    for i in results.indices {
        results[i].tableBytes = tableBytes
        results[i].peakRSSKiB = rss
        results[i].rusageMaxRSSKiB = maxrss
    }
    return results
}
