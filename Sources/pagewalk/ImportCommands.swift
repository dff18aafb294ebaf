import ArgumentParser
import Foundation
import PageWalk
import PageWalkImport

/// Imports `pid` or ends the command with the import's one-line error and status 2. An import
/// that takes more than a second shows progress on stderr when it is a terminal.
func importOrDie(_ pid: Int32, options: ImportOptions = ImportOptions()) -> ProcessSnapshot {
    var options = options
    // Figures as the kernel gives them to anyone else: without this command's own mappings.
    options.discountImporterMappings = true
    do {
        return try Progress.run("importing process \(pid)") { _ in
            try ProcessSnapshot.importProcess(pid: pid, options: options)
        }
    } catch {
        die(CommandFailure(description: "\(error)", status: 2))
    }
}

/// Runs a walk over an import, or ends the command with one line naming it and status 2.
func walkOrDie<R>(_ what: String, _ pid: Int32, _ body: () throws -> R) -> R {
    do {
        return try Progress.run(what) { _ in try body() }
    } catch {
        die(CommandFailure(description: "pagewalk: \(what) of process \(pid) failed: \(error)", status: 2))
    }
}

/// An address on the command line: hex, with or without 0x.
struct Address: ExpressibleByArgument {
    let value: UInt64
    init(value: UInt64) { self.value = value }
    init?(argument: String) {
        guard let v = try? Address.parse(argument) else { return nil }
        value = v
    }

    /// The address `text` names, or a ValidationError saying why it names none.
    static func parse(_ text: String) throws -> UInt64 {
        let digits = text.hasPrefix("0x") || text.hasPrefix("0X") ? String(text.dropFirst(2)) : text
        if digits.isEmpty || !digits.allSatisfy(\.isHexDigit) {
            throw ValidationError("'\(text)' is not a hex address")
        }
        guard let v = UInt64(digits, radix: 16) else {
            throw ValidationError("'\(text)' is more than 64 bits")
        }
        return v
    }
}

func hex(_ v: UInt64, width: Int = 0) -> String {
    let s = String(v, radix: 16)
    return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
}

/// A process, as every command that imports one takes it: a live one (`--pid`), or one saved by
/// `pagewalk import --pid P --save FILE` (`--snapshot FILE`). `--pid -5` is read as a (bad)
/// value, not as an option.
struct ProcessOption: ParsableArguments {
    @Option(name: .customLong("pid"), parsing: .unconditional,
            help: ArgumentHelp("The process to import (its PID).", valueName: "pid"))
    var livePID: Int32?

    @Option(help: ArgumentHelp("A snapshot saved by 'pagewalk import --save', instead of --pid.", valueName: "file"))
    var snapshot: String?

    /// The live process's PID; 0 for a snapshot.
    var pid: Int32 { livePID ?? 0 }

    func validate() throws {
        switch (livePID, snapshot) {
        case (nil, nil): throw ValidationError("give --pid PID or --snapshot FILE")
        case (.some, .some): throw ValidationError("--pid and --snapshot: give one of them")
        case (let p?, nil) where p <= 0:
            throw ValidationError("--pid \(p): not a process id (a PID is a positive number)")
        default: break
        }
    }

    /// Imports the process, or loads the snapshot; ends the command with one line and status 2 on
    /// failure.
    func load(options: ImportOptions = ImportOptions()) -> ProcessSnapshot {
        guard let snapshot else { return importOrDie(pid, options: options) }
        do {
            return try ProcessSnapshot.load(from: snapshot)
        } catch {
            die(CommandFailure(description: "pagewalk: \(error)", status: 2))
        }
    }
}

