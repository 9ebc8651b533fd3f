import Core
import GRDB

// The Core enums as database values: each is stored as its raw value (`CandidateState` as
// its label), the same text the store always held, so stores written before these types
// read unchanged. A value the store holds that names no case (a newer Ratchet's, or one
// edited by hand) fails the read with a `StoreError` naming the value and the column;
// nothing traps.

extension Step: DatabaseValueConvertible {}
extension Outcome: DatabaseValueConvertible {}
extension RejectionKind: DatabaseValueConvertible {}
extension ReviewState: DatabaseValueConvertible {}
extension ApprovalDecision: DatabaseValueConvertible {}
extension LoopStatus: DatabaseValueConvertible {}
extension StepStatus: DatabaseValueConvertible {}
extension Arm: DatabaseValueConvertible {}

extension CandidateState: DatabaseValueConvertible {
    public var databaseValue: DatabaseValue { label.databaseValue }

    public static func fromDatabaseValue(_ dbValue: DatabaseValue) -> CandidateState? {
        String.fromDatabaseValue(dbValue).flatMap(CandidateState.init(label:))
    }
}

/// A stored word that names no case of the type that reads it.
struct UnknownStoredValue: Error, CustomStringConvertible {
    var column: String
    var value: String
    var type: String
    var description: String {
        "column '\(column)' holds '\(value)', which is not a \(type) this Ratchet knows (written by a newer version, or edited by hand?)"
    }

    /// `text` as a `T`; `nil` for the empty text (the tally's `NULL`).
    static func decode<T: RawRepresentable<String>>(_ text: String, column: String, as: T.Type = T.self) throws -> T? {
        if text.isEmpty { return nil }
        guard let value = T(rawValue: text) else { throw UnknownStoredValue(column: column, value: text, type: "\(T.self)") }
        return value
    }
}
