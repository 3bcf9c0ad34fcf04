// Package rating holds the explicit-feedback models of Aisle: models that
// predict the rating (or, for implicit data, the interaction probability) a
// user would give an item, and rank items by that prediction.
//
//   - BiasedMF ("biased-mf"): μ + b_u + b_i + p_u·q_i trained with SGD, the
//     classic rating baseline.
//   - Neural ("neural-rating"): user and item embeddings concatenated and
//     passed through ReLU dense layers to a rating (plus μ + b_u + b_i),
//     trained with Adam on mean squared error, lazily updating only the
//     embedding rows a batch touches; hand-written float32 Go, the batch
//     split across cores.
//   - Linear ("linear"): a linear regression over one-hot user, item,
//     item-attribute and user×attribute features predicting the rating, or a
//     logistic regression predicting the interaction probability when the
//     data has no ratings (negatives sampled), usable as a ranking stage.
//
// All implement model.Model (Score writes the predicted rating of every item)
// and model.RatingPredictor.
package rating
