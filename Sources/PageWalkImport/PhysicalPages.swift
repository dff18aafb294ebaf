import PageWalk
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What an import knows of each physical frame: the kernel's page flags and map count — the
/// `struct page` facts that `struct page` in the model has no field for.
///
/// Dense by PFN, in lazily backed memory: only the frames an import touched cost memory.
/// A frame never recorded reads as unknown (nil).
public final class PhysicalPages: @unchecked Sendable {
    /// Frames covered (0 ..< frames).
    public let frames: UInt64
    /// Where the flags came from.
    public let flagsSource: FlagsSource
    private let flagTable: UnsafeMutablePointer<UInt64>
    private let countTable: UnsafeMutablePointer<UInt32>

    /// The origin of the per-frame flags.
    public enum FlagsSource: Sendable, Equatable {
        /// `/proc/kpageflags` and `/proc/kpagecount`: every flag and the precise map count.
        case kpageflags
        /// Pagemap only: `anon` (from the file bit) and a map count of 1 for exclusively mapped
        /// pages; nothing else is known.
        case pagemap
    }

    private static let known: UInt64 = 1 << 63

    init(frames: UInt64, source: FlagsSource) {
        self.frames = frames
        self.flagsSource = source
        flagTable = Self.lazyTable(UInt64.self, count: Int(frames))
        countTable = Self.lazyTable(UInt32.self, count: Int(frames))
    }

    deinit {
        munmap(flagTable, Int(frames) * 8)
        munmap(countTable, Int(frames) * 4)
    }

    private static func lazyTable<T>(_: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let bytes = max(count, 1) * MemoryLayout<T>.stride
        let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let p, p != UnsafeMutableRawPointer(bitPattern: -1) else {
            fatalError("PhysicalPages: cannot reserve \(bytes) bytes")
        }
        return p.bindMemory(to: T.self, capacity: max(count, 1))
    }

    /// The page flags of frame `pfn`, nil when unknown. With `flagsSource == .pagemap` only
    /// `.anon` is meaningful.
    @inlinable public func flags(_ pfn: UInt64) -> KPageFlags? {
        guard pfn < frames else { return nil }
        let v = rawFlags(pfn)
        return v & (1 << 63) != 0 ? KPageFlags(rawValue: v & ~(1 << 63)) : nil
    }

    /// The map count of frame `pfn` (`folio_precise_page_mapcount`), nil when unknown.
    @inlinable public func mapcount(_ pfn: UInt64) -> UInt32? {
        guard pfn < frames else { return nil }
        let v = rawCount(pfn)
        return v == 0 ? nil : v - 1
    }

    @usableFromInline func rawFlags(_ pfn: UInt64) -> UInt64 { flagTable[Int(pfn)] }
    @usableFromInline func rawCount(_ pfn: UInt64) -> UInt32 { countTable[Int(pfn)] }

    func setFlags(_ pfn: UInt64, _ flags: UInt64) {
        if pfn < frames { flagTable[Int(pfn)] = flags | Self.known }
    }

    func setMapcount(_ pfn: UInt64, _ count: UInt64) {
        if pfn < frames { countTable[Int(pfn)] = UInt32(clamping: min(count, UInt64(UInt32.max - 1))) + 1 }
    }

    func isKnown(_ pfn: UInt64) -> Bool { pfn < frames && flagTable[Int(pfn)] & Self.known != 0 }

    /// The number of frames of the folio whose head is `head`, from the compound flags: the head
    /// and the tails after it. 1 for a frame that is not a compound head.
    func compoundPages(head: UInt64) -> UInt64 {
        guard let f = flags(head), f.contains(.compoundHead) else { return 1 }
        var n: UInt64 = 1
        while head + n < frames, let t = flags(head + n), t.contains(.compoundTail), n < 1 << 18 { n += 1 }
        return n
    }
}
