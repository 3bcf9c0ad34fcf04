// Package secret keeps a server's signing secret: 32 random bytes in a
// file of the data directory, made on first start and readable by the
// owner only. The storefront signs its shopper sessions with it and the
// API derives pseudonyms from it, so both survive restarts; deleting the
// file ends every signed session at the next start.
package secret

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// FileName is the secret's file in the data directory.
const FileName = "server.secret"

// Size is the length of a secret in bytes.
const Size = 32

// Load reads the secret of data directory dir, creating it (and dir) when
// there is none. A file of the wrong size is an error naming the file,
// never silently replaced: sessions signed with it would all end.
func Load(dir string) ([]byte, error) {
	path := filepath.Join(dir, FileName)
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) != Size {
			return nil, fmt.Errorf("server secret %s holds %d bytes, want %d: delete it to make a new one (every storefront session then ends)", path, len(b), Size)
		}
		return b, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read the server secret: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create the data directory for the server secret: %w", err)
	}
	b = New()
	// O_EXCL: two servers starting at once over one directory keep one
	// secret (the loser reads the winner's).
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return Load(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("create the server secret: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("write the server secret %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("write the server secret %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("write the server secret %s: %w", path, err)
	}
	return b, nil
}

// New returns a fresh random secret (for servers without a data
// directory, such as tests: their signatures end with the process).
func New() []byte {
	b := make([]byte, Size)
	rand.Read(b) // never fails (crypto/rand panics rather than return short)
	return b
}

// MAC is the hex HMAC-SHA256 of the parts under key, each part
// length-prefixed so that ("ab","c") and ("a","bc") differ; purpose keeps
// the uses of one secret apart.
func MAC(key []byte, purpose string, parts ...string) string {
	m := hmac.New(sha256.New, key)
	writePart := func(s string) {
		var n [4]byte
		l := len(s)
		n[0], n[1], n[2], n[3] = byte(l>>24), byte(l>>16), byte(l>>8), byte(l)
		m.Write(n[:])
		m.Write([]byte(s))
	}
	writePart(purpose)
	for _, p := range parts {
		writePart(p)
	}
	return hex.EncodeToString(m.Sum(nil))
}

// Verify reports, in constant time, whether mac is MAC(key, purpose, parts...).
func Verify(key []byte, mac, purpose string, parts ...string) bool {
	return hmac.Equal([]byte(mac), []byte(MAC(key, purpose, parts...)))
}
