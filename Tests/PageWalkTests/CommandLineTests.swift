import Foundation
import PageWalk
import PageWalkImport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Every line of `out` as a JSON object; each must have a "type".
func jsonLines(_ out: String) throws -> [[String: Any]] {
    try out.split(separator: "\n").map { line in
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
        let dict = try #require(object as? [String: Any], "not a JSON object: \(line)")
        #expect(dict["type"] is String, "no type: \(line)")
        return dict
    }
}

private func hx(_ v: UInt64) -> String { String(v, radix: 16) }

/// `pagewalk ... --json` against the same command's text and against the kernel: the JSON says
/// what the text says, line for line, and the schema of docs/JSON.md.
@Suite(.serialized, .enabled(if: pagewalkExecutable != nil, "the pagewalk executable is not built"))
struct JSONOutputTests {
    @Test func pagemapJSONIsTheTextAndTheKernels() throws {
        let child = try TestChild()
        let g = try child.region("guard")
        let args = ["pagemap", "--pid", "\(child.pid)", hx(g.lowerBound), hx(g.upperBound)]
        let text = try pagewalk(args), json = try pagewalk(args + ["--json"])
        #expect(text.status == 0 && json.status == 0)
        let lines = text.out.split(separator: "\n")
        let objects = try jsonLines(json.out)
        #expect(objects.count == lines.count && objects.count == Int(g.count / 4096))
        for (line, o) in zip(lines, objects) {
            let words = line.split(separator: " ")
            #expect(o["type"] as? String == "page")
            #expect(o["address"] as? String == "0x" + String(UInt64(words[0], radix: 16)!, radix: 16))
            #expect(o["entry"] as? String == "0x" + String(UInt64(words[1], radix: 16)!, radix: 16))
            #expect(o["present"] as? Bool == words.contains("present"))
            #expect(o["guard"] as? Bool == words.contains("guard"))
            #expect(o["exclusive"] as? Bool == words.contains("exclusive"))
            #expect((o["pfn"] is NSNull) == !words.contains("present"))
        }
        if kernelComparisonUnavailable == nil {
            let kernel = try Kernel.pagemap(child.pid, g)
            #expect(objects.map { $0["entry"] as? String } == kernel.map { "0x" + String($0.rawValue, radix: 16) })
        }
    }

