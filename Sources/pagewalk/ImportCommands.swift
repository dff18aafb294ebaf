import ArgumentParser
import Foundation
import PageWalk
import PageWalkImport

/// Imports `pid` or ends the command with the import's one-line error and status 2.
func importOrDie(_ pid: Int32, options: ImportOptions = ImportOptions()) -> ProcessSnapshot {
    var options = options
    // Figures as the kernel gives them to anyone else: without this command's own mappings.
    options.discountImporterMappings = true
    do {
        return try ProcessSnapshot.importProcess(pid: pid, options: options)
    } catch {
        die(CommandFailure(description: error.description, status: 2))
    }
}

/// Runs a walk over an import, or ends the command with one line naming it and status 2.
func walkOrDie<R>(_ what: String, _ pid: Int32, _ body: () throws -> R) -> R {
    do {
        return try body()
    } catch {
        die(CommandFailure(description: "pagewalk: \(what) of process \(pid) failed: \(error)", status: 2))
    }
}

/// An address on the command line: hex, with or without 0x.
struct Address: ExpressibleByArgument {
    let value: UInt64
    init?(argument: String) {
        let digits = argument.hasPrefix("0x") || argument.hasPrefix("0X") ? String(argument.dropFirst(2)) : argument
        guard let v = UInt64(digits, radix: 16) else { return nil }
        value = v
    }
}

func hex(_ v: UInt64, width: Int = 0) -> String {
    let s = String(v, radix: 16)
    return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
}

/// The one-line description of an import.
func describe(_ s: ProcessSnapshot) -> String {
    let m = s.summary
    let k = s.knowledge
    var facts: [String] = []
    facts.append(k.realPFNs ? "real PFNs" : "PFNs hidden (numbered here)")
    facts.append(k.pageFlags ? "kpageflags+kpagecount" : "no kpageflags (THP, zero page, map counts unknown)")
    facts.append(k.vmFlags ? "VmFlags" : "no VmFlags (inferred)")
    if !k.consistent { facts.append("mappings changed while read") }
    return "imported \(m.vmas) VMAs: \(m.ptes) PTEs (\(m.zeroPagePTEs) zero page, \(m.swapEntries) swap, "
        + "\(m.markers) markers), \(m.pmdLeaves) THP + \(m.hugeZeroLeaves) huge-zero PMD leaves, "
        + "\(m.hugetlbLeaves) hugetlb leaves, \(m.largeFolios) large folios, \(m.pageTables) page tables; "
        + "highest PFN 0x\(hex(m.highestPFN)); " + facts.joined(separator: ", ")
}

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import a running process into a simulated machine and describe it.")

    @Option(help: "The process to import.")
    var pid: Int32

    @Flag(help: "Also print every non-zero entry of the imported page tables.")
    var dump = false

    @Flag(help: "Also time an smaps_rollup walk over the import.")
    var walk = false

    func run() throws {
        let t0 = Date()
        let s = importOrDie(pid)
        let imported = Date().timeIntervalSince(t0)
        print(describe(s))
        print(String(format: "read %.3f s, build %.3f s, import total %.3f s", s.summary.readSeconds,
                     s.summary.buildSeconds, imported))
        if walk {
            let t1 = Date()
            let stats = walkOrDie("smaps_rollup walk", pid) { try s.smapsRollup() }
            let walked = Date().timeIntervalSince(t1)
            print(String(format: "smaps_rollup walk %.3f s (Rss %llu kB); import + walk %.3f s", walked,
                         stats.resident >> 10, imported + walked))
        }
        if dump {
            for e in s.space.dump() where !e.isTable { print(e) }
        }
    }
}

struct Smaps: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import a process and print its /proc/PID/smaps (or smaps_rollup) from walks.")

    @Option(help: "The process to import.")
    var pid: Int32

    @Flag(help: "Print smaps_rollup instead.")
    var rollup = false

    func run() throws {
        let s = importOrDie(pid)
        if rollup {
            let stats = walkOrDie("smaps_rollup walk", pid) { try s.smapsRollup() }
            print(s.formatSmapsRollup(stats), terminator: "")
        } else {
            print(walkOrDie("smaps walk", pid) { try s.formatSmaps() }, terminator: "")
        }
    }
}

