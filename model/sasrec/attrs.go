package sasrec

import "fmt"

// itemAttrs is the item→attribute relation in compressed sparse row form:
// the attributes of item j are idx[ptr[j]:ptr[j+1]].
type itemAttrs struct {
	ptr []int32
	idx []int32
}

// newItemAttrs copies ds.ItemAttrs (one list per item) after checking ids.
func newItemAttrs(lists [][]int32, numItems, numAttrs int) (itemAttrs, error) {
	if len(lists) != numItems {
		return itemAttrs{}, fmt.Errorf("sasrec: %d attribute lists for %d items", len(lists), numItems)
	}
	a := itemAttrs{ptr: make([]int32, 1, numItems+1)}
	for j, l := range lists {
		for _, at := range l {
			if at < 0 || int(at) >= numAttrs {
				return itemAttrs{}, fmt.Errorf("sasrec: item %d has attribute %d outside 0..%d", j, at, numAttrs-1)
			}
			a.idx = append(a.idx, at)
		}
		a.ptr = append(a.ptr, int32(len(a.idx)))
	}
	return a, nil
}

// compose writes the item vectors the network uses: F_j = E_j + the mean of
// the vectors of item j's attributes (F_j = E_j for an item without any).
// An item nobody interacted with is thereby still placed near the items it
// shares attributes with.
func (a itemAttrs) compose(f, emb, attr []float32, d int) {
	copy(f, emb)
	for j := 0; j+1 < len(a.ptr); j++ {
		lo, hi := a.ptr[j], a.ptr[j+1]
		if lo == hi {
			continue
		}
		inv := 1 / float32(hi-lo)
		fj := f[j*d : j*d+d]
		for _, at := range a.idx[lo:hi] {
			axpy(inv, attr[int(at)*d:int(at)*d+d], fj)
		}
	}
}

// composeBack accumulates into dAttr the gradient of the attribute vectors
// given dF, the gradient w.r.t. the composed item vectors (dE = dF).
func (a itemAttrs) composeBack(dAttr, dF []float32, d int) {
	for j := 0; j+1 < len(a.ptr); j++ {
		lo, hi := a.ptr[j], a.ptr[j+1]
		if lo == hi {
			continue
		}
		inv := 1 / float32(hi-lo)
		gj := dF[j*d : j*d+d]
		for _, at := range a.idx[lo:hi] {
			axpy(inv, gj, dAttr[int(at)*d:int(at)*d+d])
		}
	}
}
