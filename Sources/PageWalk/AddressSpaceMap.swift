import CWalkCore
import Foundation

/// A picture of an address space: a self-contained HTML page (inline SVG and script, no
/// network resources) showing its VMAs along the address axis, its page-table tree level by
/// level with how full each table is, its leaves by size (4 KiB, 2 MiB, 1 GiB), swap,
/// migration, marker and guard entries, and the holes between. The page zooms (wheel, drag,
/// double-click a VMA) and shows an entry's bits on hover. Given the steps of a walk (the
/// callbacks of a scenario's trace), it steps through them, highlighting each callback's range.
///
/// ```swift
/// let map = AddressSpaceMap(space, title: "my machine")
/// try map.write(to: "map.html")
/// ```
///
/// The map is a snapshot: it copies the VMAs and entries when it is made.
public struct AddressSpaceMap: Sendable {
    /// One step of a walk to show: a line of a trace and what it covers.
    public struct Step: Sendable, Equatable {
        /// The line as printed (a trace line, e.g. `pmd_entry 0x600000 0x800000 vma=1 0x4000e7`).
        public var text: String
        /// The range of addresses the step is about, if any.
        public var range: Range<UInt64>?
        /// The level of the entry a `*_entry` callback was given, if any.
        public var level: PageTableLevel?
        /// True for the line that starts a call (`> walk_page_range ...`).
        public var isCall: Bool

        /// A step.
        public init(text: String, range: Range<UInt64>? = nil, level: PageTableLevel? = nil, isCall: Bool = false) {
            self.text = text
            self.range = range
            self.level = level
            self.isCall = isCall
        }

        /// The steps of a trace in the conformance format (`Tests/Conformance/FORMAT.md`): one per
        /// line; callback lines carry their `[ADDR, NEXT)` range (`NEXT` 0 is the top of the
        /// address space) and, for `*_entry`, the level.
        public static func parseTrace(_ trace: String) -> [Step] {
            // The trace ends with the tables' dump when the scenario asks for one: not steps of a walk.
            let lines = trace.split(separator: "\n")
            let walkLines = lines.prefix { !$0.hasPrefix("dump ") }
            return walkLines.map { line -> Step in
                let words = line.split(separator: " ")
                let text = String(line)
                guard let first = words.first else { return Step(text: text) }
                if first == ">" { return Step(text: text, isCall: true) }
                func number(_ i: Int) -> UInt64? {
                    guard i < words.count, words[i].hasPrefix("0x") else { return nil }
                    return UInt64(words[i].dropFirst(2), radix: 16)
                }
                let levels: [Substring: PageTableLevel] = ["pgd_entry": .pgd, "p4d_entry": .p4d, "pud_entry": .pud,
                                                          "pmd_entry": .pmd, "pte_entry": .pte, "hugetlb_entry": .pte]
                switch first {
                case "pgd_entry", "p4d_entry", "pud_entry", "pmd_entry", "pte_entry", "pte_hole", "hugetlb_entry",
                     "test_walk", "pre_vma", "install_pte":
                    guard let a = number(1), let b = number(2) else { return Step(text: text) }
                    let end = b == 0 || b < a ? UInt64.max : b
                    return Step(text: text, range: a..<end, level: levels[first])
                case "split_huge_pmd", "split_huge_pud":
                    guard let a = number(1) else { return Step(text: text) }
                    let size: UInt64 = first == "split_huge_pmd" ? 1 << 21 : 1 << 30
                    return Step(text: text, range: a..<(a &+ size == 0 ? UInt64.max : a + size),
                                level: first == "split_huge_pmd" ? .pmd : .pud)
                default:
                    return Step(text: text)
                }
            }
        }
    }

    /// The page's title.
    public var title: String
    /// The steps shown beside the map (empty: no stepping panel).
    public var steps: [Step]

    let geometry: Geometry
    let vmas: [(id: UInt32, start: UInt64, end: UInt64, flags: String, name: String)]
    let tables: [(level: Int, start: UInt64, end: UInt64, used: Int, pfn: UInt64)]
    let entries: [(level: Int, start: UInt64, size: UInt64, kind: String, value: UInt64, detail: String, table: Int)]

    /// Snapshots `space`.
    ///
    /// - Parameters:
    ///   - space: the address space to draw (its VMAs and every non-zero entry of its tables).
    ///   - title: the page's title.
    ///   - vmaNames: a label per VMA id (a file name, `[heap]` ...), shown on the VMA.
    ///   - steps: a walk to step through (see ``Step/parseTrace(_:)``).
    public init(_ space: AddressSpace, title: String = "address space", vmaNames: [UInt32: String] = [:],
                steps: [Step] = []) {
        self.init(mm: space.pointer, title: title, vmaNames: vmaNames, steps: steps)
    }

