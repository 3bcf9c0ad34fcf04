package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/aisle-dev/aisle/embed"
	"github.com/aisle-dev/aisle/store/vecfile"
)

// vectorCache is the --vectors cache of `aisle eval search`: item vectors
// keyed by embedder identity and text hash, so repeated semantic and
// hybrid evaluations do not embed the catalogue again.
type vectorCache struct {
	path string
	file *vecfile.File
}

// prober is implemented by remote embedders that learn their dimension
// from a first request (embed/openai).
type prober interface {
	Probe(ctx context.Context) (int, error)
}

// openVectorCache loads the cache named by flag: "none" disables it, ""
// means <user cache dir>/aisle/vectors/<space>.vec.
func openVectorCache(ctx context.Context, flag string, emb embed.Embedder, errw io.Writer) (*vectorCache, error) {
	if flag == "none" {
		return nil, nil
	}
	if emb.Dim() == 0 {
		if p, ok := emb.(prober); ok {
			if _, err := p.Probe(ctx); err != nil {
				return nil, fmt.Errorf("--embedder: %w", err)
			}
		}
	}
	space := fmt.Sprintf("%s/%d", emb.Name(), emb.Dim())
	path := flag
	if path == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			fmt.Fprintf(errw, "no vector cache (%v); pass --vectors FILE to keep item vectors between runs\n", err)
			return nil, nil
		}
		name := strings.Map(func(r rune) rune {
			if r == '/' || r == '\\' || r == ':' || r == '*' || r == ' ' {
				return '_'
			}
			return r
		}, space)
		path = filepath.Join(dir, "aisle", "vectors", name+".vec")
	}
	f, err := vecfile.Load(path, space)
	if err != nil {
		return nil, fmt.Errorf("--vectors: %w", err)
	}
	fmt.Fprintf(errw, "vector cache %s: %d vectors of %s\n", path, f.Len(), space)
	return &vectorCache{path: path, file: f}, nil
}

// progressLogger logs background work (embedding progress) to w.
func progressLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// vectorWaiter is the part of search.Index waitAndSave uses.
type vectorWaiter interface {
	WaitVectors(ctx context.Context) error
	Close() error
}

// waitAndSave waits for ix's background embedding and writes the cache
// back. When embedding failed it still saves the vectors that were
// computed, so the next run embeds only the rest, and then returns the
// embedding error; it closes ix first so that no retry writes to the cache
// while it is saved. c may be nil (no cache).
func (c *vectorCache) waitAndSave(ctx context.Context, ix vectorWaiter, errw io.Writer) error {
	werr := ix.WaitVectors(ctx)
	if werr != nil {
		if err := ix.Close(); err != nil {
			return errors.Join(werr, err)
		}
	}
	if err := c.save(errw); err != nil {
		return errors.Join(werr, err)
	}
	return werr
}

// save writes the cache back when it changed.
func (c *vectorCache) save(errw io.Writer) error {
	if c == nil || !c.file.Dirty() {
		return nil
	}
	if err := c.file.Save(c.path); err != nil {
		return fmt.Errorf("--vectors: %w", err)
	}
	fmt.Fprintf(errw, "vector cache %s: saved %d vectors\n", c.path, c.file.Len())
	return nil
}
