package shopsim

import (
	"fmt"
	"hash/fnv"
	"math"
	"sort"

	"github.com/aisle-dev/aisle/experiment"
)

// offline runs the A/A tests and the power analysis on the control arm's
// simulated outcomes (no HTTP: each run only re-splits the same shoppers
// with another salt). Each run looks after every simulated day, as a shop
// owner checking the dashboard daily would.
func (s *Sim) offline(rep *Report) {
	cfg := s.cfg
	var ids []string
	for u, sh := range s.shoppers {
		if sh.variant == cfg.Control {
			ids = append(ids, u)
		}
	}
	sort.Strings(ids)
	last := cfg.Days - 1
	conv := 0.0
	rev := 0.0
	for _, u := range ids {
		if s.shoppers[u].orders[last] > 0 {
			conv++
		}
		rev += s.shoppers[u].revenue[last]
	}
	if len(ids) == 0 {
		return
	}
	p := conv / float64(len(ids))
	rep.ControlConversion, rep.ControlRevenue = p, rev/float64(len(ids))
	rep.UsersNeeded = experiment.SampleSize(p*(1-p), cfg.Lift*p, 0.05, 0.8)
	rep.PowerUsers = len(ids) / 2
	q := 0.0
	if p < 1 {
		q = cfg.Lift * p / (1 - p) // converts that many non-buyers: conversion × (1 + Lift)
	}
	var fixed, peekZ, peekM, powFixed, powM int
	for run := range cfg.AARuns {
		for _, lift := range []bool{false, true} {
			salt := fmt.Sprint("run", run, lift)
			rng := seeded(cfg.Seed, salt)
			// the day a treated non-buyer converts because of the lift (-1: never)
			extra := map[string]int{}
			group := map[string]int{}
			for _, u := range ids {
				group[u] = split(salt, u)
				sh := s.shoppers[u]
				if lift && group[u] == 1 && sh.orders[last] == 0 && rng.Float64() < q {
					extra[u] = sh.firstDay + rng.IntN(cfg.Days-sh.firstDay)
				}
			}
			anyZ, anyM := false, false
			pm := 0.0
			var pz float64
			for d := range cfg.Days {
				var g [2]experiment.Ratio
				for _, u := range ids {
					sh := s.shoppers[u]
					if sh.firstDay > d {
						continue
					}
					bought := sh.orders[d] > 0
					if x, ok := extra[u]; ok && x <= d {
						bought = true
					}
					y := 0.0
					if bought {
						y = 1
					}
					g[group[u]].Add(1, y)
				}
				diff := g[1].Value() - g[0].Value()
				v := g[0].Var() + g[1].Var()
				pz = experiment.ZTest(diff, v)
				pm = experiment.Sequential(pm, experiment.MSPRT(diff, v, cfg.Lift*math.Abs(g[0].Value())))
				anyZ = anyZ || pz < 0.05
				anyM = anyM || pm < 0.05
			}
			if !lift {
				if pz < 0.05 {
					fixed++
				}
				if anyZ {
					peekZ++
				}
				if anyM {
					peekM++
				}
			} else {
				if pz < 0.05 {
					powFixed++
				}
				if anyM {
					powM++
				}
			}
		}
	}
	n := float64(cfg.AARuns)
	rep.AAFixed, rep.AAPeekZ, rep.AAPeekMSPRT = float64(fixed)/n, float64(peekZ)/n, float64(peekM)/n
	rep.PowerFixed, rep.PowerMSPRT = float64(powFixed)/n, float64(powM)/n
}

func split(salt, u string) int {
	h := fnv.New64a()
	h.Write([]byte(salt))
	h.Write([]byte{0})
	h.Write([]byte(u))
	x := h.Sum64() // FNV mixes its last bytes poorly into the top bits: finish with splitmix64
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return int(x >> 63)
}
