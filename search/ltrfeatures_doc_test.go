package search

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite docs/ltr-features.md from featureTable")

// featureDoc renders featureTable as the Markdown of docs/ltr-features.md.
func featureDoc() string {
	var b strings.Builder
	b.WriteString("# Learned-ranking features\n\n")
	b.WriteString("The feature vector that `search.ModeLTR` scores, in vector order. Generated from `featureTable`\n")
	b.WriteString("in search/ltrfeatures.go (`go test ./search -run TestFeatureDoc -update-docs`); do not edit by hand.\n")
	b.WriteString("A stored model lists these names and an index refuses a model trained on another list, except on a\n")
	b.WriteString("prefix of it: features are only ever appended, and a model scores the longer vector as it did when trained.\n\n")
	b.WriteString("| position | name | what it measures |\n| --- | --- | --- |\n")
	for i, f := range featureTable {
		fmt.Fprintf(&b, "| %d | `%s` | %s |\n", i, f.name, strings.ReplaceAll(f.doc, "|", `\|`))
	}
	b.WriteString(imageFeatureDoc)
	return b.String()
}

// imageFeatureDoc is the part of docs/ltr-features.md on the image
// features, which need more than a table row.
const imageFeatureDoc = `
## Image features (issue 17 item 5, decision 0035)

` + "`image_sim`" + ` is the image similarity of a candidate to what the shopper, or shoppers searching the same
query, engaged with. Its anchors are the first ` + "`search.MaxImageAnchors`" + ` (5) of ` + "`Request.Recent`" + ` (the
session's recent items, most recent first) and the 5 items shoppers acted on most after the same query
(` + "`Signals.Clicks`" + `, the click-through the ` + "`clicks`" + ` feature reads; in training, the older half of the log, so the
feature never sees its own label). A text query has no image; these anchors are the images the shopper has
shown interest in. The value is the largest, over the anchors other than the candidate itself, of
` + "`(cos − m) / (1 − m)`" + `, clamped to [0, 1], where ` + "`cos`" + ` is the cosine of the two image vectors and ` + "`m`" + ` the
anchor's mean cosine to every other image (CLIP-style models put unrelated product photos at a cosine far
above 0; the same calibration as the image signal of similar items, decision 0033). ` + "`imagesearch.Index`" + `
computes it (` + "`ImageCloseness`" + `: one dot product per anchor and candidate; the mean cosine comes from a kept
sum of all vectors), set on the index with ` + "`Index.SetImageCloseness`" + `.

Missing is neutral: without an image embedder, without an anchor that has an image vector, or for a
candidate without one, ` + "`image_sim`" + ` is 0 and ` + "`has_image_sim`" + ` is 0, so a tree can tell "looks unlike the
anchors" (value 0, flag 1) from "unknown" (flag 0). ` + "`TestImageFeaturesNeutralWithoutImages`" + ` proves that ranking
without image vectors is unchanged: the feature vectors equal the old ones followed by two zeros, a model
trained before the features were appended ranks identically, and a model trained with them on data
without images (constant columns) ranks identically to one trained without them.
` + "`TestImageFeatureEndToEnd`" + ` runs the mechanism with the fake image embedder (` + "`internal/fakeembed`" + `) behind
a real ` + "`imagesearch.Index`" + `. **Quality is not measured:** /work/shared holds no image vectors or image files
(the demo catalogue's image URLs are not reachable offline), so whether the feature helps real shoppers is
unknown until a shop with an image embedder retrains its ranker on its own clicks.
`

func TestFeatureDoc(t *testing.T) {
	path := filepath.Join("..", "docs", "ltr-features.md")
	want := featureDoc()
	if *updateDocs {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./search -run TestFeatureDoc -update-docs)", err)
	}
	if string(got) != want {
		t.Errorf("%s is not what featureTable says; run go test ./search -run TestFeatureDoc -update-docs", path)
	}
}
