import CWalkImage
import PageWalk

extension Machine {
    /// A machine over `image`'s physical memory with `levels` (4 or 5) levels, whose kernel
    /// address space has its top table at physical `kernelPGD` (nil: an empty kernel half).
    /// Walks that write change private memory only; the image is kept alive by the machine.
    public convenience init(image: MemoryImage, levels: Int, kernelPGD: UInt64?) throws(ImageError) {
        var m: OpaquePointer?
        var err = [CChar](repeating: 0, count: 512)
        guard pw_machine_open_image(image.pointer, Int32(levels), kernelPGD ?? UInt64.max, &m, &err, err.count) == 0,
              let m
        else { throw ImageError(cString(err)) }
        self.init(adopting: m, keepingAlive: image)
    }

    /// A user address space of this machine (made over `image`) whose top table is at physical
    /// `pgd`; it has no VMAs until some are added (see ``ImageTarget/attach(maps:)``).
    public func addressSpace(image: MemoryImage, pgd: UInt64) throws(ImageError) -> AddressSpace {
        var mm: OpaquePointer?
        var err = [CChar](repeating: 0, count: 512)
        guard pw_image_mm_create(pointer, image.pointer, pgd, &mm, &err, err.count) == 0, let mm else {
            throw ImageError(cString(err))
        }
        return addressSpace(adopting: mm)
    }
}

