import Foundation
import PageWalk
import PageWalkImage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Memory images from Swift (issue 11): a raw image whose page tables the test writes by hand,
/// walked through `ImageTarget`; the real guests are checked by scripts/guest/ci-guest.sh.
@Suite struct ImageTests {
    /// A 4-level raw image of 64 frames: top table at 0x1000, PUD 0x2000, PMD 0x3000, PTE 0x4000.
    /// VA 0x400000: a present PTE (PFN 0x10, soft-dirty), a PROT_NONE one (PFN 0x11, stored
    /// inverted), a swap entry (type 3, offset 0x1234, soft-dirty); VA 0x600000: a 2 MiB leaf
    /// (PFN 0x400, soft-dirty bit set, which hugetlb's pagemap ignores).
    static func image() throws -> String {
        var words = [UInt64](repeating: 0, count: 64 * 512)
        func set(_ table: Int, _ index: Int, _ v: UInt64) { words[table / 8 + index] = v }
        set(0x1000, 0, 0x2067)
        set(0x2000, 0, 0x3067)
        set(0x3000, 2, 0x4067)
        set(0x3000, 3, (0x400 << 12) | 0x8e7)
        set(0x4000, 0, (0x10 << 12) | 0x867)
        set(0x4000, 1, (~(UInt64(0x11) << 12) & 0x000f_ffff_ffff_f000) | 0x160)
        set(0x4000, 2, (((~UInt64(0x1234)) << 14) >> 5) | (3 << 59) | 0x2)
        let path = NSTemporaryDirectory() + "pagewalk-image-\(getpid())-\(UUID().uuidString).mem"
        let data = words.withUnsafeBytes { Data($0) }
        #expect(FileManager.default.createFile(atPath: path, contents: data))
        return path
    }

    @Test func translateAndPagemapOverHandWrittenTables() throws {
        let path = try Self.image()
        defer { unlink(path) }
        let image = try MemoryImage(path: path)
        #expect(image.kind == .raw && image.segments.count == 1 && image.cpus.isEmpty)
        // A raw image has no CR3: auto is refused, --pgd works.
        #expect(throws: ImageError.self) { try ImageTarget(image: image) }
        let t = try ImageTarget(image: image, selection: RootSelection(pgd: 0x1000, levels: 4))
        let tr = try t.translate(0x400123)
        #expect(tr.physicalAddress == 0x10123 && tr.leafLevel == .pte)
        #expect(tr.steps.map(\.level) == [.pgd, .pud, .pmd, .pte])
        #expect(try t.translate(0x401000).physicalAddress == 0x11000)  // PROT_NONE: present
        #expect(try t.translate(0x402000).physicalAddress == nil)  // swapped
        #expect(try t.translate(0x6abcde).physicalAddress == 0x4abcde && t.translate(0x6abcde).leafLevel == .pmd)

        let present: UInt64 = 1 << 63, swapped: UInt64 = 1 << 62, softDirty: UInt64 = 1 << 55
        let pm = try t.pagemap(0x400000..<0x403000)
        let want: [UInt64] = [present | softDirty | 0x10, present | 0x11, swapped | softDirty | 3 | (0x1234 << 5)]
        #expect(pm == want)
        // Without VMAs the 2 MiB leaf reads as a THP (soft-dirty shown) ...
        let thp: [UInt64] = [present | softDirty | 0x400]
        #expect(try t.pagemap(0x600000..<0x601000) == thp)
        // ... with the maps saying hugetlb, as hugetlb (no soft-dirty), and holes inside VMAs are 0.
        try t.attach(maps: """
            00400000-00403000 rw-p 00000000 00:00 0
            00600000-00800000 rw-p 00000000 00:0f 9929                       /anon_hugepage (deleted)
            """)
        let hugetlb: [UInt64] = [present | 0x400, present | 0x401]
        #expect(try t.pagemap(0x600000..<0x602000) == hugetlb)
        #expect(try t.pagemap(0x403000..<0x404000) == [0])
        let dump = try t.ptdump(kernel: false)
        #expect(dump.map(\.level) == [.pte, .pte, .pmd] && dump[0].start == 0x400000 && dump[0].end == 0x401000)
        #expect(dump[0].flags.contains("USR") && dump[1].flags.contains("NONE") && dump[2].flags.contains("PSE"))
    }

    @Test func x86EntriesDecodeAsLinuxEncodesThem() {
        let protnone = X86Entry((~(UInt64(0x11) << 12) & 0x000f_ffff_ffff_f000) | 0x160)
        #expect(protnone.isPresent && protnone.isProtNone && protnone.pfn == 0x11)
        let swap = X86Entry(0x07ff_ffff_fffb_fe08)  // a real guest's: type 0, offset 0x200
        #expect(swap.isSwap && swap.swapType == 0 && swap.swapOffset == 0x200 && !swap.isSoftDirty)
        #expect(X86Entry(0x8000_0000_0320_00e5).isHuge && X86Entry(0x8000_0000_0320_00e5).pfn == 0x3200)
        let kpti = TranslationRoot(cr3: 0x11f0_1000, cr4: 0x6f0)
        #expect(kpti.kpti && kpti.kptiUser && kpti.kernelPGD == 0x11f0_0000 && kpti.userPGD == 0x11f0_1000)
        #expect(TranslationRoot(cr3: 0x8000_0000_0123_4005, cr4: 0x2_1000).pcid == 5)
        #expect(TranslationRoot(cr3: 0x1234_000, cr4: 0x1000).levels == 5)
    }

    @Test func aBadImageIsOneLineAndExit2() throws {
        let path = NSTemporaryDirectory() + "pagewalk-bad-\(getpid()).elf"
        defer { unlink(path) }
        var header = [UInt8](repeating: 0, count: 64)
        header.replaceSubrange(0..<4, with: [0x7f, 0x45, 0x4c, 0x46])
        header[4] = 2; header[5] = 1; header[16] = 4; header[18] = 62; header[54] = 56; header[56] = 3
        header[32] = 64
        _ = FileManager.default.createFile(atPath: path, contents: Data(header))
        #expect(throws: ImageError.self) { try MemoryImage(path: path) }
        for args in [["image", path], ["image", "ptdump", path], ["image", "pagemap", path, "0", "1000"]] {
            let r = try pagewalk(args)
            #expect(r.status == 2, "\(args)")
            #expect(r.err.split(separator: "\n").count == 1 && r.err.contains("truncated file"), "\(args): \(r.err)")
        }
        let raw = try Self.image()
        defer { unlink(raw) }
        let r = try pagewalk(["image", "translate", raw, "--pgd", "7000000", "400000"])
        #expect(r.status == 2 && r.err.contains("outside the image's memory"))
    }
}