/// The import's summary as a JSON object.
func importJSON(_ s: ProcessSnapshot) -> JSON {
    let m = s.summary, k = s.knowledge
    return [
        "type": "import", "pid": .number(s.pid ?? 0), "vmas": .number(m.vmas), "ptes": .number(m.ptes),
        "zero_page_ptes": .number(m.zeroPagePTEs), "swap_entries": .number(m.swapEntries),
        "markers": .number(m.markers), "pmd_leaves": .number(m.pmdLeaves),
        "huge_zero_leaves": .number(m.hugeZeroLeaves), "hugetlb_leaves": .number(m.hugetlbLeaves),
        "large_folios": .number(m.largeFolios), "page_tables": .number(m.pageTables),
        "highest_pfn": .hex(m.highestPFN),
        "knowledge": ["real_pfns": .bool(k.realPFNs), "page_flags": .bool(k.pageFlags), "vm_flags": .bool(k.vmFlags),
                      "zero_page": .bool(k.zeroPage), "consistent": .bool(k.consistent)],
        "read_seconds": .double(m.readSeconds), "build_seconds": .double(m.buildSeconds),
    ]
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

    @OptionGroup var process: ProcessOption

    @Flag(help: "Also print every non-zero entry of the imported page tables.")
    var dump = false

    @Flag(help: "Also time an smaps_rollup walk over the import.")
    var walk = false

    @Option(help: ArgumentHelp("Save the import to a snapshot file (then use --snapshot FILE with any command).",
                               valueName: "file"))
    var save: String?

    @OptionGroup var output: OutputOptions

    func run() throws {
        let pid = process.pid
        let t0 = Date()
        let s = process.load()
        let imported = Date().timeIntervalSince(t0)
        if let save {
            do {
                try s.save(to: save)
            } catch {
                die(CommandFailure(description: "pagewalk: \(error)", status: 2))
            }
        }
        if output.json {
            guard case .object(var fields) = importJSON(s) else { return }
            fields.append(("import_seconds", .double(imported)))
            Output.json(.object(fields))
        } else {
            Output.text(describe(s))
            Output.text(String(format: "read %.3f s, build %.3f s, import total %.3f s", s.summary.readSeconds,
                               s.summary.buildSeconds, imported))
        }
        if walk {
            let t1 = Date()
            let stats = walkOrDie("smaps_rollup walk", pid) { try s.smapsRollup() }
            let walked = Date().timeIntervalSince(t1)
            if output.json {
                Output.json(["type": "walk", "walk": "smaps_rollup", "seconds": .double(walked),
                             "rss_kb": .number(stats.resident >> 10)])
            } else {
                Output.text(String(format: "smaps_rollup walk %.3f s (Rss %llu kB); import + walk %.3f s", walked,
                                   stats.resident >> 10, imported + walked))
            }
        }
        if dump {
            for e in s.space.dump() where !e.isTable {
                if output.json {
                    Output.json(["type": "entry", "level": .string(e.level.description), "address": .hex(e.address),
                                 "value": .hex(e.value)])
                } else {
                    Output.text(e.description)
                }
            }
        }
    }
}

struct Smaps: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import a process and print its /proc/PID/smaps (or smaps_rollup) from walks.")

    @OptionGroup var process: ProcessOption

    @Flag(help: "Print smaps_rollup instead.")
    var rollup = false

    @OptionGroup var output: OutputOptions

    func run() throws {
        let pid = process.pid
        let s = process.load()
        let text: String
        if rollup {
            let stats = walkOrDie("smaps_rollup walk", pid) { try s.smapsRollup() }
            text = s.formatSmapsRollup(stats)
        } else {
            text = walkOrDie("smaps walk", pid) { try s.formatSmaps() }
        }
        if output.json {
            for object in smapsJSON(text, rollup: rollup) { Output.json(object) }
        } else {
            Output.raw(text)
        }
    }
}

