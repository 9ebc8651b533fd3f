import ArgumentParser
import Core
import Foundation
import Git
import Runner
import Store

struct Pause: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pause a loop (or all loops): no new step starts and running commands are stopped within a second.",
        discussion: """
            Creates the flag file <state>/<loop>.pause (or <state>/pause with --all); a person or a \
            script may create or remove these files directly too. A running `ratchet run` also \
            pauses on SIGUSR1 and resumes on SIGUSR2.
            """)

    @OptionGroup var options: ConfigOption
    @Flag(help: "Pause every loop that uses this state folder.") var all = false
    @Option(name: .customLong("as"), help: "Kept as a claim beside the OS user, who is recorded.") var actor: String?

    func run() async throws {
        try await reporting {
            let workspace = try options.open()
            let operations = LoopOperations(workspace: workspace)
            let who = try cliActor(operations, claimed: actor)
            let pause = PauseSwitch(stateDirectory: workspace.stateDirectory, loop: workspace.config.name)
            try pause.pause(global: all, note: "by \(who.name) at \(Date().formatted(.iso8601))")
            try workspace.audit.append(
                loop: workspace.config.name, kind: "pause_requested", actor: who.name,
                who.auditFields.merging(["scope": all ? "all" : "loop"]) { _, new in new })
            print(
                "paused \(all ? "all loops" : "loop \(workspace.config.name)") (\(all ? pause.globalFlag : pause.loopFlag)); `ratchet resume\(all ? " --all" : "")` continues"
            )
        }
    }
}

struct Resume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Resume a paused loop (or all loops with --all).")

    @OptionGroup var options: ConfigOption
    @Flag(help: "Clear the global pause flag.") var all = false
    @Option(name: .customLong("as"), help: "Kept as a claim beside the OS user, who is recorded.") var actor: String?

    func run() async throws {
        try await reporting {
            let workspace = try options.open()
            let who = try cliActor(LoopOperations(workspace: workspace), claimed: actor)
            let pause = PauseSwitch(stateDirectory: workspace.stateDirectory, loop: workspace.config.name)
            let cleared = pause.resume(global: all)
            try workspace.audit.append(
                loop: workspace.config.name, kind: "resume_requested", actor: who.name,
                who.auditFields.merging(["scope": all ? "all" : "loop"]) { _, new in new })
            if cleared {
                print("resumed \(all ? "all loops" : "loop \(workspace.config.name)")")
            } else {
                print("\(all ? "no global pause was set" : "loop \(workspace.config.name) was not paused")")
            }
            if let still = pause.reason { print("still \(still)") }
        }
    }
}
