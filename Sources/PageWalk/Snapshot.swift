import CWalkCore

/// Why a snapshot could not be saved or loaded: one line saying what, where and why.
public struct SnapshotError: Error, CustomStringConvertible, Sendable {
    /// The line.
    public let description: String
    /// Makes an error with the given line.
    public init(_ description: String) { self.description = description }
}

/// A machine loaded from a snapshot file, with its address spaces and the embedder's bytes.
public struct LoadedSnapshot: @unchecked Sendable {
    /// The machine.
    public let machine: Machine
    /// Its address spaces, in the order they were saved.
    public let spaces: [AddressSpace]
    /// The bytes the saver added (for example an import's page flags); empty if none.
    public let extra: [UInt8]
}

extension Machine {
    /// Saves the machine to `path` in PageWalk's snapshot format (version `PW_SNAPSHOT_VERSION`,
    /// docs/IMAGES.md): its geometry, `spaces` (the kernel's first, if given), their VMAs and
    /// page-table entries, the folios mapped, and `extra`. The C side is `pw_machine_save`.
    public func save(to path: String, spaces: [AddressSpace], extra: [UInt8] = []) throws(SnapshotError) {
        var err = [CChar](repeating: 0, count: 512)
        let mms: [OpaquePointer?] = spaces.map { $0.pointer }
        let rc = extra.withUnsafeBytes { bytes in
            pw_machine_save(pointer, mms, mms.count, bytes.baseAddress, bytes.count, path, &err, err.count)
        }
        if rc != 0 { throw SnapshotError(String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)) }
    }

    /// Loads the snapshot at `path` into a new machine (`pw_machine_load`); anything wrong in the
    /// file is one line in the error.
    public static func load(from path: String) throws(SnapshotError) -> LoadedSnapshot {
        var s = pw_snapshot()
        var err = [CChar](repeating: 0, count: 512)
        guard pw_machine_load(path, &s, &err, err.count) == 0, let m = s.machine else {
            throw SnapshotError(String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        defer { pw_snapshot_free(&s) }
        let machine = Machine(adopting: m)
        let spaces = (0..<s.nr_mms).map { machine.addressSpace(adopting: s.mms[$0]!) }
        let extra = s.extra.map { [UInt8](UnsafeRawBufferPointer(start: $0, count: s.extra_len)) } ?? []
        return LoadedSnapshot(machine: machine, spaces: spaces, extra: extra)
    }
}