/// The JSON objects of smaps (or smaps_rollup) text: one per VMA, its maps line's fields and
/// every `Name: value [kB]` line after it, so that the JSON says exactly what the text says.
func smapsJSON(_ text: String, rollup: Bool) -> [JSON] {
    var objects: [JSON] = []
    var header: [(String, JSON)] = []
    var fields: [(String, JSON)] = []
    var vmFlags: [JSON] = []
    func flush() {
        guard !header.isEmpty else { return }
        var o = header
        o.append(("fields", .object(fields)))
        if !rollup { o.append(("vm_flags", .array(vmFlags))) }
        objects.append(.object(o))
        header = []
        fields = []
        vmFlags = []
    }
    for line in text.split(separator: "\n") {
        let words = line.split(separator: " ", omittingEmptySubsequences: true)
        guard let first = words.first else { continue }
        if first.hasSuffix(":") {
            let name = String(first.dropLast())
            if name == "VmFlags" {
                vmFlags = words.dropFirst().map { .string(String($0)) }
            } else if words.count >= 2, let v = UInt64(words[1]) {
                fields.append((name, .number(v)))
            } else {
                fields.append((name, words.count >= 2 ? .string(String(words[1])) : .null))
            }
            continue
        }
        // A maps line: START-END PERMS OFFSET DEV INODE [NAME]
        flush()
        let range = first.split(separator: "-")
        guard range.count == 2, words.count >= 5, let start = UInt64(range[0], radix: 16),
              let end = UInt64(range[1], radix: 16) else { continue }
        let name = words.count > 5 ? words[5...].joined(separator: " ") : ""
        header = [("type", .string(rollup ? "rollup" : "vma")), ("start", .hex(start)), ("end", .hex(end)),
                  ("perms", .string(String(words[1]))), ("offset", .hex(UInt64(words[2], radix: 16) ?? 0)),
                  ("device", .string(String(words[3]))), ("inode", .number(UInt64(words[4]) ?? 0)),
                  ("name", .string(name))]
    }
    flush()
    return objects
}

/// A process and an address range [START, END) of it, as `pagemap`, `mincore` and `guard` take them.
struct ProcessRange: ParsableArguments {
    @OptionGroup var process: ProcessOption

    var pid: Int32 { process.pid }

    @Argument(help: "First address (hex).", transform: { Address(value: try Address.parse($0)) })
    var start: Address

    @Argument(help: "End address, exclusive (hex).", transform: { Address(value: try Address.parse($0)) })
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
        discussion: """
            One line per page: the address, the 64-bit entry in hex, and its bits named. As a read \
            of /proc/PID/pagemap at START would, the range is widened to whole pages (START rounded \
            down, END up), and only the user address space has entries: the part of the range at or \
            above its top (TASK_SIZE, 0x800000000000 with 4 levels) prints nothing (a note on \
            stderr says so).
            """)

    @OptionGroup var target: ProcessRange

    @OptionGroup var output: OutputOptions

    func run() throws {
        let range = target.range("pagemap")
        let pid = target.pid
        let s = target.process.load()
        let entries = walkOrDie("pagemap walk", pid) { try s.pagemap(range) }
        var addr = range.lowerBound & ~4095
        for e in entries {
            if output.json {
                Output.json(pagemapJSON(addr, e))
            } else {
                Output.text("\(hex(addr, width: 12)) \(e) \(pagemapWords(e).joined(separator: " "))")
            }
            addr += 4096
        }
        let top = s.machine.geometry.taskSize
        if range.upperBound > top {
            Output.flush()
            FileHandle.standardError.write(Data(
                "pagewalk: pagemap: nothing at or above 0x\(hex(top)), the top of the user address space\n".utf8))
        }
    }
}

/// The bits of a pagemap entry, named as the text output names them.
func pagemapWords(_ e: PagemapEntry) -> [String] {
    var words: [String] = []
    if e.isPresent { words.append("present pfn=0x\(hex(e.frame))") }
    if e.isSwapped { words.append("swap type=\(e.swapType!) offset=0x\(hex(e.swapOffset!))") }
    if e.isExclusive { words.append("exclusive") }
    if e.isFileOrSharedAnon { words.append("file") }
    if e.isSoftDirty { words.append("soft-dirty") }
    if e.isUffdWriteProtected { words.append("uffd-wp") }
    if e.isGuardRegion { words.append("guard") }
    return words
}

/// One page of pagemap as JSON.
func pagemapJSON(_ address: UInt64, _ e: PagemapEntry) -> JSON {
    [
        "type": "page", "address": .hex(address), "entry": .hex(e.rawValue), "present": .bool(e.isPresent),
        "pfn": e.isPresent ? .hex(e.frame) : .null, "swapped": .bool(e.isSwapped),
        "swap_type": e.isSwapped ? .number(e.swapType!) : .null,
        "swap_offset": e.isSwapped ? .hex(e.swapOffset!) : .null, "exclusive": .bool(e.isExclusive),
        "file": .bool(e.isFileOrSharedAnon), "soft_dirty": .bool(e.isSoftDirty),
        "uffd_wp": .bool(e.isUffdWriteProtected), "guard": .bool(e.isGuardRegion),
    ]
}

