package eval

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// ids maps dense indices back to external ids, for readable assertions.
func ids(all []string, idx []int32) []string {
	out := make([]string, len(idx))
	for i, x := range idx {
		out[i] = all[x]
	}
	return out
}

func TestLoadMovieLensFolds(t *testing.T) {
	var b strings.Builder
	// 10 users × 5 items = 50 ratings → 5 folds of 10.
	for u := 1; u <= 10; u++ {
		for i := 1; i <= 5; i++ {
			b.WriteString(strings.Join([]string{strconv.Itoa(u), strconv.Itoa(i), strconv.Itoa(1 + (u+i)%5), strconv.Itoa(1000 + i)}, "\t") + "\n")
		}
	}
	dir := writeFiles(t, map[string]string{"u.data": b.String(),
		"u.item": "1|Toy Story (1995)|01-Jan-1995||http://x|0|0|1\n2|Caf\xe9 (1995)|01-Jan-1995||http://x|1|0|0\n"})
	d, err := Load(context.Background(), "movielens-100k", dir, LoadOptions{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if d.Splits[0].Train.Ratings != nil {
		t.Error("ranking mode: ratings must not reach the models (every rating is a positive)")
	}
	if len(d.Splits) != 5 {
		t.Fatalf("%d splits, want 5", len(d.Splits))
	}
	seen := map[[2]string]int{}
	for _, sp := range d.Splits {
		if got := sp.Train.NumInteractions(); got != 40 {
			t.Errorf("%s: %d training ratings, want 40", sp.Name, got)
		}
		nTest := 0
		for _, c := range sp.Cases {
			u := sp.Train.UserIDs[c.User]
			for _, it := range c.Targets {
				seen[[2]string{u, sp.Train.ItemIDs[it]}]++
				nTest++
			}
			if slices.ContainsFunc(c.Targets, func(x int32) bool { return slices.Contains(c.Exclude, x) }) {
				t.Errorf("%s: user %s has a target among excluded items", sp.Name, u)
			}
		}
		if nTest != 10 {
			t.Errorf("%s: %d test ratings, want 10", sp.Name, nTest)
		}
		if sp.Train.NumItems() != 5 || sp.Train.NumUsers() != 10 {
			t.Errorf("%s: %d users %d items, want 10 and 5", sp.Name, sp.Train.NumUsers(), sp.Train.NumItems())
		}
	}
	if len(seen) != 50 {
		t.Errorf("folds cover %d distinct ratings, want all 50 exactly once", len(seen))
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("rating %v is in %d test folds", k, n)
		}
	}
	ds := d.Splits[0].Train
	if ds.ItemText[1] != "Café (1995)" || !slices.Equal(ds.ItemAttrs[0], []int32{2}) {
		t.Errorf("u.item side data: text %q attrs %v", ds.ItemText[1], ds.ItemAttrs[0])
	}
	if d.Validation == nil || len(d.Validation.Cases) == 0 {
		t.Error("no validation split for tuning")
	}
	// Same seed, same folds; another seed, other folds.
	d2, _ := Load(context.Background(), "movielens-100k", dir, LoadOptions{Seed: 3})
	d3, _ := Load(context.Background(), "movielens-100k", dir, LoadOptions{Seed: 4})
	if !slices.Equal(d.Splits[0].Train.Items, d2.Splits[0].Train.Items) {
		t.Error("same seed gave different folds")
	}
	if slices.Equal(d.Splits[0].Train.Items, d3.Splits[0].Train.Items) && slices.Equal(d.Splits[0].Train.UserPtr, d3.Splits[0].Train.UserPtr) {
		t.Error("different seeds gave the same fold")
	}
}

func TestLoadMovieLensRatingKeepsAll(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"u.data":  "1\t1\t5\t1\n1\t2\t3\t2\n2\t1\t4\t3\n2\t2\t1\t4\n",
		"u1.base": "1\t1\t5\t1\n2\t2\t1\t4\n", "u1.test": "1\t2\t3\t2\n2\t1\t4\t3\n",
		"u2.base": "1\t1\t5\t1\n", "u2.test": "2\t2\t1\t4\n",
		"u3.base": "1\t1\t5\t1\n", "u3.test": "2\t2\t1\t4\n",
		"u4.base": "1\t1\t5\t1\n", "u4.test": "2\t2\t1\t4\n",
		"u5.base": "1\t1\t5\t1\n", "u5.test": "2\t2\t1\t4\n",
	})
	d, err := Load(context.Background(), "movielens-100k", dir, LoadOptions{Folds: "official", Rating: true})
	if err != nil {
		t.Fatal(err)
	}
	sp := d.Splits[0]
	if sp.Train.Ratings == nil {
		t.Error("rating mode: training ratings missing")
	}
	if sp.Name != "u1" || len(sp.Cases) != 2 {
		t.Fatalf("split %s with %d cases, want u1 with 2", sp.Name, len(sp.Cases))
	}
	for _, c := range sp.Cases {
		if len(c.Ratings) != len(c.Targets) || len(c.Ratings) != 1 {
			t.Errorf("case %+v: want one rated target", c)
		}
	}
	if _, err := Load(context.Background(), "movielens-100k", t.TempDir(), LoadOptions{}); err == nil || !strings.Contains(err.Error(), "no u.data in") {
		t.Errorf("empty folder: err = %v, want a hint about u.data", err)
	}
}

