import ArgumentParser
import Foundation
import PageWalk
import PageWalkImage

/// `pagewalk image ...`: memory images of real x86-64 Linux machines (docs/IMAGES.md).
struct ImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Walk memory images of real machines: QEMU dumps, kdump vmcores, raw memory.",
        subcommands: [ImageDescribe.self, ImagePTDump.self, ImageTranslate.self, ImagePagemap.self, ImageWalk.self],
        defaultSubcommand: ImageDescribe.self
    )
}

/// Opens an image or ends the command with the parser's one line and status 2.
func openImageOrDie(_ path: String, raw: Bool) -> MemoryImage {
    do {
        return try MemoryImage(path: path, raw: raw)
    } catch {
        die(CommandFailure(description: "pagewalk: " + error.description, status: 2))
    }
}

struct ImageDescribe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe",
        abstract: "Describe an image: segments, vCPUs with CR3/CR4, levels, KPTI, VMCOREINFO facts.")

    @Argument(help: "The image: an ELF core (QEMU dump-guest-memory, virsh dump --memory-only, kdump vmcore) or raw memory.")
    var file: String

    @Flag(help: "Treat the file as raw memory (offset = physical address) even if it looks like ELF.")
    var raw = false

    @Flag(help: "Also print the whole VMCOREINFO note.")
    var vmcoreinfo = false

    @OptionGroup var output: OutputOptions

    func run() throws {
        let t0 = Date()
        let image = openImageOrDie(file, raw: raw)
        let opened = Date().timeIntervalSince(t0)
        let segs = image.segments
        let total = segs.reduce(0) { $0 + $1.size }
        if output.json {
            describeJSON(image, opened: opened)
            return
        }
        print("\(file): \(image.kind == .elf ? "ELF core" : "raw memory"), \(image.fileSize) bytes, "
              + "\(total >> 20) MiB of memory in \(segs.count) segment\(segs.count == 1 ? "" : "s") "
              + String(format: "(opened in %.3f ms)", opened * 1000))
        for s in segs {
            print("  segment 0x\(hex(s.physicalAddress, width: 12))-0x\(hex(s.physicalAddress + s.size, width: 12)) "
                  + "\(s.size >> 10) KiB at file offset 0x\(hex(s.fileOffset))"
                  + (s.fileSize < s.size ? ", \(s.fileSize) bytes in the file (rest zero)" : "")
                  + (s.realigned ? " (unaligned in the file: frames realigned on use)" : ""))
        }
        let cpus = image.cpus
        if cpus.isEmpty { print("  no vCPU notes: give --cr3 or --pgd to walk") }
        for c in cpus {
            guard let cr3 = c.cr3, let cr4 = c.cr4 else {
                print("  vCPU \(c.index): no control registers in the notes")
                continue
            }
            let root = TranslationRoot(cr3: cr3, cr4: cr4)
            print("  vCPU \(c.index): CR3 0x\(hex(cr3)) CR4 0x\(hex(cr4)) RIP 0x\(hex(c.rip ?? 0)): \(root)"
                  + (root.kptiUser ? "; CR3 is KPTI's user copy" : ""))
        }
        if let v = image.vmcoreinfo {
            var facts = ["VMCOREINFO: \(v.osRelease.isEmpty ? "no OSRELEASE" : v.osRelease)"]
            if let s = v.initTopPGT { facts.append("init_top_pgt 0x\(hex(s))") }
            if let p = v.physBase { facts.append("phys_base 0x\(hex(p))") }
            if let k = v.kernelOffset { facts.append("KERNELOFFSET 0x\(hex(k))") }
            if let l5 = v.pgtableL5 { facts.append(l5 ? "5 levels" : "4 levels") }
            if let k = v.kernelPGD { facts.append("kernel top table at physical 0x\(hex(k))") }
            print("  " + facts.joined(separator: ", "))
            if vmcoreinfo { print(v.text) }
        } else {
            print("  no VMCOREINFO note")
        }
    }
}