    @Test func smapsJSONHasEveryFieldOfTheText() throws {
        let child = try TestChild()
        let text = try pagewalk(["smaps", "--pid", "\(child.pid)"])
        let json = try pagewalk(["smaps", "--pid", "\(child.pid)", "--json"])
        #expect(text.status == 0 && json.status == 0)
        let vmas = Kernel.parseSmaps(text.out)
        let objects = try jsonLines(json.out)
        #expect(objects.count == vmas.count && !vmas.isEmpty)
        let kernel = Kernel.parseSmaps((try? String(contentsOfFile: "/proc/\(child.pid)/smaps", encoding: .utf8)) ?? "")
        for (v, o) in zip(vmas, objects) {
            #expect(o["type"] as? String == "vma")
            #expect(o["start"] as? String == "0x" + hx(v.start))
            let fields = try #require(o["fields"] as? [String: Any])
            // Two imports of a live process: what depends on other processes' mappings of the same
            // pages (map counts: Pss, Shared_*, Private_*) may move between them; the rest may not.
            let moving = ["Pss", "Shared", "Private"]
            for (name, kB) in v.fields where !moving.contains(where: { name.hasPrefix($0) }) {
                #expect((fields[name] as? NSNumber)?.uint64Value == kB, "\(name)")
            }
            #expect(Set(fields.keys) == Set(v.fields.keys))
            #expect((o["vm_flags"] as? [String])?.joined(separator: " ") == v.vmFlags.dropFirst("VmFlags: ".count)
                .split(separator: " ").joined(separator: " "))
            // Size is exact whatever the import could learn: check it against the kernel's own smaps.
            if let k = kernel.first(where: { $0.start == v.start }) {
                #expect((fields["Size"] as? NSNumber)?.uint64Value == k.fields["Size"])
            }
        }
        let rollup = try jsonLines(try pagewalk(["smaps", "--pid", "\(child.pid)", "--rollup", "--json"]).out)
        #expect(rollup.count == 1 && rollup[0]["type"] as? String == "rollup" && rollup[0]["name"] as? String == "[rollup]")
        let rss = objects.map { (($0["fields"] as? [String: Any])?["Rss"] as? NSNumber)?.uint64Value ?? 0 }.reduce(0, +)
        #expect(((rollup[0]["fields"] as? [String: Any])?["Rss"] as? NSNumber)?.uint64Value == rss)
    }

    @Test func ptdumpMincoreImportAndGuardJSON() throws {
        let child = try TestChild()
        let pid = "\(child.pid)"
        // ptdump: one object per range line, same addresses and level.
        let text = try pagewalk(["ptdump", "--pid", pid]).out.split(separator: "\n").dropFirst()
        let ranges = try jsonLines(try pagewalk(["ptdump", "--pid", pid, "--json"]).out)
        #expect(ranges.count == text.count && !ranges.isEmpty)
        for (line, o) in zip(text, ranges) {
            let bounds = line.split(separator: " ")[0].split(separator: "-")
            #expect(o["start"] as? String == "0x" + hx(UInt64(bounds[0].dropFirst(2), radix: 16)!))
            #expect(o["end"] as? String == "0x" + hx(UInt64(bounds[1].dropFirst(2), radix: 16)!))
            #expect(o["level"] as? String == String(line.split(separator: " ").last!))
            #expect((o["flags"] as? [String]).map { $0.allSatisfy { line.contains($0) } } == true)
        }
        // mincore: one object per page, the text's digits.
        let g = try child.region("guard")
        let args = ["mincore", "--pid", pid, hx(g.lowerBound), hx(g.upperBound)]
        let digits = try pagewalk(args).out.split(separator: "\n").filter { !$0.hasPrefix("#") }
            .map { $0.split(separator: " ")[1] }.joined()
        let pages = try jsonLines(try pagewalk(args + ["--json"]).out)
        #expect(pages.count == digits.count + 1 && pages.last?["type"] as? String == "summary")
        #expect(pages.dropLast().map { ($0["resident"] as? Bool) == true ? "1" : "0" }.joined() == digits)
        // import: the summary's figures.
        let imported = try jsonLines(try pagewalk(["import", "--pid", pid, "--json"]).out)
        let snapshot = try ProcessSnapshot.importProcess(pid: child.pid)
        #expect(imported.count == 1 && (imported[0]["vmas"] as? Int) == snapshot.summary.vmas)
        // guard: the install's count, then the pages, all guarded.
        let guarded = try jsonLines(try pagewalk(["guard", "--pid", pid, hx(g.lowerBound), hx(g.upperBound), "--json"]).out)
        #expect(guarded.first?["type"] as? String == "guard" && (guarded.first?["pages"] as? Int ?? 0) > 0)
        #expect(guarded.dropFirst().count == Int(g.count / 4096))
        #expect(guarded.dropFirst().allSatisfy { $0["guard"] as? Bool == true })
    }

    @Test func conformanceAndReplayJSON() throws {
        let cases = repositoryRoot.appendingPathComponent("Tests/Conformance/cases/handwritten").path
        let text = try pagewalk(["conformance", cases])
        let json = try pagewalk(["conformance", cases, "--json"])
        #expect(text.status == 0 && json.status == 0)
        let objects = try jsonLines(json.out)
        let summary = try #require(objects.last)
        #expect(summary["type"] as? String == "summary")
        #expect(text.out.hasSuffix("\(summary["passed"] as? Int ?? -1) passed, 0 failed\n"))
        #expect(objects.dropLast().count == (summary["passed"] as? Int ?? -1))
        #expect(objects.dropLast().allSatisfy { $0["type"] as? String == "case" && $0["passed"] as? Bool == true })
        let smoke = cases + "/smoke.scn"
        let trace = try pagewalk(["replay", smoke]).out
        let lines = try jsonLines(try pagewalk(["replay", smoke, "--json"]).out)
        #expect(lines.map { $0["text"] as? String ?? "" }.joined(separator: "\n") + "\n" == trace)
        #expect(lines.first?["type"] as? String == "call" && lines.first?["name"] as? String == "walk_page_range")
        #expect(lines.contains { $0["type"] as? String == "return" && ($0["args"] as? [String])?.isEmpty == true })
    }
}

