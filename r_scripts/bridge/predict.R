# Part of the R side of R Bridge: every file in r_scripts/bridge/ is sourced,
# in name order, into one environment of each R worker (bridge/r/session.py).

# ---- calling predict ---------------------------------------------------------

# How to call predict() for this model: a function(model, newdata, args).
# Classes whose predict takes other argument names or shapes go through
# their entry in adapters.R. Every model goes through the generic its
# method belongs to (an S4 generic for kernlab's ksvm).
bridge_predictor <- function(model) {
  .with_state(.binding_matrices(.predictor_for(model), model), model)
}

.predictor_for <- function(model) {
  source <- bridge_predict_source(model)
  generic <- if (!is.null(source) && source$s4) source$generic else quote(stats::predict)
  # Classes whose predict() takes the rows as another argument or shape
  # (adapters.R): the caller never needs to know which.
  entry <- bridge_data_adapter(model)
  if (!is.null(entry)) return(.adapted_predictor(entry, model, generic))
  function(model, newdata, args) {
    .predict(model, list(newdata = quote(newdata)), args, generic)
  }
}

# What a predictor learns about its model, kept on it as attr "state":
# reference rows of training data (to tell whose fault an error is) and
# the names of one-row results already confirmed to be one row's fields.
.with_state <- function(fn, model = NULL) {
  state <- new.env(parent = emptyenv())
  state$shapes <- character(0)
  state$reference <- if (is.null(model)) NULL else
    tryCatch(bridge_reference(model, bridge_inputs(model)$columns), error = function(e) NULL)
  attr(fn, "state") <- state
  fn
}

# NOTE: why R's predict() times ~2x slower in a worker (issue 22's budget:
# 1.67 ms p50 for lm(mpg ~ wt + hp + factor(cyl)), one row) than in the
# Rscript loop of the floor (0.98 ms), measured 2026-12-03, each candidate
# alone: it is not the embedded R, nor this wrapper. The same predict() in a
# pure R loop takes the same time embedded through rpy2 (with the bridge's
# session: ptr_R_ProcessEvents off, bridge/r/session.py) and in Rscript
# (1.23 vs 1.16 ms, load ~2), and called once per Python call back to back
# as in an R loop (1.36-1.46 vs 1.39 ms). Interleaved, in one Rscript (min
# of 30 blocks, load ~4): predict() 0.49 ms; through .predict's built call
# (stats::predict looked up, evaluated in this frame) 0.49; inside .run's
# tryCatch + withCallingHandlers 0.52; all of bridge_guarded_predict (frame,
# checks, .plain, answer size) 0.59. JIT, the model's scope (lm's formula
# calls only base functions: bridge_scoped_model leaves it as it is) and
# GC settings change nothing measurable. What does: the call comes after
# the worker slept on its pipe while the front and the client ran. In a
# plain Rscript loop, predict() after touching 32 MB (the caches flushed)
# takes 1.64 ms against 1.04 ms hot, and after a 2 ms sleep 1.35 ms: a
# request-at-a-time worker pays a cold start per call that a loop never
# does. That is the floor's blind spot, not the bridge's code (a worker
# that spun instead of sleeping would keep a core busy on 2 cores).
#
# predict(model, <data>, <args>) evaluated in the caller's frame, with the
# model and the data as names in the call rather than their values: R code
# that looks at its own call (match.call, sys.call) then handles a symbol,
# not a copy of the whole fitted model (do.call inlines values; measured
# +0.1 to 0.4 ms per call for lm).
.predict <- function(model, data, args, generic = quote(stats::predict)) {
  call <- as.call(c(list(generic, quote(model)), data, args))
  eval(call, parent.frame())
}

# Runs a predictor, keeping R's warnings; an error is returned, not thrown.
.run <- function(predictor, model, newdata, args) {
  warnings <- NULL
  value <- withCallingHandlers(
    tryCatch(predictor(model, newdata, args), error = function(e) e),
    warning = function(w) {
      warnings <<- c(warnings, conditionMessage(w))
      invokeRestart("muffleWarning")
    })
  list(value = value, warnings = warnings)
}

.failed <- function(run) inherits(run$value, "error")

