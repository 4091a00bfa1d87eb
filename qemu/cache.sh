# Sourced by qemu/*.sh: the QEMU cache directory and the check a harness in
# it passes before it is run (the shell side of pollwise_qemu's
# default_cache_dir and check_harness; keep them saying the same).

# The cache: $POLLWISE_QEMU_CACHE, else ${XDG_CACHE_HOME:-$HOME/.cache}/
# pollwise/qemu (relative XDG_CACHE_HOME or HOME ignored); none is an error,
# never a fixed directory under a world-writable one.
default_cache() {
    if [ -n "${POLLWISE_QEMU_CACHE:-}" ]; then
        echo "$POLLWISE_QEMU_CACHE"
    elif [[ "${XDG_CACHE_HOME:-}" == /* ]]; then
        echo "$XDG_CACHE_HOME/pollwise/qemu"
    elif [[ "${HOME:-}" == /* ]]; then
        echo "$HOME/.cache/pollwise/qemu"
    else
        echo "no directory for the QEMU cache: none of POLLWISE_QEMU_CACHE, XDG_CACHE_HOME and HOME is set to an absolute path; set one of them or pass --cache DIR (a directory of your own)" >&2
        return 1
    fi
}

# check_harness CACHE HARNESS: exits unless HARNESS and every directory from
# CACHE down to it belong to this user or root, are not writable by group or
# others, and (below CACHE) are not symbolic links.
check_harness() {
    local cache="${1%/}" harness="$2" p owner mode me
    me="$(id -u)"
    p="$harness"
    case "$p" in "$cache"/*) ;; *) echo "refusing to run $harness: not in the cache $cache" >&2; exit 1 ;; esac
    while :; do
        local why=""
        if [ "$p" != "$cache" ] && [ -L "$p" ]; then
            why="is a symbolic link"
        else
            read -r owner mode < <(stat -L -c '%u %a' "$p") || why="cannot be read"
            if [ -z "$why" ] && [ "$owner" != "$me" ] && [ "$owner" != 0 ]; then
                why="is owned by uid $owner, not by this user ($me) or root"
            elif [ -z "$why" ] && (( 8#$mode & 8#002 )); then
                why="is writable by others (mode $mode)"
            elif [ -z "$why" ] && (( 8#$mode & 8#020 )); then
                why="is writable by its group (mode $mode)"
            fi
        fi
        if [ -n "$why" ]; then
            echo "refusing to run $harness: $p $why; rebuild it into a cache of your own (--cache DIR) or fix the path (chown, chmod go-w)" >&2
            exit 1
        fi
        [ "$p" = "$cache" ] && return 0
        p="$(dirname "$p")"
    done
}
