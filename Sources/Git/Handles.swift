import CGit2

// Internal owners of libgit2 handles. Each frees its pointer exactly once in `deinit`;
// none is public, so no C pointer leaves the module.

final class TreeHandle {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { git_tree_free(pointer) }
    var id: ObjectID { ObjectID(git_tree_id(pointer).pointee) }
}

final class CommitHandle {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { git_commit_free(pointer) }
}

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

final class BlobHandle {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { git_blob_free(pointer) }

    var bytes: UnsafeRawBufferPointer {
        let size = Int(git_blob_rawsize(pointer))
        guard size > 0, let base = git_blob_rawcontent(pointer) else {
            return UnsafeRawBufferPointer(start: nil, count: 0)
        }
        return UnsafeRawBufferPointer(start: base, count: size)
    }
}

final class ObjectHandle {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { git_object_free(pointer) }
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

final class TreeEntryHandle {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { git_tree_entry_free(pointer) }
}

/// Copies a `git_buf` into a Swift string and disposes it.
func takeString(_ buf: inout git_buf) -> String {
    defer { git_buf_dispose(&buf) }
    guard let ptr = buf.ptr, buf.size > 0 else { return "" }
    return ptr.withMemoryRebound(to: UInt8.self, capacity: buf.size) {
        String(decoding: UnsafeBufferPointer(start: $0, count: buf.size), as: UTF8.self)
    }
}
