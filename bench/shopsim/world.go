// Package shopsim is a simulated shop for testing experiments end to end:
// shoppers whose true tastes come from a public data set (Amazon Office
// 5-core) browse a real Aisle server over HTTP, click and buy with
// position-biased probabilities, while the shop retrains every simulated
// day. It reports personalised against popularity recommendations as an
// A/B test run by the server, the false-positive rate of 200 A/A tests
// (also when peeking daily), the power to detect a real 5% lift, and how
// many users interleaving needed for the same verdict.
package shopsim

import (
	"bufio"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Item is one product of the simulated shop.
type Item struct {
	ID       string
	Title    string
	Category string
	Brand    string
	Price    float64
}

// World is what the simulator knows and the shop does not: every
// shopper's whole history (the shop sees only the older part) and from it
// their true taste.
type World struct {
	Items   []Item
	Users   []string
	Full    map[string][]string // user → every item (oldest first)
	Seen    map[string][]string // user → the items the shop is told about at the start
	SeenAt  map[string][]int64  // their times (unix seconds)
	cooc    map[string]map[string]float64
	pop     map[string]float64
	byID    map[string]*Item
	mu      sync.Mutex
	tasteOf map[string]map[string]float64
}

// LoadOffice reads the Amazon Office 5-core files in dir (train.csv,
// dev.csv, test.csv, item_meta.csv, Office.text, Office.item2index).
func LoadOffice(dir string) (*World, error) {
	w := &World{Full: map[string][]string{}, Seen: map[string][]string{}, SeenAt: map[string][]int64{},
		cooc: map[string]map[string]float64{}, pop: map[string]float64{}, byID: map[string]*Item{}, tasteOf: map[string]map[string]float64{}}
	asin := map[string]string{} // ASIN → item id
	if err := eachRow(filepath.Join(dir, "Office.item2index"), false, func(f []string) error {
		if len(f) >= 2 {
			asin[f[0]] = f[1]
		}
		return nil
	}); err != nil {
		return nil, err
	}
	titles := map[string]string{}
	if err := eachRow(filepath.Join(dir, "Office.text"), true, func(f []string) error {
		if len(f) >= 2 {
			titles[asin[f[0]]] = f[1]
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if err := eachRow(filepath.Join(dir, "item_meta.csv"), true, func(f []string) error {
		if len(f) < 3 {
			return nil
		}
		id := "o" + f[0]
		t := titles[f[0]]
		if t == "" {
			t = "Office product " + f[0]
		}
		w.Items = append(w.Items, Item{ID: id, Title: t, Category: "Office/c" + f[1], Brand: "b" + f[2], Price: price(id)})
		return nil
	}); err != nil {
		return nil, err
	}
	for i := range w.Items {
		w.byID[w.Items[i].ID] = &w.Items[i]
	}
	for _, file := range []string{"train.csv", "dev.csv", "test.csv"} {
		seen := file == "train.csv"
		if err := eachRow(filepath.Join(dir, file), true, func(f []string) error {
			if len(f) < 3 {
				return nil
			}
			u, it := "u"+f[0], "o"+f[1]
			if _, ok := w.byID[it]; !ok {
				return nil
			}
			if _, ok := w.Full[u]; !ok {
				w.Users = append(w.Users, u)
			}
			w.Full[u] = append(w.Full[u], it)
			if seen {
				ts, _ := strconv.ParseInt(f[2], 10, 64)
				w.Seen[u] = append(w.Seen[u], it)
				w.SeenAt[u] = append(w.SeenAt[u], ts)
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	if len(w.Items) == 0 || len(w.Users) == 0 {
		return nil, fmt.Errorf("no items or users in %s: point --data at the amazon-office-5core folder", dir)
	}
	sort.Strings(w.Users)
	w.index()
	return w, nil
}

// index computes the item-item co-occurrence over every history (the
// true tastes) and the items' popularity.
func (w *World) index() {
	for _, u := range w.Users {
		h := w.Full[u]
		for _, a := range h {
			w.pop[a]++
		}
		for _, a := range h {
			m := w.cooc[a]
			if m == nil {
				m = map[string]float64{}
				w.cooc[a] = m
			}
			for _, b := range h {
				if a != b {
					m[b]++
				}
			}
		}
	}
}

func eachRow(path string, header bool, fn func([]string) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read %s: %w (set --data to the amazon-office-5core folder of the shared data)", path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	first := true
	for sc.Scan() {
		if first && header {
			first = false
			continue
		}
		first = false
		if err := fn(strings.Split(sc.Text(), "\t")); err != nil {
			return err
		}
	}
	return sc.Err()
}

// price is a deterministic log-normal price for an item (the data set has
// none): median about 12, most between 3 and 50.
func price(id string) float64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	x := h.Sum64()
	u1 := (float64(x>>11) + 0.5) / (1 << 53)
	u2 := (float64((x*0x9e3779b97f4a7c15)>>11) + 0.5) / (1 << 53)
	z := math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
	return math.Round(math.Exp(2.5+0.7*z)*100) / 100
}

// Taste is how much user likes each item, in (0, 1] for the items worth
// anything to them: 1 for the items they really bought later (held out
// from the shop), else the item's cosine co-occurrence with their history
// relative to the best one. Items absent are worth nothing.
func (w *World) Taste(user string) map[string]float64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if t, ok := w.tasteOf[user]; ok {
		return t
	}
	seen := map[string]bool{}
	for _, it := range w.Seen[user] {
		seen[it] = true
	}
	score := map[string]float64{}
	for _, j := range w.Full[user] {
		for i, c := range w.cooc[j] {
			if !seen[i] {
				score[i] += c / math.Sqrt(w.pop[i]*w.pop[j])
			}
		}
	}
	// keep the 200 best: the rest are worth too little to matter
	type is struct {
		id string
		s  float64
	}
	top := make([]is, 0, len(score))
	for i, s := range score {
		top = append(top, is{i, s})
	}
	sort.Slice(top, func(a, b int) bool { return top[a].s > top[b].s || top[a].s == top[b].s && top[a].id < top[b].id })
	top = top[:min(len(top), 200)]
	t := map[string]float64{}
	for _, x := range top {
		t[x.id] = 0.8 * x.s / top[0].s
	}
	for _, it := range w.Full[user] {
		if !seen[it] {
			t[it] = 1 // what they did buy next
		}
	}
	w.tasteOf[user] = t
	return t
}

// Item returns an item by id.
func (w *World) Item(id string) (*Item, bool) {
	it, ok := w.byID[id]
	return it, ok
}
