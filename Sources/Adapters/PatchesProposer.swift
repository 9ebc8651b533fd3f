import Core
import Foundation
import Git

/// Replays a folder of `.diff`/`.patch` files in name order, each once.
public struct PatchesProposer: Proposer {
    public let directory: String
    public var kind: String { "patches" }

    public init(directory: String) { self.directory = directory }

    /// The patch files, in name order.
    public func patchFiles() throws(ProposerError) -> [String] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw ProposerError("cannot list patches folder '\(directory)': it does not exist or is not readable")
        }
        return names.filter { $0.hasSuffix(".diff") || $0.hasSuffix(".patch") }.sorted()
    }

    public func propose(_ context: ProposalContext, repository: Repository, scratch: Slot?) async throws(ProposerError) -> Proposal? {
        guard let next = try patchFiles().first(where: { !context.tried.contains($0) }) else { return nil }
        let path = directory + "/" + next
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ProposerError(source: next, "cannot read patch '\(path)'")
        }
        return Proposal(source: next, title: "patch \(next)", diff: String(decoding: data, as: UTF8.self))
    }
}
