import Foundation
import TOMLKit

/// A day of the week, numbered as `Calendar` numbers them (Sunday = 1).
public enum Weekday: Int, Sendable, Equatable, Codable, CaseIterable, CustomStringConvertible {
    case sun = 1, mon, tue, wed, thu, fri, sat

    /// `mon`, `tue`, …
    public var description: String { Self.shortNames[rawValue - 1] }

    /// `mon`, `monday`, `Mon` …
    public init?(name: String) {
        let key = name.lowercased()
        guard let index = Self.shortNames.firstIndex(of: key) ?? Self.longNames.firstIndex(of: key) else { return nil }
        self.init(rawValue: index + 1)
    }

    static let shortNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
    static let longNames = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
}

/// A daily time window, `22:00-06:00` or `22:00:30-22:05:00`; a window whose end is not after
/// its start crosses midnight and belongs to the day it starts.
public struct DailyWindow: Sendable, Equatable, Codable, CustomStringConvertible {
    /// Seconds since local midnight.
    public var start: Int
    public var end: Int

    public init(start: Int, end: Int) {
        self.start = start
        self.end = end
    }

    public var crossesMidnight: Bool { end <= start }

    /// Parses `HH:MM-HH:MM` (seconds optional on either side); `nil` when malformed or empty.
    public static func parse(_ text: String) -> DailyWindow? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, let start = seconds(parts[0]), let end = seconds(parts[1]), start != end else { return nil }
        return DailyWindow(start: start, end: end)
    }

    /// `HH:MM` or `HH:MM:SS` as seconds since midnight; `24:00` is accepted as an end.
    static func seconds(_ text: String) -> Int? {
        let fields = text.split(separator: ":", omittingEmptySubsequences: false)
        guard fields.count == 2 || fields.count == 3 else { return nil }
        var values: [Int] = []
        for field in fields {
            guard (1...2).contains(field.count), field.allSatisfy(\.isASCII), let value = Int(field) else { return nil }
            values.append(value)
        }
        let second = values.count == 3 ? values[2] : 0
        guard (0...59).contains(values[1]), (0...59).contains(second) else { return nil }
        if values[0] == 24 && values[1] == 0 && second == 0 { return 0 }
        guard (0...23).contains(values[0]) else { return nil }
        return values[0] * 3600 + values[1] * 60 + second
    }

    public var description: String {
        func clock(_ value: Int) -> String {
            let (h, m, s) = (value / 3600, value / 60 % 60, value % 60)
            return s == 0 ? String(format: "%02d:%02d", h, m) : String(format: "%02d:%02d:%02d", h, m, s)
        }
        return "\(clock(start))-\(clock(end))"
    }
}

/// `[schedule]`: when `ratchet daemon` runs the loop. With no `[schedule]` the loop runs
/// whenever the daemon does (`always = true`).
public struct ScheduleSpec: Sendable, Equatable, Codable {
    public var always: Bool
    public var windows: [DailyWindow]
    /// The days a window may start on.
    public var days: [Weekday]
    /// A time zone identifier (`Europe/Paris`); `nil` is the machine's local time.
    public var timeZone: String?

    public init(always: Bool = true, windows: [DailyWindow] = [], days: [Weekday] = Weekday.allCases, timeZone: String? = nil) {
        self.always = always
        self.windows = windows
        self.days = days
        self.timeZone = timeZone
    }

    /// Where a schedule stands at an instant.
    public enum State: Sendable, Equatable {
        /// Inside a window that opened at `since` and closes at `until` (both `nil` for `always`).
        case open(since: Date?, until: Date?)
        /// Outside every window; the next opens at `next` (`nil`: never).
        case closed(next: Date?)
    }

    /// The calendar the windows are read in, with `timezone` (`nil` without one: the windows
    /// are then read in local time through `LocalTime`).
    var zoneCalendar: Calendar? {
        guard let zone = timeZone.flatMap(TimeZone.init(identifier:)) else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        return calendar
    }

    /// Where the schedule stands at `date`. Overlapping or touching windows count as one.
    public func state(at date: Date) -> State {
        if always { return .open(since: nil, until: nil) }
        let occurrences = self.occurrences(around: date)
        if var current = occurrences.first(where: { $0.start <= date && date < $0.end }) {
            // Extend through windows that overlap or touch this one.
            var extended = true
            while extended {
                extended = false
                for other in occurrences where other.start <= current.end && other.end > current.end {
                    current.end = other.end
                    extended = true
                }
                for other in occurrences where other.end >= current.start && other.start < current.start {
                    current.start = other.start
                    extended = true
                }
            }
            return .open(since: current.start, until: current.end)
        }
        return .closed(next: occurrences.filter { $0.start > date }.map(\.start).min())
    }

