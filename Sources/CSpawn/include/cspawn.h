#ifndef RATCHET_CSPAWN_H
#define RATCHET_CSPAWN_H
#include <spawn.h>

/// pipe2(fds, O_CLOEXEC): both ends close-on-exec atomically, so a command spawned by
/// another thread never inherits them.
int ratchet_pipe_cloexec(int fds[2]);

/// posix_spawn_file_actions_addchdir_np, which Swift cannot see without _GNU_SOURCE.
int ratchet_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path);


/// prctl(PR_SET_CHILD_SUBREAPER, 1): orphaned descendants of commands are re-parented to
/// this process, so Ratchet can reap them instead of leaving zombies to init.
int ratchet_become_subreaper(void);
#endif
