import ArgumentParser
import Foundation
import PageWalk
import PageWalkConformance

extension ScenarioEngine: ExpressibleByArgument {}

@main
struct PageWalkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pagewalk",
        abstract: "The Linux kernel's page-table walker, in user space.",
        subcommands: [SelfImport.self, Replay.self, Conformance.self, Import.self, Smaps.self, Pagemap.self,
                      Mincore.self, PTDump.self, Guard.self, MapCommand.self, ImageCommand.self, Client.self],
        defaultSubcommand: SelfImport.self
    )

    /// Runs the command; a command line that does not parse is one line on stderr and status 2,
    /// like every other error.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
            Output.flush()
        } catch {
            Output.flush()
            if exitCode(for: error) == .validationFailure {
                let message = self.message(for: error).split(separator: "\n").first.map(String.init) ?? "bad arguments"
                die(CommandFailure(description: "pagewalk: " + message, status: 2))
            }
            exit(withError: error)
        }
    }
}

/// A failure that ends the command with one line on stderr and a status.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    let status: Int32
}

/// Prints `failure` on stderr and exits with its status.
func die(_ failure: CommandFailure) -> Never {
    Output.flush()
    FileHandle.standardError.write(Data((failure.description + "\n").utf8))
    exit(failure.status)
}

/// The whole file at `path` as text.
func readText(_ path: String) throws(CommandFailure) -> String {
    guard let data = FileManager.default.contents(atPath: path) else {
        let reason = FileManager.default.fileExists(atPath: path) ? "not readable" : "no such file"
        throw CommandFailure(description: "pagewalk: cannot read \(path): \(reason)", status: 2)
    }
    return String(decoding: data, as: UTF8.self)
}

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay a scenario and print its trace.")

    @Argument(help: "The scenario file (.scn).")
    var file: String

    @Option(help: "The walker: c (C core through the Swift API), swift (pure Swift), native (C callbacks only).")
    var engine: ScenarioEngine = .c

    @OptionGroup var output: OutputOptions

    func run() throws {
        do {
            let text = try readText(file)
            let trace = try Progress.run("replaying \(file)") { _ in
                try Scenario.replay(text, name: file, engine: engine)
            }
            if output.json {
                for line in trace.split(separator: "\n") { Output.json(traceLineJSON(line)) }
            } else {
                Output.raw(trace)
            }
        } catch let failure as CommandFailure {
            die(failure)
        } catch let error as ScenarioError {
            die(CommandFailure(description: error.message, status: error.isBadInput ? 2 : 3))
        }
    }
}

struct Conformance: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay every NAME.scn under a directory and compare with NAME.trace.")

    @Argument(help: "The directory of cases (searched recursively).")
    var directory: String

    @Option(help: "The walker: c, swift or native.")
    var engine: ScenarioEngine = .c

    @OptionGroup var output: OutputOptions

    func run() throws {
        let cases = Scenario.cases(under: directory)
        if cases.isEmpty {
            die(CommandFailure(
                description: "pagewalk: no NAME.scn with a NAME.trace beside it under \(directory)", status: 2))
        }
        var passed = 0, failed = 0
        let progress = Progress("conformance (\(engine.rawValue))")
        func fail(_ path: Scenario.CasePaths, _ message: String, _ diff: Scenario.Difference? = nil) {
            failed += 1
            if !output.json {
                Output.text("FAIL \(path.scenario): \(message)")
                return
            }
            var o: [(String, JSON)] = [("type", "case"), ("scenario", .string(path.scenario)), ("passed", false)]
            if let diff {
                o += [("line", .number(diff.line)), ("expected", .string(diff.expected)), ("actual", .string(diff.actual))]
            } else {
                o.append(("error", .string(message)))
            }
            Output.json(.object(o))
        }
        for (i, path) in cases.enumerated() {
            progress.update("\(i)/\(cases.count) cases, \(failed) failed")
            do {
                let expected = try readText(path.trace)
                let actual = try Scenario.replay(try readText(path.scenario), name: path.scenario, engine: engine)
                if let diff = Scenario.firstDifference(expected: expected, actual: actual) {
                    fail(path, diff.description, diff)
                } else {
                    passed += 1
                    if output.json {
                        Output.json(["type": "case", "scenario": .string(path.scenario), "passed": true])
                    }
                }
            } catch let failure as CommandFailure {
                fail(path, failure.description)
            } catch let error as ScenarioError {
                fail(path, error.message)
            }
        }
        progress.finish()
        if output.json {
            Output.json(["type": "summary", "engine": .string(engine.rawValue), "passed": .number(passed),
                         "failed": .number(failed)])
        } else {
            Output.text("\(passed) passed, \(failed) failed")
        }
        Output.flush()
        if failed > 0 { throw ExitCode(1) }
    }
}

/// One line of a trace as JSON: `call` (`> NAME ARGS`), `return` (`= ...`), or `callback` (a
/// callback, an event, or a dump line), with its words.
func traceLineJSON(_ line: Substring) -> JSON {
    var words = line.split(separator: " ").map(String.init)
    var type = "callback"
    if words.first == ">" { type = "call"; words.removeFirst() }
    else if words.first == "=" { type = "return"; words.removeFirst() }
    let name = words.first ?? ""
    return ["type": .string(type), "name": .string(name), "args": .array(words.dropFirst().map { .string($0) }),
            "text": .string(String(line))]
}
