package eval

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// loadS3Rec reads one S3-Rec file ("user item1 … itemN" per line, time
// order) with leave-one-out targets; see the package doc for the protocol.
// A file NAME_item2attributes.json beside NAME.txt gives item attributes.
func loadS3Rec(path string) (*Data, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("%s is a folder: the s3rec format is one file with a line per user (e.g. Beauty.txt)", path)
	}
	users, items := newIDMap(), newIDMap()
	rows, err := readUserLinesFile(path, users, items)
	if err != nil {
		return nil, err
	}
	seqs := groupByUser(len(users.ids), rows)
	var train []interaction
	type target struct {
		user    int32
		item    int32
		history int // items of the sequence before the target
	}
	var valT, testT []target
	for u, s := range seqs {
		n := len(s)
		switch {
		case n >= 3:
			train = append(train, s[:n-2]...)
			valT = append(valT, target{int32(u), s[n-2].item, n - 2})
			testT = append(testT, target{int32(u), s[n-1].item, n - 1})
		case n == 2:
			testT = append(testT, target{int32(u), s[1].item, 1})
		}
	}
	ds := buildDataset(users, items, train, true, false)
	ds.ItemAttrs, ds.NumAttrs = readItem2Attributes(strings.TrimSuffix(path, filepath.Ext(path))+"_item2attributes.json", items)
	mk := func(name string, ts []target) Split {
		sp := Split{Name: name, Train: ds, Full: true}
		for _, t := range ts {
			seq := seqs[t.user]
			hist := make([]int32, t.history)
			for i := range hist {
				hist[i] = seq[i].item
			}
			sp.Cases = append(sp.Cases, Case{User: t.user, History: hist, Exclude: hist, Targets: []int32{t.item}})
		}
		return sp
	}
	v := mk("validation", valT)
	return &Data{DefaultKs: []int{5, 10, 20}, Splits: []Split{mk("test", testT)}, Validation: &v}, nil
}

// readItem2Attributes reads {"item": [attr, …]} when the file exists.
func readItem2Attributes(p string, items *idMap) ([][]int32, int) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, 0
	}
	var m map[string][]int64
	if json.Unmarshal(b, &m) != nil {
		return nil, 0
	}
	attrIDs := map[int64]int32{}
	attrs := make([][]int32, len(items.ids))
	for it, id := range items.ids { // item order keeps attribute ids deterministic
		for _, a := range m[id] {
			ai, ok := attrIDs[a]
			if !ok {
				ai = int32(len(attrIDs))
				attrIDs[a] = ai
			}
			attrs[it] = append(attrs[it], ai)
		}
	}
	return attrs, len(attrIDs)
}
