# shellcheck shell=bash
# Shared by scripts/test.sh and scripts/demo.sh: install missing Debian packages.
#
#   source scripts/lib/deps.sh
#   ensure_packages cmake g++ libboost1.81-dev
#
# Installs only what dpkg does not already have, runs `apt-get update` at most once per shell,
# uses sudo when not root. On a system without dpkg/apt it only warns: the tools may have come
# from elsewhere, and the build will say what is missing.

connpool_apt_updated=${connpool_apt_updated:-0}

# package_installed <pkg>: true when dpkg has <pkg> fully installed.
package_installed() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

ensure_packages() {
    if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
        echo "deps: no dpkg/apt-get here; make sure these are installed: $*" >&2
        return 0
    fi

    local pkg
    local -a missing=()
    for pkg in "$@"; do
        package_installed "$pkg" || missing+=("$pkg")
    done
    if ((${#missing[@]} == 0)); then
        return 0
    fi

    local -a as_root=()
    if ((EUID != 0)); then
        if command -v sudo >/dev/null 2>&1; then
            as_root=(sudo)
        else
            echo "deps: missing packages (${missing[*]}) and neither root nor sudo" >&2
            return 1
        fi
    fi

    echo "deps: installing ${missing[*]}"
    if ((connpool_apt_updated == 0)); then
        "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
        connpool_apt_updated=1
    fi
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}"
}
