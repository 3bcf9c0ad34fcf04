package assistant

import _ "embed"

// JudgedSet is the judged set of shopping conversations over the demo
// catalogue (JSON Lines, see package assisteval), used by
// `aisle eval assistant`.
//
//go:embed testdata/judged.jsonl
var JudgedSet []byte

// JudgedSetHand is a second judged set, written by hand as shoppers type
// (misspellings, other currencies, spelled amounts, brand spellings,
// vague needs, asks the shop cannot meet, English and Chinese, single-
// and multi-turn): `aisle eval assistant --judged
// assistant/testdata/judged_hand.jsonl`.
//
//go:embed testdata/judged_hand.jsonl
var JudgedSetHand []byte
