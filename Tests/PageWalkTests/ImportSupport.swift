import Foundation
import PageWalk
import PageWalkImport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Why the kernel-comparison tests cannot run here, or nil if they can.
let kernelComparisonUnavailable: String? = {
    if getuid() != 0 { return "needs root: pagemap shows PFNs and /proc/kpageflags, /proc/kpagecount are readable only by root" }
    if access("/proc/kpageflags", R_OK) != 0 || access("/proc/kpagecount", R_OK) != 0 {
        return "/proc/kpageflags or /proc/kpagecount is not readable"
    }
    if access("/proc/self/pagemap", R_OK) != 0 { return "/proc/self/pagemap is not readable" }
    return nil
}()

/// True if THPs can be had with MADV_HUGEPAGE ("always" or "madvise").
let transparentHugepagesAvailable: Bool = {
    let text = (try? String(contentsOfFile: "/sys/kernel/mm/transparent_hugepage/enabled", encoding: .utf8)) ?? ""
    return text.contains("[always]") || text.contains("[madvise]")
}()

enum TestChildError: Error, CustomStringConvertible {
    case build(String), start(String), protocolError(String)
    var description: String {
        switch self {
        case .build(let s): "cannot build the test child: \(s)"
        case .start(let s): "cannot start the test child: \(s)"
        case .protocolError(let s): "test child: \(s)"
        }
    }
}

/// The test child (Tests/TestChild/testchild.c), compiled with cc once per test run, started
/// with a known layout and waiting on stdin while it is inspected. Killed when released.
final class TestChild {
    static let source: String = {
        let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        return here.deletingLastPathComponent().appendingPathComponent("TestChild/testchild.c").path
    }()

    static let directory: String = {
        let dir = NSTemporaryDirectory() + "pagewalk-import-tests-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }()

    static let binary: Result<String, TestChildError> = {
        let out = directory + "/pagewalk-testchild"
        let cc = Process()
        cc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        cc.arguments = ["cc", "-std=c11", "-O1", "-Wall", "-o", out, source]
        let err = Pipe()
        cc.standardError = err
        do {
            try cc.run()
            cc.waitUntilExit()
        } catch {
            return .failure(.build("\(error)"))
        }
        if cc.terminationStatus != 0 {
            return .failure(.build(String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)))
        }
        return .success(out)
    }()

    let process = Process()
    let input = Pipe()
    let output = Pipe()
    private var buffer = Data()
    /// Region name → range, as the child printed them.
    private(set) var regions: [String: Range<UInt64>] = [:]
    /// Other lines before "ready" ("thp yes", ...).
    private(set) var notes: [String] = []
    let scratch: String

    var pid: Int32 { process.processIdentifier }
    var gotTHP: Bool { notes.contains("thp yes") }

    init(_ arguments: [String]? = nil) throws {
        let binary = try Self.binary.get()
        scratch = Self.directory + "/scratch-\(UUID().uuidString)"
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments ?? [scratch]
        process.standardInput = input
        process.standardOutput = output
        do { try process.run() } catch { throw TestChildError.start("\(error)") }
        while true {
            let line = try readLine()
            if line == "ready" { break }
            let parts = line.split(separator: " ")
            if parts.count == 4, parts[0] == "region", let s = UInt64(parts[2], radix: 16), let e = UInt64(parts[3], radix: 16) {
                regions[String(parts[1])] = s..<e
            } else {
                notes.append(line)
            }
        }
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: scratch)
    }

    func readLine() throws -> String {
        while true {
            if let nl = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[buffer.startIndex..<nl], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex...nl)
                return line
            }
            let data = output.fileHandleForReading.availableData
            if data.isEmpty { throw TestChildError.protocolError("exited before answering") }
            buffer.append(data)
        }
    }

    /// Sends one command and returns the child's one-line answer.
    func command(_ text: String) throws -> String {
        input.fileHandleForWriting.write(Data((text + "\n").utf8))
        return try readLine()
    }

    func region(_ name: String) throws -> Range<UInt64> {
        guard let r = regions[name] else { throw TestChildError.protocolError("no region \(name) (\(notes))") }
        return r
    }

    /// The kernel's mincore vector of `range`, as the child itself gets it.
    func mincore(_ range: Range<UInt64>) throws -> [UInt8] {
        let answer = try command("mincore \(String(range.lowerBound, radix: 16)) \(String(range.count, radix: 16))")
        if answer.hasPrefix("err") { throw TestChildError.protocolError("mincore: \(answer)") }
        return answer.map { $0 == "1" ? 1 : 0 }
    }
}