func TestLoadLCFN(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"train.txt":            "0 10 11 12\r\n1 11 13\r\n",
		"test.txt":             "0 13\r\n1 10 12\r\n",
		"validation_data.json": "[[14], [12, 14]]",
	})
	d, err := Load(context.Background(), "lcfn", dir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	test := d.Splits[0]
	if got := ids(test.Train.ItemIDs, test.Train.Row(0)); !slices.Equal(got, []string{"10", "11", "12"}) {
		t.Errorf("user 0 train row = %v", got)
	}
	if len(test.Cases) != 2 || !slices.Equal(ids(test.Train.ItemIDs, test.Cases[1].Targets), []string{"10", "12"}) {
		t.Errorf("test cases = %+v", test.Cases)
	}
	// Validation items are candidates at test (not excluded), as published.
	if slices.Contains(ids(test.Train.ItemIDs, test.Cases[0].Exclude), "14") {
		t.Error("validation item excluded at test")
	}
	v := d.Validation
	if v == nil || len(v.Cases) != 2 || !slices.Equal(ids(v.Train.ItemIDs, v.Cases[1].Targets), []string{"12", "14"}) {
		t.Errorf("validation = %+v", v)
	}
	if d.DefaultKs[0] != 20 {
		t.Errorf("default k = %v, want 20", d.DefaultKs)
	}
}

func TestLoadS3Rec(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"X.txt":                  "1 1 2 3 4\n2 5 6\n3 2 3 5\n",
		"X_item2attributes.json": `{"1":[7],"2":[7,8]}`,
	})
	d, err := Load(context.Background(), "s3rec", filepath.Join(dir, "X.txt"), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	test, v := d.Splits[0], d.Validation
	ds := test.Train
	if got := ids(ds.ItemIDs, ds.Row(0)); !slices.Equal(got, []string{"1", "2"}) {
		t.Errorf("user 1 trains on %v, want items 1..N-2", got)
	}
	c := test.Cases[0]
	if !slices.Equal(ids(ds.ItemIDs, c.History), []string{"1", "2", "3"}) || !slices.Equal(ids(ds.ItemIDs, c.Targets), []string{"4"}) {
		t.Errorf("test case = history %v target %v", ids(ds.ItemIDs, c.History), ids(ds.ItemIDs, c.Targets))
	}
	if len(v.Cases) != 2 || !slices.Equal(ids(ds.ItemIDs, v.Cases[0].Targets), []string{"3"}) {
		t.Errorf("validation cases = %+v", v.Cases)
	}
	if len(test.Cases) != 3 { // the 2-item user has a test target, no validation
		t.Errorf("%d test cases, want 3", len(test.Cases))
	}
	if ds.NumAttrs != 2 || len(ds.ItemAttrs[1]) != 2 {
		t.Errorf("attributes: %d ids, item 2 has %v", ds.NumAttrs, ds.ItemAttrs[1])
	}
	if _, err := Load(context.Background(), "s3rec", dir, LoadOptions{}); err == nil {
		t.Error("a folder must be refused")
	}
}

