import Foundation
import Testing

@testable import Server

/// The daemon's status-line clock, formatted from `localtime_r` (no ICU formatter).
@Suite struct ClockTests {
    /// A local wall-clock time (`mktime` reads it in this process's zone).
    static func local(_ year: Int, _ month: Int, _ day: Int, _ hour: Int, _ minute: Int, _ second: Int) -> Date {
        var fields = tm()
        fields.tm_year = Int32(year - 1900)
        fields.tm_mon = Int32(month - 1)
        fields.tm_mday = Int32(day)
        fields.tm_hour = Int32(hour)
        fields.tm_min = Int32(minute)
        fields.tm_sec = Int32(second)
        fields.tm_isdst = -1
        return Date(timeIntervalSince1970: TimeInterval(mktime(&fields)))
    }

    @Test func todayShowsTheTimeOtherDaysTheDate() {
        let event = Self.local(2025, 12, 9, 22, 0, 5)
        #expect(LoopService.clock(event, now: Self.local(2025, 12, 9, 23, 59, 0)) == "22:00:05")
        #expect(LoopService.clock(Self.local(2025, 12, 9, 7, 3, 9), now: event) == "07:03:09")
        // 9 December 2025 is a Tuesday.
        #expect(LoopService.clock(event, now: Self.local(2025, 12, 10, 0, 0, 1)) == "Tue 9 Dec 22:00")
        #expect(LoopService.clock(Self.local(2026, 1, 4, 6, 30, 0), now: event) == "Sun 4 Jan 06:30")
        // The same day of another year is another day.
        #expect(LoopService.clock(event, now: Self.local(2026, 12, 9, 22, 0, 5)) == "Tue 9 Dec 22:00")
    }
}
