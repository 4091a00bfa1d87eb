#!/usr/bin/env bash
# Build QEMU once per variant (stock, each directory of patches under
# qemu/patches/, and patch series of your own), with pollwise's harness
# added to its unit tests.
#
#   qemu/build.sh [--src DIR] [--cache DIR] [--variant NAME]...
#                 [--series NAME=DIR]... [--jobs N] [--check]
#                 [--no-install-deps]
#
# --src DIR     a pristine QEMU source tree, 10.0 or newer (a release
#               tarball, a Debian source package, a git checkout; it is only
#               read); its version is read from its VERSION file and
#               recorded with each variant built from it. Without it QEMU
#               10.0.2, the Debian source package's upstream tarball
#               (bookworm-backports), is fetched with apt-get and its
#               checksum verified.
# --series NAME=DIR
#               build variant NAME from a directory of `git format-patch`
#               files, applied in the order of DIR/series (one file name a
#               line, # comments) or else of their sorted *.patch names. A
#               harness-config.h in DIR is used if present; otherwise the
#               harness configuration is read from the patched tree. The
#               series is kept in CACHE/series/NAME once it built, so
#               `--variant NAME` rebuilds it. A patch that does not apply, or
#               a build that fails, stops with the patch's or the compiler's
#               first error and leaves every built variant as it was.
# --cache DIR   where sources, build trees and binaries go (default
#               $POLLWISE_QEMU_CACHE, else
#               ${XDG_CACHE_HOME:-$HOME/.cache}/pollwise/qemu; with none of
#               them set, --cache is needed). Everything in it is made
#               writable by this user alone: pollwise refuses to run a
#               harness that others could have replaced.
# --variant     build only these variants (default: stock and every
#               directory in qemu/patches/, or only the --series given).
# --check       also build and run QEMU's AIO unit tests (test-aio,
#               test-aio-multithread, test-nested-aio-poll) per variant.
#
# Each variant keeps its own patched tree and configured build directory in
# the cache. A rebuild writes only the files whose patched content changed
# (others keep their modification time), so ninja recompiles only what
# depends on them. The harness binary of variant V ends up at
# CACHE/bin/V/pollwise-qemu-harness, beside qemu-version (the tree's
# version), properties (the IOThread properties of its QAPI schema, "NAME
# set" when the harness passes it to aio_context_set_poll_params(), else
# "NAME unset") and subjects (the Subject: line of each patch). Build
# times go to standard output.
#
# Needs (installed with apt-get and pip when run as root, unless
# --no-install-deps): gcc, make, ninja-build, pkg-config, ccache, libglib2.0-dev,
# libaio-dev, python3-venv, flex, bison, and meson 1.5.0 and pycotap 1.3.1
# with pip in a venv in the cache (the +ds tarball lacks the wheels QEMU
# normally bundles).
set -euo pipefail

QEMU_VERSION=10.0.2
QEMU_TARBALL=qemu_${QEMU_VERSION}+ds.orig.tar.xz
QEMU_TARBALL_SHA256=0901da33844a331bf8b3602b9c1fbd178e60b737c8e3ade678255bd090c9b9f1
MESON_VERSION=1.5.0
# QEMU 10.0 configure also wants pycotap (its bundled wheel is not in +ds).
PYCOTAP_VERSION=1.3.1
HARNESS_TARGETS=(tests/unit/pollwise-qemu-harness)
CHECK_TARGETS=(tests/unit/test-aio tests/unit/test-aio-multithread tests/unit/test-nested-aio-poll)
# Seconds each unit test may take under --check (all three take about 12 s
# here); POLLWISE_QEMU_CHECK_TIMEOUT overrides it.
CHECK_TIMEOUT="${POLLWISE_QEMU_CHECK_TIMEOUT:-300}"

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=qemu/cache.sh
. "$here/cache.sh"
# Nothing in the cache writable by group or others (see --cache).
umask 022
cache=""
src=""
variants=()
declare -A series_dir=()
jobs="$(nproc)"
check=0
install_deps=1

