package eval

import (
	"bufio"
	"cmp"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/search/analysis"
)

// Relations is a data set read for item-to-item evaluation: a catalogue,
// the training events, and per item the related items a source publishes
// (for Amazon: "also viewed" as substitutes, "also bought" as
// complements), which are the ground truth only — never trained on.
type Relations struct {
	Items       []catalog.Item
	Train       []events.Event // purchases of the training split
	Substitutes map[string][]string
	Complements map[string][]string
}

// LoadReChorusRelations reads a ReChorus folder with item_meta.csv
// (columns item_id, r_substitute, r_complement) and train.csv. Item ids are
// mapped to the catalogue's through a "*.item2index" file (external id, tab,
// ReChorus id) when there is one. catalogue gives the items' titles,
// brands and categories; when it is nil the items come from a "*.text"
// file (external id, tab, text) and item_meta's i_category and i_brand
// codes. Catalogue items the folder does not name are left out.
func LoadReChorusRelations(dir string, catalogue []catalog.Item) (*Relations, error) {
	ext, err := readItem2Index(dir) // ReChorus id → external id
	if err != nil {
		return nil, err
	}
	toID := func(rid string) string {
		if e, ok := ext[rid]; ok {
			return e
		}
		return rid
	}
	metaPath := filepath.Join(dir, "item_meta.csv")
	f, err := os.Open(metaPath)
	if err != nil {
		return nil, fmt.Errorf("open %q: %w (item relations need item_meta.csv with r_substitute and r_complement)", metaPath, err)
	}
	defer f.Close()
	rel := &Relations{Substitutes: map[string][]string{}, Complements: map[string][]string{}}
	cats, brands := map[string]string{}, map[string]string{}
	if err := readMetaRelations(f, toID, rel, cats, brands); err != nil {
		return nil, fmt.Errorf("read %q: %w", metaPath, err)
	}
	known := map[string]bool{}
	for id := range cats {
		known[id] = true
	}
	if catalogue != nil {
		for _, it := range catalogue {
			if known[it.ID] {
				rel.Items = append(rel.Items, it)
			}
		}
		if len(rel.Items) < len(known)/2 {
			return nil, fmt.Errorf("the catalogue has only %d of the %d items of %s: is it the catalogue of this data set?", len(rel.Items), len(known), dir)
		}
	} else {
		texts, err := readTexts(dir)
		if err != nil {
			return nil, err
		}
		ids := make([]string, 0, len(known))
		for id := range known {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			it := catalog.Item{ID: id, Title: texts[id], Available: true}
			if c := cats[id]; c != "" {
				it.Categories = []string{"category " + c}
			}
			if b := brands[id]; b != "" {
				it.Brand = "brand " + b
			}
			rel.Items = append(rel.Items, it)
		}
	}
	trainPath := filepath.Join(dir, "train.csv")
	tf, err := os.Open(trainPath)
	if err != nil {
		return nil, fmt.Errorf("open %q: %w", trainPath, err)
	}
	defer tf.Close()
	users, items := newIDMap(), newIDMap()
	rows, err := parseReChorus(tf, users, items, false)
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", trainPath, err)
	}
	for _, r := range rows {
		rel.Train = append(rel.Train, events.Event{
			UserID: "u" + users.ids[r.user], ItemID: toID(items.ids[r.item]), Type: events.Purchase,
			Timestamp: time.Unix(r.time, 0).UTC(),
		})
	}
	return rel, nil
}

