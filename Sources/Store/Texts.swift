import Crypto
import Foundation
import GRDB

/// Content-addressed text: a prompt is cut into pieces at line ends chosen by the content
/// itself, each piece is kept once in `text_chunk` under its SHA-256, and the prompt is kept
/// as the list of its pieces' ids.
///
/// A model-driven loop sends nearly the same prompt every time (the files in scope, the reply
/// format), with a few parts that change (the recent attempts, the objective, the file an
/// accepted change rewrote). Because a cut depends only on the lines around it, the unchanged
/// parts cut into the same pieces every time, so the store grows with what changed, not with
/// the prompt's size times the number of candidates.
enum TextChunks {
    /// No cut before a piece has this many bytes, at least 1 in 8 lines is a cut point, and a
    /// piece never exceeds `maximum` bytes (a longer line is cut inside, between characters):
    /// pieces of about 1 KB.
    static let minimum = 512
    static let maximum = 16 << 10

    /// The byte ranges of `bytes`' pieces, in order, covering every byte. A line starting
    /// with `#` (a Markdown heading: a prompt's section or file) or whose FNV-1a hash is a
    /// multiple of 8 starts a new piece once the current one has `minimum` bytes.
    static func cuts(_ bytes: [UInt8]) -> [Range<Int>] {
        var pieces: [Range<Int>] = []
        var start = 0
        var lineStart = 0
        let count = bytes.count
        while lineStart < count {
            var end = lineStart
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            while end < count && bytes[end] != 0x0A {
                hash = (hash ^ UInt64(bytes[end])) &* 0x100_0000_01b3
                end += 1
            }
            if end < count { end += 1 }
            if lineStart - start >= minimum && (bytes[lineStart] == UInt8(ascii: "#") || hash % 8 == 0) {
                pieces.append(start..<lineStart)
                start = lineStart
            }
            while end - start > maximum {
                var cut = start + maximum
                // Not inside a UTF-8 sequence: a continuation byte is 10xxxxxx.
                while cut > start + 1 && bytes[cut] & 0xC0 == 0x80 { cut -= 1 }
                pieces.append(start..<cut)
                start = cut
            }
            lineStart = end
        }
        if start < count { pieces.append(start..<count) }
        return pieces
    }

    /// Stores `text`'s pieces (those not already kept) and returns its manifest: the
    /// pieces' ids, comma-separated (`""` for an empty text).
    static func store(_ text: String, _ db: Database) throws -> String {
        let bytes = Array(text.utf8)
        let find = try db.cachedStatement(sql: "SELECT id FROM text_chunk WHERE sha256 = ?")
        let insert = try db.cachedStatement(sql: "INSERT INTO text_chunk (sha256, body) VALUES (?, ?)")
        var ids: [String] = []
        for range in cuts(bytes) {
            let piece = bytes[range]
            let digest = Data(SHA256.hash(data: piece))
            if let id = try Int64.fetchOne(find, arguments: [digest]) {
                ids.append(String(id))
            } else {
                try insert.execute(arguments: [digest, String(decoding: piece, as: UTF8.self)])
                ids.append(String(db.lastInsertedRowID))
            }
        }
        return ids.joined(separator: ",")
    }

    /// The text of a manifest, its pieces read through `cache` (filled as it goes).
    /// - Throws: when a piece is missing (a damaged store).
    static func text(_ manifest: String, _ db: Database, cache: inout [Int64: String]) throws -> String {
        var ids: [Int64] = []
        ids.reserveCapacity(32)
        var value: Int64 = 0
        for byte in manifest.utf8 {
            if byte == UInt8(ascii: ",") {
                ids.append(value)
                value = 0
            } else {
                value = value * 10 + Int64(byte &- UInt8(ascii: "0"))
            }
        }
        if !manifest.isEmpty { ids.append(value) }
        let missing = Array(Set(ids.filter { cache[$0] == nil }))
        for start in stride(from: 0, to: missing.count, by: 500) {
            let batch = Array(missing[start..<min(start + 500, missing.count)])
            let marks = Array(repeating: "?", count: batch.count).joined(separator: ",")
            for row in try Row.fetchAll(db, sql: "SELECT id, body FROM text_chunk WHERE id IN (\(marks))", arguments: StatementArguments(batch)) {
                cache[row["id"]] = row["body"]
            }
        }
        var pieces: [String] = []
        pieces.reserveCapacity(ids.count)
        var length = 0
        for id in ids {
            guard let piece = cache[id] else { throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "text_chunk \(id) of a prompt is missing") }
            pieces.append(piece)
            length += piece.utf8.count
        }
        var text = ""
        text.reserveCapacity(length)
        for piece in pieces { text += piece }
        return text
    }
}

