import PageWalk
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Why an import failed: one line that names what went wrong and where.
public struct ImportError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The kind of failure.
    public enum Kind: Sendable, Equatable {
        /// No such process.
        case noProcess
        /// A file could not be opened or read for lack of permission.
        case permission
        /// The process exited (or lost its address space) during the import.
        case exited
        /// The process kept changing its mappings while it was read.
        case changing
        /// A file did not have the expected format.
        case malformed
        /// The process does not fit a simulated machine (a PFN beyond 2^28 frames, ...).
        case tooLarge
        /// Any other I/O error.
        case io
    }

    /// What went wrong.
    public let kind: Kind
    /// `pagewalk: ...`: one line.
    public let description: String

    /// An error of `kind` with its one-line `description`.
    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }
}

/// Where an import reads a process from: the files of `/proc` for a live process
/// (`LiveProcess`), or recorded contents (`RecordedProcess`).
public protocol ProcessSource {
    /// The process id, if the source is a live process.
    var pid: Int32? { get }
    /// The text of `/proc/PID/maps`.
    func readMaps() throws(ImportError) -> String
    /// The text of `/proc/PID/smaps`, read only for the VMA facts maps lacks (`VmFlags`,
    /// `KernelPageSize`); nil when not available.
    func readSmaps() throws(ImportError) -> String?
    /// Fills `buffer` with the pagemap entries of the pages from virtual page `firstPage` on
    /// (entries past the end of the address space read as 0).
    func readPagemap(firstPage: UInt64, into buffer: UnsafeMutableBufferPointer<UInt64>) throws(ImportError)
    /// Whether `/proc/kpageflags` and `/proc/kpagecount` can be read.
    var canReadPageFlags: Bool { get }
    /// Fills `buffer` with the `/proc/kpageflags` entries from `firstPFN` on
    /// (`KPageFlags.noPage` past the end of memory).
    func readPageFlags(firstPFN: UInt64, into buffer: UnsafeMutableBufferPointer<UInt64>) throws(ImportError)
    /// Fills `buffer` with the `/proc/kpagecount` entries from `firstPFN` on (0 past the end).
    func readPageCounts(firstPFN: UInt64, into buffer: UnsafeMutableBufferPointer<UInt64>) throws(ImportError)
    /// The page-cache residency (one byte per page, bit 0 resident) of the file pages that a
    /// file VMA `range` maps from byte `fileOffset` on, read from the file itself; nil when unknown.
    func pageCacheResidency(of range: Range<UInt64>, fileOffset: UInt64) -> [UInt8]?
    /// The ranges of `range` the kernel maps with huge entries (PMD-mapped THPs and hugetlb
    /// pages), as the PAGEMAP_SCAN ioctl's `PAGE_IS_HUGE` reports them (Linux 6.7+); nil when
    /// the source cannot tell.
    func hugeMappedRanges(_ range: Range<UInt64>) -> [Range<UInt64>]?
    /// How many times the importing process itself maps each frame through its file-backed
    /// VMAs (its shared libraries, which the imported process may map too), by PFN; nil when
    /// not applicable (a recorded process, the importer itself) or not readable.
    func importerMapCounts() -> [UInt64: UInt64]?
}

extension ProcessSource {
    /// Unknown (nil) unless the source can tell.
    public func pageCacheResidency(of range: Range<UInt64>, fileOffset: UInt64) -> [UInt8]? { nil }
    /// Unknown (nil) unless the source can tell.
    public func hugeMappedRanges(_ range: Range<UInt64>) -> [Range<UInt64>]? { nil }
    /// Not applicable (nil) unless the source is a live process other than the importer.
    public func importerMapCounts() -> [UInt64: UInt64]? { nil }
}

/// `struct pm_scan_arg` of include/uapi/linux/fs.h.
private struct PMScanArg {
    var size: UInt64 = UInt64(MemoryLayout<PMScanArg>.size)
    var flags: UInt64 = 0
    var start: UInt64
    var end: UInt64
    var walkEnd: UInt64 = 0
    var vec: UInt64 = 0
    var vecLen: UInt64 = 0
    var maxPages: UInt64 = 0
    var categoryInverted: UInt64 = 0
    var categoryMask: UInt64 = 0
    var categoryAnyofMask: UInt64 = 0
    var returnMask: UInt64 = 0
}

