package wire

import (
	"fmt"

	"github.com/crestwaves/crest/activities/gitrepo"
)

// CheckNoCredentials refuses a repository URL that carries credentials
// (https://user:token@host/…, https://token@host/…, or a password in any URL). What a
// workflow receives is kept in its history, shown in the Web UI and copied into Postgres and
// issues, so a token must never travel in a URL: the worker's configuration supplies it
// (git.credentials in crest.yaml, CREST_GIT_CREDENTIALS, or the userinfo of a configured
// remote, which Crest strips at load). The error shows the URL with the credentials masked.
func CheckNoCredentials(url string) error {
	if !gitrepo.HasCredentials(url) {
		return nil
	}
	return fmt.Errorf("repository %s carries credentials in its URL: remove them and configure them for the workers instead "+
		"(git.credentials in crest.yaml or CREST_GIT_CREDENTIALS), so the token never lands in the wave's history, logs or database",
		gitrepo.RedactURL(url))
}
