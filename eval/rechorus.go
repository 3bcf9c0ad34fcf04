package eval

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// recRow is one parsed ReChorus row.
type recRow struct {
	interaction
	negs []int32
}

// loadReChorus reads a ReChorus folder: train.csv, dev.csv and test.csv,
// tab-separated with a header "user_id item_id time [neg_items]", and the
// optional item_meta.csv whose i_* columns become item attributes.
func loadReChorus(dir string) (*Data, error) {
	if _, err := os.Stat(filepath.Join(dir, "train.csv")); err != nil {
		return nil, fmt.Errorf("no train.csv in %s: is this a rechorus folder (train.csv, dev.csv, test.csv)?", dir)
	}
	users, items := newIDMap(), newIDMap()
	var parts [3][]recRow
	for i, name := range []string{"train.csv", "dev.csv", "test.csv"} {
		p := filepath.Join(dir, name)
		f, err := os.Open(p)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("no %s in %s: a rechorus folder has train.csv, dev.csv and test.csv", name, dir)
			}
			return nil, fmt.Errorf("open %q: %w", p, err)
		}
		parts[i], err = parseReChorus(f, users, items, i > 0)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read %q: %w", p, err)
		}
	}
	attrs, nAttrs := readItemMeta(filepath.Join(dir, "item_meta.csv"), items)
	train := make([]interaction, len(parts[0]))
	for i, r := range parts[0] {
		train[i] = r.interaction
	}
	ds := buildDataset(users, items, train, true, false)
	ds.ItemAttrs, ds.NumAttrs = attrs, nAttrs
	devByUser := map[int32][]int32{}
	for _, r := range parts[1] {
		devByUser[r.user] = append(devByUser[r.user], r.item)
	}
	mk := func(name string, rows []recRow, withDev bool) Split {
		sp := Split{Name: name, Train: ds, AlsoFull: true}
		for _, r := range rows {
			hist := ds.Row(int(r.user))
			if withDev && len(devByUser[r.user]) > 0 {
				hist = append(append([]int32(nil), hist...), devByUser[r.user]...)
			}
			sp.Cases = append(sp.Cases, Case{User: r.user, History: hist, Exclude: hist, Targets: []int32{r.item}, Candidates: r.negs})
		}
		return sp
	}
	v := mk("validation", parts[1], false)
	return &Data{DefaultKs: []int{5, 10}, Splits: []Split{mk("test", parts[2], true)}, Validation: &v}, nil
}

// parseReChorus parses a tab-separated ReChorus file with a header naming
// user_id, item_id, time and, when needNegs, neg_items ("[1, 2, …]").
func parseReChorus(r io.Reader, users, items *idMap, needNegs bool) ([]recRow, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("empty file: want a header user_id, item_id, time")
	}
	col := map[string]int{}
	for i, h := range strings.Split(strings.TrimRight(sc.Text(), "\r"), "\t") {
		col[strings.TrimSpace(h)] = i
	}
	ui, okU := col["user_id"]
	ii, okI := col["item_id"]
	ti, okT := col["time"]
	ni, okN := col["neg_items"]
	if !okU || !okI {
		return nil, fmt.Errorf("header must name user_id and item_id (tab-separated), got %q", sc.Text())
	}
	if needNegs && !okN {
		return nil, fmt.Errorf("header must name neg_items (the sampled negatives), got %q", sc.Text())
	}
	var rows []recRow
	line := 1
	for sc.Scan() {
		line++
		s := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(s) == "" {
			continue
		}
		fs := strings.Split(s, "\t")
		get := func(i int) (string, error) {
			if i >= len(fs) {
				return "", fmt.Errorf("line %d: %d fields, want at least %d", line, len(fs), i+1)
			}
			return strings.TrimSpace(fs[i]), nil
		}
		u, err := get(ui)
		if err != nil {
			return nil, err
		}
		it, err := get(ii)
		if err != nil {
			return nil, err
		}
		if u == "" || it == "" {
			return nil, fmt.Errorf("line %d: empty user or item id", line)
		}
		row := recRow{interaction: interaction{user: users.get(u), item: items.get(it), value: 1, seq: len(rows)}}
		if okT {
			ts, err := get(ti)
			if err != nil {
				return nil, err
			}
			if row.time, err = atoi64(ts); err != nil {
				return nil, fmt.Errorf("line %d: time: %w", line, err)
			}
		}
		if needNegs {
			ns, err := get(ni)
			if err != nil {
				return nil, err
			}
			if row.negs, err = parseIDList(ns, items); err != nil {
				return nil, fmt.Errorf("line %d: neg_items: %w", line, err)
			}
			if len(row.negs) == 0 {
				return nil, fmt.Errorf("line %d: neg_items is empty", line)
			}
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", line+1, err)
	}
	return rows, nil
}

// parseIDList parses a Python-style list of ids "[1, 2, 3]".
func parseIDList(s string, items *idMap) ([]int32, error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return nil, fmt.Errorf("want [id, id, …], got %.40q", s)
	}
	inner := strings.TrimSpace(s[1 : len(s)-1])
	if inner == "" {
		return nil, nil
	}
	parts := strings.Split(inner, ",")
	out := make([]int32, 0, len(parts))
	for _, p := range parts {
		p = strings.Trim(strings.TrimSpace(p), `'"`)
		if p == "" {
			return nil, fmt.Errorf("empty id in list")
		}
		out = append(out, items.get(p))
	}
	return out, nil
}

// readItemMeta reads item_meta.csv: item_id plus i_* columns, each value of
// which becomes one attribute ("column=value"). Missing file: no attributes.
func readItemMeta(p string, items *idMap) ([][]int32, int) {
	f, err := os.Open(p)
	if err != nil {
		return nil, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	if !sc.Scan() {
		return nil, 0
	}
	header := strings.Split(strings.TrimRight(sc.Text(), "\r"), "\t")
	idCol := -1
	var attrCols []int
	for i, h := range header {
		switch {
		case h == "item_id":
			idCol = i
		case strings.HasPrefix(h, "i_"):
			attrCols = append(attrCols, i)
		}
	}
	if idCol < 0 || len(attrCols) == 0 {
		return nil, 0
	}
	attrIDs := map[string]int32{}
	attrs := make([][]int32, len(items.ids))
	for sc.Scan() {
		fs := strings.Split(strings.TrimRight(sc.Text(), "\r"), "\t")
		if idCol >= len(fs) {
			continue
		}
		it, ok := items.lookup(fs[idCol])
		if !ok {
			continue
		}
		for _, c := range attrCols {
			if c >= len(fs) || fs[c] == "" {
				continue
			}
			key := header[c] + "=" + fs[c]
			ai, ok := attrIDs[key]
			if !ok {
				ai = int32(len(attrIDs))
				attrIDs[key] = ai
			}
			attrs[it] = append(attrs[it], ai)
		}
	}
	return attrs, len(attrIDs)
}
