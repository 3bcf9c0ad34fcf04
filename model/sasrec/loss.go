package sasrec

import "github.com/viterin/vek/vek32"

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
	// Backward as two matrix products (vek's AVX2 kernel, 2–3× faster
	// here than per-row long dot products or axpys):
	// dh = G·E (n×items · items×d) and dEᵀ += hᵀ·G (d×n · n×items).
	for t, tg := range targets {
		if tg < 0 {
			clear(z[t*N : t*N+N])
		}
	}
	vek32.MatMul_Into(dh[:n*d], z, emb, N)
	hT := ws.hT[:d*n]
	transpose(hT, h[:n*d], n, d)
	prod := vek32.MatMul_Into(ws.prod, hT, z, n)
	axpyLong(1, prod, dEmbT)
	return loss
}

// sampledLoss is the cheaper alternative to softmaxLoss (Config.Negatives >
// 0): the softmax runs over each target and K negatives shared by the whole
// batch, drawn uniformly (so no sampling correction is needed); a negative
// equal to the target is left out. negE is K×d, negT its transpose (d×K).
// The gradient w.r.t. h goes to dh (overwritten), the target rows' gradient
// into dEmb (items×d) and the negatives' into dNegT (d×K).
func sampledLoss(emb []float32, negs []int32, negE, negT []float32, ws *workspace, h []float32, targets []int32, scale float32, dh, dEmb, dNegT []float32) float64 {
	d := ws.dm.d
	K := len(negs)
	n := len(targets)
	ws.ensureLogits()
	z := ws.logits[:n*K]
	tz := ws.tz[:n]
	for k := 0; k < K; k++ {
		e := negE[k*d : k*d+d]
		for t, tg := range targets {
			if tg >= 0 {
				z[t*K+k] = dot(h[t*d:t*d+d], e)
			}
		}
	}
	var loss float64
	clear(dh[:n*d])
	for t, tg := range targets {
		if tg < 0 {
			continue
		}
		et := emb[int(tg)*d : int(tg)*d+d]
		ht := h[t*d : t*d+d]
		zt := z[t*K : t*K+K]
		z0 := dot(ht, et)
		mx := z0
		for k, v := range zt {
			if negs[k] != tg {
				mx = max(mx, v)
			}
		}
		e0 := expf(z0 - mx)
		sum := e0
		for k, v := range zt {
			if negs[k] == tg {
				zt[k] = 0
				continue
			}
			e := expf(v - mx)
			zt[k] = e
			sum += e
		}
		loss -= float64(scale) * logf64(float64(e0)/float64(sum))
		kk := scale / sum
		for k := range zt {
			zt[k] *= kk
		}
		g0 := e0*kk - scale
		tz[t] = g0
		axpy(g0, ht, dEmb[int(tg)*d:int(tg)*d+d])
		axpy(g0, et, dh[t*d:t*d+d])
	}
	for c := 0; c < d; c++ {
		nc := negT[c*K : c*K+K]
		gc := dNegT[c*K : c*K+K]
		for t, tg := range targets {
			if tg < 0 {
				continue
			}
			zt := z[t*K : t*K+K]
			dh[t*d+c] += dot(zt, nc)
			axpyLong(h[t*d+c], zt, gc)
		}
	}
	return loss
}

// infoNCE is the symmetric contrastive loss between two views z1, z2 (b×d
// each) of the same b sequences: with S = z1·z2ᵀ/τ, row i of S should pick
// column i and column j should pick row j (the other sequences of the batch
// are the negatives). It returns weight·loss and writes weight·∂loss/∂z1 and
// ∂/∂z2 into dz1, dz2; s is scratch of 2·b·b.
func infoNCE(z1, z2 []float32, b, d int, tau, weight float32, dz1, dz2, s []float32) float64 {
	sim, g := s[:b*b], s[b*b:2*b*b]
	inv := 1 / tau
	for i := 0; i < b; i++ {
		for j := 0; j < b; j++ {
			sim[i*b+j] = dot(z1[i*d:i*d+d], z2[j*d:j*d+d]) * inv
		}
	}
	clear(g)
	var loss float64
	k := weight / float32(2*b)
	// rows: softmax over j
	for i := 0; i < b; i++ {
		row := sim[i*b : i*b+b]
		mx := row[0]
		for _, v := range row {
			mx = max(mx, v)
		}
		var sum float32
		for _, v := range row {
			sum += expf(v - mx)
		}
		loss -= float64(k) * logf64(float64(expf(row[i]-mx))/float64(sum))
		for j, v := range row {
			g[i*b+j] += k * expf(v-mx) / sum
		}
		g[i*b+i] -= k
	}
	// columns: softmax over i
	for j := 0; j < b; j++ {
		mx := sim[j]
		for i := 0; i < b; i++ {
			mx = max(mx, sim[i*b+j])
		}
		var sum float32
		for i := 0; i < b; i++ {
			sum += expf(sim[i*b+j] - mx)
		}
		loss -= float64(k) * logf64(float64(expf(sim[j*b+j]-mx))/float64(sum))
		for i := 0; i < b; i++ {
			g[i*b+j] += k * expf(sim[i*b+j]-mx) / sum
		}
		g[j*b+j] -= k
	}
	// dz1 = g·z2/τ, dz2 = gᵀ·z1/τ
	clear(dz1[:b*d])
	clear(dz2[:b*d])
	for i := 0; i < b; i++ {
		for j := 0; j < b; j++ {
			gij := g[i*b+j] * inv
			axpy(gij, z2[j*d:j*d+d], dz1[i*d:i*d+d])
			axpy(gij, z1[i*d:i*d+d], dz2[j*d:j*d+d])
		}
	}
	return loss
}