    /// Snapshots the C address space `mm` (a `struct mm_struct *` made with `pw_mm_create`, for a
    /// machine built from C).
    ///
    /// - Parameters:
    ///   - mm: the address space.
    ///   - title: the page's title.
    ///   - vmaNames: a label per VMA id.
    ///   - steps: a walk to step through.
    public init(mm: OpaquePointer, title: String = "address space", vmaNames: [UInt32: String] = [:],
                steps: [Step] = []) {
        self.title = title
        self.steps = steps
        let machine = pw_mm_machine(mm)!
        geometry = Geometry(pw_machine_geometry(machine).pointee)
        let config = pw_machine_config(machine).pointee
        let zeroPFN = config.zero_pfn, hugeZeroPFN = config.huge_zero_pfn
        vmas = (0..<pw_mm_vma_count(mm)).compactMap { i in
            guard let v = pw_mm_vma_at(mm, i) else { return nil }
            let f = VMAFlags(rawValue: v.pointee.vm_flags)
            var words: [String] = []
            words.append((f.contains(.read) ? "r" : "-") + (f.contains(.write) ? "w" : "-")
                + (f.contains(.exec) ? "x" : "-") + (f.contains(.shared) ? "s" : "p"))
            if let file = v.pointee.vm_file {
                words.append("file \(pw_mapping_id(file)) pgoff 0x\(String(UInt64(v.pointee.vm_pgoff), radix: 16))")
            }
            if pw_vma_is_anonymous(v) { words.append("anon") }
            if f.contains(.pfnmap) { words.append("pfnmap") }
            if f.contains(.mixedmap) { words.append("mixedmap") }
            switch v.pointee.hugetlb_shift {
            case 21: words.append("hugetlb 2M")
            case 30: words.append("hugetlb 1G")
            default: break
            }
            let id = v.pointee.id
            return (id, UInt64(v.pointee.vm_start), UInt64(v.pointee.vm_end), words.joined(separator: " "),
                    vmaNames[id] ?? "")
        }
        let geometry = self.geometry
        let real = geometry.realLevels
        let top = real[0]
        let spaceEnd: UInt64 = geometry.virtualAddressBits >= 64 ? UInt64.max : 1 << UInt64(geometry.virtualAddressBits)
        var tables: [(level: Int, start: UInt64, end: UInt64, used: Int, pfn: UInt64)] = [
            (top.rawValue, 0, spaceEnd, 0, 0)
        ]
        var entries: [(level: Int, start: UInt64, size: UInt64, kind: String, value: UInt64, detail: String, table: Int)] = []
        // The dump is depth first: the table an entry lives in is the last table opened at its level.
        var current: [Int: Int] = [top.rawValue: 0]
        let mask = geometry.virtualAddressBits >= 64 ? UInt64.max : spaceEnd - 1
        var dump: [AddressSpace.DumpEntry] = []
        withUnsafeMutablePointer(to: &dump) { p in
            pw_mm_dump(mm, { ctx, level, addr, value, isTable in
                let out = ctx!.assumingMemoryBound(to: [AddressSpace.DumpEntry].self)
                out.pointee.append(AddressSpace.DumpEntry(level: PageTableLevel(rawValue: Int(level.rawValue))!,
                                                          address: UInt64(addr), value: value, isTable: isTable))
            }, p)
        }
        for e in dump {
            let level = e.level.rawValue
            let size = geometry.entrySize(e.level)
            let start = e.address & mask
            let table = current[level] ?? 0
            tables[table].used += 1
            let (kind, detail) = Self.classify(e, size: size, zeroPFN: zeroPFN, hugeZeroPFN: hugeZeroPFN)
            entries.append((level, start, size, kind, e.value, detail, table))
            if e.isTable, let i = real.firstIndex(of: e.level), i + 1 < real.count {
                let child = real[i + 1].rawValue
                current[child] = tables.count
                let end = start &+ size
                tables.append((child, start, end == 0 ? UInt64.max : end, 0, (e.value & PW_PFN_MASK) >> 12))
            }
        }
        self.tables = tables
        self.entries = entries
    }

    /// What an entry is, for the picture's colours, and its decoded fields.
    static func classify(_ e: AddressSpace.DumpEntry, size: UInt64, zeroPFN: UInt64,
                         hugeZeroPFN: UInt64) -> (String, String) {
        let v = PTE(rawValue: e.value)
        if e.isTable { return ("table", "table pfn=0x" + String(v.pfn, radix: 16)) }
        if v.isPresent {
            let pfn = "pfn=0x" + String(v.pfn, radix: 16)
            if e.level == .pte {
                return v.pfn == zeroPFN && v.isSpecial ? ("zero", "zero page " + pfn) : ("4K", "4 KiB page " + pfn)
            }
            guard v.isHuge else { return ("other", "present, not a leaf, not a table " + pfn) }
            if hugeZeroPFN != 0 && v.pfn == hugeZeroPFN { return ("hugezero", "huge zero page " + pfn) }
            if size >= 1 << 30 { return ("1G", "1 GiB leaf " + pfn) }
            return ("2M", "2 MiB leaf " + pfn)
        }
        let type = v.swapType ?? 0, offset = v.swapOffset ?? 0
        let fields = "type=\(type) offset=0x" + String(offset, radix: 16)
        if v.isMigration { return ("migration", "migration entry (\(type == SwapType.migrationWrite ? "write" : type == SwapType.migrationRead ? "read" : "read-exclusive")) pfn=0x" + String(offset, radix: 16)) }
        if let marker = v.marker {
            var names: [String] = []
            if marker.contains(.guardRegion) { names.append("guard") }
            if marker.contains(.uffdWriteProtect) { names.append("uffd-wp") }
            if marker.contains(.poisoned) { names.append("poisoned") }
            return (marker.contains(.guardRegion) ? "guard" : "marker", "PTE marker " + names.joined(separator: ",") + " (\(fields))")
        }
        if type == SwapType.hwpoison { return ("hwpoison", "hwpoison entry " + fields) }
        if type >= SwapType.deviceFirst { return ("device", "device entry " + fields) }
        return ("swap", "swap entry " + fields)
    }

