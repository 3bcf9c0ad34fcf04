package search

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
)

// The saved keyword index holds, after its term and word tables, the
// postings of its docs (decision 0085): per file term the positions of
// the docs holding it (a doc's position is its place in the file, 0 for
// the first) and their term frequencies per field, as a build makes them.
// A first Load whose scan returns the file's docs in the file's order,
// each with the texts it was saved with, does not build their postings
// doc by doc: their doc ids are their positions and their term and word
// ids the file's (the file interns them in doc order, as a build does),
// so the file's arrays are the index's as they are read. The docs so far
// are "listed"; the first doc that is not (changed, new, or a saved doc
// passed over: deleted) ends the listing: the postings of the listed docs
// are installed (the file's, cut at the first doc that is not listed)
// and the rest of the Load adds docs one by one as before.
//
// Layout: uvarint number of terms; per term uvarint number of postings;
// then every term's positions as little-endian uint32, term after term;
// then every posting's numFields frequencies (one byte each), in the same
// order.

// savedPostings is the postings section of a saved keyword index.
type savedPostings struct {
	end  []int // end of term t's postings in docs
	docs []uint32
	tf   []uint8 // numFields per posting
}

// term returns file term t's postings.
func (sp *savedPostings) term(t int) ([]uint32, []uint8) {
	lo := 0
	if t > 0 {
		lo = sp.end[t-1]
	}
	hi := sp.end[t]
	return sp.docs[lo:hi:hi], sp.tf[lo*int(numFields) : hi*int(numFields) : hi*int(numFields)]
}

// readPostings reads and checks the postings of nterms terms over ndocs
// docs from the section r (the file's checksum is already verified; the
// checks keep a wrong writer from making the index index out of range).
func readPostings(r *io.SectionReader, nterms int, ndocs uint32) (*savedPostings, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	n, err := readLen(br)
	if err != nil {
		return nil, err
	}
	if n != nterms {
		return nil, fmt.Errorf("%d terms, the table has %d", n, nterms)
	}
	sp := &savedPostings{end: make([]int, n)}
	total := 0
	for t := range sp.end {
		c, err := binary.ReadUvarint(br)
		if err != nil {
			return nil, err
		}
		if c > uint64(ndocs) {
			return nil, fmt.Errorf("term %d in %d docs of %d", t, c, ndocs)
		}
		total += int(c)
		sp.end[t] = total
	}
	if want := int64(total) * (4 + int64(numFields)); want > r.Size() {
		return nil, fmt.Errorf("%d postings in %d bytes", total, r.Size())
	}
	sp.docs = make([]uint32, total)
	buf := make([]byte, 1<<16)
	for lo := 0; lo < total; {
		part := sp.docs[lo:min(total, lo+len(buf)/4)]
		b := buf[:4*len(part)]
		if _, err := io.ReadFull(br, b); err != nil {
			return nil, err
		}
		for i := range part {
			part[i] = binary.LittleEndian.Uint32(b[4*i:])
		}
		lo += len(part)
	}
	sp.tf = make([]uint8, total*int(numFields))
	if _, err := io.ReadFull(br, sp.tf); err != nil {
		return nil, err
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return nil, errors.New("bytes after the postings")
	}
	for t := range sp.end {
		docs, _ := sp.term(t)
		for i, d := range docs {
			if d >= ndocs || (i > 0 && d <= docs[i-1]) {
				return nil, fmt.Errorf("term %d: doc %d after %d (of %d docs)", t, d, docs[max(i-1, 0)], ndocs)
			}
		}
	}
	return sp, nil
}

// postingsWriter gathers a save's postings by file term id.
type postingsWriter struct {
	docs [][]uint32
	tf   [][]uint8
	occ  []uint64
}

// add records doc ord with its file term ids per field (counted as
// Index.add counts them).
func (pw *postingsWriter) add(ord uint32, fids *[numFields][]uint32) {
	occ := pw.occ[:0]
	for f := range fids {
		for _, id := range fids[f] {
			occ = append(occ, uint64(id)<<8|uint64(f))
		}
	}
	slices.Sort(occ)
	for k := 0; k < len(occ); {
		id := uint32(occ[k] >> 8)
		var tf [numFields]uint8
		for ; k < len(occ) && uint32(occ[k]>>8) == id; k++ {
			if f := occ[k] & 0xff; tf[f] < 255 {
				tf[f]++
			}
		}
		for int(id) >= len(pw.docs) {
			pw.docs = append(pw.docs, nil)
			pw.tf = append(pw.tf, nil)
		}
		pw.docs[id] = append(pw.docs[id], ord)
		pw.tf[id] = append(pw.tf[id], tf[:]...)
	}
	pw.occ = occ
}

