import Adapters
import Core
import Execution
import Foundation
import Git
import Runner
import Store
import TestSupport
import Testing

/// A `[proposer.command]` program in bubblewrap (`Sandbox.forProposer`): only the scratch
/// folder is writable; the repository, the state folder and the user's home are hidden; /tmp
/// is private; the network is the host's unless `network = false`.
@Suite(.serialized) struct ProposerContainmentTests {
    static let bubblewrap = Sandbox.findBubblewrap()

    /// These tests are about bubblewrap: without it they fail, they do not pass vacuously.
    func requireBubblewrap() throws -> String {
        try #require(
            Self.bubblewrap,
            "bubblewrap (bwrap) is not installed or cannot create namespaces here; the proposer containment tests need it (apt-get install bubblewrap)"
        )
    }

    /// A loop's layout under `base`: a copy of the fixture's repository, its state folder
    /// (`.git/ratchet`, holding a store and the scratch slot, as `ratchet run` makes it) and a
    /// home with a secret and an agent's installation in `~/agent`.
    struct Layout {
        let root: String
        let repository: Repository
        let repositoryPath: String
        let state: String
        let home: String
        /// Stands for the user's runtime folder (/run/user/<uid>: agent and bus sockets).
        let runtime: String
        let scratch: Slot

        init(under base: String, fixture: AdapterFixture) throws {
            root = "\(base)/ratchet-contain-\(UUID().uuidString.prefix(8))"
            repositoryPath = root + "/repo"
            state = repositoryPath + "/.git/ratchet"
            home = root + "/home"
            runtime = root + "/run"
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            _ = try runProgram(["/bin/cp", "-a", fixture.git.path, repositoryPath], in: root)
            repository = try Repository(discovering: repositoryPath)
            try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
            try "store\n".write(toFile: state + "/ratchet.sqlite", atomically: false, encoding: .utf8)
            try FileManager.default.createDirectory(atPath: home + "/agent", withIntermediateDirectories: true)
            try "HOME-SECRET\n".write(toFile: home + "/secret.txt", atomically: false, encoding: .utf8)
            try FileManager.default.createDirectory(atPath: runtime, withIntermediateDirectories: true)
            try "socket\n".write(toFile: runtime + "/bus", atomically: false, encoding: .utf8)
            scratch = try Slot(repository: repository, root: state + "/slots/demo/scratch")
            try scratch.sync(to: fixture.bestTree)
        }

        /// The runner for `spec` as a loop derives it from its commands' sandbox.
        func runner(_ spec: AgentCommandSpec, bubblewrap: String) throws -> CommandRunner {
            let loop = Sandbox(bubblewrap: bubblewrap, processes: 4096)
            let sandbox = try loop.forProposer(spec, protected: [repositoryPath, repository.gitDirectory, state], homes: [home], runtime: [runtime])
            return CommandRunner(sandbox: sandbox)
        }

        func remove() { try? FileManager.default.removeItem(atPath: root) }
    }

    /// Runs `spec` as the command proposer in `layout`.
    func propose(_ spec: AgentCommandSpec, in layout: Layout, fixture: AdapterFixture) async throws -> Proposal {
        let proposer = CommandProposer(spec: spec, runner: try layout.runner(spec, bubblewrap: try requireBubblewrap()), environment: [:])
        return try #require(try await proposer.propose(fixture.context(), repository: layout.repository, scratch: layout.scratch))
    }

    /// Under /tmp (the private /tmp hides it) and under /var/tmp (only the hidden tmpfs does).
    @Test(arguments: ["/tmp", "/var/tmp"])
    func anAgentReachesOnlyItsScratchFolder(base: String) async throws {
        _ = try requireBubblewrap()
        let fixture = try AdapterFixture()
        defer { fixture.remove() }
        let layout = try Layout(under: base, fixture: fixture)
        defer { layout.remove() }
        let tmpName = "/tmp/ratchet-contain-\(UUID().uuidString.prefix(8))"
        // The agent's own program lives in the hidden home, listed in `read_only` as `~/agent`.
        let script = """
            REPO='\(layout.repositoryPath)'; STATE='\(layout.state)'; REALHOME='\(layout.home)'
            test -e "$REPO/src/sum.c" && echo SAW-REPO
            echo hacked > "$REPO/src/sum.c" 2>/dev/null
            echo planted > "$REPO/planted" 2>/dev/null
            test -e "$STATE/ratchet.sqlite" && echo SAW-STATE
            echo planted > "$STATE/planted" 2>/dev/null
            cat "$REALHOME/secret.txt" 2>/dev/null
            echo planted > "$REALHOME/planted" 2>/dev/null
            test -e '\(layout.runtime)/bus' && echo SAW-RUNTIME
            echo planted > '\(tmpName)' && echo WROTE-TMP
            echo planted > "$REALHOME/agent/planted" 2>/dev/null && echo WROTE-READ-ONLY
            echo "HOME=$HOME"
            grep -q '## Objective' "$RATCHET_PROMPT_FILE" && echo READ-PROMPT
            printf '%s' "$RATCHET_PROMPT_FILE" | grep -q "^$PWD" && echo PROMPT-IN-SCRATCH
            cat > src/sum.c <<'EOF'
            \(AdapterFixture.fasterSum)EOF
            echo "Title: contained closed form"
            """
        try script.write(toFile: layout.home + "/agent/agent.sh", atomically: false, encoding: .utf8)
        // Run by its real path: `~` inside the sandbox is the private /tmp.
        let spec = AgentCommandSpec(run: "sh '\(layout.home)/agent/agent.sh'", timeout: 20, readOnly: ["~/agent"])
        let proposal = try await propose(spec, in: layout, fixture: fixture)
        let output = try #require(proposal.transcript?.response)

        // (a) the repository: neither readable nor changed.
        #expect(!output.contains("SAW-REPO"), "\(base): the repository was visible:\n\(output)")
        #expect(try String(contentsOfFile: layout.repositoryPath + "/src/sum.c", encoding: .utf8) == AdapterFixture.sum)
        #expect(!FileManager.default.fileExists(atPath: layout.repositoryPath + "/planted"))
        // (b) the state folder: neither readable nor changed.
        #expect(!output.contains("SAW-STATE"), "\(base): the state folder was visible:\n\(output)")
        #expect(!FileManager.default.fileExists(atPath: layout.state + "/planted"))
        // (c) the real home: its secret unreadable, nothing written; `read_only` shows ~/agent, read-only.
        #expect(!output.contains("HOME-SECRET"), "\(base): the home's secret was read:\n\(output)")
        #expect(!FileManager.default.fileExists(atPath: layout.home + "/planted"))
        #expect(!output.contains("WROTE-READ-ONLY"))
        #expect(!FileManager.default.fileExists(atPath: layout.home + "/agent/planted"))
        #expect(!output.contains("SAW-RUNTIME"), "\(base): the runtime folder was visible:\n\(output)")
        // (d) /tmp is private: the write succeeded inside and is gone.
        #expect(output.contains("WROTE-TMP"))
        #expect(!FileManager.default.fileExists(atPath: tmpName))
        #expect(output.contains("HOME=/tmp"))
        // The prompt was readable, and not from the scratch folder.
        #expect(output.contains("READ-PROMPT"), "\(base): the prompt file was not readable:\n\(output)")
        #expect(!output.contains("PROMPT-IN-SCRATCH"))
        // The edit in the scratch folder is the proposal, and nothing else is.
        #expect(proposal.title == "contained closed form")
        #expect(try fixture.repository.parsePatch(proposal.diff).files.map(\.path) == ["src/sum.c"])
        #expect(try fixture.apply(proposal.diff) == AdapterFixture.fasterSum)
    }

    /// The interfaces in a `/proc/net/dev` listing.
    static func interfaces(_ listing: Substring) -> [String] {
        listing.split(separator: "\n").dropFirst(2).compactMap { line in
            line.split(separator: ":", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces) }
        }.sorted()
    }

    /// The program's network namespace and interfaces, as it printed them between markers.
    func network(of spec: AgentCommandSpec, base: String = "/tmp") async throws -> (namespace: String, interfaces: [String]) {
        let fixture = try AdapterFixture()
        defer { fixture.remove() }
        let layout = try Layout(under: base, fixture: fixture)
        defer { layout.remove() }
        var spec = spec
        // Reads only local kernel state: no address is contacted.
        spec.run = "echo \"NS=$(readlink /proc/self/ns/net)\"; echo '--- dev'; cat /proc/net/dev; echo '--- end'; echo '#define NET 1' >> src/util.h"
        let proposal = try await propose(spec, in: layout, fixture: fixture)
        let output = try #require(proposal.transcript?.response)
        let namespace = try #require(output.split(separator: "\n").first { $0.hasPrefix("NS=") }).dropFirst(3)
        let start = try #require(output.range(of: "--- dev\n"))
        let end = try #require(output.range(of: "--- end"))
        return (String(namespace), Self.interfaces(output[start.upperBound..<end.lowerBound]))
    }

    @Test func theNetworkIsTheHostsByDefault() async throws {
        _ = try requireBubblewrap()
        let inside = try await network(of: AgentCommandSpec(run: ""))
        let host = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")
        #expect(inside.namespace == host)
        let hostInterfaces = Self.interfaces(Substring(try String(contentsOfFile: "/proc/net/dev", encoding: .utf8)))
        #expect(inside.interfaces == hostInterfaces)
    }

    @Test func networkFalseLeavesOnlyLoopback() async throws {
        _ = try requireBubblewrap()
        let inside = try await network(of: AgentCommandSpec(run: "", network: false))
        let host = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")
        #expect(inside.namespace != host)
        #expect(inside.interfaces == ["lo"])
    }

    @Test func readOnlyMustNotShowTheRepositoryOrTheStateFolder() throws {
        let bubblewrap = try requireBubblewrap()
        let fixture = try AdapterFixture()
        defer { fixture.remove() }
        let layout = try Layout(under: "/var/tmp", fixture: fixture)
        defer { layout.remove() }
        for exposed in [layout.state + "/slots", layout.repositoryPath, layout.root, "~/../repo"] {
            let spec = AgentCommandSpec(run: "true", readOnly: [exposed])
            let error = try #require(throws: ContainmentError.self) { try layout.runner(spec, bubblewrap: bubblewrap) }
            #expect(error.message.contains("proposer.command.read_only"), "\(exposed)")
        }
        // Without bubblewrap nothing is contained, so nothing is refused either.
        let none = try Sandbox.none.forProposer(AgentCommandSpec(run: "true", readOnly: [layout.repositoryPath]), protected: [layout.repositoryPath])
        #expect(none.bubblewrap == nil && none.hidden.isEmpty)
    }

    /// The loop runs its command proposer contained (the wiring, not only the sandbox).
    @Test func aLoopsCommandProposerRunsInTheSandbox() async throws {
        _ = try requireBubblewrap()
        // The scratch folder is <repo>/.git/ratchet/slots/tiny/scratch/work.
        let run =
            #"r=${PWD%%/.git/*}; if test -e \"$r/ratchet.toml\" || test -e \"$r/.git/ratchet/ratchet.sqlite\"; then t=saw-outside; else t=blind; fi; echo 2 > src/bonus.txt; echo \"Title: $t in $r\""#
        let config = TinyWorkspace.config(kinds: #"["command"]"#) + "\n[proposer.command]\nrun = \"\(run)\"\n[sandbox]\nmode = \"required\"\n"
        let fixture = try TinyWorkspace.make(config: config)
        defer { fixture.remove() }
        let (_, workspace) = try await runLoop(fixture, options: RunOptions(maxIterations: 1))
        let candidate = try #require(try workspace.store.candidates(loop: "tiny").first)
        #expect(candidate.title.hasPrefix("blind in \(fixture.path)"), "\(candidate.title): \(candidate.reason ?? "")")
    }
}
