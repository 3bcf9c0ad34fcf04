package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/config"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/internal/wire"
	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/mf"
	"github.com/aisle-dev/aisle/pipeline"
	"github.com/aisle-dev/aisle/search"
	"github.com/aisle-dev/aisle/store"
)

func newBenchSynthCmd() *cobra.Command {
	var g globalFlags
	var nItems, nUsers, dim, clusters, perUser int
	var seed uint64
	cmd := &cobra.Command{
		Use:   "synth",
		Short: "Create a synthetic catalogue and factor model of any size, to benchmark serving",
		Long: `Fill an empty data directory with a synthetic shop: --items products in
--clusters categories, --users shoppers with --per-user events each (views
of their category's products, spread over the last 30 days), and an iALS
model whose item and user vectors (--dim) are drawn around one centre per
category. No training run is involved, so sizes such as 1 million items fit
in minutes; then serve it and measure with 'aisle bench serve'. The scale
target of docs/scale.md is --items 1000000 --users 1000000 --per-user 50
(50 million events).

Titles are drawn from a small vocabulary (an adjective, a colour, a
material and one noun per category, then the line and product numbers), so
keyword, semantic and hybrid search have something to tell apart. With
search.embedder set in the config (e.g. hash), the items' search vectors
are computed here and stored in large batches, as the server would store
them, so a server started with the same config embeds nothing.`,
		Example: "  aisle bench synth --data /tmp/aisle-1m --items 1000000 --dim 64\n  aisle bench synth --data /tmp/aisle-50m --items 1000000 --users 1000000 --per-user 50\n  aisle serve --data /tmp/aisle-1m --addr 127.0.0.1:8090 &\n  aisle bench serve --url http://127.0.0.1:8090",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.load()
			if err != nil {
				return err
			}
			return synthesize(cmd.Context(), cfg, nItems, nUsers, dim, clusters, perUser, seed)
		},
	}
	g.register(cmd)
	cmd.Flags().IntVar(&nItems, "items", 1_000_000, "number of items")
	cmd.Flags().IntVar(&nUsers, "users", 10_000, "number of users")
	cmd.Flags().IntVar(&dim, "dim", 64, "vector dimension")
	cmd.Flags().IntVar(&clusters, "clusters", 1000, "number of categories (vector clusters)")
	cmd.Flags().IntVar(&perUser, "per-user", 5, "events per user")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "random seed")
	return cmd
}

