import PageWalk
/// One VMA of an imported process, as `/proc/PID/maps` (and `smaps`) described it: the side
/// table of what the machine's `vm_area_struct` has no field for.
public struct ImportedRegion: Sendable, Equatable {
    /// What kind of mapping the name says it is.
    public enum Kind: Sendable, Equatable {
        /// Anonymous memory without a name.
        case anonymous
        /// A file (or shared anonymous memory, which the kernel backs with a shmem file).
        case file
        /// `[heap]`.
        case heap
        /// `[stack]`.
        case stack
        /// Another bracketed name: `[vdso]`, `[vvar]`, `[anon:NAME]`, ...
        case special
        /// The gate VMA (`[vsyscall]`), above the user address space: not in the machine.
        case gate
    }

    /// `start ..< end`.
    public let range: Range<UInt64>
    /// `rwxp` / `rwxs` as maps prints them.
    public let permissions: String
    /// The file offset in bytes (0 without a file).
    public let offset: UInt64
    /// The device, `MAJOR:MINOR` in hex as maps prints it.
    public let device: String
    /// The inode number (0 without a file).
    public let inode: UInt64
    /// The path, bracketed name or `""`.
    public let name: String
    /// What the region is: file, anonymous, heap, stack, another named region or the gate.
    public let kind: Kind
    /// The machine's VMA number, nil for the gate VMA.
    public let vmaID: UInt32?
    /// The VMA flags the import started from (the machine's VMA has the current ones).
    public let flags: VMAFlags
    /// Whether `flags` came from `VmFlags` (true) or were inferred from the permissions.
    public let flagsKnown: Bool
    /// `VmFlags` mnemonics PageWalk does not know.
    public let unknownFlags: [String]
    /// `KernelPageSize` in bytes.
    public let kernelPageSize: UInt64
    /// Page-cache residency of the file pages this VMA maps (one byte per page), when known.
    public let pageCache: [UInt8]?

    /// True if the VMA has a file (shared anonymous memory included).
    public var hasFile: Bool { kind == .file }

    /// The maps line prefix: `start-end perms offset dev inode `, as `show_vma_header_prefix`
    /// prints it.
    public var headerPrefix: String {
        func hex(_ v: UInt64, _ width: Int) -> String {
            let s = String(v, radix: 16)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        return "\(hex(range.lowerBound, 8))-\(hex(range.upperBound, 8)) \(permissions) \(hex(offset, 8)) \(device) \(inode) "
    }

    /// The whole maps line, padded as the kernel pads it (no trailing newline).
    public var mapsLine: String { Self.mapsLine(prefix: headerPrefix, name: name) }

    /// `prefix` then `name` padded to column 73, as `show_map_vma` does (no padding without a name).
    static func mapsLine(prefix: String, name: String) -> String {
        if name.isEmpty { return prefix }
        let width = 25 + 8 * 6 - 1
        let pad = max(0, width - prefix.count)
        return prefix + String(repeating: " ", count: pad) + " " + name
    }
}

/// Parses `/proc/PID/maps` text: `start-end perms offset dev inode [name]` per line.
func parseMaps(_ text: String, source: String) throws(ImportError) -> [MapsLine] {
    var out: [MapsLine] = []
    var lineNumber = 0
    for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
        lineNumber += 1
        guard let parsed = MapsLine(line) else {
            throw ImportError(.malformed, "pagewalk: \(source):\(lineNumber): not a maps line: \(line.prefix(80))")
        }
        out.append(parsed)
    }
    return out
}

/// One parsed maps line.
struct MapsLine: Equatable {
    var start: UInt64
    var end: UInt64
    var permissions: String
    var offset: UInt64
    var device: String
    var inode: UInt64
    var name: String

    init?(_ line: Substring) {
        var rest = line[...]
        func field() -> Substring? {
            while rest.first == " " { rest = rest.dropFirst() }
            guard let space = rest.firstIndex(of: " ") else {
                defer { rest = rest[rest.endIndex...] }
                return rest.isEmpty ? nil : rest
            }
            defer { rest = rest[rest.index(after: space)...] }
            return rest[..<space]
        }
        guard let range = field(), let perms = field(), let off = field(), let dev = field(), let ino = field()
        else { return nil }
        let bounds = range.split(separator: "-")
        guard bounds.count == 2, let s = UInt64(bounds[0], radix: 16), let e = UInt64(bounds[1], radix: 16), s < e,
              perms.count == 4, let o = UInt64(off, radix: 16), let i = UInt64(ino) else { return nil }
        start = s
        end = e
        permissions = String(perms)
        offset = o
        device = String(dev)
        inode = i
        while rest.first == " " { rest = rest.dropFirst() }
        name = String(rest)
    }

    var kind: ImportedRegion.Kind {
        if start >= 1 << 56 { return .gate }
        if name == "[heap]" { return .heap }
        if name == "[stack]" { return .stack }
        if name.hasPrefix("[") { return .special }
        if inode != 0 || name.hasPrefix("/") { return .file }
        return .anonymous
    }

    /// The flags maps alone implies (when smaps' `VmFlags` is not available).
    var inferredFlags: VMAFlags {
        let p = Array(permissions)
        var f: VMAFlags = [.mayRead, .mayWrite, .mayExec]
        if p[0] == "r" { f.insert(.read) }
        if p[1] == "w" { f.insert(.write) }
        if p[2] == "x" { f.insert(.exec) }
        if p[3] == "s" {
            f.insert(.mayShare)
            if p[1] == "w" { f.insert(.shared) }
        }
        switch name {
        case "[stack]": f.insert(.growsDown)
        case "[vvar]", "[vvar_vclock]": f = [.read, .mayRead, .pfnmap, .io, .dontExpand, .dontDump]
        case "[vdso]": f.insert(.dontExpand)
        default: break
        }
        return f
    }
}

/// What `/proc/PID/smaps` adds to maps for one VMA: its flags and kernel page size.
struct SmapsVMAInfo {
    var flags: VMAFlags
    var unknown: [String]
    var kernelPageSize: UInt64
    /// AnonHugePages, in bytes (nil when smaps does not say).
    var anonHugePages: UInt64? = nil
}

/// Parses the `VmFlags` and `KernelPageSize` of every VMA of smaps text, by range.
func parseSmapsVMAInfo(_ text: String) -> [Range<UInt64>: SmapsVMAInfo] {
    var out: [Range<UInt64>: SmapsVMAInfo] = [:]
    var current: Range<UInt64>? = nil
    var info = SmapsVMAInfo(flags: [], unknown: [], kernelPageSize: 4096)
    for line in text.split(separator: "\n") {
        guard let c = line.first else { continue }
        if c.isHexDigit && !c.isUppercase {
            if let r = current { out[r] = info }
            current = MapsLine(line).map { $0.start..<$0.end }
            info = SmapsVMAInfo(flags: [], unknown: [], kernelPageSize: 4096)
        } else if line.hasPrefix("VmFlags:") {
            let (f, u) = VMAFlags.parse(vmFlags: line.dropFirst("VmFlags:".count))
            info.flags = f
            info.unknown = u
        } else if line.hasPrefix("AnonHugePages:") {
            let kb = line.dropFirst("AnonHugePages:".count).split(separator: " ").first.flatMap { UInt64($0) }
            info.anonHugePages = kb.map { $0 * 1024 }
        } else if line.hasPrefix("KernelPageSize:") {
            let kb = line.dropFirst("KernelPageSize:".count).split(separator: " ").first.flatMap { UInt64($0) }
            info.kernelPageSize = (kb ?? 4) * 1024
        }
    }
    if let r = current { out[r] = info }
    return out
}
