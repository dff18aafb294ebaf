import CWalkCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An error from PageWalk: the kernel's negative errno values, as Swift errors.
public enum PageWalkError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `-EINVAL`: a bad argument (empty range, `install_pte` where not allowed, ...).
    case invalidArgument
    /// `-ENOMEM`: a table allocation failed, or memory ran out.
    case outOfMemory
    /// `-EEXIST`: the range overlaps an existing VMA.
    case exists
    /// `-EFAULT`: an entry on the way is not a table.
    case fault
    /// Any other negative errno a callback returned.
    case errno(Int32)
    /// The VMA numbered `id` no longer exists: it was unmapped, or merged into a neighbour.
    case staleVMA(id: UInt32)
    /// `-ENOLCK`: a lock the walk requires is not held, on a strict machine
    /// (``Machine/strictLocking``); the walk ended before calling back about it.
    case lockNotHeld

    /// Builds the error for a negative errno value.
    public init(errno code: Int32) {
        switch code {
        case -EINVAL: self = .invalidArgument
        case -ENOMEM: self = .outOfMemory
        case -EEXIST: self = .exists
        case -EFAULT: self = .fault
        case -ENOLCK: self = .lockNotHeld
        default: self = .errno(code)
        }
    }

    /// The negative errno value.
    public var code: Int32 {
        switch self {
        case .invalidArgument: -EINVAL
        case .outOfMemory: -ENOMEM
        case .exists: -EEXIST
        case .fault: -EFAULT
        case .errno(let c): c
        case .staleVMA: -ENOENT
        case .lockNotHeld: -ENOLCK
        }
    }

    /// A readable form.
    public var description: String {
        switch self {
        case .invalidArgument: "invalid argument (EINVAL)"
        case .outOfMemory: "out of memory (ENOMEM)"
        case .exists: "overlaps an existing mapping (EEXIST)"
        case .fault: "not a page table (EFAULT)"
        case .errno(let c): "error \(c)"
        case .staleVMA(let id): "VMA \(id) no longer exists: it was unmapped or merged into a neighbour"
        case .lockNotHeld: "a lock the walk requires is not held (ENOLCK; the machine is strict)"
        }
    }
}

/// Something the machine did or found during a walk.
public enum MachineEvent: Sendable, Equatable {
    /// A lock assertion failed (`mmap_locked`, `mmap_write_locked`, `vma_locked`,
    /// `vma_write_locked`, `i_mmap_held`); the walk went on, as after a `WARN`.
    case assertionFailed(String)
    /// `WARN_ON_ONCE` fired.
    case warning
    /// A bad entry was found (and, above the PTE level, cleared).
    case badEntry(level: PageTableLevel, value: UInt64)
    /// `split_huge_pmd` or `split_huge_pud` acted on the leaf at `address`.
    case split(level: PageTableLevel, address: UInt64, vma: UInt32)
    /// `vma_start_write` write-locked a VMA.
    case vmaStartWrite(vma: UInt32)
    /// An address space was used after `pw_mm_destroy` (from C): the call failed with `-ESRCH`.
    case destroyedAddressSpaceUsed
    /// An event of a kind this version of the Swift API does not know (a newer core's); nothing
    /// of it is read but its kind.
    case unknown(kind: UInt32)

    /// Decodes a C event (what a `pw_event_fn` hook receives); fields the kind does not define
    /// are not read, a VMA only when the event has one, and a kind or enum value this version
    /// does not know gives ``unknown(kind:)``.
    public init(_ e: pw_event) {
        let vma = e.vma?.pointee.id ?? 0
        switch e.kind {
        case PW_EVENT_ASSERT_FAIL:
            let names = ["mmap_locked", "mmap_write_locked", "vma_locked", "vma_write_locked", "i_mmap_held"]
            let i = Int(e.assertion.rawValue)
            self = .assertionFailed(names.indices.contains(i) ? names[i] : "assertion \(i)")
        case PW_EVENT_WARN: self = .warning
        case PW_EVENT_BAD:
            if let level = PageTableLevel(rawValue: Int(e.level.rawValue)) {
                self = .badEntry(level: level, value: e.value)
            } else {
                self = .unknown(kind: e.kind.rawValue)
            }
        case PW_EVENT_SPLIT_PMD: self = .split(level: .pmd, address: UInt64(e.addr), vma: vma)
        case PW_EVENT_SPLIT_PUD: self = .split(level: .pud, address: UInt64(e.addr), vma: vma)
        case PW_EVENT_VMA_START_WRITE: self = .vmaStartWrite(vma: vma)
        case PW_EVENT_MM_DESTROYED: self = .destroyedAddressSpaceUsed
        default: self = .unknown(kind: e.kind.rawValue)
        }
    }

