package assistant

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
)

// Product is what the assistant knows of one catalogue item.
type Product struct {
	ID         string
	Title      string
	Brand      string
	Categories []string
	Price      *float64
	Attributes map[string]string // string attributes, values lower-cased
	ImageURL   string
	Available  bool
	words      map[string]bool // title words, singular
}

// Category is the most specific category path of the product ("" when none).
func (p *Product) Category() string {
	best := ""
	for _, c := range p.Categories {
		if strings.Count(c, "/") >= strings.Count(best, "/") {
			best = c
		}
	}
	return best
}

// has reports whether the product shows an attribute value: as the
// attribute itself, or in its title when it has no such attribute.
func (p *Product) has(key, value string) bool {
	if v, ok := p.Attributes[key]; ok {
		return v == value
	}
	for _, v := range p.Attributes {
		if v == value {
			return true
		}
	}
	for _, w := range tokens(value) {
		if !p.words[w] {
			return false
		}
	}
	return true
}

func productOf(it catalog.Item) *Product {
	p := &Product{ID: it.ID, Title: it.Title, Brand: cleanBrand(it.Brand), Categories: it.Categories, Price: it.Price,
		ImageURL: it.ImageURL, Available: it.Available, words: map[string]bool{}}
	for k, v := range it.Attributes {
		if s, ok := v.(string); ok {
			if p.Attributes == nil {
				p.Attributes = map[string]string{}
			}
			p.Attributes[strings.ToLower(k)] = strings.ToLower(strings.TrimSpace(s))
		}
	}
	for _, w := range tokens(it.Title) {
		p.words[w] = true
	}
	return p
}

// ItemLister pages through the catalogue (engine.Engine.ListItems).
type ItemLister func(ctx context.Context, cursor string, limit int) ([]catalog.Item, string, error)

// Catalogue is the assistant's view of the shop's items and the
// vocabulary learned from them (brands, categories, attribute values).
// It follows the catalogue as an engine listener; Load reads what was
// there before. It is safe for concurrent use.
type Catalogue struct {
	mu     sync.RWMutex
	items  map[string]*Product
	vocab  *Vocabulary // nil: rebuild on next use
	loaded bool
}

// NewCatalogue returns an empty catalogue view.
func NewCatalogue() *Catalogue { return &Catalogue{items: map[string]*Product{}} }

// Load reads every item through list (once; later calls return at once).
func (c *Catalogue) Load(ctx context.Context, list ItemLister) error {
	c.mu.RLock()
	done := c.loaded
	c.mu.RUnlock()
	if done || list == nil {
		return nil
	}
	var all []catalog.Item
	cursor := ""
	for {
		page, next, err := list(ctx, cursor, 1000)
		if err != nil {
			return fmt.Errorf("assistant: read the catalogue: %w", err)
		}
		all = append(all, page...)
		if next == "" || len(page) == 0 {
			break
		}
		cursor = next
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loaded {
		return nil
	}
	for _, it := range all {
		if _, ok := c.items[it.ID]; !ok { // a listener update is newer
			c.items[it.ID] = productOf(it)
		}
	}
	c.loaded, c.vocab = true, nil
	return nil
}

// Add puts items into the view (tests and Load use it).
func (c *Catalogue) Add(items ...catalog.Item) { c.ItemsUpserted(items) }

// ItemsUpserted implements engine.Listener.
func (c *Catalogue) ItemsUpserted(items []catalog.Item) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, it := range items {
		c.items[it.ID] = productOf(it)
	}
	c.vocab = nil
}

// ItemsDeleted implements engine.Listener.
func (c *Catalogue) ItemsDeleted(ids []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		delete(c.items, id)
	}
	c.vocab = nil
}

// EventsAppended implements engine.Listener.
func (c *Catalogue) EventsAppended([]events.Event) {}

// UserDeleted implements engine.Listener.
func (c *Catalogue) UserDeleted(string) {}

// Get returns a product by id.
func (c *Catalogue) Get(id string) (*Product, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	p, ok := c.items[id]
	return p, ok
}

