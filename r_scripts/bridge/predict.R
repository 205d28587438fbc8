# Part of the R side of R Bridge: every file in r_scripts/bridge/ is sourced,
# in name order, into one environment of each R worker (bridge/r/session.py).

# ---- calling predict ---------------------------------------------------------

# How to call predict() for this model: a function(model, newdata, args).
# Classes whose predict takes other argument names get an adapter so the
# caller never needs to know them.
bridge_predictor <- function(model) {
  if (inherits(model, "ranger")) {
    return(function(model, newdata, args) {
      .predict(model, list(data = quote(newdata)), args)$predictions
    })
  }
  if (inherits(model, "gbm")) {
    return(function(model, newdata, args) {
      if (is.null(args$n.trees)) args$n.trees <- model$n.trees
      .predict(model, list(newdata = quote(newdata)), args)
    })
  }
  if (inherits(model, c("glmnet", "cv.glmnet"))) {
    fit <- if (inherits(model, "cv.glmnet")) model$glmnet.fit else model
    vars <- names(.inputs_glmnet(fit)$columns)
    return(function(model, newdata, args) {
      if (is.null(args$s) && !inherits(model, "cv.glmnet")) {
        # Without s, glmnet predicts for every lambda; take the least
        # penalised one, like a plain fit would.
        args$s <- min(model$lambda)
      }
      newx <- data.matrix(newdata[, vars, drop = FALSE])
      .predict(model, list(newx = quote(newx)), args)
    })
  }
  function(model, newdata, args) {
    .predict(model, list(newdata = quote(newdata)), args)
  }
}

# predict(model, <data>, <args>) evaluated in the caller's frame, with the
# model and the data as names in the call rather than their values: R code
# that looks at its own call (match.call, sys.call) then handles a symbol,
# not a copy of the whole fitted model (do.call inlines values; measured
# +0.1 to 0.4 ms per call for lm).
.predict <- function(model, data, args) {
  call <- as.call(c(list(quote(stats::predict), quote(model)), data, args))
  eval(call, parent.frame())
}

# Builds newdata and runs a predictor, keeping R's warnings and classifying
# R's error: one that comes from the caller's input or args is "input",
# anything else "model". The common answer (a plain vector, one value per
# row, no warnings) is returned as that vector alone: cheapest to read.
bridge_predict <- function(predictor, model, cols, classes, n, args) {
  newdata <- bridge_frame(cols, classes, n)
  warnings <- NULL
  result <- withCallingHandlers(
    tryCatch(predictor(model, newdata, args), error = function(e) e),
    warning = function(w) {
      warnings <<- c(warnings, conditionMessage(w))
      invokeRestart("muffleWarning")
    })
  if (inherits(result, "error")) {
    msg <- conditionMessage(result)
    return(list(error = msg, kind = .error_kind(msg), warnings = as.character(warnings)))
  }
  if (is.null(warnings) && is.atomic(result) && is.null(dim(result)) && length(result) == n) {
    return(.plain(result))
  }
  out <- bridge_flatten(result, n)
  out$warnings <- as.character(unique(warnings))
  out
}

.input_error_patterns <- c(
  "has new level", "new levels", "New factor levels", "should be one of",
  "unused argument", "not in the training data", "not found in data",
  "invalid 'type'", "must be one of", "arguments imply differing number",
  "not interpretable as logical", "argument is not interpretable", "invalid argument",
  "non-numeric argument", "argument of length 0", "must be numeric", "must be logical",
  # a string where predict() wants a flag, e.g. se.fit = "yes"
  "type in 'x ||", "type in 'x &&",
  # a caller's argument name that R's partial matching finds ambiguous
  "matches multiple formal arguments", "matched by multiple actual arguments")

.error_kind <- function(msg) {
  hit <- vapply(.input_error_patterns, grepl, TRUE, x = msg, fixed = TRUE)
  if (any(hit)) "input" else "model"
}
