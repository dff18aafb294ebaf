import CWalkCore
import Foundation
import PageWalk
import Testing

// The DocC articles' examples, run: each claim an article makes about its example's result is
// checked here, so an article cannot drift from the API.

/// The VMAs' ranges, read from the C address space (independent of how the Swift `VMA` handle
/// exposes them).
private func vmaRanges(_ space: AddressSpace) -> [Range<UInt64>] {
    (0..<pw_mm_vma_count(space.pointer)).map { i in
        let v = pw_mm_vma_at(space.pointer, i)!.pointee
        return UInt64(v.vm_start)..<UInt64(v.vm_end)
    }
}

/// What the folio lookup of LookingUpAFolio.md returns, checked to be a real folio.
private struct FolioFacts: Error {}
private func facts(_ fw: FolioWalk) throws -> (FolioWalkLevel, UInt64?, UInt64, Int) {
    guard fw.folioOrder >= 0 else { throw FolioFacts() }
    return (fw.level, fw.page, fw.folio, fw.folioOrder)
}

// YourFirstVisitor.md's visitor is the README's `PresentPages` (ReadmeExampleTests.swift).

@Suite struct ArticleTests {
    /// YourFirstVisitor.md
    @Test func yourFirstVisitorCounts513() throws {
        let machine = try Machine(levels: 4, frames: 1 << 16, tableBase: 1 << 15)
        let space = try machine.makeAddressSpace()
        try space.addVMA(0x40_0000..<0x80_0000, flags: [.read, .write])
        try space.faultIn(0x40_0000, pfn: 0x100)
        try space.installTHP(at: 0x60_0000, pfn: 0x200)
        try space.swapOut(0x40_1000, offset: 7)
        try space.setMarker(at: 0x40_2000, .guardRegion)
        var visitor = PresentPages()
        let result = try space.withMmapReadLock {
            try space.walkPageRange(0x40_0000..<0x80_0000, visitor: &visitor)
        }
        #expect(result == .completed)
        #expect(visitor.count == 513)
        let file = NSTemporaryDirectory() + "pagewalk-first-\(UUID().uuidString).html"
        defer { try? FileManager.default.removeItem(atPath: file) }
        try AddressSpaceMap(space, title: "my first machine").write(to: file)
        #expect(FileManager.default.fileExists(atPath: file))
    }

    /// VMAManagement.md
    @Test func vmaManagementSplitsAndMergesAsTheArticleSays() throws {
        let machine = try Machine(levels: 4, frames: 1 << 16, tableBase: 1 << 15)
        let space = try machine.makeAddressSpace()
        try space.map(0x10_0000..<0x20_0000, flags: [.read, .write])
        try space.map(0x20_0000..<0x30_0000, flags: [.read, .write])
        #expect(vmaRanges(space) == [0x10_0000..<0x30_0000])
        try space.faultIn(0x18_0000, pfn: 0x100)
        try space.protect(0x18_0000..<0x19_0000, [.read])
        #expect(vmaRanges(space) == [0x10_0000..<0x18_0000, 0x18_0000..<0x19_0000, 0x19_0000..<0x30_0000])
        try space.unmap(0x28_0000..<0x30_0000)
        #expect(vmaRanges(space) == [0x10_0000..<0x18_0000, 0x18_0000..<0x19_0000, 0x19_0000..<0x28_0000])
        #expect(space.checkInvariants() == nil)
        #expect(try space.entry(.pte, at: 0x18_0000) & 2 == 0)  // write removed from the PTE too
    }

    /// LookingUpAFolio.md
    @Test func folioLookupFindsPage0x201OfTheTHP() throws {
        let machine = try Machine(levels: 4, frames: 1 << 16, tableBase: 1 << 15)
        let space = try machine.makeAddressSpace()
        let vma = try space.addVMA(0x40_0000..<0x80_0000, flags: [.read, .write])
        try space.installTHP(at: 0x60_0000, pfn: 0x200)
        let found = try space.withMmapReadLock {
            try space.withFolio(at: 0x60_1000, in: vma) { fw in try facts(fw) }
        }
        #expect(found?.0 == .pmd && found?.1 == 0x201 && found?.2 == 0x200 && found?.3 == 9)
    }
}
