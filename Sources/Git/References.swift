import CGit2

// References: reading them, and moving one only from the target it is expected to have.
extension Repository {
    /// The commit a reference points to, or `nil` when the reference does not exist.
    public func referenceTarget(_ name: String) throws(GitError) -> ObjectID? {
        var oid = git_oid()
        let rc = git_reference_name_to_id(&oid, pointer, name)
        if rc == GIT_ENOTFOUND.rawValue { return nil }
        try check(rc, "read reference '\(name)'")
        return ObjectID(oid)
    }

    /// The reference HEAD points to (e.g. `refs/heads/main`), or `nil` when detached or absent.
    /// - Throws: `GitError` when HEAD exists but cannot be read.
    public func headReferenceName() throws(GitError) -> String? {
        var ref: OpaquePointer?
        let rc = git_reference_lookup(&ref, pointer, "HEAD")
        if rc == GIT_ENOTFOUND.rawValue { return nil }
        try check(rc, "read HEAD")
        guard let ref else { return nil }
        let owned = ReferenceHandle(ref)
        guard git_reference_type(owned.pointer) == GIT_REFERENCE_SYMBOLIC,
            let target = git_reference_symbolic_target(owned.pointer)
        else { return nil }
        return String(cString: target)
    }

    /// Points `name` at `target`, only if it still points at `expected` (or does not exist
    /// when `expected` is `nil`): a concurrent writer makes this fail with `.refChanged`
    /// instead of being silently overwritten.
    public func updateReference(
        _ name: String,
        to target: ObjectID,
        expecting expected: ObjectID?,
        message: String
    ) throws(GitError) {
        var valid: Int32 = 0
        try check(git_reference_name_is_valid(&valid, name), "check reference name '\(name)'", default: .invalidArgument)
        guard valid != 0 else {
            throw GitError(.invalidArgument, operation: "update reference", message: "'\(name)' is not a valid reference name")
        }
        if try headReferenceName() == name {
            throw GitError(
                .invalidArgument,
                operation: "update reference '\(name)'",
                message: "it is checked out in the user's working tree; switch to another branch first"
            )
        }
        var newID = target.raw
        var ref: OpaquePointer?
        let rc: Int32
        if var old = expected?.raw {
            rc = git_reference_create_matching(&ref, pointer, name, &newID, 1, &old, message)
        } else {
            rc = git_reference_create(&ref, pointer, name, &newID, 0, message)
            if rc == GIT_EEXISTS.rawValue {
                throw GitError(.refChanged, operation: "create reference '\(name)'", message: "it already exists", libgit2Code: rc)
            }
        }
        try check(rc, "update reference '\(name)'")
        if let ref { git_reference_free(ref) }
    }
}
