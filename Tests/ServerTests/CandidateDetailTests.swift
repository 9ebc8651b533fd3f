import Core
import Foundation
import Report
import Runner
import Server
import Store
import TestSupport
import Testing

/// The pairing of samples that `ratchet show`, the API and the review page share.
@Suite(.serialized) struct CandidateDetailTests {
    /// Samples as a measurement stores them: warm-ups numbered apart, then pairs from 0 with
    /// one baseline and one candidate run each, in the order `order` ran them.
    static func measurement(
        _ id: Int64, pairs: Range<Int>, warmups: Int = 0, values: (Int) -> (Double, Double), benchmark: String? = nil, spoiled: Set<Int> = []
    ) -> [SampleRecord] {
        var samples: [SampleRecord] = []
        for warm in 0..<warmups {
            samples.append(SampleRecord(candidateId: id, pair: warm, arm: .baseline, position: 0, value: 9, wallSeconds: 0, warmup: true))
            samples.append(SampleRecord(candidateId: id, pair: warm, arm: .candidate, position: 1, value: 9, wallSeconds: 0, warmup: true))
        }
        for pair in pairs {
            let (base, cand) = values(pair)
            let candidateFirst = pair % 2 == 1
            samples.append(
                SampleRecord(
                    candidateId: id, pair: pair, arm: .baseline, position: candidateFirst ? 1 : 0, value: base, wallSeconds: 0,
                    warmup: spoiled.contains(pair), benchmark: benchmark))
            samples.append(
                SampleRecord(
                    candidateId: id, pair: pair, arm: .candidate, position: candidateFirst ? 0 : 1, value: cand, wallSeconds: 0,
                    warmup: spoiled.contains(pair), benchmark: benchmark))
        }
        return samples
    }

    /// A candidate measured twice (a Slurm accept re-run on a new best numbers its pairs from
    /// 0 again): only the second measurement, the one decided on, is paired; a spoiled pair
    /// and the warm-ups are counted as discarded.
    @Test func onlyTheLatestMeasurementIsPaired() throws {
        let first = Self.measurement(1, pairs: 0..<4, warmups: 1, values: { (10 + Double($0), 5) })
        let second = Self.measurement(1, pairs: 0..<3, warmups: 1, values: { (20 + Double($0), 8) }, spoiled: [1])
        let series = SampleSeries.latest(first + second)
        #expect(series.map(\.benchmark) == [nil])
        let objective = try #require(series.first)
        #expect(objective.pairs.map(\.pair) == [0, 2])
        #expect(objective.pairs.map(\.baseline) == [20, 22])
        #expect(objective.pairs.map(\.candidate) == [8, 8])
        #expect(objective.pairs.map(\.first) == [.baseline, .baseline])
        #expect(objective.discarded == 4, "two warm-up runs and the spoiled pair's two")
    }

    /// One measurement with an extra benchmark and a wall-time confirmation round: the
    /// objective first, then the others in the order measured, each with its own pairs.
    @Test func eachBenchmarkIsASeriesOfItsOwn() {
        // Each run stores the objective's value, then the extra benchmark's.
        var runs: [SampleRecord] = []
        for pair in 0..<3 {
            let objective = Self.measurement(1, pairs: pair..<(pair + 1), values: { (Double($0), 1) })
            let extra = Self.measurement(1, pairs: pair..<(pair + 1), values: { (Double($0), 2) }, benchmark: "memory")
            runs += [objective[0], extra[0], objective[1], extra[1]]
        }
        let wall = Self.measurement(1, pairs: 3..<5, values: { (Double($0), 3) }, benchmark: LoopRunner.wallTimeConfirmation)
        let series = SampleSeries.latest(runs + wall)
        #expect(series.map(\.benchmark) == [nil, "memory", LoopRunner.wallTimeConfirmation])
        #expect(series.map { $0.pairs.count } == [3, 3, 2])
        #expect(series.last?.pairs.map(\.pair) == [3, 4])
        #expect(series[1].pairs.map(\.first) == [.baseline, .candidate, .baseline])
    }

    /// `ratchet show --json` and `GET /api/candidates/{id}` give the same pairs for one
    /// candidate measured twice: the latest measurement's.
    @Test func theCLIAndTheAPIGiveTheSamePairs() async throws {
        let (fixture, id) = try await HTTPTests.heldLoop()
        defer { fixture.remove() }
        let workspace = try Workspace(configPath: fixture.path + "/ratchet.toml")
        for sample in Self.measurement(id, pairs: 0..<2, values: { (100 + Double($0), 50) }) { try workspace.store.add(sample) }

        struct Series: Decodable { var series: [SampleSeries] }
        let show = try await runRatchet(["show", String(id), "--json"], in: fixture.path)
        #expect(show.status == 0, "\(show.errorOutput)")
        let cli = try JSONDecoder().decode(Series.self, from: Data(show.output.utf8)).series
        try await withDaemon(configs: [fixture.path + "/ratchet.toml"], pollInterval: 30) { daemon, port in
            let reply = try await http("GET", port, "/api/candidates/\(id)", token: try personalToken(daemon, "vera", role: .viewer))
            #expect(reply.status == 200, "\(reply.body)")
            let api = try JSONDecoder().decode(Series.self, from: Data(reply.body.utf8)).series
            #expect(api == cli)
        }
        #expect(cli.first?.benchmark == nil)
        #expect(cli.first?.pairs.map(\.baseline) == [100, 101])
        #expect(cli.first?.pairs.map(\.candidate) == [50, 50])
    }
}
