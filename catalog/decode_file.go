package catalog

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"strings"
)

// Format is the encoding of a data file.
type Format string

// The file formats the importer reads.
const (
	JSONL Format = "jsonl"
	CSV   Format = "csv"
)

// FormatOf picks the format of a file from its name: .jsonl/.ndjson/.json
// are JSON Lines, .csv is comma-separated and .tsv tab-separated; a trailing
// .gz means gzip.
func FormatOf(path string) (f Format, sep rune, gz bool, err error) {
	name := strings.ToLower(path)
	if strings.HasSuffix(name, ".gz") {
		gz = true
		name = strings.TrimSuffix(name, ".gz")
	}
	switch {
	case strings.HasSuffix(name, ".jsonl"), strings.HasSuffix(name, ".ndjson"), strings.HasSuffix(name, ".json"):
		return JSONL, 0, gz, nil
	case strings.HasSuffix(name, ".csv"):
		return CSV, ',', gz, nil
	case strings.HasSuffix(name, ".tsv"):
		return CSV, '\t', gz, nil
	}
	return "", 0, false, fmt.Errorf("cannot tell the format of %q: name it .jsonl, .ndjson, .csv or .tsv (optionally .gz)", path)
}

// File is an opened data file: its decompressed content and the count of
// compressed bytes read so far (for progress).
type File struct {
	io.Reader
	Format Format
	Sep    rune
	Size   int64 // size on disk
	f      *os.File
	gz     *gzip.Reader
	cr     *countingReader
}

// BytesRead is how many bytes of the file on disk have been consumed.
func (f *File) BytesRead() int64 { return f.cr.n }

// Close closes the file.
func (f *File) Close() error {
	if f.gz != nil {
		f.gz.Close()
	}
	return f.f.Close()
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// OpenFile opens a data file, picking its format from the name and
// decompressing .gz on the fly.
func OpenFile(path string) (*File, error) {
	format, sep, gz, err := FormatOf(path)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	cr := &countingReader{r: bufio.NewReaderSize(f, 1<<20)}
	file := &File{Reader: cr, Format: format, Sep: sep, Size: st.Size(), f: f, cr: cr}
	if gz {
		zr, err := gzip.NewReader(cr)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: not a gzip file: %w", path, err)
		}
		file.gz = zr
		file.Reader = zr
	}
	return file, nil
}