/// A process and an address range [START, END) of it, as `pagemap`, `mincore` and `guard` take them.
struct ProcessRange: ParsableArguments {
    @Option(help: "The process to import.")
    var pid: Int32

    @Argument(help: "First address (hex).")
    var start: Address

    @Argument(help: "End address, exclusive (hex).")
    var end: Address

    /// `[start, end)`, or one line naming `command` and exit status 2 when START is not below END.
    func range(_ command: String) -> Range<UInt64> {
        guard start.value < end.value else {
            die(CommandFailure(
                description: "pagewalk: \(command): START 0x\(hex(start.value)) is not below END 0x\(hex(end.value))",
                status: 2))
        }
        return start.value..<end.value
    }
}

struct Pagemap: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import a process and print /proc/PID/pagemap entries of [START, END) from a walk.",
        discussion: "One line per page: the address, the 64-bit entry in hex, and its bits named.")

    @OptionGroup var target: ProcessRange

    func run() throws {
        let range = target.range("pagemap")
        let pid = target.pid
        let s = importOrDie(pid)
        let entries = walkOrDie("pagemap walk", pid) { try s.pagemap(range) }
        var out = ""
        var addr = range.lowerBound & ~4095
        for e in entries {
            var words: [String] = []
            if e.isPresent { words.append("present pfn=0x\(hex(e.frame))") }
            if e.isSwapped { words.append("swap type=\(e.swapType!) offset=0x\(hex(e.swapOffset!))") }
            if e.isExclusive { words.append("exclusive") }
            if e.isFileOrSharedAnon { words.append("file") }
            if e.isSoftDirty { words.append("soft-dirty") }
            if e.isUffdWriteProtected { words.append("uffd-wp") }
            if e.isGuardRegion { words.append("guard") }
            out += "\(hex(addr, width: 12)) \(e) \(words.joined(separator: " "))\n"
            addr += 4096
        }
        print(out, terminator: "")
    }
}

struct Mincore: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import a process and print what mincore(2) returns for [START, END), from walks.",
        discussion: "One residency byte per page, printed as 0/1, 64 pages a line after the line's address.")

    @OptionGroup var target: ProcessRange

    func run() throws {
        let range = target.range("mincore")
        let pid = target.pid
        let s = importOrDie(pid)
        let result: (vec: [UInt8], undetermined: Int)
        do {
            result = try s.mincore(range)
        } catch PageWalkError.invalidArgument {
            die(CommandFailure(description: "pagewalk: mincore: 0x\(hex(range.lowerBound)) is not page-aligned (EINVAL)", status: 2))
        } catch PageWalkError.outOfMemory {
            die(CommandFailure(description: "pagewalk: mincore: [0x\(hex(range.lowerBound)), 0x\(hex(range.upperBound))) of process \(pid) is not all mapped (ENOMEM)", status: 2))
        } catch {
            die(CommandFailure(description: "pagewalk: mincore walk of process \(pid) failed: \(error)", status: 2))
        }
        var out = ""
        for i in stride(from: 0, to: result.vec.count, by: 64) {
            let line = result.vec[i..<min(i + 64, result.vec.count)].map { $0 & 1 == 1 ? "1" : "0" }.joined()
            out += "\(hex(range.lowerBound + UInt64(i) * 4096, width: 12)) \(line)\n"
        }
        if result.undetermined > 0 {
            out += "# \(result.undetermined) pages not determined by page tables (page or swap cache unknown), shown 0\n"
        }
        print(out, terminator: "")
    }
}

struct PTDump: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ptdump",
        abstract: "Import a process and dump its user page tables as x86 ptdump prints them.")

    @Option(help: "The process to import.")
    var pid: Int32

    func run() throws {
        let s = importOrDie(pid)
        let ranges = walkOrDie("ptdump walk", pid) { try s.ptdump() }
        print(s.formatPTDump(ranges), terminator: "")
    }
}