/// A candidate's large texts, kept beside its row in `candidate_text`: the diff and the reply
/// as they are, the prompt as a `TextChunks` manifest.
enum CandidateTexts {
    /// Writes (or clears) candidate `id`'s texts; a row left as it was is not rewritten.
    static func save(_ record: CandidateRecord, _ db: Database) throws {
        guard let id = record.id else { return }
        guard record.diff != nil || record.prompt != nil || record.response != nil else {
            try db.execute(sql: "DELETE FROM candidate_text WHERE candidateId = ?", arguments: [id])
            return
        }
        let manifest = try record.prompt.map { try TextChunks.store($0, db) }
        try db.cachedStatement(
            sql: """
                INSERT INTO candidate_text (candidateId, diff, response, prompt) VALUES (?, ?, ?, ?)
                ON CONFLICT (candidateId) DO UPDATE SET diff = excluded.diff, response = excluded.response, prompt = excluded.prompt
                WHERE diff IS NOT excluded.diff OR response IS NOT excluded.response OR prompt IS NOT excluded.prompt
                """
        ).execute(arguments: [id, record.diff, record.response, manifest])
    }

    /// Fills in the texts of `records` (read by id, 500 at a time; prompt pieces shared
    /// between them are read once).
    static func load(into records: inout [CandidateRecord], _ db: Database) throws {
        var index: [Int64: Int] = [:]
        for (position, record) in records.enumerated() { if let id = record.id { index[id] = position } }
        let ids = Array(index.keys)
        var cache: [Int64: String] = [:]
        for start in stride(from: 0, to: ids.count, by: 500) {
            let batch = Array(ids[start..<min(start + 500, ids.count)])
            let marks = Array(repeating: "?", count: batch.count).joined(separator: ",")
            let rows = try Row.fetchCursor(
                db, sql: "SELECT candidateId, diff, response, prompt FROM candidate_text WHERE candidateId IN (\(marks))",
                arguments: StatementArguments(batch))
            while let row = try rows.next() {
                guard let position = index[row["candidateId"]] else { continue }
                records[position].diff = row["diff"]
                records[position].response = row["response"]
                if let manifest: String = row["prompt"] { records[position].prompt = try TextChunks.text(manifest, db, cache: &cache) }
            }
        }
    }

    /// Moves the texts of candidates written before `candidate_text` existed (migration
    /// `v6-season`): one candidate at a time, so memory stays bounded.
    static func moveInline(_ db: Database) throws {
        let rows = try Row.fetchCursor(
            db, sql: "SELECT id, diff, prompt, response FROM candidate WHERE diff IS NOT NULL OR prompt IS NOT NULL OR response IS NOT NULL")
        while let row = try rows.next() {
            var record = CandidateRecord(loop: "", sequence: 0, proposer: "", source: "", title: "", parentCommit: "")
            record.id = row["id"]
            record.diff = row["diff"]
            record.prompt = row["prompt"]
            record.response = row["response"]
            try save(record, db)
        }
        try db.execute(
            sql:
                "UPDATE candidate SET diff = NULL, prompt = NULL, response = NULL WHERE diff IS NOT NULL OR prompt IS NOT NULL OR response IS NOT NULL"
        )
    }
}

extension Store {
    /// The diffs of candidates `ids` (those that have one), for diff stats in lists of a
    /// few candidates (the review queue, a report's accepted changes).
    public func diffs(of ids: [Int64]) throws(StoreError) -> [Int64: String] {
        try read("read diffs") { db in
            var diffs: [Int64: String] = [:]
            for start in stride(from: 0, to: ids.count, by: 500) {
                let batch = Array(ids[start..<min(start + 500, ids.count)])
                let marks = Array(repeating: "?", count: batch.count).joined(separator: ",")
                for row in try Row.fetchAll(
                    db, sql: "SELECT candidateId, diff FROM candidate_text WHERE candidateId IN (\(marks)) AND diff IS NOT NULL",
                    arguments: StatementArguments(batch))
                {
                    diffs[row["candidateId"]] = row["diff"]
                }
            }
            return diffs
        }
    }
}
