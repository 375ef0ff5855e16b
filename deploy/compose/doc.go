// Package compose reads a Docker Compose file as Crest's deployment writes one
// (deploy/compose/compose.yaml): ${…} interpolated from an .env's variables, YAML anchors
// and merge keys resolved, and every service decoded strictly into the fields this package
// knows, so that a field nobody here understands is an error instead of being ignored.
//
// It holds no Docker: deploy/bench runs the crest services of such a file as processes on
// this machine (crest bench cluster --compose, TestComposeCluster), which is how the file is
// kept in step with the code, and deploy/manifests checks the file's text with its
// interpolation.
package compose
