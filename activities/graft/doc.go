// Package graft produces grafts with real Nix: the built output of a package with every
// reference to an old store path rewritten to a new one, so that a security fix to a
// library reaches its dependents without rebuilding them. It is Crest's counterpart of
// Nixpkgs' replaceDependency: a derivation whose builder dumps the original output
// (`nix-store --dump`), rewrites the store path basenames byte for byte with sed, and
// restores the result as its own output (`nix-store --restore`). The derivations come from
// grafts.nix, a Nix expression a collection's index and package set can import with a list
// of grafts (WriteExpression writes it with the list beside it), so that `nix-build` or
// `nix-store --realise` reproduces every grafted output.
//
// # When a graft is refused
//
// Check decides, before anything is written, whether one graft is safe, with its reason:
//
//   - Every old and new store path must have basenames of the same length (in practice,
//     names of the same length: "libcrypto-2.5.0" → "libcrypto-2.5.1"); bytes are rewritten
//     in place, so a longer or shorter path would corrupt binaries and archives.
//   - The package must not embed the old output. Rule: a non-empty regular file of the
//     dependent's output that is byte-identical to a regular file of the old output (a
//     copied library, a statically linked copy shipped as a file) is an embedding, and the
//     graft is refused. The rule is conservative: an identical file may be a harmless copy
//     (a licence text), and then the answer is a rebuild, which is always safe. Content
//     that was transformed on the way in (a static link into a larger binary, defines copied
//     into a generated file) cannot be recognised by content; a package known to do that
//     says so with a marker file nix-support/embeds listing the package names it embeds,
//     one a line, and is refused for them as well.
//   - A package whose output does not refer to any old path at all needs no graft: Check
//     answers Skip (replacements of paths it does not refer to are dropped from the others).
//
// Refusals are *UnsafeError values with a stable Rule, so that the workflow can offer the
// rebuild strategy with the reason (policy.ChooseStrategy takes the same facts as
// policy.Graftability).
package graft
