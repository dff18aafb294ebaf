import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Progress on stderr for work that takes more than about a second, shown only when stderr is a
/// terminal: one line, rewritten in place (`\r`), cleared when the work ends. Nothing at all is
/// written when stderr is a file or a pipe, or when the work ends within the delay.
///
/// `PAGEWALK_PROGRESS=always|never` overrides the terminal check and
/// `PAGEWALK_PROGRESS_DELAY=SECONDS` the delay (for tests).
final class Progress: @unchecked Sendable {
    /// Whether progress is shown at all in this process.
    static let enabled: Bool = {
        switch ProcessInfo.processInfo.environment["PAGEWALK_PROGRESS"] {
        case "always": return true
        case "never": return false
        default: return isatty(STDERR_FILENO) != 0
        }
    }()

    static let delay: TimeInterval = {
        ProcessInfo.processInfo.environment["PAGEWALK_PROGRESS_DELAY"].flatMap(Double.init) ?? 1.0
    }()

    private let label: String
    private let start = Date()
    private let lock = NSLock()
    private var detail = ""
    private var done = false
    private var shown = false
    private var thread: Thread?

    /// Starts showing `label` (e.g. "importing process 1234") after the delay.
    init(_ label: String) {
        self.label = label
        guard Self.enabled else { return }
        let t = Thread { [weak self] in
            while let self, self.tick() { usleep(100_000) }
        }
        thread = t
        t.start()
    }

    /// What is done so far (e.g. "120/414 cases"), shown after the label.
    func update(_ detail: String) {
        guard Self.enabled else { return }
        lock.lock()
        self.detail = detail
        lock.unlock()
    }

    /// Ends the progress line (clears it if it was shown). Call before printing results.
    func finish() {
        guard Self.enabled else { return }
        lock.lock()
        defer { lock.unlock() }
        if done { return }
        done = true
        if shown { Self.emit("\r\u{1B}[K") }
    }

    deinit { finish() }

    /// One step of the drawing thread; false when the work is over.
    private func tick() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if done { return false }
        let elapsed = Date().timeIntervalSince(start)
        if elapsed < Self.delay { return true }
        shown = true
        let spinner = ["|", "/", "-", "\\"][Int(elapsed * 10) % 4]
        let text = String(format: "%@ %@ %.1f s", spinner, label, elapsed) + (detail.isEmpty ? "" : "  " + detail)
        Self.emit("\r\u{1B}[K" + text)
        return true
    }

    private static func emit(_ s: String) {
        let bytes = Array(s.utf8)
        _ = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }

    /// Runs `body` with progress labelled `label`.
    static func run<R>(_ label: String, _ body: (Progress) throws -> R) rethrows -> R {
        let p = Progress(label)
        defer { p.finish() }
        return try body(p)
    }
}