extension ImageDescribe {
    /// `describe --json`: one "image" object, then one object per segment and per vCPU.
    func describeJSON(_ image: MemoryImage, opened: TimeInterval) {
        var o: [(String, JSON)] = [
            ("type", "image"), ("file", .string(file)), ("kind", .string(image.kind == .elf ? "elf" : "raw")),
            ("file_size", .number(image.fileSize)), ("memory", .number(image.segments.reduce(0) { $0 + $1.size })),
            ("segments", .number(image.segments.count)), ("open_seconds", .double(opened)),
        ]
        if let v = image.vmcoreinfo {
            var facts: [(String, JSON)] = [("osrelease", .string(v.osRelease))]
            if let s = v.initTopPGT { facts.append(("init_top_pgt", .hex(s))) }
            if let p = v.physBase { facts.append(("phys_base", .hex(p))) }
            if let k = v.kernelOffset { facts.append(("kernel_offset", .hex(k))) }
            if let l5 = v.pgtableL5 { facts.append(("levels", .number(l5 ? 5 : 4))) }
            if let k = v.kernelPGD { facts.append(("kernel_pgd", .hex(k))) }
            if vmcoreinfo { facts.append(("text", .string(v.text))) }
            o.append(("vmcoreinfo", .object(facts)))
        } else {
            o.append(("vmcoreinfo", .null))
        }
        Output.json(.object(o))
        for s in image.segments {
            Output.json(["type": "segment", "start": .hex(s.physicalAddress), "end": .hex(s.physicalAddress + s.size),
                         "size": .number(s.size), "file_offset": .hex(s.fileOffset), "file_size": .number(s.fileSize),
                         "realigned": .bool(s.realigned)])
        }
        for c in image.cpus {
            var cpu: [(String, JSON)] = [("type", "cpu"), ("index", .number(c.index)),
                                         ("cr3", c.cr3.map { .hex($0) } ?? .null), ("cr4", c.cr4.map { .hex($0) } ?? .null),
                                         ("rip", c.rip.map { .hex($0) } ?? .null)]
            if let cr3 = c.cr3, let cr4 = c.cr4 {
                let root = TranslationRoot(cr3: cr3, cr4: cr4)
                cpu += [("root", .string("\(root)")), ("kpti_user", .bool(root.kptiUser))]
            }
            Output.json(.object(cpu))
        }
    }
}

/// `--cr3 auto|VALUE`: CR3 from the notes, or given.
struct CR3Option: ExpressibleByArgument {
    let value: UInt64?
    init?(argument: String) {
        if argument == "auto" {
            value = nil
        } else if let a = Address(argument: argument) {
            value = a.value
        } else {
            return nil
        }
    }
}

/// The options every walk over an image takes.
struct ImageOptions: ParsableArguments {
    @Argument(help: "The image: an ELF core or raw memory.")
    var file: String

    @Flag(help: "Treat the file as raw memory (offset = physical address).")
    var raw = false

    @Option(help: "Where translation starts: auto (the vCPU's CR3 from the notes, else VMCOREINFO's init_top_pgt) or a CR3 value (hex; PCID and KPTI bits handled).")
    var cr3: CR3Option = CR3Option(argument: "auto")!

    @Option(help: "The top table's physical address (hex), overriding --cr3.")
    var pgd: Address?

    @Option(help: "Paging levels, 4 or 5 (default: CR4.LA57, VMCOREINFO, else 4).")
    var levels: Int?

    @Option(help: "The vCPU whose CR3 --cr3 auto uses.")
    var cpu: Int = 0

    @Option(help: "KPTI: yes, no or auto (CR3 bit 12 set = the user copy of a KPTI pair).")
    var kpti: String = "auto"

    @Option(help: "The process's /proc/PID/maps (or smaps), captured with the image: walks get VMA semantics.")
    var maps: String?

    @Flag(help: "The image is live (a running guest's RAM file): check that no page table changed during the walk, retry up to 3 times, and say so on stderr if every try read torn tables.")
    var live = false

