/* Files: reading whole files, private directories, atomic writes that never
 * follow a symlink.  Every secret on disk goes through fs_write_atomic. */
#ifndef AEGIS_FSUTIL_H
#define AEGIS_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/error.h"

/* Read a whole file (NUL-terminated; *len excludes the NUL). */
int fs_read_file(const char *path, char **out, size_t *len, aerr_t *err);

/* Create DIR (and missing parents, 0755 for those) with MODE.  An existing
 * DIR must be a real directory (not a symlink); its mode is tightened to MODE. */
int fs_mkdir_private(const char *dir, mode_t mode, aerr_t *err);

/* Write PATH atomically: temp file beside it (O_EXCL|O_NOFOLLOW, MODE),
 * write, fsync, rename over PATH, fsync the directory.  Refuses when PATH is
 * a symlink.  On any failure PATH is untouched and no temp file remains. */
int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode, aerr_t *err);

bool fs_exists(const char *path);
/* Directory part of PATH (newly allocated; "." when none). */
char *fs_dirname(const char *path);
/* Join two path parts (newly allocated). */
char *fs_join(const char *a, const char *b);

/* The entries of DIR (dot files skipped) for which ACCEPT returns a newly
 * allocated name, sorted. */
int fs_list_dir(const char *dir, char *(*accept)(const char *dir, const char *name), char ***names,
		size_t *n, aerr_t *err);

#endif