func synthesize(ctx context.Context, cfg config.Config, nItems, nUsers, dim, clusters, perUser int, seed uint64) error {
	if nItems < 1 || nUsers < 1 || dim < 1 || clusters < 1 || perUser < 0 {
		return fmt.Errorf("sizes must be positive")
	}
	eng, st, err := openEngine(cfg, newLogger(cfg))
	if err != nil {
		return err
	}
	defer st.Close()
	if n, err := st.CountItems(ctx); err != nil || n > 0 {
		if err == nil {
			err = fmt.Errorf("data directory %s is not empty (%d items): use a new one", cfg.Data, n)
		}
		return err
	}
	// the server's search index, for its embedder (nil: keyword search only)
	var ix *search.Index
	if e := cfg.Search.Embedder; e != "" && e != "none" {
		if ix, _, err = wire.NewSearchIndex(ctx, cfg, newLogger(cfg), st); err != nil {
			return err
		}
		defer ix.Close()
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	centres := make([]float32, clusters*dim)
	for i := range centres {
		centres[i] = float32(rng.NormFloat64())
	}
	itemIDs := make([]string, nItems)
	vecs := make([]float32, nItems*dim)
	bar := newBar(int64(nItems), "items", false)
	t0 := time.Now().UTC()
	batch := make([]catalog.Item, 0, 10000)
	for i := 0; i < nItems; i++ {
		c := i % clusters
		itemIDs[i] = fmt.Sprintf("p%07d", i)
		title := fmt.Sprintf("%s %s %s %s, line %d, product %d", synthAdjectives[rng.IntN(len(synthAdjectives))],
			synthColours[rng.IntN(len(synthColours))], synthMaterials[rng.IntN(len(synthMaterials))], synthNouns[c%len(synthNouns)], c, i)
		for k := 0; k < dim; k++ {
			vecs[i*dim+k] = centres[c*dim+k] + 0.3*float32(rng.NormFloat64())
		}
		price := math.Round(100*(1+rng.ExpFloat64()*20)) / 100
		batch = append(batch, catalog.Item{ID: itemIDs[i], Title: title, Brand: fmt.Sprintf("Brand %d", c%97),
			Categories: []string{fmt.Sprintf("Synthetic/Dept %d/Line %d", c%20, c)}, Price: &price, Available: true, CreatedAt: t0})
		if len(batch) == cap(batch) || i == nItems-1 {
			if err := eng.AddItems(ctx, batch); err != nil {
				return err
			}
			if ix != nil {
				vs, err := ix.ItemVectors(ctx, batch)
				if err == nil {
					err = st.PutVectors(ctx, ix.VectorSpace(), vs)
				}
				if err != nil {
					return fmt.Errorf("search vectors: %w", err)
				}
			}
			batch = batch[:0]
			if bar != nil {
				bar.Set(i + 1)
			}
		}
	}
	if bar != nil {
		bar.Finish()
	}
	userIDs := make([]string, nUsers)
	uvecs := make([]float32, nUsers*dim)
	var evs []events.Event
	// the events fill the 30 days before now, oldest first: the server
	// refuses events from the future, and a fixed step of 1s would reach
	// years back at tens of millions of events
	total := nUsers * perUser
	span := 30 * 24 * time.Hour
	step := span / time.Duration(max(1, total))
	evBar := newBar(int64(total), "events", false)
	for u := 0; u < nUsers; u++ {
		userIDs[u] = fmt.Sprintf("s%06d", u)
		c := rng.IntN(clusters)
		for k := 0; k < dim; k++ {
			uvecs[u*dim+k] = centres[c*dim+k] / float32(dim)
		}
		for e := 0; e < perUser; e++ {
			item := c + clusters*rng.IntN(max(1, nItems/clusters))
			if item >= nItems {
				item = c
			}
			at := t0.Add(-span + time.Duration(u*perUser+e)*step)
			evs = append(evs, events.Event{UserID: userIDs[u], ItemID: itemIDs[item], Type: events.View, Timestamp: at})
		}
		if len(evs) >= 10000 || u == nUsers-1 {
			if err := eng.AddEvents(ctx, evs); err != nil {
				return err
			}
			evs = evs[:0]
			if evBar != nil {
				evBar.Set((u + 1) * perUser)
			}
		}
	}
	if evBar != nil {
		evBar.Finish()
	}
	m, err := mf.NewIALSFromFactors(model.Params{"factors": float64(dim)}, dim, userIDs, itemIDs, uvecs, vecs)
	if err != nil {
		return err
	}
	art := &pipeline.Artifact{Header: pipeline.Header{Model: mf.IALSName, Params: model.Params{"factors": float64(dim)}, ItemIDs: itemIDs, UserIDs: userIDs}, Model: m}
	blob, err := art.Bytes()
	if err != nil {
		return err
	}
	v, err := st.SaveModel(ctx, store.ModelMeta{Name: mf.IALSName, Params: art.Params, Users: nUsers, Items: nItems, Status: store.StatusServing, Note: "synthetic factors (aisle bench synth)"}, blob)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stdout, "synthetic shop in %s: %d items, %d users, %d events, model %s@%d (%d×%d)\n", cfg.Data, nItems, nUsers, nUsers*perUser, mf.IALSName, v, nItems, dim)
	if ix != nil {
		fmt.Fprintf(os.Stdout, "search vectors: %d in space %s\n", nItems, ix.VectorSpace())
	}
	return nil
}

// The vocabulary of synthetic titles: one noun per category (modulo), the
// other words drawn at random.
var (
	synthAdjectives = []string{"classic", "compact", "deluxe", "ergonomic", "foldable", "heavy-duty", "lightweight", "modern", "portable", "premium",
		"rechargeable", "rustic", "slim", "smart", "soft", "sturdy", "vintage", "waterproof", "wireless", "adjustable"}
	synthColours   = []string{"black", "white", "red", "blue", "green", "grey", "yellow", "pink", "brown", "silver", "navy", "beige"}
	synthMaterials = []string{"cotton", "leather", "steel", "bamboo", "ceramic", "glass", "wool", "plastic", "oak", "linen", "aluminium", "silicone"}
	synthNouns     = []string{"backpack", "blender", "bookshelf", "candle", "chair", "desk lamp", "dress", "drill", "earbuds", "headphones",
		"jacket", "kettle", "keyboard", "mug", "notebook", "pan", "pillow", "printer paper", "rug", "scarf",
		"sneakers", "sofa", "speaker", "sunglasses", "tent", "toaster", "towel", "umbrella", "vase", "wallet",
		"watch", "water bottle", "yoga mat", "phone case", "monitor stand", "laundry basket", "cutting board", "coffee grinder", "bike helmet", "dog bed"}
)
