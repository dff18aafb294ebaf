import Foundation
import PageWalk
import PageWalkImport
import Testing

/// The importer's own mappings of the libraries a process maps too (libc …) raise the map
/// counts kpagecount reports while it imports. `ImportOptions.discountImporterMappings` (which
/// `pagewalk` turns on) takes them back out, so Pss and Shared/Private are what the kernel
/// reports once the importer is gone.
@Suite(.serialized, .enabled(if: kernelComparisonUnavailable == nil, Comment(rawValue: kernelComparisonUnavailable ?? "")))
struct ImportOwnMappingsTests {
    @Test func theImportersSharedLibrariesAreDiscounted() throws {
        let child = try TestChild()
        var options = ImportOptions()
        options.discountImporterMappings = true
        let discounted = try ProcessSnapshot.importProcess(pid: child.pid, options: options)
        let plain = try ProcessSnapshot.importProcess(pid: child.pid)
        #expect(discounted.summary.importerSharedFrames > 0, "the child and this process both map libc")
        #expect(plain.summary.importerSharedFrames == 0)
    }

    /// Deterministic: this process maps the child's scratch file too (nobody else does), imports
    /// the child discounting its own mappings, then unmaps the file: the Pss the import gave is
    /// the kernel's once this process's mapping is gone; without the discount it is half.
    @Test func discountedPssIsTheKernelsOnceTheImporterUnmaps() throws {
        let child = try TestChild()
        let fd = open(child.scratch, O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        let length = 8 * 4096
        let p = try #require(mmap(nil, length, PROT_READ, MAP_SHARED, fd, 0))
        try #require(p != MAP_FAILED)
        var sum = 0
        for i in 0..<8 { sum += Int(p.load(fromByteOffset: i * 4096, as: UInt8.self)) }
        #expect(sum > 0)
        var options = ImportOptions()
        options.discountImporterMappings = true
        let discounted = try ProcessSnapshot.importProcess(pid: child.pid, options: options)
        let plain = try ProcessSnapshot.importProcess(pid: child.pid)
        munmap(p, length)
        let region = try child.region("file-private")
        func pss(_ snap: ProcessSnapshot) throws -> UInt64? {
            let vma = try #require(snap.space.vma(containing: region.lowerBound))
            return try snap.smaps(vma: vma).pss >> 22  // kB
        }
        let key = String(region.lowerBound, radix: 16)
        let kernel = try Kernel.smaps(child.pid).first { $0.header.hasPrefix(key) }?.fields["Pss"]
        let k = try #require(kernel)
        #expect(try pss(discounted) == UInt64(k))
        #expect(try pss(plain) != UInt64(k), "without the discount this process's mapping halves it")
    }
}