    func validate() throws {
        if let l = levels, l != 4 && l != 5 { throw ValidationError("--levels \(l): x86-64 has 4 or 5 levels") }
        if !["yes", "no", "auto"].contains(kpti) { throw ValidationError("--kpti \(kpti): yes, no or auto") }
    }

    /// Opens the image and its root, or ends the command with one line and status 2.
    func open() -> ImageTarget {
        let image = openImageOrDie(file, raw: raw)
        let sel = RootSelection(cr3: cr3.value, pgd: pgd?.value, levels: levels, cpu: cpu,
                                kpti: kpti == "auto" ? nil : kpti == "yes")
        do {
            let t = try ImageTarget(image: image, selection: sel)
            if let maps { try t.attach(maps: try readText(maps)) }
            return t
        } catch let e as ImageError {
            die(CommandFailure(description: "pagewalk: " + e.description, status: 2))
        } catch let f as CommandFailure {
            die(f)
        } catch {
            die(CommandFailure(description: "pagewalk: \(error)", status: 2))
        }
    }
}

/// Runs `body` over the image; with `--live`, from a fresh view of the image each try, until the
/// page tables it could read did not change during the walk (3 tries), and says so on stderr
/// when they always did (the answer may then mix old and new entries: torn reads).
func overImage<R>(_ options: ImageOptions, _ body: (ImageTarget) -> R) -> R {
    guard options.live else { return body(options.open()) }
    var result: R? = nil
    for attempt in 1...3 {
        let t = options.open()
        let before = t.tablesDigest()
        result = body(t)
        let after = t.tablesDigest()
        if before == after {
            FileHandle.standardError.write(Data("pagewalk: live image: \(after.tables) page tables unchanged during the walk (try \(attempt))\n".utf8))
            return result!
        }
    }
    FileHandle.standardError.write(Data("pagewalk: live image: page tables changed during each of 3 walks: the answer may mix old and new entries (torn reads)\n".utf8))
    return result!
}

/// Runs a walk over an image or ends the command with one line naming it and status 2.
func imageWalkOrDie<R>(_ what: String, _ file: String, _ body: () throws -> R) -> R {
    do {
        return try body()
    } catch {
        die(CommandFailure(description: "pagewalk: \(what) of \(file) failed: \(error)", status: 2))
    }
}