struct Mincore: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import a process and print what mincore(2) returns for [START, END), from walks.",
        discussion: "One residency byte per page, printed as 0/1, 64 pages a line after the line's address.")

    @OptionGroup var target: ProcessRange

    @OptionGroup var output: OutputOptions

    func run() throws {
        let range = target.range("mincore")
        let pid = target.pid
        let s = target.process.load()
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
        if output.json {
            for (i, byte) in result.vec.enumerated() {
                Output.json(["type": "page", "address": .hex(range.lowerBound + UInt64(i) * 4096),
                             "resident": .bool(byte & 1 == 1)])
            }
            Output.json(["type": "summary", "pages": .number(result.vec.count),
                         "resident": .number(result.vec.filter { $0 & 1 == 1 }.count),
                         "undetermined": .number(result.undetermined)])
            return
        }
        for i in stride(from: 0, to: result.vec.count, by: 64) {
            let line = result.vec[i..<min(i + 64, result.vec.count)].map { $0 & 1 == 1 ? "1" : "0" }.joined()
            Output.text("\(hex(range.lowerBound + UInt64(i) * 4096, width: 12)) \(line)")
        }
        if result.undetermined > 0 {
            Output.text("# \(result.undetermined) pages not determined by page tables (page or swap cache unknown), shown 0")
        }
    }
}

struct PTDump: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ptdump",
        abstract: "Import a process and dump its user page tables as x86 ptdump prints them.")

    @OptionGroup var process: ProcessOption

    @OptionGroup var output: OutputOptions

    func run() throws {
        let pid = process.pid
        let s = process.load()
        let ranges = walkOrDie("ptdump walk", pid) { try s.ptdump() }
        if output.json {
            for r in ranges { Output.json(ptdumpJSON(r)) }
        } else {
            Output.raw(s.formatPTDump(ranges))
        }
    }
}

/// One ptdump range as JSON: its addresses, level, raw protection bits, and the flags the text
/// line shows.
func ptdumpJSON(_ r: PTDumpRange) -> JSON {
    let words = r.formatted.split(separator: " ", omittingEmptySubsequences: true)
    // "START-END SIZE FLAGS... LEVEL": the flags are the words between the size and the level.
    let flags = words.count > 3 ? words[2..<(words.count - 1)].map { JSON.string(String($0)) } : []
    return ["type": "range", "start": .hex(r.start), "end": .hex(r.end), "level": .string(r.level.description),
            "present": .bool(r.prot & 1 != 0), "prot": .hex(r.prot), "flags": .array(flags)]
}

struct Guard: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import a process, install guard regions over [START, END) as MADV_GUARD_INSTALL does, and print the pagemap of the range.")

    @OptionGroup var target: ProcessRange

    @OptionGroup var output: OutputOptions

    func run() throws {
        let range = target.range("guard")
        let pid = target.pid
        let s = target.process.load()
        let context = "pagewalk: guard: [0x\(hex(range.lowerBound)), 0x\(hex(range.upperBound)))"
        do {
            let per = try s.installGuardRegions(range)
            if output.json {
                Output.json(["type": "guard", "pages": .number(per.reduce(0, +)), "vmas": .number(per.count)])
            } else {
                Output.text("guard regions installed: \(per.reduce(0, +)) pages in \(per.count) VMAs")
            }
        } catch let e as GuardInstallError {
            die(CommandFailure(description: "\(context): " + guardFailureReason(e, range, s), status: 2))
        } catch {
            die(CommandFailure(description: "pagewalk: guard install in process \(pid) failed: \(error)", status: 2))
        }
        let entries = walkOrDie("pagemap walk", pid) { try s.pagemap(range) }
        var addr = range.lowerBound
        for e in entries {
            if output.json {
                Output.json(["type": "page", "address": .hex(addr), "entry": .hex(e.rawValue), "guard": .bool(e.isGuardRegion)])
            } else {
                Output.text("\(hex(addr, width: 12)) \(e)\(e.isGuardRegion ? " guard" : "")")
            }
            addr += 4096
        }
    }
}

