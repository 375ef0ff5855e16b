// Package nix is Crest's adapter to Nix: it evaluates a collection's index expression into
// packages and realises derivations, with the nix-instantiate and nix-store commands.
//
// Evaluate runs the index expression of a checkout (index.nix, see testdata/demo) with
// --read-write-mode, so that every derivation it names is in the store and can be realised
// later. Realise and RealiseAll build; they stream output lines and periodic heartbeats to
// callbacks, keep the end of the log, and stop the build with its builders when the context
// is cancelled: SIGINT to nix-store's process group lets Nix kill builders that run as build
// users in sessions of their own, SIGKILL follows after a grace period. Valid answers whether
// a derivation's outputs are already in the store, for idempotent re-runs.
//
// Builders share outputs through a binary cache (Config.Cache): every command substitutes
// from it, trusting its public key only, and Push signs paths with its secret key (given
// to Nix on a pipe) and copies their closures there. AddRoots roots a tag's outputs in
// the store, fetching from the cache what it lacks; CollectGarbage runs nix-store --gc.
// Config.StoreRoot gives the commands a store of their own, mounted on /nix in a mount
// namespace per command, as a separate machine would have.
//
// Errors come in three kinds, so that activities can decide what to retry: *BuildFailure (a
// builder failed; it will fail again), *EvalError (the expression is broken at that commit),
// and everything else, which is infrastructure (*CommandError, ErrUnknownDerivation,
// ErrNixMissing, a cancelled context) and worth retrying.
//
// The adapter holds no global state: every setting (binary directory, --option pairs,
// builders' PATH, log tail size) comes in Config.
package nix