    /// What the core prints for an event when no handler is set (as `pw_emit` does), or nil.
    var defaultReport: String? {
        switch self {
        case .assertionFailed(let name): "pagewalk: lock assertion failed: \(name)"
        case .warning: "pagewalk: WARN_ON_ONCE"
        case .destroyedAddressSpaceUsed: "pagewalk: address space used after pw_mm_destroy()"
        default: nil
        }
    }
}

/// The counters of a machine.
public struct MachineStats: Sendable, Equatable {
    /// Physical frames.
    public let frames: UInt64
    /// Frames in the page-table region.
    public let tableFrames: UInt64
    /// Page tables allocated now (each exactly one 4 KiB frame).
    public let tablesInUse: UInt64
    /// The most tables in use at once.
    public let tablesPeak: UInt64
    /// Walker allocations made / refused.
    public let tableAllocations: UInt64, tableAllocationFailures: UInt64
    /// Failed lock assertions, warnings, bad entries.
    public let assertionFailures: UInt64, warnings: UInt64, badEntries: UInt64

    /// Bytes of page tables in use: 4 KiB per table.
    public var pageTableBytes: UInt64 { tablesInUse * 4096 }
}

/// One range of a machine's physical memory: frames `firstPFN ..< firstPFN + frames`.
public struct PhysicalRange: Equatable {
    /// The first frame.
    public var firstPFN: UInt64
    /// The number of frames (at least 1).
    public var frames: UInt64
    /// The frames' memory, 512 entries each, owned by the caller and kept alive for the machine's
    /// lifetime (an `mmap` of an image, say); nil: the machine maps zeroed memory, which its table
    /// allocator may use.
    public var memory: UnsafeMutablePointer<UInt64>?

    /// A range of frames; `memory` nil lets the machine map them.
    public init(firstPFN: UInt64, frames: UInt64, memory: UnsafeMutablePointer<UInt64>? = nil) {
        self.firstPFN = firstPFN
        self.frames = frames
        self.memory = memory
    }
}

/// A state of a simulated lock.
public enum LockState: Int32, Sendable {
    case none = 0, read = 1, write = 2
}

/// A simulated machine: physical memory, page tables that live in its frames, folios, address spaces.
///
/// The machine owns everything made from it; `AddressSpace`, `VMA` and `Mapping` values keep it alive.
public final class Machine: @unchecked Sendable {
    /// The C machine, for raw access through `pagewalk.h`.
    public let pointer: OpaquePointer
    /// The geometry.
    public let geometry: Geometry
    let layout: UnsafePointer<pw_machine_layout>
    /// The handler walker threads call; swapped under the lock, called outside it.
    private let eventHandler = Mutex<(@Sendable (MachineEvent) -> Void)?>(nil)

    /// Creates a machine.
    ///
    /// - Parameters:
    ///   - levels: 2, 3, 4 or 5 page-table levels.
    ///   - frames: physical frames of 4 KiB (at most 2^28).
    ///   - tableBase: first frame of the page-table region; frames below it are data.
    ///   - zeroPFN: the shared zero page.
    ///   - hugeZeroPFN: the huge zero page, 0 for none.
    public init(levels: Int = 4, frames: UInt64, tableBase: UInt64, zeroPFN: UInt64 = 1,
                hugeZeroPFN: UInt64 = 0) throws(PageWalkError) {
        var config = pw_machine_config(levels: Int32(levels), frames: frames, table_base: tableBase,
                                       zero_pfn: zeroPFN, huge_zero_pfn: hugeZeroPFN)
        var m: OpaquePointer?
        let err = pw_machine_create(&config, &m)
        guard err == 0, let m else { throw PageWalkError(errno: err) }
        pointer = m
        geometry = Geometry(pw_machine_geometry(m).pointee)
        layout = pw_machine_layout(m)
        owner = nil
        installEventHook()
    }