// Len is the number of products.
func (c *Catalogue) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.items)
}

// Vocabulary returns the vocabulary of the current catalogue, rebuilding
// it after changes.
func (c *Catalogue) Vocabulary() *Vocabulary {
	c.mu.RLock()
	v := c.vocab
	c.mu.RUnlock()
	if v != nil {
		return v
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.vocab == nil {
		c.vocab = buildVocabulary(c.items)
	}
	return c.vocab
}

// Vocabulary maps phrases of a message to the catalogue's own brands,
// categories and attribute values.
type Vocabulary struct {
	brands     map[string][]string // phrase → brand spellings
	brandName  map[string]string   // phrase → display name
	categories map[string][]string // phrase → category path prefixes
	attrs      map[string]attr     // phrase → attribute
	longest    int                 // words in the longest phrase
	words      *wordIndex          // every word of titles, brands and categories (spelling)
	han        bool                // the catalogue has Chinese text
}

type attr struct{ key, value string }

// ambiguousBrands are brand names that are also everyday words: naming
// them in a message means the word, not the brand.
var ambiguousBrands = set(`array command compatible max national premier royal tops universal various generic clarity
spectrum duck trimmer platinum cross integra arrow beacon apache aurora adams clover uni fisher cambridge oxford non oem
the classics double a cool toner office star`)

// colours are attribute values understood even when the catalogue has no
// colour attribute: then they must appear in the title.
var colours = []string{"black", "white", "red", "blue", "green", "yellow", "pink", "purple", "orange", "gray", "grey",
	"silver", "gold", "brown", "clear", "beige", "navy", "teal"}

func buildVocabulary(items map[string]*Product) *Vocabulary {
	v := &Vocabulary{brands: map[string][]string{}, brandName: map[string]string{}, categories: map[string][]string{}, attrs: map[string]attr{},
		words: newWordIndex()}
	brandCount := map[string]map[string]int{}
	for _, p := range items {
		for w := range p.words {
			v.words.add(w)
		}
		if hasHan(p.Title) {
			v.han = true
		}
		if p.Brand != "" {
			k := phrase(tokens(p.Brand))
			if k != "" && !ambiguousBrands[k] {
				if brandCount[k] == nil {
					brandCount[k] = map[string]int{}
				}
				brandCount[k][p.Brand]++
			}
			for _, w := range tokens(p.Brand) {
				v.words.add(w)
			}
		}
		for _, path := range p.Categories {
			segs := strings.Split(path, "/")
			for i, s := range segs {
				prefix := strings.Join(segs[:i+1], "/")
				for _, w := range tokens(s) {
					v.words.add(w)
				}
				for _, k := range categoryPhrases(s) {
					if !slices.Contains(v.categories[k], prefix) {
						v.categories[k] = append(v.categories[k], prefix)
					}
				}
			}
		}
		for key, val := range p.Attributes {
			if k := phrase(tokens(val)); k != "" && len(val) <= 40 {
				if _, ok := v.attrs[k]; !ok {
					v.attrs[k] = attr{key, val}
				}
			}
		}
	}
	for k, spellings := range brandCount {
		names := make([]string, 0, len(spellings))
		for s := range spellings {
			names = append(names, s)
		}
		sort.Slice(names, func(i, j int) bool {
			return spellings[names[i]] > spellings[names[j]] || (spellings[names[i]] == spellings[names[j]] && names[i] < names[j])
		})
		v.brands[k], v.brandName[k] = names, names[0]
	}
	v.addBrandAliases(items)
	for _, c := range colours {
		v.words.add(c)
		if _, ok := v.attrs[c]; !ok {
			v.attrs[c] = attr{"color", c}
		}
	}
	v.attrs["grey"] = attr{"color", "gray"}
	for _, m := range []map[string][]string{v.brands, v.categories} {
		for k := range m {
			v.longest = max(v.longest, len(strings.Fields(k)))
		}
	}
	for k := range v.attrs {
		v.longest = max(v.longest, len(strings.Fields(k)))
	}
	return v
}

// addBrandAliases lets shoppers name a brand as they type it: run
// together ("papermate", "uniball", "xacto" for Paper Mate, Uni-ball,
// X-Acto), in the plural ("sharpies", "post-its"), or by the initials of
// a brand of several words ("TI" for Texas Instruments). An alias never
// hides a brand, a category or an attribute value of the catalogue, and
// an alias the titles use as a word must be used mostly by the brand's
// own titles when two titles or more use it ("TI-84" of Texas
// Instruments); initials need two of the brand's own titles at least.
func (v *Vocabulary) addBrandAliases(items map[string]*Product) {
	taken := func(a string) bool {
		_, b := v.brands[a]
		_, c := v.categories[a]
		_, d := v.attrs[a]
		return b || c || d || stopwords[a]
	}
	type alias struct {
		alias, key string
		initials   bool
	}
	var cands []alias
	for k := range v.brands {
		ws := strings.Fields(k)
		if joined := strings.Join(ws, ""); len(ws) > 1 && len(joined) >= 4 {
			cands = append(cands, alias{joined, k, false})
		}
		last := ws[len(ws)-1]
		if pl := phrase(append(slices.Clone(ws[:len(ws)-1]), singular(last+"s"))); pl != k && len(pl) >= 4 {
			cands = append(cands, alias{pl, k, false})
		}
		if ini := initials(k); ini != "" {
			cands = append(cands, alias{ini, k, true})
		}
	}
	// how many titles of the alias's brand use it as a word
	own := map[alias]int{}
	byWord := map[string][]alias{}
	for _, a := range cands {
		if !strings.Contains(a.alias, " ") && v.words.known(a.alias) {
			byWord[a.alias] = append(byWord[a.alias], a)
		}
	}
	if len(byWord) > 0 {
		for _, p := range items {
			if p.Brand == "" {
				continue
			}
			k := phrase(tokens(p.Brand))
			for w := range p.words {
				for _, a := range byWord[w] {
					if a.key == k {
						own[a]++
					}
				}
			}
		}
	}
	sort.Slice(cands, func(i, j int) bool {
		return cands[i].alias < cands[j].alias || (cands[i].alias == cands[j].alias && cands[i].key < cands[j].key)
	})
	for _, a := range cands {
		uses := 0
		if !strings.Contains(a.alias, " ") {
			uses = v.words.freq[a.alias]
		}
		switch {
		case taken(a.alias):
			continue
		case a.initials && (own[a] < 2 || 2*own[a] <= uses):
			continue
		case !a.initials && uses >= 2 && 2*own[a] <= uses: // one title is no evidence of another word
			continue
		}
		v.brands[a.alias], v.brandName[a.alias] = v.brands[a.key], v.brandName[a.key]
	}
}

// initials are the first letters of a brand of two words or more ("ti"
// for "texas instrument"), "" for a brand of one word.
func initials(k string) string {
	ws := strings.Fields(k)
	if len(ws) < 2 {
		return ""
	}
	var b strings.Builder
	for _, w := range ws {
		b.WriteByte(w[0])
	}
	return b.String()
}

// categoryPhrases are the ways a message may name a category segment:
// "Ink & Toner" is "ink toner" and "ink and toner".
func categoryPhrases(seg string) []string {
	ws := tokens(seg)
	var plain []string
	for _, w := range ws {
		if w != "and" {
			plain = append(plain, w)
		}
	}
	out := []string{phrase(plain)}
	if len(plain) != len(ws) {
		out = append(out, phrase(ws))
	}
	if len(plain) == 0 || out[0] == "" {
		return nil
	}
	return out
}

// Brand returns the display name of a brand phrase, if it is one.
func (v *Vocabulary) Brand(name string) (string, bool) {
	n, ok := v.brandName[phrase(tokens(cleanBrand(name)))]
	return n, ok
}

// brandSpellings lists every spelling of the brands named.
func (v *Vocabulary) brandSpellings(names []string) []string {
	var out []string
	for _, n := range names {
		if sp, ok := v.brands[phrase(tokens(n))]; ok {
			out = append(out, sp...)
		} else {
			out = append(out, n)
		}
	}
	return out
}
