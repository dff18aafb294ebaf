import CScenario
import CWalkCore
import Foundation
import PageWalk

/// The walkers PageWalk can replay a scenario on.
public enum ScenarioEngine: String, CaseIterable, Sendable {
    /// The C core, driven through the Swift visitor API.
    case c
    /// The pure-Swift walker, over the same machine.
    case swift
    /// The C core with C callbacks only: no Swift between the walker and the scenario.
    case native
}

/// A scenario that could not be replayed: malformed, or failing to set up.
public struct ScenarioError: Error, CustomStringConvertible, Sendable {
    /// One line: `NAME:LINE: what is wrong`.
    public let message: String
    /// True when the input is at fault (exit status 2), false for an internal failure.
    public let isBadInput: Bool

    /// The message.
    public var description: String { message }
}

/// Conformance scenarios (`.scn`): see `Tests/Conformance/FORMAT.md`.
public enum Scenario {
    /// Replays `text` on `engine` and returns the trace it prints.
    ///
    /// - Parameters:
    ///   - text: the scenario.
    ///   - name: the name used in error messages (usually the file path).
    ///   - engine: the walker the scenario's calls go to.
    /// - Throws: `ScenarioError` naming the line and what is wrong; nothing is half-written.
    public static func replay(_ text: String, name: String, engine: ScenarioEngine = .c) throws(ScenarioError) -> String {
        var bytes = Array(text.utf8)
        var trace: UnsafeMutablePointer<CChar>? = nil
        var traceLength = 0
        var errorBuffer = [CChar](repeating: 0, count: 1024)
        guard var table = engine.table else {
            throw ScenarioError(message: "\(name): engine \(engine.rawValue) is not available", isBadInput: false)
        }
        let status = bytes.withUnsafeMutableBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                pw_scenario_replay(chars.baseAddress, chars.count, name, &table, &trace, &traceLength,
                                   &errorBuffer, errorBuffer.count)
            }
        }
        guard status == PW_SCENARIO_OK, let trace else {
            let message = errorBuffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            throw ScenarioError(message: message, isBadInput: status == PW_SCENARIO_BAD_INPUT)
        }
        defer { free(trace) }
        return String(decoding: UnsafeRawBufferPointer(start: trace, count: traceLength), as: UTF8.self)
    }
}

extension ScenarioEngine {
    /// The entry points behind this engine.
    var table: pw_walk_engine? {
        switch self {
        case .native: return pw_c_engine
        case .c: return _scenarioEngine(.c)
        case .swift: return _scenarioEngine(.swift)
        }
    }
}

extension Scenario {
    /// A scenario file and the trace file beside it.
    public struct CasePaths: Sendable, Equatable {
        /// `NAME.scn`.
        public let scenario: String
        /// `NAME.trace`.
        public let trace: String
    }

    /// Every `NAME.scn` under `directory` (recursively) that has a `NAME.trace` beside it, sorted.
    public static func cases(under directory: String) -> [CasePaths] {
        guard let names = FileManager.default.enumerator(atPath: directory) else { return [] }
        var found: [CasePaths] = []
        for case let name as String in names where name.hasSuffix(".scn") {
            let scenario = directory + "/" + name
            let trace = String(scenario.dropLast(4)) + ".trace"
            if FileManager.default.fileExists(atPath: trace) {
                found.append(CasePaths(scenario: scenario, trace: trace))
            }
        }
        return found.sorted { $0.scenario < $1.scenario }
    }

    /// Where two traces first differ, or nil if they are the same bytes.
    public struct Difference: CustomStringConvertible, Sendable, Equatable {
        /// The 1-based line number.
        public let line: Int
        /// The expected line, or `<end of trace>`.
        public let expected: String
        /// The line produced, or `<end of trace>`.
        public let actual: String

        /// A readable form.
        public var description: String {
            "line \(line): expected '\(expected)', got '\(actual)'"
        }
    }

    /// The first line where `actual` departs from `expected`, or nil when they are equal.
    public static func firstDifference(expected: String, actual: String) -> Difference? {
        if expected == actual { return nil }
        let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
        let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
        for i in 0..<max(e.count, a.count) {
            let x = i < e.count ? String(e[i]) : "<end of trace>"
            let y = i < a.count ? String(a[i]) : "<end of trace>"
            if x != y { return Difference(line: i + 1, expected: x, actual: y) }
        }
        return Difference(line: e.count, expected: "(same lines, different bytes)", actual: "")
    }
}
