// Package githubtest is a fake GitHub REST API for tests: an httptest.Server that
// answers the issue endpoints Crest uses in the shapes GitHub uses (issue and comment
// JSON, Link pagination, rate-limit headers on every response, 401/404/422 error bodies)
// and lets a test inject faults: server errors before or after a request takes effect,
// primary rate-limit exhaustion, secondary limits with Retry-After.
//
// Endpoints: POST and GET /repos/{owner}/{repo}/issues, GET and PATCH
// /repos/{owner}/{repo}/issues/{number}, POST and GET
// /repos/{owner}/{repo}/issues/{number}/comments, each also under /api/v3 as on GitHub
// Enterprise Server.
package githubtest
