package search

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/aisle-dev/aisle/ann"
)

// The semantic lists are saved beside the data (Options.IndexDir) after a
// build, in the ann index file format (ann.SaveLists), so that a restart
// loads them instead of scanning every product until a new build ends.
//
// Doc numbers are not stable across restarts (they follow the order the
// items are indexed in, and compaction renumbers), so the file names each
// listed doc by its item id, with a CRC-32C of the int8 code it was
// assigned by. At load, an item keeps its saved list when it is still
// live with a vector whose checksum is the saved one; deleted items are
// skipped, and items that are new or whose vector changed are assigned to
// their nearest list like vectors that arrive later. The file's tag names
// the embedder's vector space, the dimension and the build settings; any
// other tag is stale and the lists are built (and saved) again, as they
// are when fewer than half of today's vectors are found in the file.

// semanticFile is the file name of the saved lists under Options.IndexDir.
const semanticFile = "semantic.lists"

// semanticTag names what the lists were built from: the vector space
// (embedder name and dimension), the dimension of the vectors indexed and
// the build's settings (sample per list, k-means iterations, seed, √n
// lists). Changing any of them rebuilds.
func semanticTag(space string, dim int) string {
	return fmt.Sprintf("search-semantic v1 space=%s dim=%d lists=sqrt(n) sample=64/list kmeans=10 seed=1 code=int8", space, dim)
}

// loadSemantic loads the saved lists when the file's tag matches and maps
// them onto today's docs. It returns the lists (nil: none loaded, build
// them) and the docs of ids not in them, to be assigned by the caller.
func (ix *Index) loadSemantic(gen, dim int, ids []int32) (*ann.Lists, []int32) {
	space := ix.VectorSpace()
	if ix.semDir == "" || space == "" {
		return nil, nil
	}
	path := filepath.Join(ix.semDir, semanticFile)
	start := time.Now()
	saved, keys, err := ann.LoadLists(path, semanticTag(space, dim))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case errors.Is(err, ann.ErrStale):
		ix.log.Info("search: saved semantic index is stale; building it", "err", err)
		return nil, nil
	case err != nil:
		ix.log.Warn("search: saved semantic index unreadable; building it", "err", err)
		return nil, nil
	case saved.Dim() != dim:
		ix.log.Warn("search: saved semantic index has another dimension; building it", "dim", saved.Dim(), "want", dim)
		return nil, nil
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.sem.gen != gen {
		return nil, nil
	}
	// to[i]: the doc of saved key i, when it is the same vector today.
	to := make([]int32, len(keys))
	covered := make([]bool, len(ix.docs))
	kept := 0
	for i, k := range keys {
		to[i] = -1
		d, ok := ix.byID[k.Name]
		if !ok || int(d) >= len(covered) || covered[d] || !ix.docs[d].live {
			continue // deleted (or listed twice in a damaged file)
		}
		if v := ix.docs[d].vec; v.Len() != dim || v.Checksum() != k.Check {
			continue // its vector changed: assigned again
		}
		to[i] = int32(d)
		covered[d] = true
		kept++
	}
	var todo []int32
	live := 0
	for _, d := range ids {
		if !ix.docs[d].live {
			continue // dead docs are never answered
		}
		live++
		if !covered[d] {
			todo = append(todo, d)
		}
	}
	if kept < live/2 {
		ix.log.Info("search: saved semantic index covers too few of today's products; building it", "kept", kept, "products", live)
		return nil, nil
	}
	lists := saved.Map(func(i int32) (int32, bool) { return to[i], to[i] >= 0 })
	ix.log.Info("search: semantic index loaded", "path", path, "lists", lists.NumLists(), "kept", kept, "to_assign", len(todo), "took", time.Since(start).Round(time.Millisecond))
	return lists, todo
}

// saveSemantic saves lists (built for gen) under Options.IndexDir, naming
// each live doc by its item id and the checksum of its code. A failure is
// logged: the lists serve anyway and the next start builds them.
func (ix *Index) saveSemantic(gen, dim int, lists *ann.Lists) {
	space := ix.VectorSpace()
	if ix.semDir == "" || space == "" {
		return
	}
	ix.mu.RLock()
	if ix.sem.gen != gen {
		ix.mu.RUnlock()
		return
	}
	keys := make([]ann.ListKey, len(ix.docs))
	for d := range ix.docs {
		if dc := &ix.docs[d]; dc.live && dc.vec.Len() == dim {
			keys[d] = ann.ListKey{Name: dc.item.ID, Check: dc.vec.Checksum()}
		}
	}
	ix.mu.RUnlock()
	path := filepath.Join(ix.semDir, semanticFile)
	start := time.Now()
	err := ann.SaveLists(path, lists, semanticTag(space, dim), func(id int32) (ann.ListKey, bool) {
		if int(id) >= len(keys) || keys[id].Name == "" {
			return ann.ListKey{}, false // dead, or added after the snapshot
		}
		return keys[id], true
	})
	if err != nil {
		ix.log.Warn("search: semantic index not saved; the next start builds it", "err", err)
		return
	}
	ix.sem.saves.Add(1)
	ix.log.Info("search: semantic index saved", "path", path, "took", time.Since(start).Round(time.Millisecond))
}
