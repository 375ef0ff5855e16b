// Package githttptest serves bare git repositories over smart HTTPS with basic
// authentication, through git's own http-backend (net/http/cgi), for tests that need a real
// remote that refuses anyone without the token: cloning, fetching and pushing through it
// proves credentials reach git, and counting its requests proves where they went.
package githttptest
