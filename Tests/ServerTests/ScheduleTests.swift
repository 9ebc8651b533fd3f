import Core
import Foundation
import TestSupport
import Testing

/// `[schedule]`: parsing and where a schedule stands at a given instant.
struct ScheduleTests {
    static func parse(_ schedule: String) throws(ConfigError) -> LoopConfig {
        try LoopConfig.parse(TinyWorkspace.config(extra: "\n" + schedule + "\n"), file: "ratchet.toml", directory: "/tmp")
    }

    /// A date in the schedule's zone (UTC here, so the test does not depend on the machine's).
    static func at(_ text: String) throws -> Date {
        var strategy = Date.ISO8601FormatStyle(timeZone: .gmt)
        strategy = strategy.year().month().day().time(includingFractionalSeconds: false).dateSeparator(.dash).timeSeparator(.colon).dateTimeSeparator(
            .standard)
        return try Date(text, strategy: strategy)
    }

    @Test func noScheduleMeansAlways() throws {
        let config = try Self.parse("")
        #expect(config.schedule.always)
        #expect(config.schedule.state(at: Date()) == .open(since: nil, until: nil))
    }

    @Test func nightWindowBelongsToTheDayItStarts() throws {
        var schedule = try Self.parse("[schedule]\nwindows = [\"22:00-06:00\"]\ndays = [\"mon\", \"tue\"]\ntimezone = \"UTC\"").schedule
        #expect(!schedule.always)
        #expect(schedule.windows == [DailyWindow(start: 22 * 3600, end: 6 * 3600)])
        // 2025-03-03 is a Monday.
        #expect(schedule.state(at: try Self.at("2025-03-03T21:59:59")) == .closed(next: try Self.at("2025-03-03T22:00:00")))
        #expect(
            schedule.state(at: try Self.at("2025-03-03T23:30:00"))
                == .open(since: try Self.at("2025-03-03T22:00:00"), until: try Self.at("2025-03-04T06:00:00")))
        // Tuesday 03:00 still belongs to Monday's window.
        #expect(
            schedule.state(at: try Self.at("2025-03-04T03:00:00"))
                == .open(since: try Self.at("2025-03-03T22:00:00"), until: try Self.at("2025-03-04T06:00:00")))
        // Wednesday 03:00 belongs to Tuesday's window; Thursday 03:00 to Wednesday's, which is not a day listed.
        #expect(
            schedule.state(at: try Self.at("2025-03-05T03:00:00"))
                == .open(since: try Self.at("2025-03-04T22:00:00"), until: try Self.at("2025-03-05T06:00:00")))
        #expect(schedule.state(at: try Self.at("2025-03-06T03:00:00")) == .closed(next: try Self.at("2025-03-10T22:00:00")))
        // Adjacent windows merge into one.
        schedule.windows.append(DailyWindow(start: 6 * 3600, end: 7 * 3600))
        #expect(
            schedule.state(at: try Self.at("2025-03-04T05:00:00"))
                == .open(since: try Self.at("2025-03-03T22:00:00"), until: try Self.at("2025-03-04T07:00:00")))
    }

    @Test func secondsAndSummary() throws {
        let schedule = try Self.parse("[schedule]\nwindows = [\"12:00:05-12:00:09\"]").schedule
        #expect(schedule.windows == [DailyWindow(start: 43205, end: 43209)])
        #expect(schedule.summary.hasPrefix("12:00:05-12:00:09 every day"))
    }

    /// A schedule without `timezone` (read in local time through the C library) stands where
    /// the same schedule with the machine's zone named (read through `Calendar`) does.
    @Test func localTimeAgreesWithTheNamedZone() throws {
        let difference = try Self.compareLocalWithNamedZone(TimeZone.current.identifier, from: Date(), days: 30)
        #expect(difference == nil)
    }

    /// The same across daylight-saving changes, with windows whose edges the clocks skip or
    /// repeat; in a child process whose local time is Paris, New York or Santiago (where the
    /// clocks change at midnight).
    /// Other tests' orphaned zombies are reaped meanwhile (see `ZombieJanitor`): one left
    /// there hangs the exit test.
    @Test func localTimeAgreesAcrossDaylightSavingChanges() async {
        await ZombieJanitor.sweeping {
            await Self.daylightSavingChild()
        }
    }

    static func daylightSavingChild() async {
        await #expect(processExitsWith: .success) {
            // Three days either side of each 2025 change.
            let changes = [
                "Europe/Paris": ["2025-03-27T00:00:00", "2025-10-23T00:00:00"], "America/New_York": ["2025-03-06T00:00:00", "2025-10-30T00:00:00"],
                "America/Santiago": ["2025-04-03T00:00:00", "2025-09-04T00:00:00"],
            ]
            for (zone, starts) in changes {
                setenv("TZ", zone, 1)
                tzset()
                for start in starts {
                    if let difference = try ScheduleTests.compareLocalWithNamedZone(zone, from: try ScheduleTests.at(start), days: 6) {
                        print(difference)
                        exit(1)
                    }
                }
            }
        }
    }

    /// Compares, every 15 minutes over `days`, the schedule of windows that start or end
    /// around midnight and 02:00-03:00 in local time against the same with `timezone = zone`;
    /// the first difference, or `nil`.
    static func compareLocalWithNamedZone(_ zone: String, from start: Date, days: Int) throws -> String? {
        let windows = "windows = [\"02:30-03:30\", \"23:30-00:30\", \"01:00:10-02:00\", \"00:00-02:30\"]\ndays = [\"sun\", \"mon\", \"sat\"]"
        let local = try Self.parse("[schedule]\n" + windows).schedule
        let named = try Self.parse("[schedule]\n" + windows + "\ntimezone = \"\(zone)\"").schedule
        for step in 0..<(days * 96) {
            let instant = start.addingTimeInterval(TimeInterval(step * 900))
            let (a, b) = (local.state(at: instant), named.state(at: instant))
            if a != b { return "\(zone) at \(instant): local time \(a), named zone \(b)" }
        }
        return nil
    }

    @Test func badSchedulesAreReportedWithTheirKeys() {
        #expect(throws: ConfigError.self) { try Self.parse("[schedule]\nwindows = [\"25:00-06:00\"]") }
        do {
            _ = try Self.parse(
                "[schedule]\nwindows = [\"10:00-10:00\", \"9-5\"]\ndays = [\"funday\"]\nalways = true\ncolour = 1\ntimezone = \"Mars/Olympus\"")
            Issue.record("a bad [schedule] was accepted")
        } catch {
            let text = error.description
            for expected in [
                "schedule.windows[0]", "schedule.windows[1]", "schedule.days[0]", "schedule.always", "schedule.colour", "schedule.timezone", "line ",
            ] {
                #expect(text.contains(expected), "missing \(expected) in \(text)")
            }
        }
        #expect(throws: ConfigError.self) { try Self.parse("[schedule]\nalways = false") }
        #expect(throws: ConfigError.self) { try Self.parse("[schedule]\nwindows = []") }
    }
}
