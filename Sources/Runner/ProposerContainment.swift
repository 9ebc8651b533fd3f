import Adapters
import Core
import Execution
import Git

extension LoopRunner {
    /// The proposer `spec` names; a `command` proposer runs its program in a sandbox derived
    /// from the loop commands' (`Sandbox.forProposer`): the repository, its git folder, the
    /// state folder and the user's home hidden, the scratch folder the only writable place.
    func containedProposer(_ spec: ProposerSpec) throws(RunnerError) -> any Proposer {
        guard case .command(let command) = spec else { return makeProposer(spec, seed: config.seed) }
        if executor.sandbox.bubblewrap == nil {
            emit(
                .note(
                    "WARNING: the command proposer runs without bubblewrap: its program can read and write what you can (your home, the repository, the state folder)"
                        + (command.network ? "" : ", and proposer.command.network = false is NOT enforced")))
        }
        let protected = [config.repository, repository.gitDirectory, workspace.stateDirectory] + (repository.workDirectory.map { [$0] } ?? [])
        do {
            let sandbox = try executor.sandbox.forProposer(command, protected: protected)
            return makeProposer(spec, seed: config.seed, commandRunner: CommandRunner(sandbox: sandbox))
        } catch {
            throw RunnerError(.config, error.message)
        }
    }
}