struct ImagePTDump: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ptdump",
        abstract: "Dump the page tables of an image as x86's ptdump does: the user half, the kernel half (with x86-64's address markers), or both.")

    @OptionGroup var image: ImageOptions

    @Option(help: "Which half: user, kernel or both.")
    var half: String = "both"

    @OptionGroup var output: OutputOptions

    func validate() throws {
        if !["user", "kernel", "both"].contains(half) { throw ValidationError("--half \(half): user, kernel or both") }
    }

    func run() throws {
        let t = image.open()
        if output.json {
            Output.json(["type": "root", "file": .string(image.file), "root": .string("\(t.root)"),
                         "source": .string("\(t.rootSource)")])
        } else {
            Output.text("# \(image.file): \(t.root) (from \(t.rootSource))")
        }
        let sizes: [(UInt64, String)] = [(1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")]
        func size(_ n: UInt64) -> String {
            for (unit, name) in sizes where n >= unit && n % unit == 0 { return "\(n / unit)\(name)" }
            return "\(n >> 10)K"
        }
        func dump(_ ranges: [ImagePTDumpRange], markers: [(UInt64, String)]) {
            var m = 0
            for r in ranges {
                while m < markers.count && markers[m].0 <= r.start {
                    if output.json {
                        Output.json(["type": "marker", "address": .hex(markers[m].0), "name": .string(markers[m].1)])
                    } else {
                        Output.text("---[ \(markers[m].1) ]---")
                    }
                    m += 1
                }
                let sz = size(r.end &- r.start)
                if output.json {
                    Output.json(["type": "range", "start": .hex(r.start), "end": .hex(r.end), "level": .string("\(r.level)"),
                                 "flags": .array(r.flags.split(separator: " ").map { .string(String($0)) })])
                    continue
                }
                let pad = String(repeating: " ", count: max(0, 9 - sz.count))
                Output.text("0x\(hex(r.start, width: 16))-0x\(hex(r.end, width: 16))\(pad)\(sz) \(r.flags) \(r.level)")
            }
        }
        if half != "kernel" {
            dump(imageWalkOrDie("ptdump", image.file) { try t.ptdump(kernel: false) }, markers: [(0, "User Space")])
        }
        if half != "user" {
            let markers = x86AddressMarkers(levels: t.root.levels).filter { $0.0 != 0 }
            dump(imageWalkOrDie("ptdump", image.file) { try t.ptdump(kernel: true) }, markers: markers)
        }
    }
}

struct ImageTranslate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "translate",
        abstract: "Translate virtual addresses: the physical address and the entry at each level.")

    @OptionGroup var image: ImageOptions

    @Argument(help: "Virtual addresses (hex).")
    var addresses: [Address]

    @OptionGroup var output: OutputOptions

    func run() throws {
        let (t, results) = overImage(image) { t in
            (t, addresses.map { a in imageWalkOrDie("translate", image.file) { try t.translate(a.value) } })
        }
        if !output.json { Output.text("# \(image.file): \(t.root) (from \(t.rootSource))") }
        for (a, tr) in zip(addresses, results) {
            var steps: [JSON] = []
            let result = tr.physicalAddress.map { "0x\(hex($0)) (\(tr.leafLevel!) leaf)" } ?? "not mapped"
            if !output.json { Output.text("0x\(hex(a.value, width: 16)) -> \(result)") }
            for s in tr.steps {
                let leaf = s.level == .pte || ((s.level == .pud || s.level == .pmd) && s.entry.isHuge)
                let what = s.entry.isNone ? "none"
                    : !s.entry.isPresent ? s.entry.flags(leafLevel: s.level)
                    : leaf ? "pfn 0x\(hex(s.entry.pfn)) \(s.entry.flags(leafLevel: s.level))"
                    : "table at 0x\(hex(s.entry.pfn << 12))"
                if output.json {
                    steps.append(["level": .string("\(s.level)"), "index": .number(s.index), "entry": .hex(s.entry.rawValue),
                                  "meaning": .string(what)])
                } else {
                    Output.text("  \(s.level)[\(s.index)] 0x\(hex(s.entry.rawValue, width: 16)) \(what)")
                }
            }
            if output.json {
                Output.json(["type": "translation", "address": .hex(a.value),
                             "physical": tr.physicalAddress.map { .hex($0) } ?? .null,
                             "leaf_level": tr.leafLevel.map { .string("\($0)") } ?? .null, "steps": .array(steps)])
            }
        }
    }
}

