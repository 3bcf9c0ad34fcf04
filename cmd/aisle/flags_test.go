package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// Flags > environment > file, and a flag counts only when given: its zero
// value overrides the file, its absence does not.
func TestFlagsOverEnvOverFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "aisle.yaml")
	os.WriteFile(file, []byte("data: /from/file\nserver:\n  addr: file:1\n  max_body_bytes: 100\n  access_log: true\n  shutdown_timeout: 30s\n"), 0o644)
	t.Setenv("AISLE_SERVER_ADDR", "env:2")
	t.Setenv("AISLE_DATA", "/from/env")
	for _, c := range []struct {
		name     string
		args     []string
		addr     string
		data     string
		maxBody  int64
		access   bool
		shutdown time.Duration
	}{
		{"no flags", nil, "env:2", "/from/env", 100, true, 30 * time.Second},
		{"flags", []string{"--addr", "flag:3", "--data", "/from/flag"}, "flag:3", "/from/flag", 100, true, 30 * time.Second},
		{"zero flags", []string{"--max-body", "0", "--access-log=false", "--shutdown-timeout", "0s"}, "env:2", "/from/env", 0, false, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			var f serveFlags
			cmd := &cobra.Command{Use: "serve"}
			f.register(cmd)
			if err := cmd.Flags().Parse(append([]string{"--config", file}, c.args...)); err != nil {
				t.Fatal(err)
			}
			cfg, err := f.load()
			if err != nil {
				t.Fatal(err)
			}
			s := cfg.Server
			if s.Addr != c.addr || cfg.Data != c.data || s.MaxBodyBytes != c.maxBody || s.AccessLog != c.access || s.ShutdownTimeout != c.shutdown {
				t.Errorf("got addr %q data %q max_body %d access_log %v shutdown %v", s.Addr, cfg.Data, s.MaxBodyBytes, s.AccessLog, s.ShutdownTimeout)
			}
		})
	}
	t.Run("bad flag value names the flag", func(t *testing.T) {
		var f serveFlags
		cmd := &cobra.Command{Use: "serve"}
		f.register(cmd)
		cmd.Flags().Parse([]string{"--log-format", "xml"})
		if _, err := f.load(); err == nil {
			t.Fatal("log format xml accepted")
		}
	})
}
