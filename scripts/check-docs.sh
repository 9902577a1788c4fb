#!/usr/bin/env bash
# scripts/check-docs.sh: what README.md promises a new user, checked (ctest: docs_readme).
#
#   1. Every script the README names exists and is executable (mode 100755 in git when this is
#      a git checkout), and .ci/run runs the test command exactly as the README writes it.
#   2. The README's package list of the test command is the one scripts/test.sh installs
#      (ensure_packages), and includes what scripts/demo.sh installs.
#   3. Every code block after a "<!-- snippet: <file> -->" line is that file's code: each line
#      of the block appears in the file, in the same order (lines may be left out). A line that
#      is only a "// ..." comment stands for omitted code and is skipped; a "  // ..." comment
#      after code is the README's own note and is not compared. The quick start block has at
#      most 30 lines.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
readme=README.md
failures=0
fail() {
    echo "check-docs: $*" >&2
    failures=$((failures + 1))
}

# --- 1. scripts named by the README ---------------------------------------------------------
in_git=0
if command -v git >/dev/null 2>&1 && git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1 &&
    [[ -n $(git -C "$root" ls-files scripts/test.sh) ]]; then
    in_git=1
fi
mapfile -t scripts < <(grep -oE '(scripts|\.ci)/[A-Za-z0-9_./-]+' "$readme" | grep -E '\.sh$|^\.ci/run$' |
    sort -u)
scripts+=(.ci/run)
for s in "${scripts[@]}"; do
    if [[ ! -f $s ]]; then
        fail "README names $s, which does not exist"
        continue
    fi
    if ((in_git)); then
        mode=$(git -C "$root" ls-files -s -- "$s" | awk '{print $1}')
        # Sourced libraries need not be executable; a script run as a command must be.
        if [[ $mode != 100755 && $s != scripts/lib/* ]]; then
            fail "$s is mode ${mode:-untracked} in git, not 100755: '$s' would say Permission denied (git update-index --chmod=+x $s)"
        fi
    fi
    if [[ ! -x $s && $s != scripts/lib/* ]]; then
        fail "$s is not executable here (chmod +x $s)"
    fi
done
test_command=$(grep -oE '^scripts/test\.sh' "$readme" | head -n1)
if [[ -z $test_command ]]; then
    fail "README shows no test command (a line starting with scripts/test.sh)"
elif ! grep -qE "^[[:space:]]*(exec[[:space:]]+)?${test_command//./\\.}[[:space:]]*$" .ci/run; then
    fail ".ci/run does not run '$test_command' as the README writes it"
fi
if grep -qE '(^|[[:space:]])(bash|sh)[[:space:]]+scripts/' .ci/run; then
    fail ".ci/run runs a script through bash/sh: a missing executable bit would go unnoticed"
fi

# --- 2. packages -----------------------------------------------------------------------------
# packages_of <script>: the arguments of its ensure_packages call (continuation lines joined).
packages_of() {
    sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$1" | grep -E '^[[:space:]]*ensure_packages ' |
        head -n1 | sed -E 's/^[[:space:]]*ensure_packages //' | tr -s ' \t' '\n' | grep -v '^$' |
        sort -u
}
# The README's list: the apt-get install line and the "#   pkg pkg" lines below it.
readme_packages=$(awk '
    /^apt-get install / { sub(/^apt-get install /, ""); sub(/#.*/, ""); print; on = 1; next }
    on && /^#   / { sub(/^#   /, ""); print; next }
    on && /^```/ { exit }' "$readme" | tr -s ' \t' '\n' | grep -v '^$' | sort -u)
if [[ -z $readme_packages ]]; then
    fail "README has no 'apt-get install' package list"
else
    missing=$(comm -23 <(packages_of scripts/test.sh) <(echo "$readme_packages"))
    extra=$(comm -13 <(packages_of scripts/test.sh) <(echo "$readme_packages"))
    [[ -z $missing ]] || fail "scripts/test.sh installs packages the README does not list:" $missing
    [[ -z $extra ]] || fail "the README lists packages scripts/test.sh does not install:" $extra
    missing=$(comm -23 <(packages_of scripts/demo.sh) <(echo "$readme_packages"))
    [[ -z $missing ]] || fail "scripts/demo.sh installs packages the README does not list:" $missing
fi

# --- 3. snippets -----------------------------------------------------------------------------
mapfile -t snippets < <(grep -oE '<!-- snippet: [^ ]+ -->' "$readme" | awk '{print $3}')
((${#snippets[@]} > 0)) || fail "README has no <!-- snippet: ... --> block"
n=0
for file in "${snippets[@]}"; do
    n=$((n + 1))
    if [[ ! -f $file ]]; then
        fail "snippet source $file does not exist"
        continue
    fi
    # The n-th marker's code block.
    block=$(awk -v want="$n" '
        /<!-- snippet: [^ ]+ -->/ { seen++; next }
        seen == want && !inside && /^```/ { inside = 1; next }
        inside && /^```/ { exit }
        inside { print }' "$readme")
    lines=$(printf '%s\n' "$block" | wc -l)
    if [[ $file == examples/quick_start.cpp ]] && ((lines > 30)); then
        fail "the README's quick start has $lines lines (at most 30)"
    fi
    result=$(printf '%s\n' "$block" | awk -v src="$file" '
        function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
        function code(s) { sub(/[ \t]*\/\/.*$/, "", s); return trim(s) }
        BEGIN { while ((getline l < src) > 0) f[++nf] = trim(l); at = 1 }
        {
            r = trim($0)
            if (r == "" || r ~ /^\/\/ \.\.\./) next
            note = (r ~ /[ \t]\/\/ \.\.\./)
            if (note) { r = r; sub(/[ \t]*\/\/ \.\.\..*$/, "", r) }
            found = 0
            for (i = at; i <= nf; i++)
                if (f[i] == r || (note && code(f[i]) == r)) { found = i; break }
            if (!found) { print "line not found in order: " $0; bad = 1; exit }
            at = found + 1
        }
        END { if (!bad) print "ok" }')
    [[ $result == ok ]] || fail "README's snippet of $file differs from it: $result"
done

if ((failures > 0)); then
    echo "check-docs: $failures problem(s) in README.md and what it describes" >&2
    exit 1
fi
echo "check-docs: README.md's scripts, package list and ${#snippets[@]} snippet(s) check out"
