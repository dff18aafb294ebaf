import CBenchCallbacks
import CWalkCore
import PageWalk

/// The Swift visitors of paths (b) and (c): the same work as the C visitors in cbench.c.

/// Counts PTEs and present ones, holes, PMD leaves (handled with `ACTION_CONTINUE`) and VMAs
/// tested (skipping `VM_EXEC` ones): it implements those four callbacks and disables the ones
/// the workload does not use (the set the C visitor of path (a) gets).
struct CountingVisitor: PageWalkVisitor {
    var counts = cb_counts()
    let disabledCallbacks: WalkCallbacks

    init(_ callbacks: WalkCallbacks) { disabledCallbacks = WalkCallbacks.all.subtracting(callbacks) }

    mutating func pteEntry(_ entry: inout PTE, address: UInt64, next: UInt64, walk: WalkContext) -> WalkStep {
        counts.ptes &+= 1
        if entry.isPresent { counts.present &+= 1 }
        return .proceed
    }

    mutating func pteHole(address: UInt64, next: UInt64, depth: Int, walk: WalkContext) -> WalkStep {
        counts.holes &+= 1
        counts.hole_bytes &+= next &- address
        return .proceed
    }

    mutating func pmdEntry(_ entry: inout PMD, address: UInt64, next: UInt64, walk: WalkContext) -> WalkStep {
        if entry.isLeaf {
            counts.leaves &+= 1
            walk.action = .continue
        }
        return .proceed
    }

    mutating func testWalk(address: UInt64, next: UInt64, walk: WalkContext) -> VMAVerdict {
        counts.vmas &+= 1
        if walk.vmaPointer.unsafelyUnwrapped.pointee.vm_flags & UInt(VM_EXEC) != 0 {
            counts.skipped &+= 1
            return .skip
        }
        return .walk
    }
}

/// Installs PTE `pfnBase + page index` over every empty PTE.
struct InstallingVisitor: PageWalkVisitor {
    let start: UInt64
    let pfnBase: UInt64
    var installed: UInt64 = 0

    mutating func installPTE(address: UInt64, next: UInt64, walk: WalkContext) -> InstallStep {
        installed &+= 1
        return .install(.present(pfn: pfnBase &+ ((address &- start) >> 12)))
    }
}

/// smaps-like accounting, as fs/proc/task_mmu.c does it: `pmdEntry` handles a PMD leaf under
/// the PMD lock, and otherwise loops over the PTE table itself (`withPTEs`, which is
/// `pte_offset_map_lock`).
struct SmapsVisitor: PageWalkVisitor {
    var s = cb_smaps()
    let mem: UnsafeMutablePointer<UInt64>
    let memEnd: UnsafeMutablePointer<UInt64>

    init(machine: Machine) {
        let lay = pw_machine_layout(machine.pointer)!.pointee
        mem = lay.mem
        memEnd = lay.mem + Int(lay.frames) * 512
    }

    @inline(__always)
    mutating func account(_ pte: UInt64) {
        if pte & 1 != 0 {
            s.rss &+= 4096
            if pte & EntryFlags.dirty.rawValue != 0 { s.dirty &+= 4096 }
            if pte & EntryFlags.accessed.rawValue != 0 { s.referenced &+= 4096 }
        } else if pte != 0 {
            s.swap &+= 4096
        }
    }

    mutating func pmdEntry(_ entry: inout PMD, address: UInt64, next: UInt64, walk: WalkContext) -> WalkStep {
        s.pmds &+= 1
        return withUnsafeMutablePointer(to: &entry) { pmd in
            if pmd.pointee.isLeaf {
                // pmd_trans_huge_lock: the lock of the table frame holding this PMD. The entry is
                // reached in place (the walker hands it by address); a copy would be a bug here.
                let raw = UnsafeMutableRawPointer(pmd).assumingMemoryBound(to: UInt64.self)
                precondition(raw >= mem && raw < memEnd, "pmdEntry's entry is not in the page table")
                let ptl = pw_table_lock(pw_mm_machine(walk.mm), raw)
                spin_lock(ptl)
                let v = pmd.pointee.rawValue
                if v & 0x81 == 0x81 {
                    let size: UInt64 = 1 << 21
                    s.rss &+= size
                    s.anon_thp &+= size
                    if v & EntryFlags.dirty.rawValue != 0 { s.dirty &+= size }
                    if v & EntryFlags.accessed.rawValue != 0 { s.referenced &+= size }
                    spin_unlock(ptl)
                    return .proceed
                }
                spin_unlock(ptl)
            }
            let done: Void? = walk.withPTEs(of: &pmd.pointee, range: address..<next) { ptes in
                for pte in ptes { account(pte.rawValue) }
                s.ptes &+= UInt64(ptes.count)
            }
            if done == nil { walk.action = .again }
            return .proceed
        }
    }
}