/// PAGEMAP_SCAN's `PAGE_IS_HUGE` over `range` of the pagemap file `fd`: the huge-mapped ranges,
/// or nil when the kernel has no PAGEMAP_SCAN (before 6.7) or refuses.
func pagemapScanHuge(fd: Int32, _ range: Range<UInt64>) -> [Range<UInt64>]? {
    let pageIsHuge: UInt64 = 1 << 6
    let request: UInt = 0xc060_6610  // _IOWR('f', 16, struct pm_scan_arg)
    var out: [Range<UInt64>] = []
    var regions = [UInt64](repeating: 0, count: 3 * 512)  // struct page_region[512]
    var start = range.lowerBound
    while start < range.upperBound {
        var arg = PMScanArg(start: start, end: range.upperBound)
        let n: Int32 = regions.withUnsafeMutableBufferPointer { buf in
            arg.vec = UInt64(UInt(bitPattern: buf.baseAddress))
            arg.vecLen = 512
            arg.categoryMask = pageIsHuge
            arg.returnMask = pageIsHuge
            return withUnsafeMutablePointer(to: &arg) { ioctl(fd, request, UnsafeMutableRawPointer($0)) }
        }
        if n < 0 { return nil }
        for i in 0..<Int(n) { out.append(regions[3 * i]..<regions[3 * i + 1]) }
        if arg.walkEnd <= start || arg.walkEnd >= range.upperBound || n < 512 { break }
        start = arg.walkEnd
    }
    return out
}

// MARK: - Reading files

/// A file opened read-only, read with `pread`; errors name the path.
final class ProcFile {
    let fd: Int32
    let path: String
    let pid: Int32?

