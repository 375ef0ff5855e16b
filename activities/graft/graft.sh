# The builder of a graft derivation (grafts.nix), run by the host's /bin/sh with PATH set to
# the host's tools. Like Nixpkgs' replaceDependency, it serialises the original output with
# `nix-store --dump`, rewrites store paths byte for byte with sed, and restores the result
# as $out with `nix-store --restore`:
#   - the original's own path becomes $out (self-references; same name, so same length);
#   - every "OLD=NEW" basename pair in $rewrites: first the whole basename (hash and name,
#     which have the same length: the caller checked), then any remaining bare occurrence
#     of OLD's 32-character hash part, so that no reference to OLD survives.
# Store path basenames are [0-9a-zA-Z+-._?=] only: with '.' escaped they are literal in a
# basic regular expression, and '|' cannot occur in them.
set -eu
self_old=${original##*/}
self_new=${out##*/}
set -- -e "s|${self_old%%-*}|${self_new%%-*}|g"
for r in $rewrites; do
  old=${r%%=*}
  new=${r#*=}
  re=$(printf '%s' "$old" | sed 's/[.]/\\./g')
  set -- "$@" -e "s|$re|$new|g" -e "s|${old%%-*}|${new%%-*}|g"
done
nix-store --dump "$original" | LC_ALL=C sed "$@" | nix-store --restore "$out"
echo "grafted $original -> $out ($rewrites)"
