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

@Suite struct ConformanceTests {
    @Test func allCasesArePresent() {
        // 14 handwritten + 400 generated, as shipped in shared/conformance.
        #expect(conformanceCases.count == 414)
    }

    @Test(arguments: ScenarioEngine.allCases)
    func everyCaseReplaysExactly(engine: ScenarioEngine) throws {
        var failures: [String] = []
        #expect(reliabilityCases.count == 13)
        for path in conformanceCases + reliabilityCases {
            let scenario = try String(contentsOfFile: path.scenario, encoding: .utf8)
            let expected = try String(contentsOfFile: path.trace, encoding: .utf8)
            do {
                let actual = try Scenario.replay(scenario, name: path.scenario, engine: engine)
                if let diff = Scenario.firstDifference(expected: expected, actual: actual) {
                    failures.append("\(path.scenario): \(diff)")
                }
            } catch {
                failures.append(error.message)
            }
        }
        #expect(failures.isEmpty, "\(failures.count) cases differ on engine \(engine): \(failures.prefix(5))")
    }
}
