import Foundation
import PageWalk
import PageWalkImport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Snapshots (issue 11 item 6): an import saved and loaded gives the same answers; the machine
/// format round-trips machines; bad files are one line.
@Suite struct SnapshotTests {
    static func path(_ name: String) -> String { NSTemporaryDirectory() + "pagewalk-snapshot-\(getpid())-\(name)" }

    @Test func anImportSavedAndLoadedAnswersTheSame() throws {
        let child = try TestChild()
        let s = try ProcessSnapshot.importProcess(pid: child.pid)
        let file = Self.path("import.pwsnap")
        defer { unlink(file) }
        try s.save(to: file)
        let t = try ProcessSnapshot.load(from: file)
        #expect(t.pid == s.pid)
        #expect(t.regions == s.regions)
        #expect(t.knowledge == s.knowledge)
        #expect(t.summary.ptes == s.summary.ptes && t.summary.pmdLeaves == s.summary.pmdLeaves)
        #expect(try t.formatSmaps() == s.formatSmaps())
        #expect(try t.smapsRollup() == s.smapsRollup())
        #expect(try t.ptdump() == s.ptdump())
        for (name, range) in child.regions {
            #expect(try t.pagemap(range) == s.pagemap(range), "pagemap of \(name)")
        }
        // The tables were rebuilt, the entries are the same.
        let a = s.space.dump().filter { !$0.isTable }, b = t.space.dump().filter { !$0.isTable }
        #expect(a == b && !a.isEmpty)
    }

    @Test func aMachineRoundTripsWithItsKernelSpaceAndExtraBytes() throws {
        let m = try Machine(levels: 5, frames: 1 << 14, tableBase: 1 << 13)
        let space = try m.makeAddressSpace()
        try space.addVMA(0x400000..<0x800000, flags: [.read, .write])
        try space.setEntry(.pte, at: 0x400000, to: 0x10067)
        try space.setEntry(.pmd, at: 0x600000, to: (0x400 << 12) | 0xe7)
        try m.declareFolio(head: 0x400, order: 9)
        try m.kernel.setEntry(.pte, at: 0xffff_8880_0000_0000, to: 0x20063)
        let file = Self.path("machine.pwsnap")
        defer { unlink(file) }
        try m.save(to: file, spaces: [m.kernel, space], extra: Array("hello".utf8))
        let l = try Machine.load(from: file)
        #expect(l.machine.geometry.levels == 5)
        #expect(l.spaces.count == 2 && l.spaces[0].isKernel && !l.spaces[1].isKernel)
        #expect(l.extra == Array("hello".utf8))
        #expect(try l.spaces[1].vmas.map { try $0.range } == [0x400000..<0x800000])
        #expect(try l.spaces[1].entry(.pte, at: 0x400000) == 0x10067)
        #expect(try l.spaces[0].entry(.pte, at: 0xffff_8880_0000_0000) == 0x20063)
        #expect(l.machine.folio(containing: 0x4ff)! == (head: 0x400, order: 9))
    }

    @Test func aBadSnapshotIsOneLineAndExit2() throws {
        let file = Self.path("bad.pwsnap")
        defer { unlink(file) }
        _ = FileManager.default.createFile(atPath: file, contents: Data("PWSNAP\r\n".utf8 + [UInt8](repeating: 7, count: 100)))
        #expect(throws: SnapshotError.self) { try Machine.load(from: file) }
        let r = try pagewalk(["smaps", "--snapshot", file])
        #expect(r.status == 2)
        #expect(r.err.split(separator: "\n").count == 1 && r.err.contains("version"))
        let none = try pagewalk(["ptdump", "--snapshot", Self.path("missing")])
        #expect(none.status == 2 && none.err.contains("cannot open"))
    }
}