/// `pagewalk image ... --json` over a small raw image built here: four x86-64 tables mapping
/// 0x400000 to physical 0x5000 and 0x401000 to a swap entry.
@Suite(.enabled(if: pagewalkExecutable != nil, "the pagewalk executable is not built"))
struct ImageJSONTests {
    static func rawImage() throws -> String {
        var memory = [UInt64](repeating: 0, count: 8 * 512)  // 8 frames
        memory[1 * 512 + 0] = 0x2000 | 0x67  // frame 1: PGD[0] -> frame 2
        memory[2 * 512 + 0] = 0x3000 | 0x67  // PUD[0] -> frame 3
        memory[3 * 512 + 2] = 0x4000 | 0x67  // PMD[2] (0x400000) -> frame 4
        memory[4 * 512 + 0] = 0x5000 | 0x67  // PTE[0]: 0x400000 -> 0x5000
        memory[4 * 512 + 1] = 0x2 << 0 | (7 << 9)  // PTE[1]: not present, a swap entry
        let path = NSTemporaryDirectory() + "pagewalk-raw-\(UUID().uuidString).img"
        try memory.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: path)) }
        return path
    }

    @Test func translatePagemapPTDumpAndWalkJSON() throws {
        let image = try Self.rawImage()
        defer { try? FileManager.default.removeItem(atPath: image) }
        let common = ["--raw", "--pgd", "1000", image]
        let tr = try jsonLines(try pagewalk(["image", "translate"] + common + ["400000", "402000", "--json"]).out)
        #expect(tr.count == 2)
        #expect(tr[0]["type"] as? String == "translation" && tr[0]["physical"] as? String == "0x5000")
        #expect(tr[0]["leaf_level"] as? String == "pte" && (tr[0]["steps"] as? [Any])?.count == 4)
        #expect(tr[1]["physical"] is NSNull)
        let text = try pagewalk(["image", "translate"] + common + ["400000"]).out
        #expect(text.contains("0x0000000000400000 -> 0x5000 (pte leaf)"))

        let args = ["image", "pagemap"] + common + ["400000", "403000"]
        let lines = try pagewalk(args).out.split(separator: "\n")
        let pages = try jsonLines(try pagewalk(args + ["--json"]).out)
        #expect(pages.count == lines.count && pages.count == 3)
        for (line, o) in zip(lines, pages) {
            let words = line.split(separator: " ")
            #expect(o["address"] as? String == "0x" + words[0] && o["entry"] as? String == "0x" + words[1])
        }
        #expect(pages[0]["present"] as? Bool == true && pages[0]["pfn"] as? String == "0x5")

        let ranges = try jsonLines(try pagewalk(["image", "ptdump"] + common + ["--half", "user", "--json"]).out)
        #expect(ranges.first?["type"] as? String == "root")
        #expect(ranges.contains { $0["type"] as? String == "range" && $0["start"] as? String == "0x400000"
                                  && $0["level"] as? String == "pte" })
        let walk = try jsonLines(try pagewalk(["image", "walk"] + common + ["--repeats", "1", "--json"]).out)
        #expect(walk.count == 1 && ((walk[0]["entries"] as? [String: Any])?["pte"] as? Int ?? 0) >= 1)
        let described = try jsonLines(try pagewalk(["image", "describe", "--raw", image, "--json"]).out)
        #expect(described.first?["type"] as? String == "image" && described.first?["kind"] as? String == "raw")
        #expect(described.contains { $0["type"] as? String == "segment" })
    }
}

/// Progress on stderr: only when stderr is a terminal (or forced), never in pipes.
@Suite(.enabled(if: pagewalkExecutable != nil, "the pagewalk executable is not built"))
struct ProgressTests {
    let cases = repositoryRoot.appendingPathComponent("Tests/Conformance/cases/handwritten").path

    @Test func nothingOnAPipeEvenWhenWorkIsLong() throws {
        var env = ProcessInfo.processInfo.environment
        env["PAGEWALK_PROGRESS_DELAY"] = "0"
        env["PAGEWALK_PROGRESS"] = nil
        let r = try pagewalk(["conformance", cases], environment: env)
        #expect(r.status == 0 && r.err.isEmpty)
    }

    @Test func forcedProgressIsOneRewrittenLineThenCleared() throws {
        var env = ProcessInfo.processInfo.environment
        env["PAGEWALK_PROGRESS_DELAY"] = "0"
        env["PAGEWALK_PROGRESS"] = "always"
        let plain = try pagewalk(["conformance", cases])
        let r = try pagewalk(["conformance", cases], environment: env)
        #expect(r.status == 0 && r.out == plain.out)  // results unchanged
        #expect(r.err.contains("\r\u{1B}[K") && r.err.contains("conformance (c)") && !r.err.contains("\n"))
        #expect(r.err.hasSuffix("\r\u{1B}[K"))  // the line is cleared at the end
    }

