package eval

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// loadLCFN reads the LCFN ML-1M split: train.txt and test.txt ("user item
// item …" per line, CRLF or LF) and validation_data.json (a JSON array whose
// element u lists user u's validation items).
func loadLCFN(dir string) (*Data, error) {
	trainPath := filepath.Join(dir, "train.txt")
	if _, err := os.Stat(trainPath); err != nil {
		return nil, fmt.Errorf("no train.txt in %s: is this the lcfn (ML-1M LCFN split) folder?", dir)
	}
	users, items := newIDMap(), newIDMap()
	train, err := readUserLinesFile(trainPath, users, items)
	if err != nil {
		return nil, err
	}
	test, err := readUserLinesFile(filepath.Join(dir, "test.txt"), users, items)
	if err != nil {
		return nil, err
	}
	var valid []interaction
	vPath := filepath.Join(dir, "validation_data.json")
	if f, err := os.Open(vPath); err == nil {
		valid, err = parseValidationJSON(f, users, items)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read %q: %w", vPath, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("open %q: %w", vPath, err)
	}
	ds := buildDataset(users, items, train, false, false)
	d := &Data{DefaultKs: []int{20}}
	d.Splits = []Split{{Name: "test", Train: ds, Cases: casesFromRows(ds, test, false), Full: true}}
	if valid != nil {
		d.Validation = &Split{Name: "validation", Train: ds, Cases: casesFromRows(ds, valid, false), Full: true}
	} else {
		// No validation file: carve each user's rows 10% from train.
		vt, vh := carveValidation(train, len(users.ids), 0.1, 1)
		vds := buildDataset(users, items, vt, false, false)
		d.Validation = &Split{Name: "validation", Train: vds, Cases: casesFromRows(vds, vh, false), Full: true}
	}
	return d, nil
}

func readUserLinesFile(p string, users, items *idMap) ([]interaction, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("open %q: %w", p, err)
	}
	defer f.Close()
	rows, err := parseUserLines(f, users, items)
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", p, err)
	}
	return rows, nil
}

// parseUserLines parses lines "user item item …" (whitespace separated, CRLF
// tolerated). The position of an item in its line is its time, so rows keep
// the file's order.
func parseUserLines(r io.Reader, users, items *idMap) ([]interaction, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	var rows []interaction
	line := 0
	for {
		s, err := br.ReadString('\n')
		if s != "" {
			line++
			fs := strings.Fields(s)
			if len(fs) > 0 {
				if _, perr := strconv.ParseInt(fs[0], 10, 64); perr != nil {
					return nil, fmt.Errorf("line %d: user id %q is not an integer", line, fs[0])
				}
				u := users.get(fs[0])
				for j, it := range fs[1:] {
					if _, perr := strconv.ParseInt(it, 10, 64); perr != nil {
						return nil, fmt.Errorf("line %d: item id %q is not an integer", line, it)
					}
					rows = append(rows, interaction{user: u, item: items.get(it), time: int64(j), value: 1, seq: len(rows)})
				}
			}
		}
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line+1, err)
		}
	}
}

// parseValidationJSON parses a JSON array of arrays of item ids: element u
// holds the items of the user whose id is u.
func parseValidationJSON(r io.Reader, users, items *idMap) ([]interaction, error) {
	var lists [][]int64
	if err := json.NewDecoder(r).Decode(&lists); err != nil {
		return nil, fmt.Errorf("want a JSON array of item-id arrays: %w", err)
	}
	var rows []interaction
	for u, list := range lists {
		uid := strconv.Itoa(u)
		ui, ok := users.lookup(uid)
		if !ok {
			if len(list) == 0 {
				continue
			}
			ui = users.get(uid)
		}
		for j, it := range list {
			rows = append(rows, interaction{user: ui, item: items.get(strconv.FormatInt(it, 10)), time: int64(j), value: 1, seq: len(rows)})
		}
	}
	return rows, nil
}
