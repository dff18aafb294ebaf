import CWalkCore
import Foundation
import PageWalk
import PageWalkImport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The repository's root, from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// The `pagewalk` executable built beside the tests, if it is there.
let pagewalkExecutable: URL? = {
    guard let dir = Bundle.main.executableURL?.deletingLastPathComponent() else { return nil }
    let url = dir.appendingPathComponent("pagewalk")
    return FileManager.default.isExecutableFile(atPath: url.path) ? url : nil
}()

/// Runs `executable` with `arguments`; returns status, stdout and stderr.
@discardableResult
func runProcess(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil,
                timeout: TimeInterval = 120) throws -> (status: Int32, out: String, err: String) {
    let p = Process()
    p.executableURL = executable
    p.arguments = arguments
    if let environment { p.environment = environment }
    let outFile = NSTemporaryDirectory() + "pagewalk-run-\(UUID().uuidString)"
    _ = FileManager.default.createFile(atPath: outFile + ".out", contents: nil)
    _ = FileManager.default.createFile(atPath: outFile + ".err", contents: nil)
    defer {
        try? FileManager.default.removeItem(atPath: outFile + ".out")
        try? FileManager.default.removeItem(atPath: outFile + ".err")
    }
    p.standardOutput = FileHandle(forWritingAtPath: outFile + ".out")
    p.standardError = FileHandle(forWritingAtPath: outFile + ".err")
    p.standardInput = FileHandle.nullDevice
    try p.run()
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { usleep(20_000) }
    if p.isRunning { kill(p.processIdentifier, SIGKILL) }
    p.waitUntilExit()
    let out = (try? String(contentsOfFile: outFile + ".out", encoding: .utf8)) ?? ""
    let err = (try? String(contentsOfFile: outFile + ".err", encoding: .utf8)) ?? ""
    return (p.terminationStatus, out, err)
}

/// Runs the `pagewalk` command.
func pagewalk(_ arguments: [String], environment: [String: String]? = nil) throws -> (status: Int32, out: String, err: String) {
    guard let exe = pagewalkExecutable else { throw TestChildError.start("the pagewalk executable is not built") }
    return try runProcess(exe, arguments, environment: environment)
}

/// Debian's chromium, if installed (CI installs it; a run without it skips the browser tests
/// unless CI is set, where they fail).
let chromium: URL? = {
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
        for name in ["chromium", "chromium-browser"] {
            let url = URL(fileURLWithPath: String(dir)).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
    }
    return nil
}()

/// Loads `page` in headless chromium; returns the DOM after its scripts ran, and writes a
/// screenshot to `screenshot` if given.
func headlessChromium(_ page: String, screenshot: String? = nil) throws -> String {
    guard let chromium else { throw TestChildError.start("chromium is not installed") }
    let profile = NSTemporaryDirectory() + "pagewalk-chromium-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: profile) }
    let common = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
                  "--user-data-dir=" + profile, "--window-size=1400,560"]
    if let screenshot {
        let (status, _, err) = try runProcess(chromium, common + ["--screenshot=" + screenshot, page])
        if status != 0 { throw TestChildError.start("chromium --screenshot failed: \(err.suffix(300))") }
    }
    let (status, dom, err) = try runProcess(chromium, common + ["--dump-dom", page])
    if status != 0 { throw TestChildError.start("chromium --dump-dom failed: \(err.suffix(300))") }
    return dom
}

@Suite struct MapTests {
    /// A machine with one of each kind of entry.
    static func sampleSpace() throws -> (Machine, AddressSpace) {
        let machine = try Machine(levels: 4, frames: 1 << 16, tableBase: 1 << 15, hugeZeroPFN: 2048)
        let space = try machine.makeAddressSpace()
        try space.addVMA(0x40_0000..<0xc0_0000, flags: [.read, .write])
        try space.faultIn(0x40_0000, pfn: 0x100)
        try space.faultIn(0x40_1000, pfn: 0x101)
        try space.mapZeroPage(at: 0x40_2000)
        try space.swapOut(0x40_3000, offset: 9)
        try space.setMigrationEntry(at: 0x40_4000, pfn: 0x102)
        try space.setMarker(at: 0x40_5000, .guardRegion)
        try space.installTHP(at: 0x60_0000, pfn: 0x200)
        try space.mapHugeZeroPage(at: 0x80_0000)
        return (machine, space)
    }

    /// The page's embedded data, decoded.
    static func data(_ html: String) throws -> [String: Any] {
        let start = try #require(html.range(of: "<script id=\"data\" type=\"application/json\">"))
        let end = try #require(html.range(of: "</script>", range: start.upperBound..<html.endIndex))
        let json = Data(html[start.upperBound..<end.lowerBound].utf8)
        return try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
    }