    /// Sets the C hook, once, before any walk can run; it never changes, so walker threads read
    /// it without a lock. The handler behind it is swapped under `eventHandler`'s lock.
    private func installEventHook() {
        pw_machine_set_event_hook(pointer, { ctx, event in
            Unmanaged<Machine>.fromOpaque(ctx.unsafelyUnwrapped).takeUnretainedValue()
                .deliver(MachineEvent(event.unsafelyUnwrapped.pointee))
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    /// Strict lock checking (`pw_machine_set_strict`): off by default, a failed lock assertion is
    /// reported (an event, `stats.assertionFailures`) and the walk goes on, as after the kernel's
    /// `WARN`. On, the walk that made it also fails at once with ``PageWalkError/lockNotHeld``,
    /// before calling back about the VMA or range whose lock is missing, and `withFolio` finds
    /// nothing. Misuse — walking without the mmap lock — then cannot pass unnoticed.
    public var strictLocking: Bool {
        get { pw_machine_strict(pointer) }
        set { pw_machine_set_strict(pointer, newValue) }
    }

    /// Calls the handler, or reports as the core does without one.
    private func deliver(_ event: MachineEvent) {
        if let handler = eventHandler.withLock({ $0 }) {
            handler(event)
        } else if let line = event.defaultReport {
            let text = line + "\n"
            _ = text.withCString { write(2, $0, strlen($0)) }
        }
    }

    /// Takes ownership of a machine made in C (for example over a memory image by
    /// `pw_machine_open_image`); `owner` is kept alive as long as the machine (the image
    /// whose memory it uses).
    public init(adopting machine: OpaquePointer, keepingAlive owner: AnyObject? = nil) {
        pointer = machine
        geometry = Geometry(pw_machine_geometry(machine).pointee)
        layout = pw_machine_layout(machine)
        self.owner = owner
        installEventHook()
    }

    private let owner: AnyObject?

    /// Creates a machine whose physical memory is `ranges`: frames between them are holes
    /// (absent: entries that point into them are bad, and never read), and page tables may lie
    /// in any range. The C side is `pw_machine_create_ranges`.
    ///
    /// - Parameters:
    ///   - levels: 2, 3, 4 or 5 page-table levels.
    ///   - ranges: sorted by first frame, not overlapping.
    ///   - tableBase: the first frame the table allocator hands out (from machine-mapped ranges).
    ///   - zeroPFN: the shared zero page.
    ///   - hugeZeroPFN: the huge zero page, 0 for none.
    public init(levels: Int = 4, ranges: [PhysicalRange], tableBase: UInt64, zeroPFN: UInt64 = 1,
                hugeZeroPFN: UInt64 = 0) throws(PageWalkError) {
        var config = pw_machine_config(levels: Int32(levels), frames: 0, table_base: tableBase,
                                       zero_pfn: zeroPFN, huge_zero_pfn: hugeZeroPFN)
        let raw = ranges.map { pw_phys_range(first_pfn: $0.firstPFN, nr_frames: $0.frames, base: $0.memory) }
        var m: OpaquePointer?
        let err = pw_machine_create_ranges(&config, raw, raw.count, PW_ENCODING_MODEL, &m)
        guard err == 0, let m else { throw PageWalkError(errno: err) }
        pointer = m
        geometry = Geometry(pw_machine_geometry(m).pointee)
        layout = pw_machine_layout(m)
        owner = nil
        installEventHook()
    }

    /// The machine's physical ranges, sorted by first frame (one `0 ..< frames` range for a
    /// machine made with `init(levels:frames:...)`).
    public var physicalRanges: [PhysicalRange] {
        let lay = layout.pointee
        return (0..<lay.nr_ranges).map {
            let r = lay.ranges[$0]
            return PhysicalRange(firstPFN: r.first_pfn, frames: r.nr_frames, memory: r.base)
        }
    }

    /// `pfn_valid`: frame `pfn` is in one of the machine's ranges (not a hole, not beyond memory).
    public func isValid(pfn: UInt64) -> Bool { pw_pfn_valid(pointer, pfn) }

    deinit { pw_machine_destroy(pointer) }

    /// The address space of a `struct mm_struct` of this machine made in C (destroyed with the machine).
    public func addressSpace(adopting mm: OpaquePointer) -> AddressSpace {
        AddressSpace(machine: self, mm: mm)
    }

    /// The kernel address space (`init_mm`).
    public var kernel: AddressSpace { AddressSpace(machine: self, mm: pw_init_mm(pointer)) }

    /// Creates a user address space with an empty top-level table.
    public func makeAddressSpace() throws(PageWalkError) -> AddressSpace {
        guard let mm = pw_mm_create(pointer) else { throw .outOfMemory }
        return AddressSpace(machine: self, mm: mm)
    }

    /// Declares frames `head ..< head + 2^order` one folio.
    public func declareFolio(head: UInt64, order: Int) throws(PageWalkError) {
        let err = pw_folio_declare(pointer, head, UInt32(clamping: order))
        if err != 0 { throw PageWalkError(errno: err) }
    }

    /// The folio (head frame and order) frame `pfn` belongs to, nil beyond memory.
    public func folio(containing pfn: UInt64) -> (head: UInt64, order: Int)? {
        guard let page = pw_pfn_to_page(pointer, pfn), let folio = pw_page_folio(pointer, page) else { return nil }
        return (pw_folio_pfn(pointer, folio), Int(pw_folio_order(pointer, folio)))
    }

    /// The address_space numbered `id`, created empty if new.
    public func mapping(_ id: UInt32) -> Mapping {
        Mapping(machine: self, raw: pw_mapping_get(pointer, id)!)
    }

    /// The machine's counters.
    public var stats: MachineStats {
        var s = pw_machine_stats()
        pw_machine_get_stats(pointer, &s)
        return MachineStats(frames: s.frames, tableFrames: s.table_frames, tablesInUse: s.tables_in_use,
                            tablesPeak: s.tables_peak, tableAllocations: s.table_allocs,
                            tableAllocationFailures: s.table_alloc_fails, assertionFailures: s.assert_failures,
                            warnings: s.warnings, badEntries: s.bad_entries)
    }

    /// Limits the walker's table allocations: `n` more succeed, then each fails with `ENOMEM`; nil: no limit.
    public func setAllocationBudget(_ n: Int?) {
        pw_machine_set_alloc_budget(pointer, Int64(n ?? -1))
    }

    /// Receives the machine's events (failed lock assertions, warnings, bad entries, splits);
    /// nil restores the default: counted, and assertion failures and warnings printed on stderr.
    ///
    /// The handler is called on the thread that walks, by every thread that walks: it must be
    /// `@Sendable`. Setting it while other threads walk is safe; a walk already under way may
    /// still call the previous handler once more.
    public func onEvent(_ handler: (@Sendable (MachineEvent) -> Void)?) {
        eventHandler.withLock { $0 = handler }
    }
}

/// An address space: the kernel's `mm_struct`, with its top-level table, VMAs and locks.
public struct AddressSpace: @unchecked Sendable {
    /// The machine it belongs to.
    public let machine: Machine
    /// The C `struct mm_struct`, for raw access.
    public let pointer: OpaquePointer

    init(machine: Machine, mm: OpaquePointer) {
        self.machine = machine
        self.pointer = mm
    }

    /// True for the kernel address space.
    public var isKernel: Bool { pw_mm_is_kernel(pointer) }

    /// Reads the entry of real level `level` covering `address` (0 where a table above is missing).
    public func entry(_ level: PageTableLevel, at address: UInt64) throws(PageWalkError) -> UInt64 {
        var v: UInt64 = 0
        let err = pw_mm_get_entry(pointer, level.c, UInt(address), &v)
        if err != 0 { throw PageWalkError(errno: err) }
        return v
    }

    /// Writes the entry of real level `level` covering `address`, allocating the tables above it.
    public func setEntry(_ level: PageTableLevel, at address: UInt64, to value: UInt64) throws(PageWalkError) {
        let err = pw_mm_set_entry(pointer, level.c, UInt(address), value)
        if err != 0 { throw PageWalkError(errno: err) }
    }

    /// The VMAs, in address order.
    public var vmas: [VMA] {
        (0..<pw_mm_vma_count(pointer)).map { VMA(space: self, raw: pw_mm_vma_at(pointer, $0)!) }
    }

    /// The first VMA whose end is above `address` (the kernel's `find_vma`).
    public func findVMA(_ address: UInt64) -> VMA? {
        find_vma(pointer, UInt(address)).map { VMA(space: self, raw: $0) }
    }

    /// The VMA containing `address`, if any.
    public func vma(containing address: UInt64) -> VMA? {
        guard let raw = find_vma(pointer, UInt(address)), UInt64(raw.pointee.vm_start) <= address else { return nil }
        return VMA(space: self, raw: raw)
    }

    /// The VMA numbered `id`.
    public func vma(id: UInt32) -> VMA? {
        pw_mm_vma_by_id(pointer, id).map { VMA(space: self, raw: $0) }
    }

    /// The state of the mmap_lock as lock assertions see it; setting it does not take the lock.
    public var mmapLockState: LockState {
        get { LockState(rawValue: Int32(pw_mm_lock_state(pointer).rawValue)) ?? .none }
        nonmutating set { pw_mm_set_lock_state(pointer, pw_lock_state(rawValue: UInt32(newValue.rawValue))) }
    }

    /// Runs `body` holding the mmap_lock for read (a real lock).
    public func withMmapReadLock<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        mmap_read_lock(pointer)
        defer { mmap_read_unlock(pointer) }
        return try body()
    }

    /// Runs `body` holding the mmap_lock for write.
    public func withMmapWriteLock<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        mmap_write_lock(pointer)
        defer { mmap_write_unlock(pointer) }
        return try body()
    }

    /// One non-zero entry of a dump.
    public struct DumpEntry: Sendable, Equatable, CustomStringConvertible {
        /// The level of the entry.
        public let level: PageTableLevel
        /// The sign-extended address the entry covers.
        public let address: UInt64
        /// The entry's value.
        public let value: UInt64
        /// The entry points to a page table (the dump descends into it).
        public let isTable: Bool

        /// A readable form.
        public var description: String {
            "\(level) 0x\(String(address, radix: 16)) " + (isTable ? "T" : "0x" + String(value, radix: 16))
        }
    }

    /// Every non-zero entry of the tables, depth first.
    public func dump() -> [DumpEntry] {
        var out: [DumpEntry] = []
        withUnsafeMutablePointer(to: &out) { p in
            pw_mm_dump(pointer, { ctx, level, addr, value, isTable in
                let out = ctx!.assumingMemoryBound(to: [DumpEntry].self)
                out.pointee.append(DumpEntry(level: PageTableLevel(rawValue: Int(level.rawValue))!,
                                             address: UInt64(addr), value: value, isTable: isTable))
            }, p)
        }
        return out
    }
}

/// The flags of a VMA.
public struct VMAFlags: OptionSet, Sendable, Hashable {
    /// The raw bits.
    public let rawValue: UInt
    /// Wraps raw bits.
    @inlinable public init(rawValue: UInt) { self.rawValue = rawValue }