// readItem2Index reads the optional "*.item2index" file of dir.
func readItem2Index(dir string) (map[string]string, error) {
	ms, _ := filepath.Glob(filepath.Join(dir, "*.item2index"))
	out := map[string]string{}
	if len(ms) == 0 {
		return out, nil
	}
	f, err := os.Open(ms[0])
	if err != nil {
		return nil, fmt.Errorf("open %q: %w", ms[0], err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		e, rid, ok := strings.Cut(strings.TrimRight(sc.Text(), "\r"), "\t")
		if ok && e != "" && rid != "" {
			out[rid] = e
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %q: %w", ms[0], err)
	}
	return out, nil
}

// readTexts reads the optional "*.text" file of dir (header, then id, tab,
// text).
func readTexts(dir string) (map[string]string, error) {
	ms, _ := filepath.Glob(filepath.Join(dir, "*.text"))
	out := map[string]string{}
	if len(ms) == 0 {
		return out, nil
	}
	f, err := os.Open(ms[0])
	if err != nil {
		return nil, fmt.Errorf("open %q: %w", ms[0], err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	sc.Scan() // header
	for sc.Scan() {
		id, text, ok := strings.Cut(strings.TrimRight(sc.Text(), "\r"), "\t")
		if ok {
			out[id] = text
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %q: %w", ms[0], err)
	}
	return out, nil
}

// readMetaRelations parses item_meta.csv: a tab-separated header naming
// item_id and optionally i_category, i_brand, r_substitute, r_complement
// ("[1, 2, …]" lists of item ids).
func readMetaRelations(r io.Reader, toID func(string) string, rel *Relations, cats, brands map[string]string) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return err
		}
		return fmt.Errorf("empty file: want a header with item_id, r_substitute, r_complement")
	}
	col := map[string]int{}
	for i, h := range strings.Split(strings.TrimRight(sc.Text(), "\r"), "\t") {
		col[strings.TrimSpace(h)] = i
	}
	idc, ok := col["item_id"]
	if !ok {
		return fmt.Errorf("header has no item_id column")
	}
	sub, hasSub := col["r_substitute"]
	comp, hasComp := col["r_complement"]
	if !hasSub && !hasComp {
		return fmt.Errorf("header has neither r_substitute nor r_complement: no relations to evaluate against")
	}
	raw := newIDMap()
	line := 1
	for sc.Scan() {
		line++
		fs := strings.Split(strings.TrimRight(sc.Text(), "\r"), "\t")
		if idc >= len(fs) || fs[idc] == "" {
			return fmt.Errorf("line %d: no item_id", line)
		}
		id := toID(fs[idc])
		cats[id] = ""
		if c, ok := col["i_category"]; ok && c < len(fs) {
			cats[id] = fs[c]
		}
		if c, ok := col["i_brand"]; ok && c < len(fs) {
			brands[id] = fs[c]
		}
		for _, x := range []struct {
			has bool
			c   int
			m   map[string][]string
		}{{hasSub, sub, rel.Substitutes}, {hasComp, comp, rel.Complements}} {
			if !x.has || x.c >= len(fs) {
				continue
			}
			list, err := parseIDList(fs[x.c], raw)
			if err != nil {
				return fmt.Errorf("line %d: %w", line, err)
			}
			for _, ri := range list {
				if o := toID(raw.ids[ri]); o != id && !slices.Contains(x.m[id], o) {
					x.m[id] = append(x.m[id], o)
				}
			}
		}
	}
	return sc.Err()
}

// RelationScores are ranking metrics of item-to-item answers against
// published relations.
type RelationScores struct {
	Anchors  int     // items with relations (the queries)
	NDCG     float64 // mean NDCG@K, binary relevance
	HR       float64 // share of anchors with a related item in the top K
	SameLeaf float64 // share of answers in the anchor's leaf category
	Coverage float64 // share of anchors with any answer
}

// ScoreRelations scores answers (anchor → ranked ids) against truth
// (anchor → related ids) at k, over every anchor with a non-empty truth
// that the catalogue knows; leaf gives an item's leaf category ("" none).
func ScoreRelations(answers, truth map[string][]string, leaf func(string) string, k int) RelationScores {
	var s RelationScores
	var sameN, ansN int
	for a, rel := range truth {
		if len(rel) == 0 || leaf == nil {
			continue
		}
		s.Anchors++
		got := answers[a]
		if len(got) > k {
			got = got[:k]
		}
		if len(got) > 0 {
			s.Coverage++
		}
		var dcg, idcg float64
		hit := false
		for r, id := range got {
			if slices.Contains(rel, id) {
				dcg += 1 / math.Log2(float64(r)+2)
				hit = true
			}
			ansN++
			if l := leaf(a); l != "" && leaf(id) == l {
				sameN++
			}
		}
		for r := 0; r < min(len(rel), k); r++ {
			idcg += 1 / math.Log2(float64(r)+2)
		}
		s.NDCG += dcg / idcg
		if hit {
			s.HR++
		}
	}
	if s.Anchors > 0 {
		n := float64(s.Anchors)
		s.NDCG, s.HR, s.Coverage = s.NDCG/n, s.HR/n, s.Coverage/n
	}
	if ansN > 0 {
		s.SameLeaf = float64(sameN) / float64(ansN)
	}
	return s
}

// SplitRelations splits the anchors of truth in two halves by a hash of
// their id: validation (to choose defaults on) and test (to report).
func SplitRelations(truth map[string][]string) (validation, test map[string][]string) {
	validation, test = map[string][]string{}, map[string][]string{}
	for a, r := range truth {
		h := fnv.New32a()
		h.Write([]byte(a))
		if h.Sum32()%2 == 0 {
			validation[a] = r
		} else {
			test[a] = r
		}
	}
	return validation, test
}

// CoOccurrenceBaseline answers each anchor with the items most often
// touched by the same users in evs (raw co-counts, ties by id): the
// behaviour-only baseline.
func CoOccurrenceBaseline(anchors []string, evs []events.Event, k int) map[string][]string {
	byUser := map[string][]string{}
	for _, e := range evs {
		if !slices.Contains(byUser[e.UserID], e.ItemID) {
			byUser[e.UserID] = append(byUser[e.UserID], e.ItemID)
		}
	}
	co := map[string]map[string]int{}
	for _, its := range byUser {
		for _, a := range its {
			for _, b := range its {
				if a != b {
					if co[a] == nil {
						co[a] = map[string]int{}
					}
					co[a][b]++
				}
			}
		}
	}
	out := map[string][]string{}
	for _, a := range anchors {
		out[a] = topByScore(co[a], k)
	}
	return out
}

// ContentBaseline answers each anchor with the items of its leaf category
// first, then by IDF-weighted overlap of title terms (the analyzer's): the
// content-only baseline.
func ContentBaseline(anchors []string, items []catalog.Item, an *analysis.Analyzer, k int) map[string][]string {
	terms := make([]map[string]bool, len(items))
	sorted := make([][]string, len(items)) // the same terms in order, so sums do not depend on map order
	df := map[string]int{}
	pos := map[string]int{}
	for i, it := range items {
		pos[it.ID] = i
		terms[i] = map[string]bool{}
		for _, t := range an.Terms(it.Title) {
			terms[i][t] = true
		}
		for t := range terms[i] {
			df[t]++
			sorted[i] = append(sorted[i], t)
		}
		slices.Sort(sorted[i])
	}
	leaf := func(i int) string {
		if len(items[i].Categories) == 0 {
			return ""
		}
		return items[i].Categories[0]
	}
	out := map[string][]string{}
	for _, a := range anchors {
		i, ok := pos[a]
		if !ok {
			continue
		}
		scores := map[string]float64{}
		for j := range items {
			if j == i {
				continue
			}
			var s float64
			if l := leaf(i); l != "" && leaf(j) == l {
				s = 1000
			}
			for _, t := range sorted[i] {
				if terms[j][t] {
					s += math.Log(float64(len(items)) / float64(df[t]))
				}
			}
			if s > 0 {
				scores[items[j].ID] = s
			}
		}
		out[a] = topByScore(scores, k)
	}
	return out
}

func topByScore[N int | float64](m map[string]N, k int) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int {
		if c := cmp.Compare(m[b], m[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	if len(ids) > k {
		ids = ids[:k]
	}
	return ids
}