die() { echo "qemu/build.sh: $*" >&2; exit 1; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --src) src="$(cd "$2" && pwd)"; shift 2 ;;
        --cache) mkdir -p "$2"; cache="$(cd "$2" && pwd)"; shift 2 ;;
        --variant) variants+=("$2"); shift 2 ;;
        --series)
            [[ "$2" == *=* ]] || die "--series '$2': expected NAME=DIR"
            sname="${2%%=*}"; sdir="${2#*=}"
            [[ "$sname" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] \
                || die "--series '$2': NAME must be letters, digits, '.', '_' or '-'"
            [ "$sname" != stock ] && [ ! -d "$here/patches/$sname" ] \
                || die "--series '$2': $sname is a variant pollwise ships; pick another NAME"
            [ -d "$sdir" ] || die "--series '$2': $sdir is not a directory"
            series_dir[$sname]="$(cd "$sdir" && pwd)"
            variants+=("$sname"); shift 2 ;;
        --jobs) jobs="$2"; shift 2 ;;
        --check) check=1; shift ;;
        --no-install-deps) install_deps=0; shift ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done

[ -n "$cache" ] || cache="$(default_cache)" || exit 1

if [ ${#variants[@]} -eq 0 ]; then
    variants=(stock)
    for d in "$here"/patches/*/; do
        [ -d "$d" ] && variants+=("$(basename "$d")")
    done
fi
# Where a variant's patches are: qemu/patches/V, a --series directory, or
# the copy of a series built before.
patch_dir() {
    local v="$1"
    if [ -n "${series_dir[$v]:-}" ]; then echo "${series_dir[$v]}"
    elif [ -d "$here/patches/$v" ]; then echo "$here/patches/$v"
    elif [ -d "$cache/series/$v" ]; then echo "$cache/series/$v"
    fi
}
for v in "${variants[@]}"; do
    [ "$v" = stock ] || [ -n "$(patch_dir "$v")" ] \
        || die "no variant '$v': no directory qemu/patches/$v and no series $v built before (--series $v=DIR)"
done

# The patches of a series directory, in order: its `series` file, else the
# sorted *.patch names.
series_patches() {
    local d="$1" line
    if [ -f "$d/series" ]; then
        while IFS= read -r line || [ -n "$line" ]; do
            line="${line%%#*}"; line="$(echo "$line" | xargs)"
            [ -z "$line" ] && continue
            [ -f "$d/$line" ] || die "$d/series names $line, which is not in $d"
            echo "$d/$line"
        done < "$d/series"
    else
        LC_ALL=C ls -1 "$d" | grep '\.patch$' | sed "s#^#$d/#" || true
    fi
}

# The Subject: of a git format-patch file (continuation lines joined).
patch_subject() {
    awk '/^Subject:/ { s = $0; sub(/^Subject: */, "", s); getline n
                       while (n ~ /^[ \t]/) { sub(/^[ \t]+/, " ", n); s = s n; getline n }
                       print s; exit }' "$1"
}

mkdir -p "$cache"
t_all=$(now)
# ccache (Debian's compiler links in /usr/lib/ccache) shares every object the
# variants have in common: the trees sit at the same relative place to their
# build directories, so the compiler sees the same paths.
export PATH="/usr/lib/ccache:$PATH"
export CCACHE_DIR="$cache/ccache" CCACHE_BASEDIR="$cache/variants" CCACHE_NOHASHDIR=1

# --- dependencies ------------------------------------------------------------
missing_pkgs() {
    local m=()
    command -v gcc >/dev/null || m+=(gcc)
    command -v make >/dev/null || m+=(make)
    command -v ninja >/dev/null || m+=(ninja-build)
    command -v pkg-config >/dev/null || m+=(pkg-config)
    command -v flex >/dev/null || m+=(flex)
    command -v bison >/dev/null || m+=(bison)
    [ -x /usr/lib/ccache/cc ] || m+=(ccache)
    pkg-config --exists glib-2.0 2>/dev/null || m+=(libglib2.0-dev)
    [ -e /usr/include/libaio.h ] || m+=(libaio-dev)
    /usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null || m+=(python3-venv)
    echo "${m[@]:-}"
}
pkgs="$(missing_pkgs)"
if [ -n "$pkgs" ]; then
    if [ "$install_deps" = 1 ] && [ "$(id -u)" = 0 ]; then
        echo "installing build dependencies: $pkgs"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
    else
        die "missing build dependencies: $pkgs (apt-get install them, or run as root)"
    fi
