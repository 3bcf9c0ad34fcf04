package store

import (
	"context"
	"crypto/sha256"
	"time"
)

// DashboardSession is one open dashboard login. The store never holds the
// session's token, only its SHA-256, so a copy of the store opens no
// session.
type DashboardSession struct {
	// TokenHash is the SHA-256 of the random token in the login cookie.
	TokenHash [32]byte
	// Level is the access the session grants: "admin" or "read".
	Level string
	// KeyCheck is SessionKeyCheck of the token hash and the key the
	// session was opened with: after that key is rotated the check no
	// longer matches and the session is void.
	KeyCheck [32]byte
	// Expires is when the session ends.
	Expires time.Time
}

// SessionKeyCheck binds a session to the key that opened it: the SHA-256
// of a label, the token hash and the key. The token hash salts it, so
// stored checks cannot be compared across sessions to learn which share a
// key.
func SessionKeyCheck(tokenHash [32]byte, key string) [32]byte {
	h := sha256.New()
	h.Write([]byte("aisle dashboard session key\x00"))
	h.Write(tokenHash[:])
	h.Write([]byte(key))
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// MaxSessionLevelLen bounds DashboardSession.Level.
const MaxSessionLevelLen = 16

// Sessions keeps dashboard logins, so that every replica sharing the store
// knows them and a restart keeps them (issue 12). Writes are durable when
// they return: a logout is a revocation every replica sees at once.
type Sessions interface {
	// PutSession stores (or replaces) a session.
	PutSession(ctx context.Context, s DashboardSession) error
	// GetSession returns the session with this token hash, expired or
	// not (the caller checks Expires and KeyCheck); ErrNotFound when none.
	GetSession(ctx context.Context, tokenHash [32]byte) (DashboardSession, error)
	// DeleteSession removes a session; an absent one is no error.
	DeleteSession(ctx context.Context, tokenHash [32]byte) error
	// PruneSessions deletes the sessions expired at now and then, while
	// more than keep remain, those that expire first. It returns how many
	// it deleted.
	PruneSessions(ctx context.Context, now time.Time, keep int) (int, error)
}