// write writes the postings section for the terms of the file (a term
// no doc holds has none).
func (pw *postingsWriter) write(w *kwWriter, nterms int) {
	w.uvarint(uint64(nterms))
	at := func(t int) ([]uint32, []uint8) {
		if t < len(pw.docs) {
			return pw.docs[t], pw.tf[t]
		}
		return nil, nil
	}
	for t := range nterms {
		d, _ := at(t)
		w.uvarint(uint64(len(d)))
	}
	var b []byte
	for t := range nterms {
		d, _ := at(t)
		b = b[:0]
		for _, x := range d {
			b = binary.LittleEndian.AppendUint32(b, x)
		}
		w.write(b)
	}
	for t := range nterms {
		_, tf := at(t)
		w.write(tf)
	}
}

// kwListed is a first Load's listing of the file's docs (see above).
type kwListed struct {
	r      *kwReader
	terms  int   // file term ids 0..terms-1 are used by the listed docs
	words  int   // file word ids 0..words-1 likewise
	wordDF []int // per file word id, the listed docs whose titles hold it
	docs   int   // docs listed
}

// startListing begins listing the file's docs into an empty index.
// Caller holds the write lock.
func (ix *Index) startListing(r *kwReader) {
	if r == nil || r.post == nil || len(ix.docs) != 0 || len(ix.terms) != 0 || len(ix.wordDF) != 0 {
		return
	}
	ix.listed = &kwListed{r: r, wordDF: make([]int, len(r.words))}
	ix.terms = slices.Grow(ix.terms, len(r.terms))
	ix.post = slices.Grow(ix.post, len(r.terms))
	ix.termIDs = make(map[string]uint32, len(r.terms))
	ix.wordDF = slices.Grow(ix.wordDF, len(r.words))
	ix.wordID = make(map[string]int, len(r.words))
}

// listDoc reports whether the doc add is about to append is the file's
// next doc with the texts it was saved with, and notes its term and word
// ids when it is; when it is not, the listing ends first. Caller holds
// the write lock.
func (ix *Index) listDoc(a *analysed) bool {
	l := ix.listed
	if l == nil {
		return false
	}
	s := a.saved
	if s == nil || a.from != l.r || int(s.ord) != len(ix.docs) {
		ix.endListing()
		return false
	}
	for f := range s.fields {
		for _, id := range s.fields[f] {
			l.terms = max(l.terms, int(id)+1)
		}
	}
	for _, id := range s.words {
		l.wordDF[id]++
		l.words = max(l.words, int(id)+1)
	}
	l.docs++
	return true
}

// endListing installs the listed docs' terms, postings and title words
// from the file; what is added next is added doc by doc. Caller holds the
// write lock.
func (ix *Index) endListing() {
	l := ix.listed
	if l == nil {
		return
	}
	ix.listed = nil
	ix.kw.listed.Store(int64(l.docs))
	r, sp := l.r, l.r.post
	r.post = nil
	n := uint32(l.docs)
	// the file's ids are the order a build interns them in
	for t := range l.terms {
		if id := ix.termID(r.terms[t]); id != uint32(t) {
			panic(fmt.Sprintf("search: listed term %q got id %d, want %d", r.terms[t], id, t))
		}
	}
	for w := range l.words {
		if id := ix.wordIDOf(r.words[w]); id != w {
			panic(fmt.Sprintf("search: listed word %q got id %d, want %d", r.words[w], id, w))
		}
		ix.wordDF[w] += l.wordDF[w]
	}
	// a listing cut short keeps only the part of the file's arrays its
	// docs use, copied, rather than the whole arrays
	copyOut := 2*int(n) < int(r.decoded)+int(r.left)
	nblk := 0
	cut := make([]int, l.terms)
	for t := range l.terms {
		docs, _ := sp.term(t)
		cut[t] = sort.Search(len(docs), func(i int) bool { return docs[i] >= n })
		nblk += (cut[t] + postBlock - 1) / postBlock
	}
	blks := make([]postBlockMax, 0, nblk)
	nf := int(numFields)
	for t := range l.terms {
		docs, tf := sp.term(t)
		k := cut[t]
		p := &ix.post[t]
		p.docs, p.tf = docs[:k:k], tf[:k*nf:k*nf]
		if copyOut {
			p.docs, p.tf = slices.Clone(p.docs), slices.Clone(p.tf)
		}
		lo := len(blks)
		for i, d := range p.docs {
			if i%postBlock == 0 {
				blks = append(blks, newPostBlockMax())
			}
			blks[len(blks)-1].add(d, (*[numFields]uint8)(p.tf[i*nf:]), &ix.hot[d].lens, &ix.ref)
		}
		p.blks = blks[lo:len(blks):len(blks)]
	}
}