    @Test func theMapHoldsEveryEntryOfTheDumpClassified() throws {
        let (_, space) = try Self.sampleSpace()
        let html = AddressSpaceMap(space, title: "<sample>").html()
        #expect(html.contains("<title>&lt;sample&gt; · PageWalk map</title>"))
        #expect(!html.contains("http://") || !html.contains("src=\"http"))
        #expect(!html.contains("<link") && !html.contains("src="))
        let d = try Self.data(html)
        let entries = try #require(d["entries"] as? [[Any]])
        let dump = space.dump()
        #expect(entries.count == dump.count)
        let kinds = entries.map { $0[3] as! String }
        for kind in ["4K", "zero", "swap", "migration", "guard", "2M", "hugezero", "table"] {
            #expect(kinds.contains(kind), "no \(kind) entry")
        }
        let tables = try #require(d["tables"] as? [[Any]])
        #expect(tables.count == dump.filter(\.isTable).count + 1)
        // Each table's use count is the number of entries that live in it.
        for (i, t) in tables.enumerated() {
            #expect((t[3] as! Int) == entries.filter { ($0[6] as! Int) == i }.count)
        }
        let vmas = try #require(d["vmas"] as? [[Any]])
        #expect(vmas.count == 1 && (vmas[0][1] as! Int) == 0x400 && (vmas[0][2] as! Int) == 0xc00)
    }

