import Foundation
import PageWalk
import PageWalkConformance
import Testing

/// The conformance cases copied from shared/conformance, beside this file's folder.
let conformanceDirectory: String = {
    let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    return here.deletingLastPathComponent().appendingPathComponent("Conformance/cases").path
}()

let conformanceCases = Scenario.cases(under: conformanceDirectory)

/// The garbage-table cases of Tests/Reliability (traces reviewed by hand, not the kernel's).
let reliabilityCases: [Scenario.CasePaths] = {
    let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    return Scenario.cases(under: here.appendingPathComponent("Reliability/cases").path)
}()

/// One conformance case, named by its path under `Tests/` so that a failure names it.
struct ConformanceCase: Sendable, CustomTestStringConvertible {
    let paths: Scenario.CasePaths
    var testDescription: String {
        guard let r = paths.scenario.range(of: "/Tests/") else { return paths.scenario }
        return String(paths.scenario[r.upperBound...])
    }
}

/// Every case: the kernel's conformance cases and the hand-reviewed reliability cases.
let allConformanceCases = (conformanceCases + reliabilityCases).map(ConformanceCase.init)

@Suite struct ConformanceTests {
    @Test func allCasesArePresent() {
        // 14 handwritten + 400 generated, as shipped in shared/conformance.
        #expect(conformanceCases.count == 414)
        #expect(reliabilityCases.count == 13)
    }

    /// Each case on each engine is its own test case: a failure names the case, the engine and
    /// the first line where the trace departs from the expected one.
    @Test(arguments: ScenarioEngine.allCases, allConformanceCases)
    func replaysExactly(engine: ScenarioEngine, case c: ConformanceCase) throws {
        let scenario = try String(contentsOfFile: c.paths.scenario, encoding: .utf8)
        let expected = try String(contentsOfFile: c.paths.trace, encoding: .utf8)
        let actual: String
        do {
            actual = try Scenario.replay(scenario, name: c.paths.scenario, engine: engine)
        } catch {
            Issue.record("\(c.testDescription) on \(engine): \(error.message)")
            return
        }
        let diff = Scenario.firstDifference(expected: expected, actual: actual)
        #expect(diff == nil, "\(c.testDescription) on \(engine): \(diff.map(String.init(describing:)) ?? "")")
    }
}