    /// Readable.
    @inlinable public static var read: VMAFlags { VMAFlags(rawValue: UInt(VM_READ)) }
    /// Writable.
    @inlinable public static var write: VMAFlags { VMAFlags(rawValue: UInt(VM_WRITE)) }
    /// Executable.
    @inlinable public static var exec: VMAFlags { VMAFlags(rawValue: UInt(VM_EXEC)) }
    /// A shared mapping.
    @inlinable public static var shared: VMAFlags { VMAFlags(rawValue: UInt(VM_SHARED)) }
    /// Raw PFNs without `struct page`s: skipped by walks unless `testWalk` says otherwise.
    @inlinable public static var pfnmap: VMAFlags { VMAFlags(rawValue: UInt(VM_PFNMAP)) }
    /// Mixed PFN and page mappings.
    @inlinable public static var mixedmap: VMAFlags { VMAFlags(rawValue: UInt(VM_MIXEDMAP)) }
    /// Set for hugetlb VMAs.
    @inlinable public static var hugetlb: VMAFlags { VMAFlags(rawValue: UInt(VM_HUGETLB)) }
}

/// The page size of a hugetlb VMA.
public enum HugePageSize: UInt32, Sendable {
    case twoMegabytes = 21
    case oneGigabyte = 30
}

/// A virtual memory area of an address space, identified by its address space and its number.
///
/// A `VMA` is a handle, not a reference to the C `struct vm_area_struct`: every use looks the
/// VMA up by number, so a handle kept across `unmap`, or a `map`/`protect` that merged the VMA
/// into a neighbour, is never a dangling pointer — its properties throw
/// ``PageWalkError/staleVMA(id:)`` and walks with it throw the same. A VMA that `unmap` or
/// `protect` only split keeps its number (and now covers its part).
public struct VMA: @unchecked Sendable, Hashable {
    /// The address space it belongs to.
    public let space: AddressSpace
    /// Its number: 1, 2, ... in order of creation, never reused in its address space.
    public let id: UInt32