/// Why MADV_GUARD_INSTALL refused `range`, in words: which check failed, on which VMA.
func guardFailureReason(_ e: GuardInstallError, _ range: Range<UInt64>, _ s: ProcessSnapshot) -> String {
    switch e {
    case .invalid:
        if range.lowerBound & 4095 != 0 {
            return "START 0x\(hex(range.lowerBound)) is not page-aligned (EINVAL)"
        }
        let refused: [(VMAFlags, String)] = [(.hugetlb, "VM_HUGETLB"), (.pfnmap, "VM_PFNMAP"), (.mixedmap, "VM_MIXEDMAP"),
                                             (.io, "VM_IO"), (.dontExpand, "VM_DONTEXPAND"), (.locked, "VM_LOCKED")]
        for vma in s.space.vmas.compactMap({ try? $0.info })
        where vma.start < range.upperBound && vma.end > range.lowerBound {
            let why = refused.filter { vma.flags.contains($0.0) }.map(\.1)
            if why.isEmpty { continue }
            let name = s.region(vma: vma.id).map { $0.name.isEmpty ? "" : " " + $0.name } ?? ""
            return "the VMA 0x\(hex(vma.start))-0x\(hex(vma.end))\(name) cannot hold guard regions: it is "
                + why.joined(separator: ", ") + " (EINVAL)"
        }
        return "invalid range (EINVAL)"
    case .unmapped:
        return "part of the range is not mapped; the mapped parts were guarded (ENOMEM)"
    case .raced:
        return "the range kept being repopulated while guards were installed (the kernel would restart)"
    }
}

struct SelfImport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "self",
        abstract: "Import this very process and show its smaps_rollup from walks beside the kernel's, then a short ptdump (the default).")

    @Option(help: "Lines of ptdump to show.")
    var ptdumpLines = 16

    @OptionGroup var output: OutputOptions

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
        let inferred: Set<String> = ["Pss_Dirty", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty",
                                     "Referenced"]
        let unknown = Set(ours.unknownFieldNames)
        let ranges = walkOrDie("ptdump walk", pid) { try s.ptdump() }
        if output.json {
            Output.json(importJSON(s))
            for (name, kB) in ours.fields(rollup: true) {
                let note = unknown.contains(name) ? "unknown" : inferred.contains(name) ? "inferred" : ""
                Output.json(["type": "rollup_field", "name": .string(name), "walks_kb": .number(kB),
                             "kernel_kb": theirs[name].map { .number($0) } ?? .null, "note": .string(note)])
            }
            for r in ranges.prefix(ptdumpLines) { Output.json(ptdumpJSON(r)) }
            return
        }
        Output.text("pagewalk: process \(pid) (this one), imported in "
                    + String(format: "%.3f s", s.summary.readSeconds + s.summary.buildSeconds))
        Output.text(describe(s))
        Output.text("")
        Output.text("smaps_rollup     from walks    kernel")
        for (name, kB) in ours.fields(rollup: true) {
            let k = theirs[name].map { String($0) } ?? "-"
            var note = ""
            if unknown.contains(name) { note = "  (unknown without kpageflags/kpagecount)" }
            else if inferred.contains(name) { note = "  (dirty/accessed bits inferred)" }
            else if let t = theirs[name], t != kB { note = "  (changed: the process allocates while importing)" }
            let label = MemoryStatsLabel.pad(name + ":", 16)
            Output.text("\(label)\(MemoryStatsLabel.left(String(kB), 8)) kB  \(MemoryStatsLabel.left(k, 8)) kB\(note)")
        }
        Output.text("")
        let lines = s.formatPTDump(ranges).split(separator: "\n")
        Output.text("ptdump (first \(min(ptdumpLines, lines.count - 1)) of \(lines.count - 1) ranges):")
        for l in lines.prefix(ptdumpLines + 1) { Output.text(String(l)) }
        if lines.count - 1 > ptdumpLines { Output.text("... \(lines.count - 1 - ptdumpLines) more") }
    }
}

enum MemoryStatsLabel {
    static func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
    static func left(_ s: String, _ w: Int) -> String { s.count >= w ? s : String(repeating: " ", count: w - s.count) + s }
}
