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
        // With this process's mappings taken out, libc's pages are shared by fewer: more Pss.
        #expect(try discounted.smapsRollup().pss > plain.smapsRollup().pss)
    }

    /// `pagewalk smaps --rollup` in its own process: its figures match the kernel's read after it
    /// exits (this process maps libc throughout, so both count it).
    @Test func pagewalkCommandMatchesTheKernelWithoutItself() throws {
        guard let dir = Bundle.main.executableURL?.deletingLastPathComponent(),
              FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("pagewalk").path)
        else { return }
        let child = try TestChild()
        var last: [String] = []
        for _ in 1...3 {
            let before = try Kernel.smapsRollup(child.pid)
            let p = Process()
            p.executableURL = dir.appendingPathComponent("pagewalk")
            p.arguments = ["smaps", "--pid", "\(child.pid)", "--rollup"]
            let out = Pipe()
            p.standardOutput = out
            try p.run()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            let after = try Kernel.smapsRollup(child.pid)
            let ours = Kernel.parseSmaps(text)[0]
            last = ["Pss", "Pss_File", "Shared_Clean", "Private_Clean"].filter {
                ours.fields[$0] != before.fields[$0] && ours.fields[$0] != after.fields[$0]
            }.map { "\($0): ours \(ours.fields[$0] ?? 0), kernel \(after.fields[$0] ?? 0)" }
            if last.isEmpty { break }
        }
        #expect(last.isEmpty, "\(last)")
    }
}