    @Test func aTerminalGetsProgress() throws {
        // `script` gives the command a pseudo-terminal: isatty(2) is true there.
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), let exe = pagewalkExecutable else { return }
        let log = NSTemporaryDirectory() + "pagewalk-pty-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: log) }
        var env = ProcessInfo.processInfo.environment
        env["PAGEWALK_PROGRESS_DELAY"] = "0"
        env["PAGEWALK_PROGRESS"] = nil
        let command = "'\(exe.path)' conformance '\(cases)' > '\(log).out'"
        let r = try runProcess(URL(fileURLWithPath: "/usr/bin/script"), ["-qec", command, log], environment: env)
        #expect(r.status == 0)
        let screen = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(screen.contains("conformance (c)"), "\(screen.suffix(300))")
        try? FileManager.default.removeItem(atPath: log + ".out")
    }
}

/// Completions, the manual, and bad input.
@Suite(.enabled(if: pagewalkExecutable != nil, "the pagewalk executable is not built"))
struct CommandLineSurfaceTests {
    @Test(arguments: ["bash", "zsh", "fish"])
    func completionScriptsGenerate(shell: String) throws {
        let r = try pagewalk(["--generate-completion-script", shell])
        #expect(r.status == 0 && r.err.isEmpty)
        for word in ["pagewalk", "pagemap", "map", "json", "pid", "scenario"] { #expect(r.out.contains(word), "\(shell): \(word)") }
        if shell == "bash" { #expect(r.out.contains("-F _pagewalk pagewalk")) }
    }

    @Test func aNegativePIDIsAValueNotAMissingOne() throws {
        for command in [["smaps"], ["ptdump"], ["import"], ["pagemap", "1000", "2000"], ["map"]] {
            let r = try pagewalk([command[0], "--pid", "-5"] + command.dropFirst())
            #expect(r.status == 2, "\(command)")
            #expect(!r.err.contains("Missing value") && r.err.contains("-5"), "\(command): \(r.err)")
            #expect(r.err.split(separator: "\n").count == 1, "\(command): \(r.err)")
        }
    }

    @Test func guardGivesItsReason() throws {
        let child = try TestChild()
        let g = try child.region("guard")
        let unaligned = try pagewalk(["guard", "--pid", "\(child.pid)", hx(g.lowerBound + 1), hx(g.upperBound)])
        #expect(unaligned.status == 2 && unaligned.err.contains("not page-aligned"))
        let maps = try String(contentsOfFile: "/proc/\(child.pid)/maps", encoding: .utf8)
        if let vvar = maps.split(separator: "\n").first(where: { $0.hasSuffix("[vvar]") }) {
            let range = vvar.split(separator: " ")[0].split(separator: "-")
            let r = try pagewalk(["guard", "--pid", "\(child.pid)", String(range[0]), String(range[1])])
            #expect(r.status == 2 && r.err.contains("[vvar] cannot hold guard regions") && r.err.contains("VM_PFNMAP"),
                    "\(r.err)")
            #expect(r.err.split(separator: "\n").count == 1)
        }
    }

    @Test func pagemapSaysWhatItRoundsAndWhatItCannotShow() throws {
        let help = try pagewalk(["pagemap", "--help"]).out
        #expect(help.contains("rounded") && help.contains("TASK_SIZE"))
        let child = try TestChild()
        let r = try pagewalk(["pagemap", "--pid", "\(child.pid)", "7ffffffff000", "800000002000"])
        #expect(r.status == 0 && r.out.split(separator: "\n").count == 1)
        #expect(r.err.contains("top of the user address space"))
    }

    @Test func badInputIsOneLineAndStatusTwo() throws {
        let notScenario = NSTemporaryDirectory() + "pagewalk-bad-\(UUID().uuidString).scn"
        try "geometry 9\n".write(toFile: notScenario, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: notScenario) }
        for args in [["replay", notScenario], ["replay", "/nonexistent.scn"], ["smaps", "--pid", "999999999"],
                     ["pagemap", "--pid", "1", "zz", "10"], ["pagemap", "--pid", "1", "2000", "1000"], ["frobnicate"]] {
            let r = try pagewalk(args)
            #expect(r.status == 2, "\(args)")
            #expect(r.err.split(separator: "\n").count == 1 && !r.err.contains("Fatal error"), "\(args): \(r.err)")
        }
    }
}