fi
venv="$cache/venv"
if ! "$venv/bin/meson" --version 2>/dev/null | grep -qx "$MESON_VERSION" \
    || ! "$venv/bin/python3" -c 'import pycotap' 2>/dev/null; then
    echo "creating $venv with meson $MESON_VERSION and pycotap $PYCOTAP_VERSION"
    rm -rf "$venv"
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/pip" install -q "meson==$MESON_VERSION" "pycotap==$PYCOTAP_VERSION"
fi

# --- the pristine source -----------------------------------------------------
if [ -z "$src" ]; then
    src="$cache/src/qemu-$QEMU_VERSION"
    if [ ! -f "$src/.pollwise-pristine" ]; then
        dl="$cache/download"
        mkdir -p "$dl"
        if [ ! -f "$dl/$QEMU_TARBALL" ]; then
            t0=$(now)
            if ! apt-get source --print-uris qemu 2>/dev/null | grep -q "$QEMU_TARBALL"; then
                [ "$(id -u)" = 0 ] || die "apt cannot see $QEMU_TARBALL: add a deb-src entry for bookworm-backports (as root this script does it)"
                # A deb-src entry for bookworm-backports from the archive the
                # machine's own entries for bookworm use, in deb822 form.
                uri="$(awk '/^URIs:/ { u = $2 } /^Suites:/ && / bookworm( |$)/ { print u; exit }' \
                    /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
                [ -n "$uri" ] || uri="$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' \
                    /etc/apt/sources.list 2>/dev/null || true)"
                [ -n "$uri" ] || die "no apt source for Debian bookworm found to add a deb-src entry to"
                cat > /etc/apt/sources.list.d/pollwise-qemu-src.sources <<EOF
Types: deb-src
URIs: $uri
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
                apt-get update -qq
            fi
            # Only the upstream tarball is needed; the Debian packaging files
            # may be gone from the mirror, so failures are judged by the
            # tarball alone.
            (cd "$dl" && apt-get source --download-only qemu >/dev/null 2>&1) || true
            [ -f "$dl/$QEMU_TARBALL" ] || die "could not download $QEMU_TARBALL with apt-get source"
            echo "downloaded $QEMU_TARBALL in $(secs "$t0" "$(now)") s"
        fi
        echo "$QEMU_TARBALL_SHA256  $dl/$QEMU_TARBALL" | sha256sum -c --quiet - \
            || die "$QEMU_TARBALL has the wrong checksum"
        rm -rf "$src" && mkdir -p "$(dirname "$src")"
        tar -C "$(dirname "$src")" -xf "$dl/$QEMU_TARBALL"
        [ -d "$src" ] || die "the tarball did not unpack to $src"
        touch "$src/.pollwise-pristine"
    fi
fi
[ -f "$src/util/aio-posix.c" ] && [ -f "$src/VERSION" ] || die "$src is not a QEMU source tree"
src_version="$(tr -d '[:space:]' < "$src/VERSION")"
case "$src_version" in
    [1-9][0-9].*|[1-9][0-9][0-9].*) ;;
    *) die "$src has VERSION '$src_version': the harness needs QEMU 10.0 or newer" ;;
esac


# --- one variant -------------------------------------------------------------
# Files a patch touches (paths relative to the tree).
patch_files() {
    sed -n -e 's#^+++ b/\([^[:space:]]*\).*#\1#p' -e 's#^--- a/\([^[:space:]]*\).*#\1#p' "$@" | sort -u
}

# Write $2 over $1 only if the contents differ (keeps mtimes stable).
install_if_changed() {
    local dst="$1" new="$2"
    if [ ! -e "$new" ]; then
        [ -e "$dst" ] && rm -f "$dst"
        return 0
    fi
    if ! cmp -s "$new" "$dst"; then
        mkdir -p "$(dirname "$dst")"
        cp "$new" "$dst"
        echo "  updated ${dst#"$tree"/}"
    fi
}