    /// The page, complete: HTML with the data, the style and the script inline.
    public func html() -> String {
        var page = Self.template
        page = page.replacingOccurrences(of: "{{TITLE}}", with: Self.escapeHTML(title))
        page = page.replacingOccurrences(of: "{{DATA}}", with: dataJSON())
        return page
    }

    /// Writes ``html()`` to `path`.
    public func write(to path: String) throws {
        try Data(html().utf8).write(to: URL(fileURLWithPath: path))
    }

    static func escapeHTML(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// A JSON string literal, safe inside a `<script>` element.
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "<": out += "\\u003c"
            case ">": out += "\\u003e"
            case "&": out += "\\u0026"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }

    /// Addresses go to the page as page numbers (exact in a JavaScript number up to 2^53 pages);
    /// entry values as hex strings.
    private static func pages(_ a: UInt64) -> String { String(a >> 12) }

    func dataJSON() -> String {
        let names = ["pgd", "p4d", "pud", "pmd", "pte"]
        var out = "{\"title\":\(Self.jsonString(title)),\"levels\":\(geometry.levels),"
        out += "\"vaBits\":\(geometry.virtualAddressBits),\"taskSize\":\(Self.pages(geometry.taskSize)),"
        out += "\"realLevels\":[" + geometry.realLevels.map { "\($0.rawValue)" }.joined(separator: ",") + "],"
        out += "\"levelNames\":[" + names.map { "\"\($0)\"" }.joined(separator: ",") + "],"
        out += "\"entrySizes\":[" + PageTableLevel.allCases.map { "\(geometry.shifts[$0.rawValue])" }.joined(separator: ",") + "],"
        out += "\"vmas\":[" + vmas.map {
            "[\($0.id),\(Self.pages($0.start)),\(Self.pages($0.end)),\(Self.jsonString($0.flags)),\(Self.jsonString($0.name))]"
        }.joined(separator: ",") + "],"
        out += "\"tables\":[" + tables.map {
            "[\($0.level),\(Self.pages($0.start)),\($0.end == UInt64.max ? String(UInt64(1) << 52) : Self.pages($0.end)),\($0.used),\($0.pfn)]"
        }.joined(separator: ",") + "],"
        var e = "\"entries\":["
        e.reserveCapacity(entries.count * 48)
        for (i, x) in entries.enumerated() {
            if i > 0 { e += "," }
            e += "[\(x.level),\(Self.pages(x.start)),\(Self.pages(x.size)),\"\(x.kind)\",\"\(String(x.value, radix: 16))\",\(Self.jsonString(x.detail)),\(x.table)]"
        }
        out += e + "],"
        out += "\"steps\":[" + steps.map { s in
            let r = s.range.map { "\(Self.pages($0.lowerBound)),\(($0.upperBound >> 12) + ($0.upperBound & 4095 == 0 ? 0 : 1))" } ?? "-1,-1"
            return "[\(Self.jsonString(s.text)),\(r),\(s.level?.rawValue ?? -1),\(s.isCall ? 1 : 0)]"
        }.joined(separator: ",") + "]}"
        return out
    }
}

/// Writes the map of the C address space `mm` as an HTML page at `path` (C: `pw_map_write_html`): the C form of
/// ``AddressSpaceMap``, for programs that build their machine in C and link the PageWalk
/// library. Declare it as
/// `int pw_map_write_html(struct mm_struct *mm, const char *title, const char *path);`.
///
/// - Returns: 0, or `-EINVAL` for a NULL argument, `-EIO` when the file cannot be written.
@_cdecl("pw_map_write_html")
public func mapWriteHTML(_ mm: OpaquePointer?, _ title: UnsafePointer<CChar>?,
                              _ path: UnsafePointer<CChar>?) -> Int32 {
    guard let mm, let path else { return -EINVAL }
    let map = AddressSpaceMap(mm: mm, title: title.map { String(cString: $0) } ?? "address space")
    do {
        try map.write(to: String(cString: path))
        return 0
    } catch {
        return -EIO
    }
}
