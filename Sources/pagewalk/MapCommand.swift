import ArgumentParser
import Foundation
import PageWalk
import PageWalkConformance
import PageWalkImport

struct MapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "map",
        abstract: "Draw an address space as a self-contained HTML page (SVG, no network resources).",
        discussion: """
            The page shows the VMAs along the address axis, the page-table tree below them (each \
            table with how full it is), leaves by size, swap, migration, marker and guard entries, \
            and the holes. Wheel to zoom, drag to pan, double-click a VMA or table to zoom to it, \
            hover an entry for its bits. With --scenario, the page also lists the callbacks of the \
            scenario's calls, in order, to step through (the map shows the tables as the scenario \
            sets them up, before its calls).
            """)

    @Option(parsing: .unconditional, help: ArgumentHelp("A running process to import and draw.", valueName: "pid"))
    var pid: Int32?

    @Option(help: ArgumentHelp("A conformance scenario (.scn) to set up, draw and step through.", valueName: "file"))
    var scenario: String?

    @Option(name: [.short, .long], help: ArgumentHelp("Where to write the page ('-' for standard output).", valueName: "file"))
    var output = "pagewalk-map.html"

    @Option(help: "The page's title (default: the process or the scenario).")
    var title: String?

    func validate() throws {
        if (pid == nil) == (scenario == nil) {
            throw ValidationError("give exactly one of --pid PID and --scenario FILE")
        }
        if let pid, pid <= 0 { throw ValidationError("--pid \(pid): not a process id (a positive number)") }
    }

    func run() throws {
        let map: AddressSpaceMap
        if let pid {
            let s = importOrDie(pid)
            var names: [UInt32: String] = [:]
            for r in s.regions { if let id = r.vmaID, !r.name.isEmpty { names[id] = r.name } }
            map = AddressSpaceMap(s.space, title: title ?? "process \(pid)", vmaNames: names)
        } else {
            let file = scenario!
            let text: String
            let trace: String
            do {
                text = try readText(file)
                trace = try Scenario.replay(text, name: file, engine: .c)
            } catch let failure as CommandFailure {
                die(failure)
            } catch let error as ScenarioError {
                die(CommandFailure(description: error.message, status: error.isBadInput ? 2 : 3))
            }
            let built: ScenarioSetup
            do {
                built = try ScenarioSetup(text, name: file)
            } catch {
                die(CommandFailure(description: "\(error)", status: 2))
            }
            map = AddressSpaceMap(built.space, title: title ?? (file as NSString).lastPathComponent,
                                  steps: AddressSpaceMap.Step.parseTrace(trace))
        }
        let html = map.html()
        if output == "-" {
            FileHandle.standardOutput.write(Data(html.utf8))
        } else {
            guard FileManager.default.createFile(atPath: output, contents: Data(html.utf8)) else {
                die(CommandFailure(description: "pagewalk: map: cannot write \(output)", status: 2))
            }
            FileHandle.standardError.write(Data("pagewalk: map written to \(output)\n".utf8))
        }
    }
}

/// The machine and user address space a scenario sets up (its `geometry`, `memory`, `folio`,
/// `vma` and `entry user` lines; calls, rules and the kernel mm are left out), built through the
/// Swift API so that `AddressSpaceMap` can draw it.
struct ScenarioSetup {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    let machine: Machine
    let space: AddressSpace

    init(_ text: String, name: String) throws {
        var levels = 4
        var machine: Machine?
        var space: AddressSpace?
        func number(_ s: Substring, _ line: Int) throws -> UInt64 {
            let v = s.hasPrefix("0x") ? UInt64(s.dropFirst(2), radix: 16) : UInt64(s)
            guard let v else { throw Failure(description: "\(name):\(line): '\(s)' is not a number") }
            return v
        }
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = i + 1
            let words = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
                .split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            guard let directive = words.first else { continue }
            func need(_ n: Int) throws {
                if words.count < n { throw Failure(description: "\(name):\(line): \(directive) needs \(n - 1) arguments") }
            }
            func requireSpace() throws -> AddressSpace {
                guard let space else { throw Failure(description: "\(name):\(line): \(directive) before memory") }
                return space
            }
            switch directive {
            case "geometry":
                try need(2)
                levels = Int(try number(words[1], line))
            case "memory":
                try need(5)
                let m = try Machine(levels: levels, frames: try number(words[1], line), tableBase: try number(words[2], line),
                                    zeroPFN: try number(words[3], line), hugeZeroPFN: try number(words[4], line))
                machine = m
                space = try m.makeAddressSpace()
            case "folio":
                try need(3)
                _ = try requireSpace()
                try machine!.declareFolio(head: try number(words[1], line), order: Int(try number(words[2], line)))
            case "vma":
                try need(4)
                let space = try requireSpace()
                var flags: VMAFlags = []
                for f in words[3].split(separator: ",") {
                    switch f {
                    case "read": flags.insert(.read)
                    case "write": flags.insert(.write)
                    case "exec": flags.insert(.exec)
                    case "shared": flags.insert(.shared)
                    case "pfnmap": flags.insert(.pfnmap)
                    case "mixedmap": flags.insert(.mixedmap)
                    default: break
                    }
                }
                var file: Mapping?
                var pgoff: UInt64 = 0
                var huge: HugePageSize?
                for option in words.dropFirst(4) {
                    let kv = option.split(separator: "=", maxSplits: 1)
                    guard kv.count == 2 else { continue }
                    switch kv[0] {
                    case "file": file = machine!.mapping(UInt32(truncatingIfNeeded: try number(kv[1], line)))
                    case "pgoff": pgoff = try number(kv[1], line)
                    case "hugetlb": huge = HugePageSize(rawValue: UInt32(truncatingIfNeeded: try number(kv[1], line)))
                    default: break
                    }
                }
                let start = try number(words[1], line), end = try number(words[2], line)
                guard start < end else { throw Failure(description: "\(name):\(line): empty vma") }
                try space.addVMA(start..<end, flags: flags, file: file, pgoff: pgoff, hugePages: huge)
            case "entry":
                try need(5)
                guard words[1] == "user" else { continue }
                let levelNames: [Substring: PageTableLevel] = ["pgd": .pgd, "p4d": .p4d, "pud": .pud, "pmd": .pmd, "pte": .pte]
                guard let level = levelNames[words[2]] else {
                    throw Failure(description: "\(name):\(line): '\(words[2])' is not a level")
                }
                try requireSpace().setEntry(level, at: try number(words[3], line), to: try number(words[4], line))
            default:
                continue
            }
        }
        guard let machine, let space else { throw Failure(description: "\(name): no memory line: nothing to draw") }
        self.machine = machine
        self.space = space
    }
}