    init(_ path: String, pid: Int32?) throws(ImportError) {
        self.path = path
        self.pid = pid
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw ProcFile.error(errno, path: path, pid: pid, opening: true) }
        self.fd = fd
    }

    deinit { close(fd) }

    static func error(_ code: Int32, path: String, pid: Int32?, opening: Bool) -> ImportError {
        let reason = String(cString: strerror(code))
        switch code {
        case ENOENT where pid != nil && opening:
            return ImportError(.noProcess, "pagewalk: no process \(pid!) (\(path): \(reason))")
        case ESRCH where opening:
            return ImportError(.exited, "pagewalk: process \(pid.map(String.init) ?? "?") has no address space: a kernel thread, or exiting (\(path): \(reason))")
        case ESRCH, ENOENT:
            return ImportError(.exited, "pagewalk: process \(pid.map(String.init) ?? "?") exited during the import (\(path): \(reason))")
        case EACCES, EPERM:
            return ImportError(.permission, "pagewalk: cannot read \(path): \(reason) (root is needed for PFNs and /proc/kpage*)")
        default:
            return ImportError(.io, "pagewalk: cannot read \(path): \(reason)")
        }
    }

    /// Reads `count` bytes at `offset` into `buffer`; returns the bytes read (fewer only at the
    /// end of the file).
    func pread(_ buffer: UnsafeMutableRawPointer, count: Int, at offset: UInt64) throws(ImportError) -> Int {
        var done = 0
        while done < count {
            let n = Glibc.pread(fd, buffer + done, count - done, off_t(Int64(bitPattern: offset + UInt64(done))))
            if n < 0 {
                if errno == EINTR { continue }
                throw ProcFile.error(errno, path: path, pid: pid, opening: false)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Reads the whole file (for seq_files such as maps and smaps).
    func readAll() throws(ImportError) -> String {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ProcFile.error(errno, path: path, pid: pid, opening: false)
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A running process, read through `/proc/PID/{maps,smaps,pagemap}`, `/proc/kpageflags` and
/// `/proc/kpagecount`.
///
/// PFNs in pagemap need `CAP_SYS_ADMIN`, and the kpage files are readable by root only; without
/// them an import still works and marks what they would have told as unknown.
public final class LiveProcess: ProcessSource {
    /// The process read.
    public let pid: Int32?
    private let procDir: String
    private let pagemap: ProcFile
    private let kpageflags: ProcFile?
    private let kpagecount: ProcFile?

    /// Opens the files of process `pid`.
    ///
    /// - Throws: `ImportError` `.noProcess` if there is no such process, `.permission` if its
    ///   pagemap may not be read.
    public init(pid: Int32) throws(ImportError) {
        self.pid = pid
        procDir = "/proc/\(pid)"
        var st = stat()
        if stat(procDir, &st) != 0 { throw ImportError(.noProcess, "pagewalk: no process \(pid)") }
        pagemap = try ProcFile("\(procDir)/pagemap", pid: pid)
        kpageflags = try? ProcFile("/proc/kpageflags", pid: nil)
        kpagecount = try? ProcFile("/proc/kpagecount", pid: nil)
    }

    /// The process itself.
    public static func current() throws(ImportError) -> LiveProcess { try LiveProcess(pid: getpid()) }

    /// The text of `/proc/PID/maps` (see ``ProcessSource/readMaps()``).
    public func readMaps() throws(ImportError) -> String {
        try ProcFile("\(procDir)/maps", pid: pid).readAll()
    }

    /// The text of `/proc/PID/smaps` (see ``ProcessSource/readSmaps()``).
    public func readSmaps() throws(ImportError) -> String? {
        guard let f = try? ProcFile("\(procDir)/smaps", pid: pid) else { return nil }
        return try f.readAll()
    }

    /// Pagemap entries from virtual page `firstPage` on (see ``ProcessSource/readPagemap(firstPage:into:)``).
    public func readPagemap(firstPage: UInt64, into buffer: UnsafeMutableBufferPointer<UInt64>) throws(ImportError) {
        let bytes = buffer.count * 8
        let n = try pagemap.pread(UnsafeMutableRawPointer(buffer.baseAddress!), count: bytes, at: firstPage * 8)
        if n < bytes {
            // Past TASK_SIZE (or a process without an mm any more): nothing.
            let read = n / 8
            (buffer.baseAddress! + read).initialize(repeating: 0, count: buffer.count - read)
        }
    }

    /// Whether page flags and counts can be read.
    public var canReadPageFlags: Bool { kpageflags != nil && kpagecount != nil }

    /// `/proc/kpageflags` entries from `firstPFN` on (see ``ProcessSource/readPageFlags(firstPFN:into:)``).
    public func readPageFlags(firstPFN: UInt64, into buffer: UnsafeMutableBufferPointer<UInt64>) throws(ImportError) {
        try readKPage(kpageflags, firstPFN, buffer, filler: KPageFlags.noPage.rawValue)
    }

    /// `/proc/kpagecount` entries from `firstPFN` on (see ``ProcessSource/readPageCounts(firstPFN:into:)``).
    public func readPageCounts(firstPFN: UInt64, into buffer: UnsafeMutableBufferPointer<UInt64>) throws(ImportError) {
        try readKPage(kpagecount, firstPFN, buffer, filler: 0)
    }

    private func readKPage(_ file: ProcFile?, _ first: UInt64, _ buffer: UnsafeMutableBufferPointer<UInt64>,
                           filler: UInt64) throws(ImportError) {
        guard let file else { throw ImportError(.permission, "pagewalk: /proc/kpageflags and /proc/kpagecount are not readable") }
        let bytes = buffer.count * 8
        let n = try file.pread(UnsafeMutableRawPointer(buffer.baseAddress!), count: bytes, at: first * 8)
        if n < bytes {
            let read = n / 8
            (buffer.baseAddress! + read).initialize(repeating: filler, count: buffer.count - read)
        }
    }

    /// Maps the file behind `range` (through `/proc/PID/map_files`) read-only into this process
    /// for a moment and asks `mincore` which of its pages are in the page cache.
    public func pageCacheResidency(of range: Range<UInt64>, fileOffset: UInt64) -> [UInt8]? {
        let name = "\(procDir)/map_files/\(String(range.lowerBound, radix: 16))-\(String(range.upperBound, radix: 16))"
        let fd = open(name, O_RDONLY | O_CLOEXEC)
        if fd < 0 { return nil }
        defer { close(fd) }
        let length = Int(range.upperBound - range.lowerBound)
        guard let p = mmap(nil, length, PROT_READ, MAP_PRIVATE, fd, off_t(fileOffset)),
              p != UnsafeMutableRawPointer(bitPattern: -1) else { return nil }
        defer { munmap(p, length) }
        var vec = [UInt8](repeating: 0, count: length / 4096)
        let r = vec.withUnsafeMutableBufferPointer { mincore(p, length, $0.baseAddress) }
        return r == 0 ? vec : nil
    }

    /// The huge-mapped ranges of `range`, from the PAGEMAP_SCAN ioctl on the process's pagemap.
    public func hugeMappedRanges(_ range: Range<UInt64>) -> [Range<UInt64>]? {
        pagemapScanHuge(fd: pagemap.fd, range)
    }

    /// The importer's own file-backed mappings, from /proc/self/maps and /proc/self/pagemap.
    public func importerMapCounts() -> [UInt64: UInt64]? {
        guard pid != getpid(), let maps = try? ProcFile("/proc/self/maps", pid: nil).readAll(),
              let own = try? ProcFile("/proc/self/pagemap", pid: nil) else { return nil }
        var counts: [UInt64: UInt64] = [:]
        var buffer = [UInt64](repeating: 0, count: 4096)
        for line in maps.split(separator: "\n") {
            guard let m = MapsLine(line), m.inode != 0, m.end > m.start else { continue }
            var page = m.start >> 12
            while page < m.end >> 12 {
                let n = Int(min(UInt64(buffer.count), (m.end >> 12) - page))
                let ok: Bool = buffer.withUnsafeMutableBytes { raw in
                    (try? own.pread(raw.baseAddress!, count: n * 8, at: page * 8)) == n * 8
                }
                if !ok { break }
                for e in buffer[0..<n] where e & (1 << 63) != 0 {
                    counts[e & ((1 << 55) - 1), default: 0] += 1
                }
                page += UInt64(n)
            }
        }
        return counts
    }
}

/// A process recorded as the contents of its files: for tests, and for importing a process
/// captured elsewhere.
///
/// `pagemap`, `pageFlags` and `pageCounts` are sparse: a page or frame not listed reads as 0
/// (`KPageFlags.noPage` for flags of frames beyond `maxPFN`).
public struct RecordedProcess: ProcessSource {
    /// The process recorded, if known.
    public var pid: Int32? = nil
    /// The text of `/proc/PID/maps`.
    public var maps: String
    /// The text of `/proc/PID/smaps`, if recorded.
    public var smaps: String?
    /// Virtual page number → pagemap entry.
    public var pagemap: [UInt64: UInt64]
    /// PFN → kpageflags entry; nil: kpageflags is not readable.
    public var pageFlags: [UInt64: UInt64]?
    /// PFN → kpagecount entry.
    public var pageCounts: [UInt64: UInt64]
    /// Frames at and above this are holes in physical memory.
    public var maxPFN: UInt64
    /// VMA start → page-cache residency of its pages.
    public var pageCache: [UInt64: [UInt8]]
    /// What PAGEMAP_SCAN's PAGE_IS_HUGE said (nil: the recorded kernel had no PAGEMAP_SCAN).
    public var hugeRanges: [Range<UInt64>]? = nil

    /// A recorded process; what is not given reads as 0 (see the type's description).
    public init(maps: String, smaps: String? = nil, pagemap: [UInt64: UInt64], pageFlags: [UInt64: UInt64]? = nil,
                pageCounts: [UInt64: UInt64] = [:], maxPFN: UInt64 = 1 << 24, pageCache: [UInt64: [UInt8]] = [:]) {
        self.maps = maps
        self.smaps = smaps
        self.pagemap = pagemap
        self.pageFlags = pageFlags
        self.pageCounts = pageCounts
        self.maxPFN = maxPFN
        self.pageCache = pageCache
    }

    /// The text of `/proc/PID/maps` (see ``ProcessSource/readMaps()``).
    public func readMaps() throws(ImportError) -> String { maps }
    /// The text of `/proc/PID/smaps` (see ``ProcessSource/readSmaps()``).
    public func readSmaps() throws(ImportError) -> String? { smaps }

    /// Pagemap entries from virtual page `firstPage` on (see ``ProcessSource/readPagemap(firstPage:into:)``).
    public func readPagemap(firstPage: UInt64, into buffer: UnsafeMutableBufferPointer<UInt64>) throws(ImportError) {
        for i in 0..<buffer.count { buffer[i] = pagemap[firstPage + UInt64(i)] ?? 0 }
    }

    /// Whether page flags and counts can be read.
    public var canReadPageFlags: Bool { pageFlags != nil }

    /// `/proc/kpageflags` entries from `firstPFN` on (see ``ProcessSource/readPageFlags(firstPFN:into:)``).
    public func readPageFlags(firstPFN: UInt64, into buffer: UnsafeMutableBufferPointer<UInt64>) throws(ImportError) {
        for i in 0..<buffer.count {
            let pfn = firstPFN + UInt64(i)
            buffer[i] = pfn >= maxPFN ? KPageFlags.noPage.rawValue : (pageFlags?[pfn] ?? 0)
        }
    }

    /// `/proc/kpagecount` entries from `firstPFN` on (see ``ProcessSource/readPageCounts(firstPFN:into:)``).
    public func readPageCounts(firstPFN: UInt64, into buffer: UnsafeMutableBufferPointer<UInt64>) throws(ImportError) {
        for i in 0..<buffer.count { buffer[i] = pageCounts[firstPFN + UInt64(i)] ?? 0 }
    }

    /// The residency recorded for the VMA starting at `range.lowerBound`, from `fileOffset`'s page on.
    public func pageCacheResidency(of range: Range<UInt64>, fileOffset: UInt64) -> [UInt8]? {
        pageCache[range.lowerBound]
    }

    /// The recorded huge-mapped ranges that overlap `range`; nil when none were recorded.
    public func hugeMappedRanges(_ range: Range<UInt64>) -> [Range<UInt64>]? {
        hugeRanges.map { $0.filter { $0.overlaps(range) } }
    }
}
