package ads

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/internal/reqid"
	"github.com/aisle-dev/aisle/store"
	"github.com/aisle-dev/aisle/store/boltstore"
)

// readTSV calls fn with the fields of every row of a tab-separated file
// after its header.
func readTSV(b *testing.B, path string, fn func([]string)) {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for first := true; sc.Scan(); first = false {
		if !first {
			fn(strings.Split(sc.Text(), "\t"))
		}
	}
	if err := sc.Err(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkOrganicQualityWithAds replays Amazon Office 5-core (leave one
// out: each shopper's last purchase is the held-out item) through an
// item-to-item recommender (cosine co-occurrence over the training
// histories) and the real ad server: 100 campaigns, one per brand with
// the most items (up to 10 items each, bids 0.10–2.00), compete for the
// recommendation answer's slot (position 3 of 10; the answer keeps 10
// items, so the ad pushes the 10th organic item out). For each relevance
// floor it reports the share of answers with an ad, the nDCG@10 of the
// organic answer, of the answer shown (the ad counting when it is the
// held-out item) and of the organic items shown (the ad counting as a
// miss) with its paired standard error, how often the ad was the held-out
// item, and how often the ad's category was the held-out item's, against
// the same for the organic item the ad displaced from its slot.
//
//	AISLE_SHARED_DATA=/work/shared/data go test -run XXX -bench OrganicQualityWithAds -benchtime 1x ./ads
func BenchmarkOrganicQualityWithAds(b *testing.B) {
	root := os.Getenv("AISLE_SHARED_DATA")
	dir := filepath.Join(root, "amazon-office-5core")
	if _, err := os.Stat(filepath.Join(dir, "train.csv")); root == "" || err != nil {
		b.Skip("set AISLE_SHARED_DATA to the folder holding amazon-office-5core")
	}
	// catalogue: category and brand codes, titles
	items := map[string]catalog.Item{}
	byBrand := map[string][]string{}
	readTSV(b, filepath.Join(dir, "item_meta.csv"), func(f []string) {
		id := "i" + f[0]
		items[id] = catalog.Item{ID: id, Title: id, Brand: "b" + f[2], Categories: []string{"c" + f[1]}, Available: true}
		byBrand["b"+f[2]] = append(byBrand["b"+f[2]], id)
	})
	hist := map[string][]string{}
	readTSV(b, filepath.Join(dir, "train.csv"), func(f []string) {
		hist["u"+f[0]] = append(hist["u"+f[0]], "i"+f[1])
	})
	test := map[string]string{}
	readTSV(b, filepath.Join(dir, "test.csv"), func(f []string) { test["u"+f[0]] = "i" + f[1] })

	// item-to-item cosine over co-occurrence in training histories
	pop := map[string]float64{}
	co := map[string]map[string]float64{}
	for _, h := range hist {
		h = slices.Compact(slices.Sorted(slices.Values(h)))
		for _, i := range h {
			pop[i]++
			if co[i] == nil {
				co[i] = map[string]float64{}
			}
			for _, j := range h {
				if i != j {
					co[i][j]++
				}
			}
		}
	}
	recommend := func(user string, n int) []string {
		seen := map[string]bool{}
		for _, i := range hist[user] {
			seen[i] = true
		}
		score := map[string]float64{}
		for i := range seen {
			for j, c := range co[i] {
				if !seen[j] {
					score[j] += c / math.Sqrt(pop[i]*pop[j])
				}
			}
		}
		ids := make([]string, 0, len(score))
		for j := range score {
			ids = append(ids, j)
		}
		slices.SortFunc(ids, func(a, c string) int {
			if score[a] != score[c] {
				return map[bool]int{true: -1, false: 1}[score[a] > score[c]]
			}
			return strings.Compare(a, c)
		})
		return ids[:min(n, len(ids))]
	}
	users := make([]string, 0, len(test))
	for u := range test {
		users = append(users, u)
	}
	slices.Sort(users)
	organic := map[string][]string{}
	for _, u := range users {
		organic[u] = recommend(u, 10)
	}

	// campaigns: the 100 brands with the most items
	brands := make([]string, 0, len(byBrand))
	for br := range byBrand {
		brands = append(brands, br)
	}
	slices.SortFunc(brands, func(a, c string) int {
		if len(byBrand[a]) != len(byBrand[c]) {
			return len(byBrand[c]) - len(byBrand[a])
		}
		return strings.Compare(a, c)
	})
	var camps []Campaign
	for k, br := range brands[:min(100, len(brands))] {
		its := slices.Sorted(slices.Values(byBrand[br]))
		camps = append(camps, Campaign{Name: br, Advertiser: br, Items: its[:min(10, len(its))], Bid: 0.1 + float64((k*37)%20)/10,
			DailyBudget: 1e6, Pacing: "asap"})
	}

	ndcg := func(list []string, want string, adAt int) (withAd, organicOnly float64) {
		for r, id := range list {
			if id == want {
				g := 1 / math.Log2(float64(r)+2)
				if r == adAt {
					return g, 0
				}
				return g, g
			}
		}
		return 0, 0
	}
	for _, floor := range []float64{0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1} {
		b.Run(fmt.Sprintf("floor=%.1f", floor), func(b *testing.B) {
			for b.Loop() {
				ctx := context.Background()
				st, err := boltstore.Open(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				cfg := DefaultConfig()
				cfg.RelevanceFloor = floor
				s, err := New(ctx, Options{Store: st, Config: cfg, Now: func() time.Time { return time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC) },
					Item: func(_ context.Context, id string) (catalog.Item, error) {
						if it, ok := items[id]; ok {
							return it, nil
						}
						return catalog.Item{}, store.ErrNotFound
					}})
				if err != nil {
					b.Fatal(err)
				}
				for _, c := range camps {
					if _, err := s.Save(ctx, c); err != nil {
						b.Fatal(err)
					}
				}
				var filled, adHits, adCat, slotCat int
				var org, shown, shownOrg, sumD, sumD2 float64
				for _, u := range users {
					list := organic[u]
					g, _ := ndcg(list, test[u], -1)
					org += g
					wantCat := items[test[u]].Categories[0]
					ps := s.Fill(ctx, Request{RequestID: reqid.New(), Surface: "recommend", User: u, Organic: list})
					adAt := -1
					if len(ps) > 0 {
						filled++
						p := ps[0]
						list = slices.DeleteFunc(slices.Clone(list), func(id string) bool { return id == p.Item })
						adAt = min(p.Position-1, len(list))
						list = slices.Insert(list, adAt, p.Item)[:min(10, len(list)+1)]
						if p.Item == test[u] {
							adHits++
						}
						if items[p.Item].Categories[0] == wantCat {
							adCat++
						}
						if adAt < len(organic[u]) && items[organic[u][adAt]].Categories[0] == wantCat {
							slotCat++ // the organic item the ad displaced from its slot
						}
					}
					w, o := ndcg(list, test[u], adAt)
					shown += w
					shownOrg += o
					sumD += o - g
					sumD2 += (o - g) * (o - g)
				}
				st.Close()
				n := float64(len(users))
				b.ReportMetric(float64(filled)/n, "fill_rate")
				b.ReportMetric(org/n, "ndcg10_organic")
				b.ReportMetric(shown/n, "ndcg10_shown")
				b.ReportMetric(shownOrg/n, "ndcg10_shown_organic_only")
				b.ReportMetric(100*(shownOrg/org-1), "organic_change_%")
				sd := math.Sqrt(max(0, sumD2/n-(sumD/n)*(sumD/n)))
				b.ReportMetric(100*sd/math.Sqrt(n)/(org/n), "organic_change_se_%")
				b.ReportMetric(float64(adCat)/float64(max(1, filled)), "ad_category_hit")
				b.ReportMetric(float64(slotCat)/float64(max(1, filled)), "displaced_category_hit")
				b.ReportMetric(float64(adHits)/float64(max(1, filled)), "ad_hit_rate")
			}
		})
	}
}