/// The kernel's own view of a process.
enum Kernel {
    /// /proc/PID/pagemap entries of `range`.
    static func pagemap(_ pid: Int32, _ range: Range<UInt64>) throws -> [PagemapEntry] {
        let fd = open("/proc/\(pid)/pagemap", O_RDONLY)
        guard fd >= 0 else { throw TestChildError.protocolError("cannot open pagemap of \(pid)") }
        defer { close(fd) }
        let n = Int((range.upperBound - range.lowerBound) >> 12)
        var raw = [UInt64](repeating: 0, count: n)
        let got = raw.withUnsafeMutableBytes { pread(fd, $0.baseAddress, n * 8, off_t(range.lowerBound >> 12) * 8) }
        guard got == n * 8 else { throw TestChildError.protocolError("short pagemap read (\(got))") }
        return raw.map { PagemapEntry(rawValue: $0) }
    }

    /// One VMA of /proc/PID/smaps: its maps line, its fields (kB) and VmFlags.
    struct SmapsVMA: Equatable {
        var header: String
        var fields: [String: UInt64] = [:]
        var vmFlags = ""
        var start: UInt64 { UInt64(header.prefix(while: { $0 != "-" }), radix: 16) ?? 0 }
    }

    static func parseSmaps(_ text: String) -> [SmapsVMA] {
        var out: [SmapsVMA] = []
        for line in text.split(separator: "\n") {
            guard let c = line.first else { continue }
            if c.isHexDigit && !c.isUppercase {
                out.append(SmapsVMA(header: String(line)))
            } else if line.hasPrefix("VmFlags:") {
                out[out.count - 1].vmFlags = String(line)
            } else if let colon = line.firstIndex(of: ":") {
                let name = String(line[..<colon])
                let value = line[line.index(after: colon)...].split(separator: " ").first.flatMap { UInt64($0) }
                if let value { out[out.count - 1].fields[name] = value }
            }
        }
        return out
    }

    static func smaps(_ pid: Int32) throws -> [SmapsVMA] {
        parseSmaps(try readProc("/proc/\(pid)/smaps"))
    }

    /// A whole /proc file (their size reads as 0, so read to the end).
    static func readProc(_ path: String) throws -> String {
        guard let h = FileHandle(forReadingAtPath: path) else { throw TestChildError.protocolError("cannot open \(path)") }
        defer { try? h.close() }
        return String(decoding: h.readDataToEndOfFile(), as: UTF8.self)
    }

    static func smapsRollup(_ pid: Int32) throws -> SmapsVMA {
        parseSmaps(try readProc("/proc/\(pid)/smaps_rollup"))[0]
    }
}

/// The smaps fields that page tables (with kpageflags and kpagecount) determine exactly and
/// that do not depend on other processes.
let exactSmapsFields = ["Size", "KernelPageSize", "MMUPageSize", "Rss", "Anonymous", "KSM", "LazyFree", "AnonHugePages",
                        "ShmemPmdMapped", "FilePmdMapped", "Shared_Hugetlb", "Private_Hugetlb", "Swap", "THPeligible"]

/// Fields that depend on map counts, which other processes change (shared libraries).
let mapcountSmapsFields = ["Pss", "Pss_Anon", "Pss_File", "Pss_Shmem", "Locked"]