struct Guard: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import a process, install guard regions over [START, END) as MADV_GUARD_INSTALL does, and print the pagemap of the range.")

    @OptionGroup var target: ProcessRange

    func run() throws {
        let range = target.range("guard")
        let pid = target.pid
        let s = importOrDie(pid)
        do {
            let per = try s.installGuardRegions(range)
            print("guard regions installed: \(per.reduce(0, +)) pages in \(per.count) VMAs")
        } catch let e as GuardInstallError {
            die(CommandFailure(description: "pagewalk: guard: [0x\(hex(range.lowerBound)), 0x\(hex(range.upperBound))): \(e)", status: 2))
        } catch {
            die(CommandFailure(description: "pagewalk: guard install in process \(pid) failed: \(error)", status: 2))
        }
        let entries = walkOrDie("pagemap walk", pid) { try s.pagemap(range) }
        var addr = range.lowerBound
        for e in entries {
            print("\(hex(addr, width: 12)) \(e)\(e.isGuardRegion ? " guard" : "")")
            addr += 4096
        }
    }
}

struct SelfImport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "self",
        abstract: "Import this very process and show its smaps_rollup from walks beside the kernel's, then a short ptdump (the default).")

    @Option(help: "Lines of ptdump to show.")
    var ptdumpLines = 16

    func run() throws {
        let pid = getpid()
        // A process that imports itself changes as it reads: its code is paged in, its buffers
        // allocated, its machine built. So a first import warms it all up and is dropped; the
        // kernel's figures are read just before the second import reads the process.
        _ = try? ProcessSnapshot.importProcess(pid: pid).smapsRollup()
        let kernel = (try? String(contentsOfFile: "/proc/self/smaps_rollup", encoding: .utf8)) ?? ""
        let s = importOrDie(pid)
        let ours = walkOrDie("smaps_rollup walk", pid) { try s.smapsRollup() }
        var theirs: [String: UInt64] = [:]
        for line in kernel.split(separator: "\n").dropFirst() {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count >= 2, let v = UInt64(parts[1]) { theirs[String(parts[0].dropLast())] = v }
        }
        print("pagewalk: process \(pid) (this one), imported in "
              + String(format: "%.3f s", s.summary.readSeconds + s.summary.buildSeconds))
        print(describe(s))
        print("")
        print("smaps_rollup     from walks    kernel")
        let inferred: Set<String> = ["Pss_Dirty", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty",
                                     "Referenced"]
        let unknown = Set(ours.unknownFieldNames)
        for (name, kB) in ours.fields(rollup: true) {
            let k = theirs[name].map { String($0) } ?? "-"
            var note = ""
            if unknown.contains(name) { note = "  (unknown without kpageflags/kpagecount)" }
            else if inferred.contains(name) { note = "  (dirty/accessed bits inferred)" }
            else if let t = theirs[name], t != kB { note = "  (changed: the process allocates while importing)" }
            let label = MemoryStatsLabel.pad(name + ":", 16)
            print("\(label)\(MemoryStatsLabel.left(String(kB), 8)) kB  \(MemoryStatsLabel.left(k, 8)) kB\(note)")
        }
        print("")
        let ranges = walkOrDie("ptdump walk", pid) { try s.ptdump() }
        let lines = s.formatPTDump(ranges).split(separator: "\n")
        print("ptdump (first \(min(ptdumpLines, lines.count - 1)) of \(lines.count - 1) ranges):")
        for l in lines.prefix(ptdumpLines + 1) { print(l) }
        if lines.count - 1 > ptdumpLines { print("... \(lines.count - 1 - ptdumpLines) more") }
    }
}

enum MemoryStatsLabel {
    static func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
    static func left(_ s: String, _ w: Int) -> String { s.count >= w ? s : String(repeating: " ", count: w - s.count) + s }
}