build_variant() {
    local v="$1" t0 t1 t2
    t0=$(now)
    local vdir="$cache/variants/$v"
    tree="$vdir/src"
    local build="$vdir/build"
    mkdir -p "$vdir"
    local patches=() pdir=""
    if [ "$v" != stock ]; then
        pdir="$(patch_dir "$v")"
        local list
        list="$(series_patches "$pdir")" || exit 1
        [ -n "$list" ] && mapfile -t patches <<< "$list"
        [ ${#patches[@]} -gt 0 ] || die "[$v] $pdir has no series file and no *.patch"
    fi

    # A tree copied from another source (another version or directory) is
    # copied afresh, and configured afresh.
    local origin="$src_version $src" fresh=0
    # A tree from before sources were recorded came from the same version.
    if [ -f "$tree/.pollwise-tree" ] && [ ! -f "$tree/.pollwise-source" ] \
        && [ "$(tr -d '[:space:]' < "$tree/VERSION")" = "$src_version" ]; then
        echo "$origin" > "$tree/.pollwise-source"
    fi
    if [ ! -f "$tree/.pollwise-tree" ]; then
        fresh=1
    elif [ "$(cat "$tree/.pollwise-source" 2>/dev/null)" != "$origin" ]; then
        echo "[$v] the source changed to QEMU $src_version ($src)"
        fresh=1
    fi

    # Patches: every file the previous or the current series touches is
    # recomputed from the pristine source plus the current series in a
    # scratch directory, and copied into the tree only if it changed. A
    # series that does not apply stops here, before the tree is touched.
    local files scratch old=""
    [ "$fresh" = 0 ] && old="$(cat "$tree/.pollwise-files")"
    files="$( { [ -n "$old" ] && echo "$old"; if [ ${#patches[@]} -gt 0 ]; then patch_files "${patches[@]}"; fi; } | sort -u)"
    scratch="$(mktemp -d)"
    for f in $files; do
        if [ -e "$src/$f" ]; then
            mkdir -p "$scratch/$(dirname "$f")"
            cp "$src/$f" "$scratch/$f"
        fi
    done
    local i=0 out
    for p in "${patches[@]}"; do
        i=$((i + 1))
        if ! out="$(cd "$scratch" && patch -p1 --fuzz=0 --no-backup-if-mismatch --batch < "$p" 2>&1)"; then
            rm -rf "$scratch"
            echo "$out" | grep -v '^patching file' | head -20 | sed 's/^/  /' >&2
            die "[$v] patch $i of ${#patches[@]}, $(basename "$p") (\"$(patch_subject "$p")\"), does not apply to QEMU $src_version; nothing was changed"
        fi
    done

    if [ "$fresh" = 1 ]; then
        echo "[$v] copying the source tree (QEMU $src_version)"
        rm -rf "$tree" "$build"
        cp -a "$src" "$tree"
        rm -f "$tree/.pollwise-pristine"
        echo "$origin" > "$tree/.pollwise-source"
        touch "$tree/.pollwise-tree"
    fi
    for f in $files; do
        install_if_changed "$tree/$f" "$scratch/$f"
    done
    rm -rf "$scratch"
    if [ ${#patches[@]} -gt 0 ]; then patch_files "${patches[@]}"; fi > "$tree/.pollwise-files"

    # The harness, built by QEMU's own meson as one more unit-test program.
    install_if_changed "$tree/tests/unit/pollwise-qemu-harness.c" "$here/harness/pollwise-qemu-harness.c"
    # The variant's IOThread properties (and, for a series without a
    # harness-config.h, the harness configuration) from the patched tree.
    local conf="$pdir/harness-config.h" gen="$vdir/generated-config.h"
    [ "$v" = stock ] && conf="$here/harness/stock-config.h"
    "$venv/bin/python3" "$here/harness/variant-config.py" "$tree" "$v" "$gen" "$vdir/properties" \
        || die "[$v] the harness cannot drive this tree (see above)"
    if [ ! -f "$conf" ]; then
        [ -n "${series_dir[$v]:-}" ] || [ -d "$cache/series/$v" ] || die "[$v] no harness configuration $conf"
        conf="$gen"
    fi
    install_if_changed "$tree/tests/unit/pollwise-variant.h" "$conf"
    if ! grep -q pollwise-qemu-harness "$tree/tests/unit/meson.build"; then
        cat "$here/harness/meson.build.in" >> "$tree/tests/unit/meson.build"
    fi
    t1=$(now)

    if [ ! -f "$build/build.ninja" ]; then
        echo "[$v] configuring"
        rm -rf "$build" && mkdir -p "$build"
        (cd "$build" && "$tree/configure" --python="$venv/bin/python3" \
            --disable-install-blobs --target-list= --disable-system --disable-user \
            --enable-tools --disable-docs --enable-linux-aio --disable-linux-io-uring --disable-werror \
            --enable-trace-backends=log --disable-debug-info \
            --disable-bochs --disable-cloop --disable-dmg --disable-qcow1 \
            --disable-vdi --disable-vvfat --disable-qed --disable-parallels \
            --disable-replication > configure.log 2>&1) \
            || { tail -30 "$build/configure.log" >&2; die "[$v] configure failed (log: $build/configure.log)"; }
    fi
    local targets=("${HARNESS_TARGETS[@]}")
    [ "$check" = 1 ] && targets+=("${CHECK_TARGETS[@]}")
    echo "[$v] building ${targets[*]}"
    if ! ninja -C "$build" -j "$jobs" "${targets[@]}" > "$vdir/ninja.log" 2>&1; then
        local first
        first="$(grep -n -m1 -E '(error|Error):' "$vdir/ninja.log" | cut -d: -f1)"
        if [ -n "$first" ]; then
            echo "[$v] the compiler's first error:" >&2
            sed -n "$((first > 3 ? first - 3 : 1)),$((first + 8))p" "$vdir/ninja.log" >&2
        else
            tail -40 "$vdir/ninja.log" >&2
        fi
        die "[$v] build failed; the variant's harness (if any) is the one built before (log: $vdir/ninja.log)"
    fi
    grep -E '^\[[0-9]+/[0-9]+\]' "$vdir/ninja.log" | tail -1 | sed "s/^/[$v] last step: /" || true
    mkdir -p "$cache/bin/$v"
    cp "$build/tests/unit/pollwise-qemu-harness" "$cache/bin/$v/pollwise-qemu-harness.new"
    mv "$cache/bin/$v/pollwise-qemu-harness.new" "$cache/bin/$v/pollwise-qemu-harness"
    echo "$src_version" > "$cache/bin/$v/qemu-version"
    cp "$vdir/properties" "$cache/bin/$v/properties"
    for p in "${patches[@]}"; do patch_subject "$p"; done > "$cache/bin/$v/subjects"
    # A series that built is kept, so --variant NAME rebuilds it.
    if [ -n "${series_dir[$v]:-}" ]; then
        rm -rf "$cache/series/$v.new" && mkdir -p "$cache/series/$v.new"
        for p in "${patches[@]}"; do cp "$p" "$cache/series/$v.new/"; done
        for p in "${patches[@]}"; do basename "$p"; done > "$cache/series/$v.new/series"
        [ -f "$pdir/harness-config.h" ] && cp "$pdir/harness-config.h" "$cache/series/$v.new/"
        rm -rf "$cache/series/$v" && mv "$cache/series/$v.new" "$cache/series/$v"
    fi
    t2=$(now)
    if [ "$check" = 1 ]; then
        for t in "${CHECK_TARGETS[@]}"; do
            echo "[$v] running $(basename "$t")"
            # A test that hangs (waiting for an event the loop never sees)
            # fails after CHECK_TIMEOUT seconds instead of blocking the build.
            local rc=0
            (cd "$build" && timeout "$CHECK_TIMEOUT" "./$t" --tap -k > "$vdir/$(basename "$t").log" 2>&1) || rc=$?
            if [ "$rc" = 124 ]; then
                tail -20 "$vdir/$(basename "$t").log" >&2
                die "[$v] $(basename "$t") did not finish within $CHECK_TIMEOUT s (hangs)"
            elif [ "$rc" != 0 ]; then
                tail -20 "$vdir/$(basename "$t").log" >&2
                die "[$v] $(basename "$t") failed"
            fi
            grep -cE '^ok ' "$vdir/$(basename "$t").log" | sed "s/^/[$v]   tests passed: /"
        done
    fi
    echo "[$v] QEMU $src_version, $(grep -c ' set$' "$vdir/properties") IOThread properties set by the harness: $(awk '$2 == "set" { printf "%s%s", s, $1; s = " " }' "$vdir/properties")"
    echo "[$v] build time $(secs "$t0" "$t2") s (tree $(secs "$t0" "$t1") s, configure+ninja $(secs "$t1" "$t2") s)"
}

for v in "${variants[@]}"; do
    build_variant "$v"
done
echo "all variants (${variants[*]}) built in $(secs "$t_all" "$(now)") s; binaries in $cache/bin/"
