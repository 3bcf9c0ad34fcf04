package eval

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// loadMovieLens reads the ml-100k folder: u.data, optionally u.item (titles
// and genres as item attributes) and, for official folds, u1..u5.base/test.
func loadMovieLens(dir string, opt LoadOptions) (*Data, error) {
	dataPath := filepath.Join(dir, "u.data")
	f, err := os.Open(dataPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no u.data in %s: is this the movielens-100k folder?", dir)
		}
		return nil, fmt.Errorf("open %q: %w", dataPath, err)
	}
	defer f.Close()
	users, items := newIDMap(), newIDMap()
	all, err := parseUData(f, users, items)
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", dataPath, err)
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("read %q: no ratings", dataPath)
	}
	text, attrs, nAttrs := readUItem(filepath.Join(dir, "u.item"), items)

	d := &Data{DefaultKs: []int{10}, Rating: opt.Rating}
	mk := func(name string, train, test []interaction) Split {
		// Ranking treats every rating as a positive (the published protocol),
		// so the ratings are given to models only for rating prediction.
		ds := buildDataset(users, items, train, true, opt.Rating)
		ds.ItemText, ds.ItemAttrs, ds.NumAttrs = text, attrs, nAttrs
		return Split{Name: name, Train: ds, Cases: casesFromRows(ds, test, opt.Rating), Full: true}
	}
	var firstTrain []interaction
	switch opt.Folds {
	case "", "random":
		r := rand.New(rand.NewPCG(opt.Seed, 0))
		perm := r.Perm(len(all))
		n := len(all)
		fold := make([]int, n)
		for rank, i := range perm {
			fold[i] = rank * 5 / n
		}
		for k := 0; k < 5; k++ {
			var train, test []interaction
			for i, row := range all {
				if fold[i] == k {
					test = append(test, row)
				} else {
					train = append(train, row)
				}
			}
			if k == 0 {
				firstTrain = train
			}
			d.Splits = append(d.Splits, mk(fmt.Sprintf("fold %d", k+1), train, test))
		}
	case "official":
		for k := 1; k <= 5; k++ {
			var parts [2][]interaction
			for j, suffix := range []string{"base", "test"} {
				p := filepath.Join(dir, fmt.Sprintf("u%d.%s", k, suffix))
				rows, err := readUDataFile(p, users, items)
				if err != nil {
					return nil, err
				}
				parts[j] = rows
			}
			if k == 1 {
				firstTrain = parts[0]
			}
			d.Splits = append(d.Splits, mk(fmt.Sprintf("u%d", k), parts[0], parts[1]))
		}
	default:
		return nil, fmt.Errorf("unknown --folds %q for movielens-100k (use official, or leave it out for 5 random folds)", opt.Folds)
	}
	// Validation for tuning: 20% of the first fold's training ratings.
	vTrain, vHeld := carveValidation(firstTrain, len(users.ids), 0.2, opt.Seed+1)
	v := mk("validation", vTrain, vHeld)
	d.Validation = &v
	return d, nil
}

func readUDataFile(p string, users, items *idMap) ([]interaction, error) {
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no %s in %s: --folds official needs the u1..u5 .base/.test files", filepath.Base(p), filepath.Dir(p))
		}
		return nil, fmt.Errorf("open %q: %w", p, err)
	}
	defer f.Close()
	rows, err := parseUData(f, users, items)
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", p, err)
	}
	return rows, nil
}

// parseUData parses "user<TAB>item<TAB>rating<TAB>timestamp" lines.
func parseUData(r io.Reader, users, items *idMap) ([]interaction, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	var rows []interaction
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" {
			continue
		}
		fs := strings.Fields(s)
		if len(fs) != 4 {
			return nil, fmt.Errorf("line %d: want 4 fields user item rating timestamp, got %d", line, len(fs))
		}
		rating, err := parseFloat32(fs[2])
		if err != nil {
			return nil, fmt.Errorf("line %d: rating: %w", line, err)
		}
		ts, err := atoi64(fs[3])
		if err != nil {
			return nil, fmt.Errorf("line %d: timestamp: %w", line, err)
		}
		rows = append(rows, interaction{user: users.get(fs[0]), item: items.get(fs[1]), value: rating, time: ts, seq: len(rows)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", line+1, err)
	}
	return rows, nil
}

// readUItem reads titles and genre flags from u.item (Latin-1, pipe
// separated) for the items already known. It returns nils when the file is
// absent or unreadable: side information is optional.
func readUItem(p string, items *idMap) (text []string, attrs [][]int32, nAttrs int) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, nil, 0
	}
	text = make([]string, len(items.ids))
	attrs = make([][]int32, len(items.ids))
	for _, line := range bytes.Split(b, []byte("\n")) {
		fs := strings.Split(latin1(bytes.TrimRight(line, "\r")), "|")
		if len(fs) < 6 {
			continue
		}
		it, ok := items.lookup(fs[0])
		if !ok {
			continue
		}
		text[it] = fs[1]
		flags := fs[5:]
		for g, fl := range flags {
			if fl == "1" {
				attrs[it] = append(attrs[it], int32(g))
			}
		}
		nAttrs = max(nAttrs, len(flags))
	}
	return text, attrs, nAttrs
}

// latin1 decodes ISO-8859-1 bytes (valid UTF-8 is kept as is).
func latin1(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}
