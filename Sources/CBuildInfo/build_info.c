#include "build_info.h"

// Package.swift defines it from the environment; a plain `swift build` leaves it empty.
#ifndef RATCHET_GIT_DESCRIBE
#define RATCHET_GIT_DESCRIBE ""
#endif

const char *ratchet_git_describe(void) { return RATCHET_GIT_DESCRIBE; }
