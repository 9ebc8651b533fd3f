import CGit2

// Internal owners of libgit2 handles: diffs, patches, indexes and references (those of
// trees, commits and blobs are in ObjectHandles.swift). Each frees its pointer exactly once
// in `deinit`; none is public, so no C pointer leaves the module.

final class DiffHandle {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { git_diff_free(pointer) }

    var count: Int { git_diff_num_deltas(pointer) }

    func delta(_ i: Int) -> git_diff_delta? {
        git_diff_get_delta(pointer, i)?.pointee
    }
}

final class IndexHandle {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { git_index_free(pointer) }
}

final class ReferenceHandle {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { git_reference_free(pointer) }
}

final class PatchHandle {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { git_patch_free(pointer) }
}

/// Copies a `git_buf` into a Swift string and disposes it.
func takeString(_ buf: inout git_buf) -> String {
    defer { git_buf_dispose(&buf) }
    guard let ptr = buf.ptr, buf.size > 0 else { return "" }
    return ptr.withMemoryRebound(to: UInt8.self, capacity: buf.size) {
        String(decoding: UnsafeBufferPointer(start: $0, count: buf.size), as: UTF8.self)
    }
}
