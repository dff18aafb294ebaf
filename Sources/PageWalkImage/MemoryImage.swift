import CWalkImage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Why an image could not be opened or used: one line saying what, where and why.
public struct ImageError: Error, CustomStringConvertible, Sendable {
    /// The line.
    public let description: String
    /// Makes an error with the given line.
    public init(_ description: String) { self.description = description }
}

/// A memory image of a real x86-64 Linux machine opened read-only and zero-copy:
/// an ELF core whose `PT_LOAD` segments carry physical addresses (QEMU's
/// `dump-guest-memory`, `virsh dump --memory-only`, kdump's vmcore) or a raw
/// memory file (file offset = physical address).
///
/// The file is mapped `MAP_PRIVATE`: opening costs the same for any size and
/// nothing ever writes to the file.
public final class MemoryImage: @unchecked Sendable {
    /// The C image (`struct pw_image`).
    public let pointer: OpaquePointer
    /// The path it was opened from.
    public let path: String

    /// The kind of file.
    public enum Kind: String, Sendable {
        /// An ELF64 core.
        case elf
        /// Raw physical memory.
        case raw
    }

    /// One run of physical memory.
    public struct Segment: Sendable, Equatable {
        /// First physical address.
        public let physicalAddress: UInt64
        /// Bytes of memory.
        public let size: UInt64
        /// Where the bytes start in the file.
        public let fileOffset: UInt64
        /// Bytes held by the file (the rest reads as zeros).
        public let fileSize: UInt64
        /// The file offset is not page aligned: frames are copied to aligned memory on first use.
        public let realigned: Bool
    }

    /// A virtual CPU from the image's notes.
    public struct CPU: Sendable, Equatable {
        /// 0, 1, ... in note order.
        public let index: Int
        /// CR3 as the CPU held it (PCID and KPTI bits included), when the notes give it.
        public let cr3: UInt64?
        /// CR4, when the notes give it.
        public let cr4: UInt64?
        /// The instruction pointer, when known.
        public let rip: UInt64?
        /// Paging levels by CR4.LA57 (4 or 5), when CR4 is known.
        public var levels: Int? { cr4.map { $0 & UInt64(PW_X86_CR4_LA57) != 0 ? 5 : 4 } }
    }

    /// Facts from a VMCOREINFO note.
    public struct VMCoreInfo: Sendable, Equatable {
        /// The kernel release (`OSRELEASE`).
        public let osRelease: String
        /// `SYMBOL(init_top_pgt)`: the kernel's top table, virtual.
        public let initTopPGT: UInt64?
        /// `NUMBER(phys_base)`.
        public let physBase: UInt64?
        /// `KERNELOFFSET` (KASLR).
        public let kernelOffset: UInt64?
        /// `NUMBER(pgtable_l5_enabled)`.
        public let pgtableL5: Bool?
        /// The kernel's top table, physical (`init_top_pgt - __START_KERNEL_map + phys_base`).
        public let kernelPGD: UInt64?
        /// The whole note.
        public let text: String
    }

