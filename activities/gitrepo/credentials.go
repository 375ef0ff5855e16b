package gitrepo

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Credential is what git sends to the repositories whose URL starts with URLPrefix: a
// username and a password or token. The adapter hands it to git only through the
// environment of the git child (GIT_ASKPASS and a helper that reads it from there), never on
// a command line, in a URL it stores, or in an error.
type Credential struct {
	// URLPrefix is the repository URL, without credentials, or a prefix of it
	// ("https://git.example/org/"). The longest prefix that matches wins; a prefix that does
	// not end in "/" matches only up to a "/" (https://git.example does not match
	// https://git.example.evil/).
	URLPrefix string `json:"-"`
	Username  string `json:"-"`
	Password  string `json:"-"`
}

// String shows where the credential applies and hides the secret, so that printing one by
// mistake leaks nothing.
func (c Credential) String() string {
	return fmt.Sprintf("credential for %s (user %s)", c.URLPrefix, redactedUser(c))
}

// GoString hides the secret from %#v too.
func (c Credential) GoString() string { return c.String() }

func redactedUser(c Credential) string {
	if c.Password == "" { // the username is the token
		return "***"
	}
	return c.Username
}

// secrets returns what must never be shown: the password, or the username when it is a
// token on its own.
func (c Credential) secrets() []string {
	var out []string
	for _, s := range []string{c.Password, c.Username} {
		if s != "" {
			out = append(out, s)
		}
		if c.Password != "" {
			break // a username next to a password is a name, not a secret
		}
	}
	return out
}

// matches tells whether the credential applies to a URL without credentials.
func (c Credential) matches(u string) bool {
	p := c.URLPrefix
	if p == "" || !strings.HasPrefix(u, p) {
		return false
	}
	return len(u) == len(p) || strings.HasSuffix(p, "/") || u[len(p)] == '/'
}

// lookupCredential returns the credential with the longest prefix of u.
func lookupCredential(creds []Credential, u string) (Credential, bool) {
	best, found := Credential{}, false
	for _, c := range creds {
		if c.matches(u) && (!found || len(c.URLPrefix) > len(best.URLPrefix)) {
			best, found = c, true
		}
	}
	return best, found
}

// SplitCredentials takes the credentials out of an http(s) repository URL
// (https://user:token@host/…, or https://token@host/… with the token alone as the user): it
// returns the URL without them and a Credential for that URL. Other URLs (paths, ssh://git@…,
// scp-like git@host:repo, where the user is not a secret) come back unchanged with ok false.
func SplitCredentials(raw string) (clean string, cred Credential, ok bool) {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return raw, Credential{}, false
	}
	password, _ := u.User.Password()
	cred = Credential{Username: u.User.Username(), Password: password}
	u.User = nil
	clean = u.String()
	cred.URLPrefix = clean
	return clean, cred, true
}

// HasCredentials tells whether a repository URL carries a secret: any userinfo in an
// http(s) URL, or a password in a URL of another scheme.
func HasCredentials(raw string) bool {
	if _, _, ok := SplitCredentials(raw); ok {
		return true
	}
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return false
	}
	_, has := u.User.Password()
	return has
}

// userinfoRE finds the credentials of URLs in free text (git's messages, arguments).
var userinfoRE = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/\s@'"]+@`)

// scrub removes credentials from text: every secret of creds (as it is and URL-escaped)
// and the userinfo of any URL. It is the last line of defence: credentials are never given
// to git where it could echo them, but an error must not leak one if it does.
func scrub(text string, creds []Credential) string {
	for _, c := range creds {
		for _, s := range c.secrets() {
			if len(s) < 3 { // nothing worth hiding, and hiding it would garble the text
				continue
			}
			for _, form := range []string{s, url.QueryEscape(s), url.PathEscape(s)} {
				text = strings.ReplaceAll(text, form, "***")
			}
		}
	}
	return userinfoRE.ReplaceAllString(text, "${1}***@")
}

// askPassScript answers git's prompts from the environment of the git child it was started
// by, and only for the origin (scheme://host:port) Crest meant: a redirect to another host
// gets no answer, and git fails instead of sending the credential there. printf is a shell
// builtin, so the secret is never on a command line.
const askPassScript = `#!/bin/sh
# Crest's GIT_ASKPASS helper: it answers from CREST_GIT_ASKPASS_* in its environment.
case "$1" in
"Username for '$CREST_GIT_ASKPASS_ORIGIN'"*)
	printf '%s\n' "$CREST_GIT_ASKPASS_USERNAME" ;;
"Password for '$CREST_GIT_ASKPASS_ORIGIN'"* | "Password for '$CREST_GIT_ASKPASS_SCHEME://"*"@$CREST_GIT_ASKPASS_HOST'"*)
	printf '%s\n' "$CREST_GIT_ASKPASS_PASSWORD" ;;
*)
	exit 1 ;;
esac
`

// askPass writes the helper into a private directory beside the working repository (0700,
// owned by the worker, so nobody else can replace it) and returns its path. It holds no
// secret. Called with the repository locked.
func (r *Repo) askPass() (string, error) {
	dir := r.cfg.Dir + ".askpass"
	path := filepath.Join(dir, "askpass.sh")
	if b, err := os.ReadFile(path); err == nil && string(b) == askPassScript {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("askpass helper: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return "", fmt.Errorf("askpass helper: %w", err)
	}
	f, err := os.CreateTemp(dir, "askpass-*.tmp")
	if err != nil {
		return "", fmt.Errorf("askpass helper: %w", err)
	}
	_, werr := f.WriteString(askPassScript)
	cerr := f.Close()
	if err := os.Chmod(f.Name(), 0o700); err != nil || werr != nil || cerr != nil {
		_ = os.Remove(f.Name())
		return "", fmt.Errorf("askpass helper: %v %v %v", werr, cerr, err)
	}
	if err := os.Rename(f.Name(), path); err != nil { // atomic for other processes
		_ = os.Remove(f.Name())
		return "", fmt.Errorf("askpass helper: %w", err)
	}
	return path, nil
}

// credentialEnv is the environment that lets git authenticate to remote (a URL without
// credentials) with cred, and the arguments that keep the operator's credential helpers from
// answering first or storing the credential.
func (r *Repo) credentialEnv(remote string, cred Credential) (env, args []string, err error) {
	u, err := url.Parse(remote)
	if err != nil || u.Host == "" {
		return nil, nil, fmt.Errorf("credentials for %s: not a URL", RedactURL(remote))
	}
	helper, err := r.askPass()
	if err != nil {
		return nil, nil, err
	}
	env = []string{
		"GIT_ASKPASS=" + helper,
		"GIT_TERMINAL_PROMPT=0",
		"CREST_GIT_ASKPASS_ORIGIN=" + u.Scheme + "://" + u.Host,
		"CREST_GIT_ASKPASS_SCHEME=" + u.Scheme,
		"CREST_GIT_ASKPASS_HOST=" + u.Host,
		"CREST_GIT_ASKPASS_USERNAME=" + cred.Username,
		"CREST_GIT_ASKPASS_PASSWORD=" + cred.Password,
	}
	// An empty credential.helper clears the list configured for the user or the system.
	return env, []string{"-c", "credential.helper="}, nil
}
