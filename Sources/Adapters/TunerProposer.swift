import Core
import Git

/// The built-in proposer that needs no model: coordinate descent over knob values
/// (`TunerSearch`), emitting ordinary diffs that edit the values in place.
public struct TunerProposer: Proposer {
    public let search: TunerSearch
    public var kind: String { "tuner" }

    public init(knobs: [KnobSpec], seed: UInt64) {
        search = TunerSearch(knobs: knobs, seed: seed)
    }

    /// Each knob's value in `tree`, with where it stands in its file.
    func currentValues(tree: ObjectID, repository: Repository) throws(ProposerError)
        -> [String: (file: String, text: String, range: Range<String.Index>)]
    {
        var result: [String: (file: String, text: String, range: Range<String.Index>)] = [:]
        var texts: [String: String] = [:]
        for knob in search.knobs {
            let text: String
            if let cached = texts[knob.file] {
                text = cached
            } else {
                let bytes: [UInt8]?
                do {
                    bytes = try repository.file(at: knob.file, inTree: tree)
                } catch {
                    throw ProposerError("knob '\(knob.name)': cannot read '\(knob.file)': \(error.message)")
                }
                guard let bytes else { throw ProposerError("knob '\(knob.name)': file '\(knob.file)' does not exist in the best commit") }
                text = String(decoding: bytes, as: UTF8.self)
                texts[knob.file] = text
            }
            guard let regex = try? Regex(knob.pattern) else {
                throw ProposerError("knob '\(knob.name)': pattern '\(knob.pattern)' is not a regular expression")
            }
            let matches = text.matches(of: regex)
            guard let match = matches.first else {
                throw ProposerError("knob '\(knob.name)': pattern '\(knob.pattern)' matches nothing in '\(knob.file)'")
            }
            guard matches.count == 1 else {
                throw ProposerError(
                    "knob '\(knob.name)': pattern '\(knob.pattern)' matches \(matches.count) places in '\(knob.file)'; make it match one")
            }
            guard match.count > 1, let range = match[1].range else {
                throw ProposerError("knob '\(knob.name)': pattern '\(knob.pattern)' needs a capture group around the value")
            }
            result[knob.name] = (knob.file, text, range)
        }
        return result
    }

    func key(_ values: [String: String]) -> String {
        TunerSearch.key(search.knobs.map { (knob: $0.name, value: values[$0.name] ?? "") })
    }

    public func propose(_ context: ProposalContext, repository: Repository, scratch: Slot?) async throws(ProposerError) -> Proposal? {
        let located = try currentValues(tree: context.bestTree, repository: repository)
        let current = located.mapValues { String($0.text[$0.range]) }
        // The best code's own assignment counts as tried (it is the baseline), and so do
        // the assignments of earlier bests: they were beaten already.
        var tried = context.tried
        tried.insert(key(current))
        for tree in context.lineage {
            if let earlier = try? currentValues(tree: tree, repository: repository) {
                tried.insert(key(earlier.mapValues { String($0.text[$0.range]) }))
            }
        }
        guard let proposal = search.next(current: current, tried: tried) else { return nil }
        guard let spot = located[proposal.changed.knob] else { return nil }
        var edited = spot.text
        edited.replaceSubrange(spot.range, with: proposal.changed.to)
        let diff: String
        do {
            diff = try repository.makePatch(path: spot.file, old: Array(spot.text.utf8), new: Array(edited.utf8))
        } catch {
            throw ProposerError(source: proposal.key, "cannot make a diff for '\(spot.file)': \(error.message)")
        }
        return Proposal(
            source: proposal.key,
            title: "tuner: \(proposal.changed.knob) \(proposal.changed.from) → \(proposal.changed.to)",
            diff: diff
        )
    }
}
