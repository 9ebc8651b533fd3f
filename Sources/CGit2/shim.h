#ifndef RATCHET_CGIT2_SHIM_H
#define RATCHET_CGIT2_SHIM_H
#include <git2.h>
#include <git2/sys/repository.h>
#include <git2/sys/odb_backend.h>
#include <git2/sys/mempack.h>

/// Option-struct initialisers are macros in libgit2; these make them callable from Swift.
static inline git_apply_options ratchet_apply_options(void) {
    git_apply_options o = GIT_APPLY_OPTIONS_INIT;
    return o;
}
static inline git_diff_options ratchet_diff_options(void) {
    git_diff_options o = GIT_DIFF_OPTIONS_INIT;
    return o;
}
/// git_libgit2_opts is variadic, which Swift cannot call. Ratchet only ever references
/// objects it has just read or written, so libgit2's existence check on every tree and
/// commit it creates is redundant work; object hashes are still verified on read.
static inline int ratchet_relax_object_creation_checks(void) {
    return git_libgit2_opts(GIT_OPT_ENABLE_STRICT_OBJECT_CREATION, 0);
}
#endif