    /// Every window occurrence starting between yesterday and eight days from `date`.
    func occurrences(around date: Date) -> [(start: Date, end: Date)] {
        var result: [(start: Date, end: Date)] = []
        for offset in -1...8 {
            guard let day = self.day(offset, from: date), days.contains(where: { $0.rawValue == day.weekday }) else { continue }
            for window in windows {
                guard let start = day.at(window.start) else { continue }
                let endDay = window.crossesMidnight ? self.day(offset + 1, from: date) : day
                guard let end = endDay?.at(window.end), end > start else { continue }
                result.append((start, end))
            }
        }
        return result.sorted { $0.start < $1.start }
    }

    /// The day `offset` days after the one holding `date`, as the windows read it: its weekday
    /// (Sunday = 1) and the instant `seconds` past its midnight. With `timezone` through a
    /// `Calendar`, without one in local time through `LocalTime`.
    func day(_ offset: Int, from date: Date) -> (weekday: Int, at: (Int) -> Date?)? {
        if let calendar = zoneCalendar {
            guard let day = calendar.date(byAdding: .day, value: offset, to: calendar.startOfDay(for: date)) else { return nil }
            return (calendar.component(.weekday, from: day), { Self.time($0, on: day, calendar: calendar) })
        }
        guard let day = LocalTime.day(offset, from: date) else { return nil }
        return (day.weekday, { LocalTime.instant($0, on: day) })
    }

    static func time(_ seconds: Int, on day: Date, calendar: Calendar) -> Date? {
        calendar.date(bySettingHour: seconds / 3600, minute: seconds / 60 % 60, second: seconds % 60, of: day)
    }

    /// `always`, or `22:00-06:00 mon,tue` for messages.
    public var summary: String {
        if always { return "always" }
        let dayText = days.count == 7 ? "every day" : days.map(\.description).joined(separator: ",")
        return windows.map(\.description).joined(separator: ", ") + " " + dayText + (timeZone.map { " (\($0))" } ?? "")
    }
}

// Parsing of [schedule].
extension ConfigReader {
    mutating func schedule(_ table: TOMLTable?) -> ScheduleSpec {
        var spec = ScheduleSpec()
        guard let table else { return spec }
        let path = "schedule"
        checkKeys(table, at: path, allowed: ["always", "windows", "days", "timezone"])
        var always: Bool?
        if let raw = table["always"] {
            if let value = raw.bool { always = value } else { problem("schedule.always", "must be true or false, found \(raw.type)") }
        }
        let windowTexts = strings(table, "windows", at: path)
        var windows: [DailyWindow] = []
        for (index, text) in (windowTexts ?? []).enumerated() {
            if let window = DailyWindow.parse(text) {
                windows.append(window)
            } else {
                problem(
                    "schedule.windows[\(index)]",
                    "'\(text)' is not a window; write \"HH:MM-HH:MM\" (or with seconds, \"HH:MM:SS-HH:MM:SS\") in local time, start and end different; \"22:00-06:00\" crosses midnight"
                )
            }
        }
        if let dayTexts = strings(table, "days", at: path) {
            var days: [Weekday] = []
            for (index, text) in dayTexts.enumerated() {
                if let day = Weekday(name: text) {
                    if !days.contains(day) { days.append(day) }
                } else {
                    problem("schedule.days[\(index)]", "'\(text)' is not a day; use mon, tue, wed, thu, fri, sat, sun")
                }
            }
            if dayTexts.isEmpty { problem("schedule.days", "must list at least one day, e.g. [\"mon\", \"tue\"]") }
            spec.days = days.sorted { $0.rawValue < $1.rawValue }
        }
        if let zone = string(table, "timezone", at: path, required: false) {
            if TimeZone(identifier: zone) == nil {
                problem("schedule.timezone", "'\(zone)' is not a time zone identifier, e.g. \"Europe/Paris\" or \"UTC\"")
            } else {
                spec.timeZone = zone
            }
        }
        switch (always, windowTexts) {
        case (true, let texts?) where !texts.isEmpty:
            problem("schedule.always", "always = true runs the loop at any time; remove it or the windows")
        case (_, let texts?) where texts.isEmpty:
            problem("schedule.windows", "must list at least one window, e.g. [\"22:00-06:00\"]; or set always = true")
        case (false, nil):
            problem("schedule.windows", "always = false needs windows, e.g. windows = [\"22:00-06:00\"]")
        default:
            break
        }
        spec.always = windowTexts == nil ? (always ?? true) : false
        spec.windows = windows
        return spec
    }
}
