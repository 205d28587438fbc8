# attach_ptype(): store a zero-row prototype of a model's inputs on the model.
#
# Some model classes keep no record of factor levels or column types. For
# e1071::svm a one-row request builds a factor with one level and predict()
# fails; ranger (default respect.unordered.factors = "ignore") splits on factor
# codes, so levels rebuilt in another order predict silently wrong. The bridge
# reads attr(model, "ptype") to rebuild request data with the training types
# and levels, so attach it before saving such a model:
#
#   source("r_scripts/ptype.R")
#   fit <- e1071::svm(mpg ~ wt + cyl, data = train)
#   saveRDS(attach_ptype(fit, train), "r_models/x.rds")
#
# The input columns come from the model's terms (response dropped). For a
# model without terms, name them, e.g. for ranger:
#   attach_ptype(fit, train, cols = fit$forest$independent.variable.names)

attach_ptype <- function(model, data, cols = NULL) {
  if (is.null(cols)) {
    tt <- tryCatch(terms(model), error = function(e) NULL)
    if (is.null(tt)) {
      stop("model has no terms; pass the input columns as cols = c(...)")
    }
    cols <- all.vars(delete.response(tt))
  }
  missing <- setdiff(cols, names(data))
  if (length(missing) > 0) {
    stop("columns not in data: ", paste(missing, collapse = ", "))
  }
  attr(model, "ptype") <- data[0, cols, drop = FALSE]
  model
}
