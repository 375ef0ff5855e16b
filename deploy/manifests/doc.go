// Package manifests holds no code: its tests check the deployment files in deploy/ against
// the code they deploy, so that a renamed config key, a missing secret reference or a builder
// nobody serves fails `go test ./deploy/manifests/` instead of a rollout.
//
// What is checked:
//   - deploy/Dockerfile: the Go toolchain matches go.mod (GOTOOLCHAIN=local, -trimpath), the
//     runtime has git and Nix, runs as a non-root user and has crest as its entrypoint.
//   - deploy/k8s: every document decodes strictly into its typed Kubernetes object (an
//     unknown field fails); names, labels and references (ConfigMap keys, Secret keys,
//     volumes, claims, PodDisruptionBudget selectors, the kustomization's resources) hold.
//   - deploy/compose: services reference defined volumes, secrets and services; ${…}
//     variables are declared in .env.example; images are pinned.
//   - Both: every crest container runs the image's crest entrypoint with a known subcommand
//     (worker, migrate up) and flags; every CREST_* variable names a key registered in
//     cmd/crest/config.go (read from its source, so a renamed key fails here); secrets come
//     from secretKeyRef or ${…} from .env, never literals; crest.yaml uses only known keys and
//     no secret ones; resources are bounded; builders set CREST_WORKER_SYSTEMS, every system
//     of every collection has a builder, the orchestrator alone serves the workflow queue; the
//     search attributes registered are those of workflows.SearchAttributes; every worker has
//     a Nix store of its own (the orchestrator's, the tag host's, persistent with its
//     data_dir), all share one binary cache (a file:// cache on a volume every worker mounts)
//     and trust its public key, and builders alone hold its secret key, from a secret file.
//   - Compose against Kubernetes: the same crest.yaml, and for the migration, the
//     orchestrator and each builder the same command line, CREST_* variables (equal where both
//     write the value out), replicas and storage of /nix, data_dir and the cache.
//
// TestComposeCluster (cmd/crest) goes further and runs the compose file's crest services,
// without Docker, through the demo wave (deploy/bench.ComposeTopology).
package manifests
