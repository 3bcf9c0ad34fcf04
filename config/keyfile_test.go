package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 12 item 8: keys can come from files (out of the process list).
func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	admin, read := write("admin", "s3cret-admin\n"), write("read", "reader\r\n")
	empty, two := write("empty", "\n"), write("two", "a\nb\n")
	for _, c := range []struct {
		name      string
		env       map[string]string
		over      []Override
		wantAdmin string
		wantRead  string
		err       string
	}{
		{"files by flag", nil, []Override{{"server.admin_key_file", admin, "--admin-key-file"}, {"server.read_key_file", read, "--read-key-file"}}, "s3cret-admin", "reader", ""},
		{"file by env", map[string]string{"AISLE_SERVER_ADMIN_KEY_FILE": admin}, nil, "s3cret-admin", "", ""},
		{"key by env", map[string]string{"AISLE_SERVER_ADMIN_KEY": "from-env"}, nil, "from-env", "", ""},
		{"both ways", map[string]string{"AISLE_SERVER_ADMIN_KEY": "x"}, []Override{{"server.admin_key_file", admin, "--admin-key-file"}}, "", "", "both set"},
		{"missing file", nil, []Override{{"server.read_key_file", filepath.Join(dir, "nope"), "--read-key-file"}}, "", "", "read_key_file"},
		{"empty file", nil, []Override{{"server.admin_key_file", empty, "--admin-key-file"}}, "", "", "one line"},
		{"two lines", nil, []Override{{"server.admin_key_file", two, "--admin-key-file"}}, "", "", "one line"},
	} {
		lookup := func(k string) (string, bool) { v, ok := c.env[k]; return v, ok }
		cfg, err := Resolve("", lookup, c.over)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want one about %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil || cfg.Server.AdminKey != c.wantAdmin || cfg.Server.ReadKey != c.wantRead {
			t.Errorf("%s: keys %q, %q, %v; want %q, %q", c.name, cfg.Server.AdminKey, cfg.Server.ReadKey, err, c.wantAdmin, c.wantRead)
		}
	}
}
