import Core
import Foundation
import Testing

@Suite struct CandidateStateMachineTests {
    @Test func validateIsItsOwnStepBetweenTestAndMeasure() throws {
        #expect(Step.test < .validate && Step.validate < .measure)
        #expect(try CandidateState.running(.test).advanced(to: .running(.validate)) == .running(.validate))
        // Validate used to re-enter `test`: the machine refuses a step run twice.
        #expect(throws: CandidateState.InvalidTransition.self) { try CandidateState.running(.test).advanced(to: .running(.test)) }
        #expect(throws: CandidateState.InvalidTransition.self) { try CandidateState.running(.validate).advanced(to: .running(.test)) }
    }

    /// A candidate whose best moved before or during its measurement goes back to `apply`;
    /// once deciding, or finished, it never does.
    @Test func onlyAnUndecidedCandidateReturnsToApply() throws {
        for step in [Step.gate, .build, .test, .validate, .measure] {
            #expect(try CandidateState.running(step).advanced(to: .running(.apply)) == .running(.apply))
        }
        for state in [CandidateState.running(.apply), .running(.decide), .finished(.rejected)] {
            #expect(throws: CandidateState.InvalidTransition.self) { try state.advanced(to: .running(.apply)) }
        }
    }

    @Test func aRefusedTransitionSaysFromWhereToWhere() {
        let error = #expect(throws: CandidateState.InvalidTransition.self) {
            try CandidateState.finished(.rejected).advanced(to: .finished(.accepted))
        }
        #expect(error?.description == "candidate cannot go from rejected to accepted")
    }

    /// Stored and written in JSON as one word, the step's or the outcome's.
    @Test func theStateIsWrittenAsItsLabel() throws {
        for state in Step.allCases.map(CandidateState.running) + Outcome.allCases.map(CandidateState.finished) {
            #expect(CandidateState(label: state.label) == state)
            let json = try JSONEncoder().encode([state])
            #expect(String(decoding: json, as: UTF8.self) == "[\"\(state.label)\"]")
            #expect(try JSONDecoder().decode([CandidateState].self, from: json) == [state])
        }
        #expect(CandidateState(label: "vanished") == nil)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([CandidateState].self, from: Data("[\"vanished\"]".utf8)) }
    }

    @Test func reviewsThatUndoAnAccept() {
        #expect(ReviewState.allCases.filter(\.undoesAccept) == [.rejected, .rolledBack, .reset])
        #expect(ReviewState.rolledBack.rawValue == "rolled_back")
    }
}
