import ArgumentParser
import Foundation
import PageWalk
import PageWalkImage

/// `pagewalk image ...`: memory images of real x86-64 Linux machines (docs/IMAGES.md).
struct ImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Walk memory images of real machines: QEMU dumps, kdump vmcores, raw memory.",
        subcommands: [ImageDescribe.self],
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

    func run() throws {
        let t0 = Date()
        let image = openImageOrDie(file, raw: raw)
        let opened = Date().timeIntervalSince(t0)
        let segs = image.segments
        let total = segs.reduce(0) { $0 + $1.size }
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
