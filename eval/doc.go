// Package eval measures recommendation quality offline: it loads public
// benchmark files and shops' own exports into model.Dataset values with
// held-out targets (one loader per protocol), fits models built by name
// through model/zoo, scores every test user on all cores, and computes the
// ranking metrics (Precision, Recall, NDCG, MAP, HR, AUC, coverage) and rating
// metrics (RMSE, MAE) of the published protocols. RunRecommend is the entry
// point used by `aisle eval recommend`.
//
// Protocols (what each Format means):
//
//   - movielens-100k: u.data shuffled with the seed into 5 equal folds, every
//     rating a positive, training items excluded, full ranking over all items.
//     Folds "official" uses u1..u5.base/test instead. Rating mode reports
//     RMSE/MAE of RatingPredictor models on the same folds.
//   - lcfn: train.txt / test.txt / validation_data.json (ML-1M). Fit on train,
//     tune on validation, report on test; full ranking excluding training
//     items only (validation items stay candidates, as in the published runs,
//     which never saw the validation file).
//   - s3rec: one line per user, leave-one-out. The model is fitted once on
//     items 1..N-2 (the published SASRec/S3-Rec protocol); the validation
//     target is N-1 with history 1..N-2, the test target is N with history
//     1..N-1 (the query's History carries the validation item, so models that
//     fold in history use it; models keyed only on the user index do not).
//     Full ranking excludes every history item.
//   - rechorus: train.csv / dev.csv / test.csv. Fit on train; the dev target
//     is the validation case and the test target the test case, with history
//     train(+dev for test). Reported both ways: the target among its 100
//     candidates (keys HR@K, NDCG@K) and full ranking over all items excluding
//     history (keys HR@K:all, NDCG@K:all).
//   - interactions: a CSV/TSV/JSONL of user,item[,timestamp[,value]] split
//     either randomly (random:F holds out a seeded random fraction F of all rows) or by
//     leaving each user's last interaction out (last).
//
// Queries: a case whose history is exactly the user's training row is
// scored with Query{User: u} and no History (models score known users from
// what they were fitted on); History is filled only when the protocol adds
// items after the training row.
//
// Tuning (--tune) always evaluates on a validation split: the format's own
// when it has one, otherwise carved from the training part with the same
// rule; the test split is never seen while choosing parameters.
//
// Query-time settings: a model.Adjustable (itemfilter: the history bonus
// recency and the iALS share) is fitted once on the validation split and
// scored there with every combination of its offered settings (a coordinate
// descent above 64) by model/adjust, the served pipeline's chooser: the best
// (NDCG at the first cut-off, over all items when the format measures that)
// goes into the test fits if its per-case gain over the fitted settings
// exceeds two standard errors, else the fitted settings stay. This is on by default,
// so a protocol that tests the next interaction gets a recency bonus and one
// that tests random hold-outs does not, without a setting per data set;
// NoAdjust (--adjust=false) turns it off, and a parameter given explicitly
// is kept.
package eval