func cString(_ buf: [CChar]) -> String {
    String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// How the top table is chosen (`--cr3 auto|VALUE`, `--pgd PHYS`, `--levels`).
public struct RootSelection: Sendable {
    /// A CR3 value; nil: the vCPU's from the notes ("auto").
    public var cr3: UInt64?
    /// A top table's physical address, overriding any CR3.
    public var pgd: UInt64?
    /// 4 or 5; nil: from CR4.LA57, VMCOREINFO, or 4.
    public var levels: Int?
    /// Which vCPU's registers "auto" uses.
    public var cpu: Int
    /// KPTI: true, false, nil to infer from CR3 bit 12.
    public var kpti: Bool?

    /// The default: CR3 auto from vCPU 0.
    public init(cr3: UInt64? = nil, pgd: UInt64? = nil, levels: Int? = nil, cpu: Int = 0, kpti: Bool? = nil) {
        self.cr3 = cr3
        self.pgd = pgd
        self.levels = levels
        self.cpu = cpu
        self.kpti = kpti
    }
}

/// An image opened for walking: the machine over its memory, the user half (the top table a
/// CR3 names: with KPTI the user copy) and the kernel half (the kernel copy, or VMCOREINFO's
/// `init_top_pgt`) as address spaces.
public final class ImageTarget: @unchecked Sendable {
    /// The image.
    public let image: MemoryImage
    /// The machine over its memory.
    public let machine: Machine
    /// Where translation starts.
    public let root: TranslationRoot
    /// The user half: walks with `walkPageRangeDebug`, or with VMAs after ``attach(maps:)``.
    public let user: AddressSpace
    /// Where the root came from, for messages.
    public let rootSource: String
    /// The VMAs attached, if any.
    public private(set) var maps: [MapsLine] = []

    /// The kernel half (`init_mm`): walk it with `machine.walkKernelPageTableRange`.
    public var kernel: AddressSpace { machine.kernel }

    /// Opens `image` for walking from the root `selection` describes.
    public init(image: MemoryImage, selection: RootSelection = RootSelection()) throws(ImageError) {
        self.image = image
        let vmci = image.vmcoreinfo
        var root: TranslationRoot
        var source: String
        if let pgd = selection.pgd {
            let levels = selection.levels ?? vmci?.pgtableL5.map { $0 ? 5 : 4 } ?? image.cpus.first?.levels ?? 4
            root = TranslationRoot(pgd: pgd, levels: levels)
            source = "--pgd"
        } else if let cr3 = selection.cr3 {
            let cpu = image.cpus.first { $0.cr4 != nil }
            var cr4 = cpu?.cr4 ?? 0
            if let l = selection.levels { cr4 = l == 5 ? cr4 | UInt64(PW_X86_CR4_LA57) : cr4 & ~UInt64(PW_X86_CR4_LA57) }
            else if cpu == nil, vmci?.pgtableL5 == true { cr4 |= UInt64(PW_X86_CR4_LA57) }
            root = TranslationRoot(cr3: cr3, cr4: cr4, kpti: selection.kpti)
            source = "--cr3"
        } else {
            let cpus = image.cpus
            if selection.cpu < cpus.count, let cr3 = cpus[selection.cpu].cr3, var cr4 = cpus[selection.cpu].cr4 {
                if let l = selection.levels {
                    cr4 = l == 5 ? cr4 | UInt64(PW_X86_CR4_LA57) : cr4 & ~UInt64(PW_X86_CR4_LA57)
                }
                root = TranslationRoot(cr3: cr3, cr4: cr4, kpti: selection.kpti)
                source = "vCPU \(selection.cpu)'s CR3"
            } else if let kpgd = vmci?.kernelPGD {
                root = TranslationRoot(pgd: kpgd, levels: selection.levels ?? (vmci?.pgtableL5 == true ? 5 : 4))
                source = "VMCOREINFO's init_top_pgt"
            } else if selection.cpu > 0 && selection.cpu >= cpus.count {
                throw ImageError("\(image.path): no vCPU \(selection.cpu): the notes describe \(cpus.count)")
            } else {
                throw ImageError("\(image.path): no CR3 in the image's notes and no VMCOREINFO: give --cr3 VALUE or --pgd PHYS")
            }
        }
        let kernelPGD = source == "VMCOREINFO's init_top_pgt" ? root.pgd : root.kernelPGD
        let machine = try Machine(image: image, levels: root.levels, kernelPGD: kernelPGD)
        self.machine = machine
        self.root = root
        self.rootSource = source
        user = try machine.addressSpace(image: image, pgd: root.userPGD)
    }

    /// A digest of every page-table frame reachable from the user and kernel top tables as the
    /// image holds them now, and their number: for a live image, equal digests before and after
    /// a walk mean it read no torn table.
    public func tablesDigest() -> (digest: UInt64, tables: UInt64) {
        var nu: UInt64 = 0, nk: UInt64 = 0
        let du = pw_image_tables_digest(image.pointer, root.userPGD, Int32(root.levels), &nu)
        let dk = root.kernelPGD == root.userPGD ? 0 : pw_image_tables_digest(image.pointer, root.kernelPGD, Int32(root.levels), &nk)
        return (du ^ (dk &* 31), nu + nk)
    }

    /// Attaches the VMAs of a process's `/proc/PID/maps` (or `smaps`) text, so that walks of the
    /// user half have VMA semantics (hugetlb VMAs walked as such, holes inside VMAs).
    public func attach(maps text: String) throws(ImageError) {
        let lines = try MapsLine.parse(text)
        var files: [String: UInt32] = [:]
        for l in lines where l.start < machine.geometry.taskSize {
            var flags: VMAFlags = []
            if l.read { flags.insert(.read) }
            if l.write { flags.insert(.write) }
            if l.exec { flags.insert(.exec) }
            if l.shared { flags.insert(.shared) }
            var file: Mapping? = nil
            if l.inode != 0 && !l.hugetlb {
                let key = "\(l.device) \(l.inode)"
                let id = files[key] ?? UInt32(files.count + 1)
                files[key] = id
                file = machine.mapping(id)
            }
            let huge: HugePageSize? = l.hugetlb ? (l.kernelPageSize == 1 << 30 ? .oneGigabyte : .twoMegabytes) : nil
            do {
                try user.addVMA(l.start..<l.end, flags: flags, file: file, pgoff: l.offset >> 12, hugePages: huge)
            } catch {
                throw ImageError("maps line \(l.lineNumber) (\(hexString(l.start))-\(hexString(l.end))): cannot add the VMA: \(error)")
            }
        }
        maps = lines
    }
}

func hexString(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

/// One line of `/proc/PID/maps` (with `smaps`' KernelPageSize and VmFlags when given).
public struct MapsLine: Sendable, Equatable {
    /// The VMA's addresses.
    public let start: UInt64, end: UInt64
    /// Permissions.
    public let read: Bool, write: Bool, exec: Bool, shared: Bool
    /// File offset in bytes, device "MM:mm", inode.
    public let offset: UInt64, device: String, inode: UInt64
    /// The path or [name], "" for anonymous.
    public let name: String
    /// 1-based line number in the text.
    public let lineNumber: Int
    /// smaps' KernelPageSize in bytes (4096 when unknown).
    public internal(set) var kernelPageSize: UInt64 = 4096
    /// smaps' VmFlags mnemonics, when given.
    public internal(set) var vmFlags: [String] = []

    /// A hugetlb VMA: smaps says "ht", or the name is hugetlbfs' anonymous file.
    public var hugetlb: Bool { vmFlags.contains("ht") || name.hasPrefix("/anon_hugepage") }
    /// smaps says the VMA is soft-dirty (VM_SOFTDIRTY).
    public var softDirty: Bool { vmFlags.contains("sd") }

    /// Parses maps or smaps text; a line that is neither is an error naming it.
    public static func parse(_ text: String) throws(ImageError) -> [MapsLine] {
        var out: [MapsLine] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.drop { $0 == " " }
            if line.isEmpty { continue }
            let f = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            if let first = f.first, first.hasSuffix(":") {
                // an smaps field of the VMA above
                guard !out.isEmpty else { throw ImageError("maps line \(i + 1): an smaps field before any VMA") }
                if first == "KernelPageSize:", f.count >= 2, let kb = UInt64(f[1]) { out[out.count - 1].kernelPageSize = kb << 10 }
                if first == "VmFlags:" { out[out.count - 1].vmFlags = line.split(separator: " ").dropFirst().map(String.init) }
                continue
            }
            let range = f.first?.split(separator: "-") ?? []
            guard f.count >= 5, range.count == 2, let s = UInt64(range[0], radix: 16), let e = UInt64(range[1], radix: 16),
                  s < e, s & 0xfff == 0, e & 0xfff == 0, f[1].count == 4, let off = UInt64(f[2], radix: 16),
                  let inode = UInt64(f[4])
            else {
                throw ImageError("maps line \(i + 1): '\(line.prefix(80))' is not a /proc/PID/maps line")
            }
            let p = Array(f[1])
            out.append(MapsLine(start: s, end: e, read: p[0] == "r", write: p[1] == "w", exec: p[2] == "x",
                                shared: p[3] == "s", offset: off, device: String(f[3]), inode: inode,
                                name: f.count > 5 ? f[5].trimmingCharacters() : "", lineNumber: i + 1))
        }
        return out
    }
}

extension Substring {
    func trimmingCharacters() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
