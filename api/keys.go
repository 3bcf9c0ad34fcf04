package api

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// Keys are a server's API keys; an empty key leaves its level open. The
// API and the web UI check keys with the same Keys, so the two headers
// mean the same everywhere.
type Keys struct {
	Admin string // writes, deletes, operator pages
	Read  string // reads (the admin key also works)
}

// RequestKey is the key a request sends: "Authorization: Bearer KEY"
// when it has one, else "X-API-Key: KEY" ("" for neither).
func RequestKey(r *http.Request) string {
	if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return r.Header.Get("X-API-Key")
}

// Allows reports whether the key sent opens access a.
func (k Keys) Allows(a Access, sent string) bool {
	return k.AllowsMatch(a, func(want string) bool { return KeyMatches(sent, want) })
}

// KeyMatches compares a sent key with a wanted one in constant time.
func KeyMatches(sent, want string) bool {
	return sent != "" && want != "" && subtle.ConstantTimeCompare([]byte(sent), []byte(want)) == 1
}

// AllowsMatch is Allows for callers with other ways to prove a key (the web
// UI's login cookie): matches reports, in constant time, whether the
// request proves it holds want, which is never empty.
func (k Keys) AllowsMatch(a Access, matches func(want string) bool) bool {
	match := func(want string) bool { return want != "" && matches(want) }
	switch a {
	case Admin:
		return k.Admin == "" || match(k.Admin)
	case Read:
		return k.Read == "" || match(k.Read) || match(k.Admin)
	}
	return true
}
