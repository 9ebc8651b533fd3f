#ifndef RATCHET_BUILD_INFO_H
#define RATCHET_BUILD_INFO_H

/// `git describe` of the checkout this binary was built from, as `make` passed it in
/// RATCHET_GIT_DESCRIBE (see Package.swift); "" when it was not passed.
const char *ratchet_git_describe(void);

#endif