# Builds newdata, runs a predictor and returns exactly one prediction per
# row, or an error: list(error, kind = "input" | "model" | "shape", and the
# argument or column an input error is pinned on). The common answer (a
# plain vector, one value per row, no warnings) is returned as that vector
# alone: cheapest to read.
bridge_predict <- function(predictor, model, cols, classes, n, args) {
  newdata <- bridge_frame(cols, classes, n)
  state <- attr(predictor, "state", exact = TRUE)
  if (is.null(state)) state <- attr(.with_state(predictor), "state")
  run <- function(data, args) .run(predictor, model, data, args)
  out <- run(newdata, args)
  if (.failed(out)) {
    msg <- conditionMessage(out$value)
    blame <- .blame(run, newdata, args, msg, state)
    return(c(list(error = msg, warnings = as.character(out$warnings)), blame))
  }
  result <- out$value
  if (is.null(out$warnings) && is.atomic(result) && is.null(dim(result)) && length(result) == n &&
      (n != 1 || is.null(names(result)) || length(result) == 1)) {
    return(.plain(result))
  }
  if (n == 1) result <- .one_row(result, run, newdata, args, state)
  flat <- bridge_flatten(result, n)
  if (!is.null(flat$error)) {
    # Rows short because predict() dropped the incomplete ones (kernlab does,
    # without names to put them back by): the caller's nulls, said so.
    missing <- .blame_missing(run, newdata, args)
    if (!is.null(missing)) flat <- c(flat["error"], missing)
  }
  flat$warnings <- as.character(unique(out$warnings))
  flat
}

# For one row R may drop a matrix to a named vector (polr's or multinom's
# class probabilities): that vector is the row's fields only if predicting
# the row twice gives a two-row matrix with those column names and values.
# Learned once per set of names; anything else is left for flattening to
# judge (and refuse).
.one_row <- function(result, run, newdata, args, state) {
  if (!is.atomic(result) || !is.null(dim(result)) || length(result) < 2 || is.null(names(result))) {
    return(result)
  }
  key <- paste(names(result), collapse = "\r")
  if (!(key %in% state$shapes)) {
    twice <- run(newdata[c(1L, 1L), , drop = FALSE], args)$value
    if (length(dim(twice)) == 2 && nrow(twice) == 2 &&
        identical(colnames(twice), names(result)) &&
        isTRUE(all.equal(as.vector(twice[1, ]), as.vector(unname(result)), tolerance = 1e-12))) {
      state$shapes <- c(state$shapes, key)
    }
  }
  if (!(key %in% state$shapes)) return(result)
  out <- matrix(result, nrow = 1, dimnames = list(NULL, names(result)))
  if (is.factor(result)) out <- matrix(as.character(result), nrow = 1, dimnames = dimnames(out))
  out
}

# Whose fault an error is. The caller's, pinned on arguments: every
# argument without which the call succeeds (several when they fail only
# together, as se.fit = TRUE with a bad dispersion, which predict.glm reads
# only for se.fit), else all of them when it succeeds without any
# ("together": none alone is enough); pinned on a column when the model
# predicts its own training rows and the request succeeds with that
# column's values replaced by a training value. Where neither can be
# tried, R's message decides (.input_error_patterns).
.blame <- function(run, newdata, args, msg, state) {
  if (length(args)) {
    # Each argument alone first: the others may be what the rows need (an
    # unseen group needs allow.new.levels = TRUE beside a bad newparams).
    each <- Filter(function(a) !.failed(run(newdata, args[setdiff(names(args), a)])), names(args))
    if (length(each)) return(list(kind = "input", argument = each, together = FALSE))
    if (!.failed(run(newdata, list()))) {
      return(list(kind = "input", argument = names(args), together = TRUE))
    }
  }
  missing <- .blame_missing(run, newdata, args)
  if (!is.null(missing)) return(missing)
  ref <- state$reference
  if (!is.null(ref) && ncol(newdata) && all(names(newdata) %in% names(ref))) {
    ref <- ref[names(newdata)]
    if (.failed(run(ref, args))) return(list(kind = .error_kind(msg)))
    n <- nrow(newdata)
    for (v in names(newdata)) {
      swapped <- newdata
      swapped[[v]] <- ref[[v]][rep(1L, n)]
      if (!.failed(run(swapped, args))) return(list(kind = "input", column = v))
    }
    return(list(kind = "input"))
  }
  list(kind = .error_kind(msg))
}

# Missing values the model's predict() cannot take: the call succeeds, one
# prediction per row, on the complete rows alone. Pinned on the first null.
.blame_missing <- function(run, newdata, args) {
  ok <- stats::complete.cases(newdata)
  if (all(ok) || !any(ok)) return(NULL)
  complete <- run(newdata[ok, , drop = FALSE], args)
  if (.failed(complete) || !is.null(bridge_flatten(complete$value, sum(ok))$error)) return(NULL)
  row <- which(!ok)[1]
  column <- names(newdata)[vapply(newdata, function(x) is.na(x[row]), TRUE)][1]
  list(kind = "input", column = column, row = row, missing = TRUE)
}

.input_error_patterns <- c(
  # missing values a predict() method cannot take
  "missing values in object", "no missing values are allowed", "NAs are not allowed",
  "NA/NaN/Inf in",
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
