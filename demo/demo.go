// Package demo holds Aisle's demo catalogue inside the binary: the Amazon
// Office Products 5-core data set (2,420 products, 4,905 users, 53,258
// purchases) converted once into Aisle's JSON Lines import format by
// demo/convert. `aisle demo` imports these files into an empty data folder.
//
// The data is McAuley et al.'s Amazon review data, published for research
// use with a citation request; see data/SOURCE.md for the source, licence
// terms, citations and how to regenerate the files.
package demo

import (
	"compress/gzip"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

//go:embed data/items.jsonl data/users.jsonl data/events.jsonl.gz data/SOURCE.md data/gift
var files embed.FS

// Names of the embedded files inside FS. A ".gz" name is gzip-compressed
// JSON Lines; the importer recognises both by their extension.
const (
	ItemsFile  = "data/items.jsonl"     // one catalog.Item per line
	UsersFile  = "data/users.jsonl"     // one catalog.User per line
	EventsFile = "data/events.jsonl.gz" // one events.Event per line, oldest first
	SourceFile = "data/SOURCE.md"       // provenance, licence terms and citations
)

// Row counts of the embedded files, e.g. for progress bars.
const (
	NumItems  = 2420
	NumUsers  = 4905
	NumEvents = 53258
)

// The demo's second shop, "gift": a subset of the UCI Online Retail data
// set (a UK gift retailer, prices in GBP), converted by demo/convertgift;
// see data/gift/SOURCE.md for its licence (CC BY 4.0) and citation.
const (
	GiftShop       = "gift"
	GiftItemsFile  = "data/gift/items.jsonl.gz"
	GiftUsersFile  = "data/gift/users.jsonl.gz"
	GiftEventsFile = "data/gift/events.jsonl.gz"
	GiftSourceFile = "data/gift/SOURCE.md"
	NumGiftItems   = 3791
	NumGiftUsers   = 1043
	NumGiftEvents  = 91160
)

// FS returns the embedded files, named as in ItemsFile, UsersFile, EventsFile
// and SourceFile.
func FS() fs.FS { return files }

// Open returns the JSON Lines content of one embedded file, decompressed when
// its name ends in ".gz". The caller closes it.
func Open(name string) (io.ReadCloser, error) {
	f, err := files.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open demo file %q: %w", name, err)
	}
	if !strings.HasSuffix(name, ".gz") {
		return f, nil
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open demo file %q: %w", name, err)
	}
	return &gzipFile{Reader: zr, f: f}, nil
}

type gzipFile struct {
	*gzip.Reader
	f fs.File
}

func (g *gzipFile) Close() error {
	err := g.Reader.Close()
	if cerr := g.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Extract writes the items, users and events files into dir (created if
// needed) unchanged, and returns their paths, for an importer that reads
// files from disk.
func Extract(dir string) (items, users, events string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", "", fmt.Errorf("extract demo data: %w", err)
	}
	var paths [3]string
	for i, name := range []string{ItemsFile, UsersFile, EventsFile} {
		data, err := files.ReadFile(name)
		if err != nil {
			return "", "", "", fmt.Errorf("extract demo data: %w", err)
		}
		p := filepath.Join(dir, path.Base(name))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return "", "", "", fmt.Errorf("extract demo data: %w", err)
		}
		paths[i] = p
	}
	return paths[0], paths[1], paths[2], nil
}
