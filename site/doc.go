// Package site is Crest's status site: read-only, server-rendered pages (html/template, no
// JavaScript) for maintainers and release managers — waves and their minor waves with a
// burndown picture, per-package "excuses" (why a package is not green), tags with "which
// tag for my package", and the issues Crest filed. Every page is also JSON, with a .json
// suffix or ?format=json. It reads Postgres through activities/store and knows no secret:
// it is given a store, never a DSN.
package site
