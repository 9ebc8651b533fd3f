import Adapters
import Core
import Foundation
import Git
import TestSupport

/// A real repository with a base commit and a best commit on top of it, for the model
/// adapters: `src/` is in scope, `docs/` is not.
struct AdapterFixture {
    let git: GitFixture
    let repository: Repository
    let baseCommit: ObjectID
    let bestCommit: ObjectID
    let bestTree: ObjectID

    static let sum = """
        #include "util.h"

        int sum(int n) {
            int total = 0;
            for (int i = 0; i < n; i++) {
                total += i;
            }
            return total;
        }

        """

    static let fasterSum = """
        #include "util.h"

        int sum(int n) {
            return n * (n - 1) / 2;
        }

        """

    init(extraFiles: [String: String] = [:]) throws {
        var files = ["src/sum.c": Self.sum, "src/util.h": "#define LIMIT 10\n", "docs/notes.md": "notes that are out of scope\n"]
        for (path, text) in extraFiles { files[path] = text }
        git = try GitFixture(files: files, label: "adapters")
        let base = try git.git("rev-parse", "HEAD").trimmingCharacters(in: .whitespacesAndNewlines)
        try git.commit(files: ["src/util.h": "#define LIMIT 20\n"], message: "raise the limit")
        repository = try Repository(discovering: git.path)
        baseCommit = try ObjectID(hex: base)
        bestCommit = try repository.resolveCommit("main")
        bestTree = try repository.tree(ofCommit: bestCommit)
    }

    func remove() { git.remove() }

    func context(
        recent: [Attempt] = [], tried: Set<String> = [], guidance: String? = nil, scope: [String] = ["src/**"]
    ) -> ProposalContext {
        ProposalContext(
            loop: "demo", bestCommit: bestCommit, bestTree: bestTree, tried: tried, recent: recent,
            objective: Objective(metric: "wall_time", direction: .lower, minEffect: 0.03, bench: "./bench.sh", bestValue: 1.5, baseValue: 2.0),
            scope: scope, guidanceFile: guidance, baseCommit: baseCommit)
    }

    /// The diff a good model proposes: the closed form of `sum`.
    func goodDiff() throws -> String {
        try repository.makePatch(path: "src/sum.c", old: Array(Self.sum.utf8), new: Array(Self.fasterSum.utf8))
    }

    /// The text of `path` after applying `diff` to the best tree.
    func apply(_ diff: String, reading path: String = "src/sum.c") throws -> String? {
        let tree = try repository.apply(patch: diff, to: bestTree)
        return try repository.file(at: path, inTree: tree).map { String(decoding: $0, as: UTF8.self) }
    }

    /// A real slot holding the best code, in its own temporary folder.
    func scratch(_ folder: TemporaryFolder) throws -> Slot {
        let slot = try Slot(repository: repository, root: folder.path)
        try slot.sync(to: bestTree)
        return slot
    }
}

extension Duration {
    var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
