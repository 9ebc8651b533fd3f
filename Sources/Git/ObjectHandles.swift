import CGit2

// Internal owners of the handles of objects read from the object database: trees, tree
// entries, commits, blobs. Each frees its pointer exactly once in `deinit`; none is public,
// so no C pointer leaves the module.

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

final class TreeEntryHandle {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { git_tree_entry_free(pointer) }
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