struct ImagePagemap: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pagemap",
        abstract: "The /proc/PID/pagemap entries of user pages START..END, as the guest kernel computes them: one 'VA ENTRY' line per page (hex).")

    @OptionGroup var image: ImageOptions

    @Argument(help: "First address (hex).")
    var start: Address

    @Argument(help: "End address (hex, exclusive).")
    var end: Address

    @Flag(help: "Decode each entry (present/swap, PFN or type/offset, soft-dirty, uffd-wp).")
    var decode = false

    @OptionGroup var output: OutputOptions

    func run() throws {
        guard start.value < end.value else {
            die(CommandFailure(description: "pagewalk: pagemap: START 0x\(hex(start.value)) is not below END 0x\(hex(end.value))", status: 2))
        }
        let entries = overImage(image) { t in
            imageWalkOrDie("pagemap", image.file) { try t.pagemap(start.value..<end.value) }
        }
        var va = start.value & ~0xfff
        if output.json {
            for e in entries {
                let present = e & ImagePagemapVisitor.present != 0, swapped = e & ImagePagemapVisitor.swap != 0
                Output.json(["type": "page", "address": .hex(va), "entry": .hex(e), "present": .bool(present),
                             "pfn": present ? .hex(e & ((1 << 55) - 1)) : .null, "swapped": .bool(swapped),
                             "swap_type": swapped ? .number(e & 31) : .null,
                             "swap_offset": swapped ? .hex((e & ((1 << 55) - 1)) >> 5) : .null,
                             "soft_dirty": .bool(e & ImagePagemapVisitor.softDirty != 0),
                             "uffd_wp": .bool(e & ImagePagemapVisitor.uffdWP != 0)])
                va += 4096
            }
            return
        }
        var out = ""
        for e in entries {
            out += "\(hex(va)) \(hex(e))"
            if decode {
                if e & ImagePagemapVisitor.present != 0 { out += " present pfn 0x\(hex(e & ((1 << 55) - 1)))" }
                else if e & ImagePagemapVisitor.swap != 0 { out += " swap type \(e & 31) offset 0x\(hex((e & ((1 << 55) - 1)) >> 5))" }
                if e & ImagePagemapVisitor.softDirty != 0 { out += " soft-dirty" }
                if e & ImagePagemapVisitor.uffdWP != 0 { out += " uffd-wp" }
            }
            out += "\n"
            va += 4096
        }
        FileHandle.standardOutput.write(Data(out.utf8))
    }
}

struct ImageWalk: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "walk",
        abstract: "Walk every table reachable from the root (both halves, a callback at every level) and time it.")

    @OptionGroup var image: ImageOptions

    @Option(help: "Walks to time (the best is reported).")
    var repeats: Int = 5

    @Option(help: "The walker: c or swift.")
    var engine: String = "c"

    @OptionGroup var output: OutputOptions

    func run() throws {
        let t0 = Date()
        let img = openImageOrDie(image.file, raw: image.raw)
        let opened = Date().timeIntervalSince(t0)
        _ = img
        let t1 = Date()
        let t = image.open()
        let built = Date().timeIntervalSince(t1)
        let eng: WalkEngine = engine == "swift" ? .swift : .c
        var best = Double.infinity
        var counts = FullWalkCounts()
        for _ in 0..<max(1, repeats) {
            let s = Date()
            counts = imageWalkOrDie("full walk", image.file) { try t.fullWalk(engine: eng) }
            best = min(best, Date().timeIntervalSince(s))
        }
        let e = counts.entries
        if output.json {
            var debug = false
            #if DEBUG
            debug = true
            #endif
            Output.json(["type": "walk", "file": .string(image.file), "root": .string("\(t.root)"),
                         "entries": ["pgd": .number(e[0]), "p4d": .number(e[1]), "pud": .number(e[2]), "pmd": .number(e[3]),
                                     "pte": .number(e[4])],
                         "holes": .number(counts.holes), "present_leaves": .number(counts.presentLeaves),
                         "swap_ptes": .number(counts.swapEntries), "engine": .string(engine),
                         "open_seconds": .double(opened), "build_seconds": .double(built),
                         "best_walk_seconds": .double(best), "repeats": .number(max(1, repeats)), "debug_build": .bool(debug)])
            return
        }
        #if DEBUG
        print("warning: a debug build; time a release build (swift run -c release pagewalk image walk ...)")
        #endif
        print("\(image.file): \(t.root) (from \(t.rootSource))")
        print("entries visited: pgd \(e[0]), p4d \(e[1]), pud \(e[2]), pmd \(e[3]), pte \(e[4]); holes \(counts.holes); "
              + "present leaves \(counts.presentLeaves), swap PTEs \(counts.swapEntries)")
        print(String(format: "open %.3f ms (image alone), open + machine + both halves %.2f ms, full walk (%@ engine) best of %d: %.2f ms",
                     opened * 1000, built * 1000, engine, max(1, repeats), best * 1000))
    }
}
