#ifndef RATCHET_CGIT2_SHIM_H
#define RATCHET_CGIT2_SHIM_H
#include <git2.h>
#include <git2/sys/repository.h>

/// Option-struct initialisers are macros in libgit2; these make them callable from Swift.
static inline git_apply_options ratchet_apply_options(void) {
    git_apply_options o = GIT_APPLY_OPTIONS_INIT;
    return o;
}
static inline git_diff_options ratchet_diff_options(void) {
    git_diff_options o = GIT_DIFF_OPTIONS_INIT;
    return o;
}
#endif
