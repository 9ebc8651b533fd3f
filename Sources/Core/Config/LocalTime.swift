import Foundation

/// Calendar days and wall-clock times in the machine's local time zone, through the C
/// library (`mktime`, `localtime_r`: the zone of `TZ` or `/etc/localtime`). A schedule
/// without `timezone` is read with these rather than a `Calendar` in `TimeZone.current`:
/// the answers are the same, and an idle daemon that checks its schedule does not load
/// Foundation's time-zone support (ICU's zone data, about 4 MB of resident memory).
public enum LocalTime {
    /// A calendar day in local time.
    struct Day: Equatable {
        var year: Int
        /// 1 to 12.
        var month: Int
        /// 1 to 31.
        var day: Int
        /// Sunday = 1, as `Calendar` and `Weekday` number them.
        var weekday: Int
    }

    /// The broken-down local time of `date` (whole seconds, rounded down).
    public static func fields(_ date: Date) -> tm? {
        fields(time_t(date.timeIntervalSince1970.rounded(.down)))
    }

    static func fields(_ time: time_t) -> tm? {
        var time = time
        var result = tm()
        return localtime_r(&time, &result) == nil ? nil : result
    }

    /// The day `offset` days after (before, when negative) the local day holding `date`.
    static func day(_ offset: Int, from date: Date) -> Day? {
        guard var fields = fields(date) else { return nil }
        // Noon: never skipped nor repeated by a daylight-saving change.
        fields.tm_mday += Int32(offset)
        fields.tm_hour = 12
        fields.tm_min = 0
        fields.tm_sec = 0
        fields.tm_isdst = -1
        guard mktime(&fields) != -1 else { return nil }
        return Day(year: Int(fields.tm_year) + 1900, month: Int(fields.tm_mon) + 1, day: Int(fields.tm_mday), weekday: Int(fields.tm_wday) + 1)
    }

    /// The instant at `seconds` past local midnight on `day` (what `Calendar`'s
    /// `date(bySettingHour:minute:second:of:)` answers): of a time that occurs twice (the
    /// clocks go back) the first; for one that does not occur (the clocks go forward) the
    /// instant they jump, the next time that exists.
    static func instant(_ seconds: Int, on day: Day) -> Date? {
        let wanted = Wall(year: day.year, month: day.month, day: day.day, seconds: seconds)
        // Read as daylight-saving time and as standard time; a reading that converts back
        // to the same wall-clock time is a real occurrence.
        let readings = [Int32(1), 0].compactMap { convert(wanted, daylightSaving: $0) }
        let real = readings.filter { wall(at: $0) == wanted }
        if let first = real.min() { return Date(timeIntervalSince1970: TimeInterval(first)) }
        // Not a local time that exists: the clocks jump between the two readings. The jump is
        // the first instant whose wall-clock time is past the one wanted.
        guard var low = readings.min(), var high = readings.max(), let before = wall(at: low), let after = wall(at: high), before < wanted,
            wanted < after
        else {
            return convert(wanted, daylightSaving: -1).map { Date(timeIntervalSince1970: TimeInterval($0)) }
        }
        while high - low > 1 {
            let middle = low + (high - low) / 2
            guard let time = wall(at: middle) else { return nil }
            if time < wanted { low = middle } else { high = middle }
        }
        return Date(timeIntervalSince1970: TimeInterval(high))
    }

    /// A local wall-clock time, ordered.
    struct Wall: Comparable {
        var year: Int
        var month: Int
        var day: Int
        var seconds: Int

        static func < (a: Wall, b: Wall) -> Bool {
            (a.year, a.month, a.day, a.seconds) < (b.year, b.month, b.day, b.seconds)
        }
    }

    /// `mktime` of `wall` read with the given daylight-saving flag (-1: let the C library pick).
    static func convert(_ wall: Wall, daylightSaving: Int32) -> time_t? {
        var fields = tm()
        fields.tm_year = Int32(wall.year - 1900)
        fields.tm_mon = Int32(wall.month - 1)
        fields.tm_mday = Int32(wall.day)
        fields.tm_hour = Int32(wall.seconds / 3600)
        fields.tm_min = Int32(wall.seconds / 60 % 60)
        fields.tm_sec = Int32(wall.seconds % 60)
        fields.tm_isdst = daylightSaving
        let time = mktime(&fields)
        return time == -1 ? nil : time
    }

    /// The local wall-clock time at `time`.
    static func wall(at time: time_t) -> Wall? {
        guard let fields = fields(time) else { return nil }
        return Wall(
            year: Int(fields.tm_year) + 1900, month: Int(fields.tm_mon) + 1, day: Int(fields.tm_mday),
            seconds: Int(fields.tm_hour) * 3600 + Int(fields.tm_min) * 60 + Int(fields.tm_sec))
    }
}