    @Test func aMachineBuiltFromCIsDrawnThroughTheCEntryPoint() throws {
        // Everything through the C API, as a C program would build it.
        var config = pw_machine_config(levels: 5, frames: 1 << 16, table_base: 1 << 15, zero_pfn: 1, huge_zero_pfn: 0)
        var m: OpaquePointer?
        #expect(pw_machine_create(&config, &m) == 0)
        defer { pw_machine_destroy(m) }
        let mm = try #require(pw_mm_create(m))
        var err: Int32 = 0
        #expect(pw_vma_add(mm, 0x40_0000, 0x80_0000, UInt(VM_READ | VM_WRITE), nil, 0, 0, &err) != nil)
        #expect(pw_mm_set_entry(mm, PW_LEVEL_PTE, 0x40_0000, 0x1067) == 0)
        let file = NSTemporaryDirectory() + "pagewalk-cmap-\(UUID().uuidString).html"
        defer { try? FileManager.default.removeItem(atPath: file) }
        // The C name is in the binary unmangled, as a C caller links it.
        let binary = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/nm") {
            let symbols = try runProcess(URL(fileURLWithPath: "/usr/bin/nm"), [binary]).out
            #expect(symbols.contains(" T pw_map_write_html\n"), "pw_map_write_html is not a C symbol")
        }
        #expect(mapWriteHTML(mm, "from C", file) == 0)
        #expect(mapWriteHTML(nil, "from C", file) == -EINVAL)
        let html = try String(contentsOfFile: file, encoding: .utf8)
        let d = try Self.data(html)
        #expect(d["levels"] as? Int == 5 && d["vaBits"] as? Int == 57)
        let entries = try #require(d["entries"] as? [[Any]])
        // pgd, p4d, pud, pmd table pointers and the one 4 KiB page
        #expect(entries.map { $0[3] as! String } == ["table", "table", "table", "table", "4K"])
        #expect((try #require(d["tables"] as? [[Any]])).count == 5)
    }

    @Test func traceStepsCarryTheirRangesAndLevels() {
        let steps = AddressSpaceMap.Step.parseTrace("""
            > walk_page_range 0x0 0x2000000
            pmd_entry 0x400000 0x600000 vma=1 T
            pte_hole 0x800000 0x0 -1 vma=-
            = 0
            dump user
            pte 0x400000 0x10067
            """)
        #expect(steps.count == 4)
        #expect(steps[0].isCall && steps[0].range == nil)
        #expect(steps[1].range == 0x40_0000..<0x60_0000 && steps[1].level == .pmd)
        #expect(steps[2].range == 0x80_0000..<UInt64.max && steps[2].level == nil)
        #expect(steps[3].range == nil)
    }

    @Test func aScenarioMapRendersInChromium() throws {
        guard pagewalkExecutable != nil else { return }
        guard chromium != nil else {
            #expect(ProcessInfo.processInfo.environment["CI"] == nil, "CI must install chromium")
            return
        }
        let dir = NSTemporaryDirectory() + "pagewalk-map-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let scenario = repositoryRoot.appendingPathComponent("docs/map-demo.scn").path
        let (status, _, err) = try pagewalk(["map", "--scenario", scenario, "-o", dir + "/map.html"])
        #expect(status == 0, "\(err)")
        let trace = try pagewalk(["replay", scenario]).out
        let steps = AddressSpaceMap.Step.parseTrace(trace).count
        let dom = try headlessChromium("file://" + dir + "/map.html#step=16", screenshot: dir + "/map.png")
        // The script ran to its end: no error, the status it writes, every VMA and table drawn.
        #expect(dom.contains("data-status=\"ok\""), "\(dom.prefix(2000))")
        #expect(dom.contains("ok: 4 vmas, 8 tables, 27 entries, \(steps) steps"))
        #expect(dom.contains("data-k=\"v1\""))  // zoomed in on VMA 2 by the step
        let whole = try headlessChromium("file://" + dir + "/map.html")
        for i in 0..<4 { #expect(whole.contains("data-k=\"v\(i)\""), "VMA \(i) not drawn") }
        #expect(whole.contains("data-status=\"ok\"") && whole.range(of: "<rect id=\"stepband\" x=\"[-0-9]", options: .regularExpression) == nil)
        #expect(dom.contains("<svg") && dom.range(of: "<rect id=\"stepband\" x=\"[-0-9]", options: .regularExpression) != nil)
        #expect(dom.contains("class=\"current\">pte_entry 0x603000 0x604000 vma=2 0x1225</li>"))
        #expect(dom.contains("step 16 of \(steps)"))
        // Opened on a range (#zoom=START-END): only what is in it is drawn.
        let zoomed = try headlessChromium("file://" + dir + "/map.html#zoom=0x7f0000000000-0x7f0000006000")
        #expect(zoomed.contains("data-k=\"v3\"") && !zoomed.contains("data-k=\"v0\""))
        #expect(zoomed.contains("data-status=\"ok\""))
        // What hovering shows (the page's #selftest writes it for one shape of each sort).
        let hover = try headlessChromium("file://" + dir + "/map.html#selftest")
        for text in ["VMA 1", "hole 0x0-", " table", "of 512 entries used", "2 MiB leaf pfn=0x200", "bits P RW US A D PSE  pfn=0x200",
                     "swap entry type=0 offset=0x7", "migration entry (read) pfn=0x303", "PTE marker guard",
                     "zero page pfn=0x1", "huge zero page pfn=0x400", "1 GiB leaf pfn=0x40000"] {
            #expect(hover.contains(text), "hover text lacks \(text)")
        }
        let png = try Data(contentsOf: URL(fileURLWithPath: dir + "/map.png"))
        #expect(png.count > 10_000 && png.starts(with: [0x89, 0x50, 0x4e, 0x47]))
    }

    @Test func aProcessMapRendersInChromium() throws {
        guard pagewalkExecutable != nil, kernelComparisonUnavailable == nil, chromium != nil else { return }
        let child = try TestChild()
        let file = NSTemporaryDirectory() + "pagewalk-map-\(UUID().uuidString).html"
        defer { try? FileManager.default.removeItem(atPath: file) }
        let (status, _, err) = try pagewalk(["map", "--pid", "\(child.pid)", "-o", file])
        #expect(status == 0, "\(err)")
        let snapshot = try ProcessSnapshot.importProcess(pid: child.pid)
        let dom = try headlessChromium("file://" + file)
        #expect(dom.contains("data-status=\"ok\""), "\(dom.prefix(2000))")
        #expect(dom.contains("ok: \(snapshot.space.vmas.count) vmas"))
        #expect(dom.contains("[heap]") || dom.contains("testchild"))
        // The child's THP is drawn as a 2 MiB leaf at its address, its guard region as guard markers.
        let d = try Self.data(AddressSpaceMap(snapshot.space).html())
        let entries = try #require(d["entries"] as? [[Any]])
        if child.gotTHP {
            let thp = try child.region("thp")
            #expect(entries.contains { $0[3] as? String == "2M" && ($0[1] as? Int) == Int(thp.lowerBound >> 12) })
        }
        if !child.notes.contains(where: { $0.hasPrefix("noguard") }) {
            let g = try child.region("guard")
            #expect(entries.contains { $0[3] as? String == "guard" && $0[1] as? Int == Int(g.lowerBound >> 12) + 2 })
        }
    }

    @Test func mapRefusesBadInputInOneLine() throws {
        guard pagewalkExecutable != nil else { return }
        let (s1, _, e1) = try pagewalk(["map"])
        #expect(s1 == 2 && e1.split(separator: "\n").count == 1 && e1.contains("exactly one of"))
        let notScenario = NSTemporaryDirectory() + "pagewalk-not-a-scenario-\(UUID().uuidString).scn"
        try "hello world\n".write(toFile: notScenario, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: notScenario) }
        let (s2, _, e2) = try pagewalk(["map", "--scenario", notScenario, "-o", "-"])
        #expect(s2 == 2 && e2.split(separator: "\n").count == 1 && e2.contains(":1:"))
    }
}