    /// Opens the image at `path`; `raw` treats any file as raw memory.
    public init(path: String, raw: Bool = false) throws(ImageError) {
        var img: OpaquePointer?
        var err = [CChar](repeating: 0, count: 512)
        let rc = pw_image_open(path, raw ? UInt32(PW_IMAGE_FORCE_RAW.rawValue) : 0, &img, &err, err.count)
        guard rc == 0, let img else {
            throw ImageError(String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        pointer = img
        self.path = path
    }

    deinit { pw_image_close(pointer) }

    /// ELF or raw.
    public var kind: Kind { pw_image_kind(pointer) == PW_IMAGE_RAW ? .raw : .elf }

    /// Size of the file.
    public var fileSize: UInt64 { pw_image_file_size(pointer) }

    /// The memory segments, by physical address.
    public var segments: [Segment] {
        (0..<pw_image_segment_count(pointer)).map { i in
            let s = pw_image_segment_at(pointer, i)!.pointee
            return Segment(physicalAddress: s.paddr, size: s.size, fileOffset: s.file_offset,
                           fileSize: s.file_size, realigned: s.realigned)
        }
    }

    /// The vCPUs of the notes.
    public var cpus: [CPU] {
        (0..<pw_image_cpu_count(pointer)).map { i in
            let c = pw_image_cpu_at(pointer, i)!.pointee
            return CPU(index: Int(c.index), cr3: c.has_control ? c.cr3 : nil, cr4: c.has_control ? c.cr4 : nil,
                       rip: c.has_control ? c.rip : nil)
        }
    }

    /// The VMCOREINFO facts, if the image has the note.
    public var vmcoreinfo: VMCoreInfo? {
        let v = pw_image_vmcoreinfo(pointer)!.pointee
        guard v.present else { return nil }
        let osr = withUnsafeBytes(of: v.osrelease) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        let text = v.text.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: v.text_len), as: UTF8.self) } ?? ""
        let kpgd = pw_image_kernel_pgd(pointer)
        return VMCoreInfo(osRelease: osr, initTopPGT: v.has_init_top_pgt ? v.init_top_pgt : nil,
                          physBase: v.has_phys_base ? v.phys_base : nil,
                          kernelOffset: v.has_kernel_offset ? v.kernel_offset : nil,
                          pgtableL5: v.pgtable_l5 < 0 ? nil : v.pgtable_l5 == 1,
                          kernelPGD: kpgd == UInt64.max ? nil : kpgd, text: text)
    }

    /// Bytes at physical address `address`, or nil if any is outside the image's memory.
    public func read(physical address: UInt64, count: Int) -> [UInt8]? {
        var buf = [UInt8](repeating: 0, count: count)
        let rc = buf.withUnsafeMutableBytes { pw_image_read(pointer, address, $0.baseAddress, count) }
        return rc == 0 ? buf : nil
    }

    /// The 64-bit word at physical address `address` (8-byte aligned), or nil outside memory.
    public func word(physical address: UInt64) -> UInt64? {
        guard let f = pw_image_frame(pointer, address >> 12) else { return nil }
        return f[Int((address & 0xfff) >> 3)]
    }
}

/// Where translation starts: a top table chosen from a CR3 value.
public struct TranslationRoot: Sendable, Equatable, CustomStringConvertible {
    /// The physical address of the top table walked.
    public let pgd: UInt64
    /// The kernel copy of the top table (with KPTI, the 8 KiB-aligned page of the pair).
    public let kernelPGD: UInt64
    /// The user copy (kernel copy + 4 KiB) with KPTI, else `pgd`.
    public let userPGD: UInt64
    /// CR3 pointed at the KPTI user copy.
    public let kptiUser: Bool
    /// KPTI is in use (the top table comes in a kernel/user pair).
    public let kpti: Bool
    /// The PCID bits of CR3 (0 without CR4.PCIDE).
    public let pcid: UInt32
    /// 4 or 5.
    public let levels: Int

    /// Decodes `cr3` under `cr4`. `kpti`: true, false, or nil to guess (bit 12 of the address set).
    public init(cr3: UInt64, cr4: UInt64, kpti: Bool? = nil) {
        let r = pw_x86_root_from_cr3(cr3, cr4, kpti.map { $0 ? 1 : 0 } ?? -1)
        pgd = r.pgd
        kernelPGD = r.kernel_pgd
        userPGD = r.user_pgd
        kptiUser = r.kpti_user
        self.kpti = r.kernel_pgd != r.user_pgd
        pcid = r.pcid
        levels = Int(r.levels)
    }

    /// A root given directly: the top table's physical address and the number of levels.
    public init(pgd: UInt64, levels: Int) {
        self.pgd = pgd & UInt64(PW_X86_CR3_ADDR_MASK)
        kernelPGD = self.pgd
        userPGD = self.pgd
        kptiUser = false
        kpti = false
        pcid = 0
        self.levels = levels
    }

    /// The top table, the levels and, with KPTI, both copies of the top table.
    public var description: String {
        var s = "top table 0x\(String(pgd, radix: 16)), \(levels) levels"
        if kpti {
            s += ", KPTI (kernel copy 0x\(String(kernelPGD, radix: 16)), user copy 0x\(String(userPGD, radix: 16)))"
        }
        if pcid != 0 { s += ", PCID \(pcid)" }
        return s
    }
}
