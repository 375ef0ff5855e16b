// Package chartstest reads pictures back for tests: what an SVG says, as a person would
// read it. Tests of charts, of the plans that planview draws and of the status site share
// it, like net/http/httptest.
package chartstest
