// Package githubtest is a fake GitHub REST API for tests: an httptest.Server that
// answers the issue endpoints Crest uses in the shapes GitHub uses (issue and comment
// JSON, Link pagination, rate-limit headers on every response, 401/404/422 error bodies)
// and lets a test inject faults: server errors before or after a request takes effect,
// primary rate-limit exhaustion, secondary limits with Retry-After.
//
// Endpoints: POST and GET /repos/{owner}/{repo}/issues, GET and PATCH
// /repos/{owner}/{repo}/issues/{number}, POST and GET
// /repos/{owner}/{repo}/issues/{number}/comments; for the merge queue, pull requests
// (numbered with the issues and listed among them, as on GitHub): GET
// /repos/{owner}/{repo}/pulls, GET /repos/{owner}/{repo}/pulls/{number} and its /reviews,
// POST /repos/{owner}/{repo}/statuses/{sha} (422 for a commit that no pull request ever
// had as its head) and GET /repos/{owner}/{repo}/commits/{ref}/statuses (newest first);
// each also under /api/v3 as on GitHub Enterprise Server.
package githubtest