func TestLoadReChorus(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"train.csv":     "user_id\titem_id\ttime\n1\t1\t10\n1\t2\t20\n2\t2\t10\n",
		"dev.csv":       "user_id\titem_id\ttime\tneg_items\n1\t3\t30\t[4, 5]\n2\t1\t30\t[5, 5]\n",
		"test.csv":      "user_id\titem_id\ttime\tneg_items\n1\t4\t40\t[5, 1]\n",
		"item_meta.csv": "item_id\ti_category\ti_brand\n1\t1\t2\n2\t1\t3\n",
	})
	d, err := Load(context.Background(), "rechorus", dir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	test := d.Splits[0]
	ds := test.Train
	c := test.Cases[0]
	if !slices.Equal(ids(ds.ItemIDs, c.History), []string{"1", "2", "3"}) {
		t.Errorf("test history %v, want train + dev item", ids(ds.ItemIDs, c.History))
	}
	if !slices.Equal(ids(ds.ItemIDs, c.Candidates), []string{"5", "1"}) || !test.AlsoFull || test.Full {
		t.Errorf("candidates %v AlsoFull %v Full %v", ids(ds.ItemIDs, c.Candidates), test.AlsoFull, test.Full)
	}
	if ds.NumItems() != 5 || ds.NumAttrs != 3 {
		t.Errorf("%d items %d attrs, want 5 and 3", ds.NumItems(), ds.NumAttrs)
	}
	if len(d.Validation.Cases) != 2 || len(d.Validation.Cases[0].History) != 2 {
		t.Errorf("validation = %+v", d.Validation.Cases)
	}
}

func TestLoadInteractions(t *testing.T) {
	csv := "user,item,timestamp,value\nu1,a,1,5\nu1,b,2,3\nu1,c,3,4\nu2,a,1,1\nu2,c,5,2\nu3,b,1,1\n"
	jsonl := `{"user":"u1","item":"a","timestamp":1,"value":5}
{"user":"u1","item":"b","timestamp":2,"value":3}
{"user":"u1","item":"c","timestamp":"1970-01-01T00:00:03Z","value":4}
{"user_id":"u2","item_id":"a","time":1,"rating":1}
{"user":"u2","item":"c","timestamp":5,"value":2}
{"user":"u3","item":"b","timestamp":1,"value":1}
`
	tsv := "u1\ta\t1\t5\nu1\tb\t2\t3\nu1\tc\t3\t4\nu2\ta\t1\t1\nu2\tc\t5\t2\nu3\tb\t1\t1\n"
	dir := writeFiles(t, map[string]string{"x.csv": csv, "x.jsonl": jsonl, "x.tsv": tsv})
	for _, name := range []string{"x.csv", "x.jsonl", "x.tsv"} {
		d, err := Load(context.Background(), "interactions", filepath.Join(dir, name), LoadOptions{Split: "last"})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		test := d.Splits[0]
		ds := test.Train
		// Last per user: u1→c, u2→c; u3 has one row and stays in train.
		if len(test.Cases) != 2 {
			t.Fatalf("%s: %d cases, want 2", name, len(test.Cases))
		}
		for _, c := range test.Cases {
			if got := ids(ds.ItemIDs, c.Targets); !slices.Equal(got, []string{"c"}) {
				t.Errorf("%s: user %s target %v, want c", name, ds.UserIDs[c.User], got)
			}
		}
		if ds.NumInteractions() != 4 || ds.Weights == nil || ds.Ratings != nil || ds.Times == nil {
			t.Errorf("%s: %d train rows, weights %v ratings %v", name, ds.NumInteractions(), ds.Weights, ds.Ratings)
		}
		// Validation is carved from train with the same rule: u1's b.
		v := d.Validation
		if len(v.Cases) != 1 || !slices.Equal(ids(v.Train.ItemIDs, v.Cases[0].Targets), []string{"b"}) {
			t.Errorf("%s: validation = %+v", name, v.Cases)
		}
	}
	d, err := Load(context.Background(), "interactions", filepath.Join(dir, "x.csv"), LoadOptions{Split: "random:0.5", Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Splits[0].Train.NumInteractions(); got != 3 {
		t.Errorf("random:0.5 keeps %d of 6 rows in train, want 3", got)
	}
	for _, bad := range []string{"random:1.5", "random:x", "first"} {
		if _, err := Load(context.Background(), "interactions", filepath.Join(dir, "x.csv"), LoadOptions{Split: bad}); err == nil {
			t.Errorf("--split %q accepted", bad)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := Load(context.Background(), "nope", t.TempDir(), LoadOptions{}); err == nil || !strings.Contains(err.Error(), "known:") {
		t.Errorf("unknown format: %v", err)
	}
	if _, err := Load(context.Background(), "lcfn", filepath.Join(t.TempDir(), "missing"), LoadOptions{}); err == nil {
		t.Error("missing path accepted")
	}
	dir := writeFiles(t, map[string]string{"train.txt": "0 1\n", "test.txt": "0 2\n"})
	if _, err := Load(context.Background(), "lcfn", dir, LoadOptions{Rating: true}); err == nil || !strings.Contains(err.Error(), "no explicit ratings") {
		t.Errorf("--rating on lcfn: %v", err)
	}
}