    init(space: AddressSpace, raw: UnsafeMutablePointer<vm_area_struct>) {
        self.space = space
        self.id = raw.pointee.id
    }

    /// Two handles of the same VMA: the same address space and number.
    public static func == (a: VMA, b: VMA) -> Bool { a.space.pointer == b.space.pointer && a.id == b.id }
    /// Hashes the VMA's identity.
    public func hash(into h: inout Hasher) {
        h.combine(space.pointer)
        h.combine(id)
    }

    /// The C `struct vm_area_struct` as it is now, for raw access; valid until the address space's
    /// VMAs next change (`map`, `unmap`, `protect`).
    ///
    /// - Throws: ``PageWalkError/staleVMA(id:)`` when the VMA no longer exists.
    @inlinable public var pointer: UnsafeMutablePointer<vm_area_struct> {
        get throws(PageWalkError) {
            guard let raw = pw_mm_vma_by_id(space.pointer, id) else { throw .staleVMA(id: id) }
            return raw
        }
    }

    /// False once the VMA was unmapped or merged away.
    public var exists: Bool { pw_mm_vma_by_id(space.pointer, id) != nil }

    /// The first address.
    public var start: UInt64 { get throws(PageWalkError) { UInt64(try pointer.pointee.vm_start) } }
    /// The first address after it.
    public var end: UInt64 { get throws(PageWalkError) { UInt64(try pointer.pointee.vm_end) } }
    /// `start ..< end`.
    public var range: Range<UInt64> {
        get throws(PageWalkError) {
            let raw = try pointer
            return UInt64(raw.pointee.vm_start)..<UInt64(raw.pointee.vm_end)
        }
    }
    /// The VMA's flags.
    public var flags: VMAFlags { get throws(PageWalkError) { VMAFlags(rawValue: try pointer.pointee.vm_flags) } }
    /// The file offset of `start`, in pages.
    public var pgoff: UInt64 { get throws(PageWalkError) { UInt64(try pointer.pointee.vm_pgoff) } }
    /// The mapping, for a file VMA.
    public var mapping: Mapping? {
        get throws(PageWalkError) { try pointer.pointee.vm_file.map { Mapping(machine: space.machine, raw: $0) } }
    }
    /// The hugetlb page size, for a hugetlb VMA.
    public var hugePageSize: HugePageSize? {
        get throws(PageWalkError) { HugePageSize(rawValue: try pointer.pointee.hugetlb_shift) }
    }
    /// No file, neither pfnmap nor mixedmap.
    public var isAnonymous: Bool { get throws(PageWalkError) { pw_vma_is_anonymous(try pointer) } }
    /// Its facts, copied out at once.
    public var info: VMAInfo {
        get throws(PageWalkError) {
            let v = try pointer
            return VMAInfo(id: id, start: UInt64(v.pointee.vm_start), end: UInt64(v.pointee.vm_end),
                           flags: VMAFlags(rawValue: v.pointee.vm_flags), pgoff: UInt64(v.pointee.vm_pgoff),
                           isAnonymous: pw_vma_is_anonymous(v))
        }
    }

