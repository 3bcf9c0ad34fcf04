package sasrec

// softmaxLoss is the next-item loss over the whole catalogue: for each of the
// n output rows of h (n×d) with a target ≥ 0 it adds
// scale·(−log softmax(h_t·Eᵀ)[target]) to the returned loss, writes the
// gradient w.r.t. h into dh (n×d, overwritten) and accumulates the gradient
// w.r.t. the embeddings into dEmbT, kept transposed (d×items) so that every
// update is one long axpy. embT is the transposed embedding table (d×items).
func softmaxLoss(emb, embT []float32, ws *workspace, h []float32, targets []int32, scale float32, dh, dEmbT []float32) float64 {
	dm := ws.dm
	d, N := dm.d, dm.items
	n := len(targets)
	ws.ensureLogits()
	z := ws.logits[:n*N]
	// logits: one pass over the table, every row of h against each item
	for j := 0; j < N; j++ {
		e := emb[j*d : j*d+d]
		for t, tg := range targets {
			if tg >= 0 {
				z[t*N+j] = dot(h[t*d:t*d+d], e)
			}
		}
	}
	var loss float64
	clear(dh[:n*d])
	for t, tg := range targets {
		if tg < 0 {
			continue
		}
		zt := z[t*N : t*N+N]
		mx := zt[0]
		for _, v := range zt {
			mx = max(mx, v)
		}
		var sum float32
		for j, v := range zt {
			e := expf(v - mx)
			zt[j] = e
			sum += e
		}
		// loss = log Σexp − z_target, computed from the shifted values
		loss -= float64(scale) * logf64(float64(zt[tg])/float64(sum))
		k := scale / sum
		for j := range zt {
			zt[j] *= k
		}
		zt[tg] -= scale
	}
	// Backward, one column c of the transposed table at a time so that its
	// row (and its gradient row) stays in cache across the n positions:
	// dh_t[c] = Σ_j g_tj E_jc and dEᵀ_c += h_t[c]·g_t.
	for c := 0; c < d; c++ {
		ec := embT[c*N : c*N+N]
		gc := dEmbT[c*N : c*N+N]
		for t, tg := range targets {
			if tg < 0 {
				continue
			}
			zt := z[t*N : t*N+N]
			dh[t*d+c] = dot(zt, ec)
			axpyLong(h[t*d+c], zt, gc)
		}
	}
	return loss
}
