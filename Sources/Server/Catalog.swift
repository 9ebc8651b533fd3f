import Core
import Foundation
import Report
import Runner
import Store

/// One configured loop as the daemon and the server know it: its validated config and
/// where its state lives.
public struct LoopEntry: Sendable {
    public var name: String
    public var configPath: String
    public var config: LoopConfig
    /// The config text's hash (as recorded with the loop): a change means "reconfigured".
    public var configHash: String
    public var stateDirectory: String
    public var store: Store
    public var audit: AuditLog

    /// Opens and validates the loop config at `path` (its repository and store too).
    /// - Throws: `DaemonError` `.config` with the runner's message (every config problem, or the repository or store one).
    public static func open(configPath path: String) throws(DaemonError) -> LoopEntry {
        let workspace: Workspace
        do {
            workspace = try Workspace(configPath: path)
        } catch {
            throw DaemonError(.config, error.message)
        }
        return LoopEntry(
            name: workspace.config.name, configPath: workspace.configPath, config: workspace.config, configHash: workspace.configHash,
            stateDirectory: workspace.stateDirectory, store: workspace.store, audit: workspace.audit)
    }

    var reportSource: ReportSource {
        ReportSource(loop: name, store: store, audit: audit, stateDirectory: stateDirectory, config: config)
    }
}

/// Where the daemon finds its loops: config files named on the command line and/or every
/// `*.toml` (and `*/ratchet.toml`) in a folder.
public struct LoopSources: Sendable, Equatable {
    public var configPaths: [String]
    public var loopsDirectory: String?

    public init(configPaths: [String], loopsDirectory: String?) {
        self.configPaths = configPaths
        self.loopsDirectory = loopsDirectory
    }

    /// The config files to load now, in a stable order.
    /// - Throws: `DaemonError` `.config` when the loops folder cannot be read.
    public func files() throws(DaemonError) -> [String] {
        let cwd = FileManager.default.currentDirectoryPath
        var files = configPaths.map { Paths.resolve($0, from: cwd) }
        if let loopsDirectory {
            let directory = Paths.resolve(loopsDirectory, from: cwd)
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
            } catch {
                throw DaemonError(.config, "--loops \(directory): cannot list the folder (\(error.localizedDescription))")
            }
            for name in names where !name.hasPrefix(".") {
                let path = directory + "/" + name
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
                if isDirectory.boolValue {
                    if FileManager.default.fileExists(atPath: path + "/ratchet.toml") { files.append(path + "/ratchet.toml") }
                } else if name.hasSuffix(".toml") {
                    files.append(path)
                }
            }
        }
        var seen = Set<String>()
        return files.filter { seen.insert($0).inserted }
    }
}

/// The loops the daemon runs, with the problems found loading them.
public struct Catalog: Sendable {
    public var loops: [LoopEntry]
    /// Files that could not be used, with why (reported by the daemon, shown in the UI).
    public var problems: [String: String]

    public init(loops: [LoopEntry] = [], problems: [String: String] = [:]) {
        self.loops = loops
        self.problems = problems
    }

    public func entry(named name: String) -> LoopEntry? { loops.first { $0.name == name } }

    /// Loads every file. A file that fails validation keeps `previous`'s entry for the same
    /// file, if there is one, so a bad edit never stops a loop that was running.
    public static func load(_ files: [String], previous: Catalog? = nil) -> Catalog {
        var catalog = Catalog()
        for file in files {
            do {
                let entry = try LoopEntry.open(configPath: file)
                if let clash = catalog.loops.first(where: { $0.name == entry.name }) {
                    catalog.problems[file] = "loop name '\(entry.name)' is already used by \(clash.configPath); each loop needs its own [loop] name"
                    continue
                }
                catalog.loops.append(entry)
            } catch {
                catalog.problems[file] = error.message
                if let old = previous?.loops.first(where: { $0.configPath == file }), catalog.entry(named: old.name) == nil {
                    catalog.loops.append(old)
                }
            }
        }
        return catalog
    }
}
