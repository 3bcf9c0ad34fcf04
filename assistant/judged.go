package assistant

import _ "embed"

// JudgedSet is the judged set of shopping conversations over the demo
// catalogue (JSON Lines, see package assisteval), used by
// `aisle eval assistant`.
//
//go:embed testdata/judged.jsonl
var JudgedSet []byte