    /// The per-VMA lock's state as assertions see it.
    public var lockState: LockState {
        get throws(PageWalkError) { LockState(rawValue: try pointer.pointee.lock_state) ?? .none }
    }

    /// Sets the per-VMA lock's state as assertions see it (it takes no lock).
    public func setLockState(_ state: LockState) throws(PageWalkError) {
        pw_vma_set_lock_state(try pointer, pw_lock_state(rawValue: UInt32(state.rawValue)))
    }
}

/// A file's `address_space`: the VMAs that map it, in `i_mmap` order.
public struct Mapping: @unchecked Sendable {
    /// The machine it belongs to.
    public let machine: Machine
    /// The C `struct address_space`, for raw access.
    public let pointer: OpaquePointer

    init(machine: Machine, raw: OpaquePointer) {
        self.machine = machine
        self.pointer = raw
    }

    /// Its number.
    public var id: UInt32 { pw_mapping_id(pointer) }

    /// Whether `i_mmap_rwsem` counts as held.
    public func setIMmapHeld(_ held: Bool) { pw_mapping_set_i_mmap_held(pointer, held) }
}

extension AddressSpace {
    /// Adds a VMA `range` with `flags`, mapping `file` from page `pgoff`, or hugetlb pages of `hugePages`.
    /// Never merges: VMA numbers follow creation order (see `map` for merging).
    @discardableResult
    public func addVMA(_ range: Range<UInt64>, flags: VMAFlags, file: Mapping? = nil, pgoff: UInt64 = 0,
                       hugePages: HugePageSize? = nil) throws(PageWalkError) -> VMA {
        var err: Int32 = 0
        guard let raw = pw_vma_add(pointer, UInt(range.lowerBound), UInt(range.upperBound), flags.rawValue,
                                   file?.pointer, UInt(pgoff), hugePages?.rawValue ?? 0, &err)
        else { throw PageWalkError(errno: err) }
        return VMA(space: self, raw: raw)
    }
}
