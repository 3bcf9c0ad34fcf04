package secret

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadKeepsOneSecret(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	a, err := Load(dir)
	if err != nil || len(a) != Size {
		t.Fatalf("first load: %d bytes, %v", len(a), err)
	}
	fi, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	b, err := Load(dir)
	if err != nil || string(a) != string(b) {
		t.Fatal("a second load made another secret")
	}
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "holds 5 bytes") {
		t.Fatalf("a damaged secret: %v", err)
	}
}

func TestMAC(t *testing.T) {
	k1, k2 := New(), New()
	for _, c := range []struct {
		name string
		ok   bool
		key  []byte
		p    string
		args []string
	}{
		{"same", true, k1, "sid", []string{"ab", "c"}},
		{"other key", false, k2, "sid", []string{"ab", "c"}},
		{"other purpose", false, k1, "user", []string{"ab", "c"}},
		{"parts shifted", false, k1, "sid", []string{"a", "bc"}},
		{"parts joined", false, k1, "sid", []string{"abc"}},
	} {
		mac := MAC(k1, "sid", "ab", "c")
		if got := Verify(c.key, mac, c.p, c.args...); got != c.ok {
			t.Errorf("%s: Verify = %v, want %v", c.name, got, c.ok)
		}
	}
}
